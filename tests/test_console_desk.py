"""The support console's ticket page over real HTTP: assigning, what a viewer sees of the customer's words,
correcting the grade and working the checklist. Each form is posted as the page renders it."""

from __future__ import annotations

import re

import pytest

from crisiswatch.db import connect
from playbooks.tickets.service import TicketService
from tests.browser.dashboard_site import build_site, csrf_of, login, serve


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("console-desk"))


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def desk(site) -> TicketService:
    return TicketService.from_config(site.config, connect(site.db))


def take(site, **fields):
    values = {"channel": "phone", "customer": "王女士", "contact": "13812345678", "summary": "快递五天没到，物流一直不更新",
              "category": "logistics", "severity": "一般", "brand": "aurora", "actor": "ada"} | fields
    return desk(site).intake(**values)


def version_of(html: str) -> int:
    return int(re.search(r'name="version" value="(\d+)"', html).group(1))


def form_of(html: str, form_id: str) -> str:
    start = html.index(f'id="{form_id}"')
    return html[start:html.index("</form>", start)]


def test_a_new_department_for_an_owned_ticket_is_applied_or_refused_in_a_sentence(site, base):
    number = take(site, owner="ada").number
    agent = login(base, "ada")
    url = f"{base}/tickets/{number}"
    page = agent.get(url, timeout=10).text
    assert '<option value="ada" selected>' in form_of(page, "assign-person")  # the form preselects the owner

    # the owner as preselected, a department she does not work in: refused, nothing changes
    mixed = agent.post(f"{url}/assign", data={"csrf": csrf_of(page), "version": version_of(page), "owner": "ada",
                                              "department": "调查"}, allow_redirects=False, timeout=10)
    assert mixed.status_code == 400
    assert "ada works in 客服, not 调查" in mixed.text
    t = desk(site).by_number(number)
    assert (t.department, t.owner) == ("客服", "ada")

    # no person: the ticket goes to 调查, and ada (客服) no longer owns it
    page = agent.get(url, timeout=10).text
    moved = agent.post(f"{url}/assign", data={"csrf": csrf_of(page), "version": version_of(page), "owner": "",
                                              "department": "调查"}, allow_redirects=False, timeout=10)
    assert moved.status_code == 303
    t = desk(site).by_number(number)
    assert (t.department, t.owner) == ("调查", "")
    assert t.departments[0] == "调查"

    # a person from 调查 with 调查: owned by them
    page = agent.get(url, timeout=10).text
    assert '<option selected>调查</option>' in form_of(page, "assign-person")
    owned = agent.post(f"{url}/assign", data={"csrf": csrf_of(page), "version": version_of(page), "owner": "zhou",
                                              "department": "调查"}, allow_redirects=False, timeout=10)
    assert owned.status_code == 303
    t = desk(site).by_number(number)
    assert (t.department, t.owner) == ("调查", "zhou")
    assert [e["detail"].get("previous_department") for e in desk(site).timeline(t.id) if e["kind"] == "assigned"] == [
        "客服", "调查"]

    # a name nobody has on the staff list is named back
    page = agent.get(url, timeout=10).text
    unknown = agent.post(f"{url}/assign", data={"csrf": csrf_of(page), "version": version_of(page),
                                                "owner": "nobody", "department": "调查"}, timeout=10)
    assert unknown.status_code == 400 and "unknown department or person" in unknown.text


LEAKY_SUMMARY = "快递五天没到，打我手机13912345678或者发邮件到wang.nv@example.com都行"
LEAKY_EXPECTATION = "今天之内回电13912345678"


def test_a_viewer_sees_the_phone_and_email_in_the_customers_words_masked_as_the_contact(site, base):
    ticket = take(site, summary=LEAKY_SUMMARY, expectation=LEAKY_EXPECTATION)
    tickets = desk(site)
    for action in ("accept", "start"):
        ticket = tickets.transition(ticket.id, action, actor="ada", expected_version=ticket.version)
    tickets.transition(ticket.id, "reply", actor="ada", expected_version=ticket.version, via="电话",
                       note="已按您留的13912345678回电，包裹明日送达")
    url = f"{base}/tickets/{ticket.number}"

    viewer = login(base, "viv").get(url, timeout=10).text
    for raw in ("13912345678", "wang.nv@example.com"):
        assert raw not in viewer, raw
    assert "打我手机139****5678或者发邮件到w***@example.com都行" in viewer  # the same masking as the contact
    assert "今天之内回电139****5678" in viewer
    assert "已按您留的139****5678回电" in viewer  # the reply in the timeline repeats it

    agent = login(base, "ada").get(url, timeout=10).text  # those who work the ticket see it as said
    assert LEAKY_SUMMARY in agent and LEAKY_EXPECTATION in agent and "已按您留的13912345678回电" in agent


