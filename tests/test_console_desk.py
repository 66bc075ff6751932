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