def post_form(session, url: str, form_id: str, **fields):
    """Post a form of the ticket page as it is rendered (csrf and version included), with `fields` changed."""
    page = session.get(url, timeout=10).text
    return session.post(f"{url}/{form_id}", data={"csrf": csrf_of(page), "version": version_of(page), **fields},
                        allow_redirects=False, timeout=10)


def test_an_agent_corrects_category_and_grade_in_the_console_as_ticket_classify_does(site, base):
    ticket = take(site, summary="充电宝充电时冒烟", category="other", severity="一般")
    url = f"{base}/tickets/{ticket.number}"
    agent = login(base, "ada")
    form = form_of(agent.get(url, timeout=10).text, "classify-form")
    assert '<option value="other" selected>' in form and "<option selected>一般</option>" in form

    done = post_form(agent, url, "classify", category="product_quality", severity="紧急")
    assert done.status_code == 303
    t = desk(site).by_number(ticket.number)
    assert (t.category, t.severity) == ("product_quality", "紧急")
    assert t.resolve_due < ticket.resolve_due  # the graver grade's deadlines, as the CLI sets them
    last = desk(site).timeline(t.id)[-1]
    assert (last["kind"], last["actor"], last["detail"]["category"], last["detail"]["severity"]) == (
        "classified", "ada", "product_quality", "紧急")
    assert last["detail"]["previous_severity"] == ticket.severity  # the regrade's record, as the CLI's
    assert "确认分类与级别" in agent.get(url, timeout=10).text

    # only what changed is set: the same grade again does not move its deadlines
    regraded = post_form(agent, url, "classify", category="product_quality", severity="紧急")
    assert regraded.status_code == 400 and "nothing to change" in regraded.text
    only_category = post_form(agent, url, "classify", category="logistics", severity="紧急")
    assert only_category.status_code == 303
    after = desk(site).by_number(ticket.number)
    assert desk(site).timeline(t.id)[-1]["detail"] == {"category": "logistics", "severity": None}
    assert after.resolve_due == t.resolve_due

    page = agent.get(url, timeout=10).text
    stale = agent.post(f"{url}/classify", data={"csrf": csrf_of(page), "version": version_of(page) - 1,
                                                "category": "price", "severity": "一般"}, timeout=10)
    assert stale.status_code == 409 and desk(site).by_number(ticket.number).category == "logistics"
    forged = agent.post(f"{url}/classify", data={"version": version_of(page), "category": "price"},
                        allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    bad = post_form(agent, url, "classify", category="nonsense", severity="一般")
    assert bad.status_code == 400 and "unknown category" in bad.text


def test_an_agent_ticks_off_the_checklist_and_a_viewer_reads_it(site, base):
    tickets = desk(site)
    ticket = take(site, summary="快递显示签收但我没收到")
    ticket = tickets.add_tasks(ticket.id, ["核查物流签收记录", "回电客户说明处理结果"], actor="playbook:logistics",
                               expected_version=ticket.version)
    url = f"{base}/tickets/{ticket.number}"
    agent = login(base, "ada")
    page = agent.get(url, timeout=10).text
    assert "核查物流签收记录" in page and page.count('aria-checked="false"') == 2 and page.count('name="item"') == 2

    ticked = post_form(agent, url, "tasks", item="2")
    assert ticked.status_code == 303
    t = desk(site).by_number(ticket.number)
    assert [task["done"] for task in t.tasks] == [False, True] and t.tasks[1]["by"] == "ada"
    page = agent.get(url, timeout=10).text
    assert "完成任务：回电客户说明处理结果" in page  # the timeline names the task
    assert page.count('aria-checked="true"') == 1 and page.count('name="item"') == 1  # one box left to tick

    again = post_form(agent, url, "tasks", item="2")
    assert again.status_code == 400 and "task 2 of" in again.text and "already done (by ada)" in again.text
    missing = post_form(agent, url, "tasks", item="3")
    assert missing.status_code == 400 and "has no task 3 (it has 2)" in missing.text

    viewer = login(base, "viv")
    seen = viewer.get(url, timeout=10).text
    assert "核查物流签收记录" in seen and 'aria-checked="true"' in seen and 'aria-checked="false"' in seen
    assert 'name="item"' not in seen and "classify-form" not in seen  # read-only
    refused = viewer.post(f"{url}/tasks", data={"csrf": csrf_of(seen), "version": t.version + 1, "item": "1"},
                          allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    assert not desk(site).by_number(ticket.number).tasks[0]["done"]
