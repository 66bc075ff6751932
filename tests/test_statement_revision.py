"""A rejected or expired statement is not the end of the golden window: it is revised or sent again, the
playbook keeps waiting until a statement is out, and every round stays readable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from alerts.approvals import ApprovalService
from alerts.dispatch import AlertDispatcher
from alerts.outbox import Outbox
from alerts.render import slack_blocks
from crisiswatch.audit import AuditLog
from crisiswatch.cli import main
from crisiswatch.db import connect
from crisiswatch.errors import CrisiswatchError
from monitor.incidents.service import IncidentService
from playbooks.publishing import StatementDesk
from playbooks.statements import StatementStore
from tests.browser.dashboard_site import browser_login, build_site, chromium_page, csrf_of, login, serve
from tests.test_playbook_steps import SAFETY_POSTS, T0, Clock, engine_for, incident

SUBJECT = "statement:INC-1:product_safety"


def _step(conn) -> dict:
    row = conn.execute("SELECT outcome, detail FROM playbook_runs WHERE playbook='product_safety' AND"
                       " type='draft_statement'").fetchone()
    return {"outcome": row["outcome"], **json.loads(row["detail"])}


def _expired(tmp_path):
    """The audit's case: a 重大 product-safety statement whose 120-minute approval ran out unanswered."""
    clock = Clock(T0 + timedelta(minutes=10))
    engine, conn = engine_for(tmp_path, clock)
    engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS))
    clock.now += timedelta(minutes=5)
    engine.tick()
    clock.now += timedelta(minutes=121)
    assert "draft_statement: waiting" in engine.tick()[0][2]  # was "draft_statement: done"
    return clock, engine, conn, StatementDesk(engine.config, conn, clock=clock)


def test_an_expired_statement_is_sent_again_revised_after_a_rejection_and_published(tmp_path):
    clock, engine, conn, desk = _expired(tmp_path)
    first = StatementStore(conn).get(1)
    assert first.status == "expired" and first.window_minutes == 240
    step = _step(conn)
    assert step["outcome"] == "waiting" and step["statement_status"] == "expired"
    assert "expired" in step["reason"] and "statement resubmit 1" in step["reason"]  # the status says what to do
    with pytest.raises(CrisiswatchError, match="already expired: revise it .* or ask its approvers again"):
        desk.decide(1, "pr-lead", True)
    with pytest.raises(CrisiswatchError, match="only an approved statement can be published; revise it"):
        desk.publish(1, "pr-lead")

    # asked again, unchanged: a new request to the same approvers, with the first request's time limit
    clock.now += timedelta(minutes=2)
    again = desk.resubmit(1, "pr-lead")
    assert (again.status, again.version, again.text) == ("draft", 2, first.text)
    approvals = ApprovalService(engine.config, conn, engine.dispatcher, clock=clock)
    request = approvals.get(int(again.approval_id))
    assert again.approval_id != first.approval_id and request.status == "pending"
    assert request.approvers == ["pr-lead", "legal-counsel"] and request.subject == SUBJECT
    assert request.expires_at - request.requested_at == timedelta(minutes=120)
    assert "draft_statement: waiting" in engine.tick()[0][2]

    # rejected: the step still waits, and says who rejected it
    desk.decide(1, "legal-counsel", False)
    clock.now += timedelta(minutes=1)
    assert "draft_statement: waiting" in engine.tick()[0][2]
    step = _step(conn)
    assert step["statement_status"] == "rejected" and step["reason"].startswith("rejected by legal-counsel")

    # revised: a person's text, taken as written and put to the approvers again
    text = "【{{ brand_name }}】关于 {top_terms} 的说明 <!channel> *立即* <@U0BOSS> 见 https://evil.example 详情"
    revised = desk.revise(1, "pr-lead", text + "\r\n")
    assert (revised.status, revised.version, revised.text) == ("draft", 3, text)  # no placeholder filled
    assert not any(term in revised.text for term in ("充电宝", "冒烟", "批次"))
    request = approvals.get(int(revised.approval_id))
    assert request.text == text and request.approvers == ["pr-lead", "legal-counsel"]
    asked = [r.message for r in Outbox(conn).all()
             if r.message.kind == "approval" and r.message.facts["approval_id"] == request.id]
    blob = json.dumps(slack_blocks(asked[0]), ensure_ascii=False)
    for live in ("<!channel>", "*立即*", "<@U0BOSS>", "https://evil.example"):
        assert live not in blob, live  # inert in Slack: no ping, no bold, no link

    desk.decide(1, "pr-lead", True)
    clock.now += timedelta(minutes=1)
    published = desk.publish(1, "pr-lead")
    assert published.status == "published" and published.text == text and not published.missed_window
    assert engine.tick()[0][2][-2:] == ["draft_statement: done", "escalate_if: waiting"]

    # the history: each earlier text and its decision
    history = StatementStore(conn).history(1)
    assert [(v.version, v.status, v.decided_by, v.change, v.replaced_by) for v in history] == [
        (1, "expired", None, "resubmitted", "pr-lead"), (2, "rejected", "legal-counsel", "revised", "pr-lead")]
    assert history[0].text == history[1].text == first.text
    # the trail: every request, decision and round
    trail = [(e["actor"], e["action"]) for e in AuditLog(conn).entries(SUBJECT)]
    assert trail == [("crisiswatch", "approval.request"), ("crisiswatch", "approval.expired"),
                     ("crisiswatch", "approval.request"), ("pr-lead", "statement.resubmitted"),
                     ("legal-counsel", "approval.rejected"), ("crisiswatch", "approval.request"),
                     ("pr-lead", "statement.revised"), ("pr-lead", "approval.approved")]
    assert any(e["action"] == "statement.publish" and e["outcome"] == "published"
               for e in AuditLog(conn).entries("INC-1"))


def test_a_revision_is_checked_like_a_draft_and_only_a_decided_statement_gets_one(tmp_path):
    clock, engine, conn, desk = _expired(tmp_path)
    for text, why in (("  \n ", "empty"), ("进展见工单 CW-20250614-0001", "internal id"), ("详见 INC-1", "internal id"),
                      ("长" * 4001, "under 4000"), (StatementStore(conn).get(1).text, "resubmit it")):
        with pytest.raises(CrisiswatchError, match=why):
            desk.revise(1, "pr-lead", text)
    assert StatementStore(conn).get(1).version == 1  # nothing changed by a refusal
    desk.resubmit(1, "pr-lead")
    with pytest.raises(CrisiswatchError, match="statement 1 is draft: it is waiting for its approvers"):
        desk.revise(1, "pr-lead", "新的说明")
    desk.decide(1, "pr-lead", True)
    with pytest.raises(CrisiswatchError, match="statement 1 is approved: publish it"):
        desk.resubmit(1, "pr-lead")
    refused = [e for e in AuditLog(conn).entries("INC-1") if e["outcome"] == "refused"]
    assert [e["action"] for e in refused] == ["statement.revised", "statement.resubmitted"]


def test_the_step_ends_when_the_incident_closes_without_a_statement(tmp_path):
    clock, engine, conn, desk = _expired(tmp_path)
    IncidentService(conn).resolve(1, at=clock.now, reason="quiet")
    clock.now += timedelta(minutes=1)
    outcomes = engine.tick()[0][2]
    assert outcomes[-2:] == ["draft_statement: skipped", "escalate_if: waiting"]  # the playbook goes on
    assert "closed without a published statement" in _step(conn)["reason"]


def test_revise_resubmit_and_show_from_the_cli(tmp_path, capsys):
    start = datetime.now(UTC) - timedelta(minutes=20)  # the CLI acts on the real clock
    engine, conn = engine_for(tmp_path, Clock(start + timedelta(minutes=20)))
    engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS, at=start))
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(json.loads(engine.config.model_dump_json()), allow_unicode=True), encoding="utf-8")
    cli = ["--config", str(cfg), "statement", "--as", "pr-lead"]
    original = StatementStore(conn).get(1).text
    assert main([*cli, "reject", "1"]) == 0
    assert "revise or resubmit 1" in capsys.readouterr().out
    text_file = tmp_path / "revised.txt"
    text_file.write_bytes("【极光优选】我们已暂停销售相关批次，检测结果将在 24 小时内公布。\n".encode("gbk"))
    assert main([*cli, "revise", "1", "--text-file", str(text_file)]) == 1
    assert "not UTF-8 text" in capsys.readouterr().err
    text_file.write_text("【极光优选】我们已暂停销售相关批次，检测结果将在 24 小时内公布。\n", encoding="utf-8")
    assert main([*cli, "revise", "1", "--text-file", str(text_file)]) == 0
    out = capsys.readouterr().out
    assert "#1 v2  draft" in out and "version 2 sent to pr-lead,legal-counsel for approval" in out
    assert main([*cli, "resubmit", "1"]) == 1
    assert "statement 1 is draft" in capsys.readouterr().err
    assert main([*cli, "reject", "1"]) == 0 and main([*cli, "resubmit", "1"]) == 0
    capsys.readouterr()
    assert main([*cli, "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "#1 v3  draft" in shown and "检测结果将在 24 小时内公布" in shown
    assert "-- version 2: rejected by pr-lead" in shown and "resubmitted by pr-lead" in shown
    assert "-- version 1: rejected by pr-lead" in shown and "revised by pr-lead" in shown and original in shown
    assert main([*cli, "approve", "1"]) == 0 and main([*cli, "publish", "1"]) == 0
    assert StatementStore(conn).get(1).status == "published"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("revise"))


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def _post(session, base: str, statement_id: int, **form):
    csrf = csrf_of(session.get(f"{base}/statements", timeout=20).text)
    return session.post(f"{base}/statements/{statement_id}", data={**form, "csrf": csrf}, allow_redirects=False,
                        timeout=20)


def _card(html: str, statement_id: int) -> str:
    card = html[html.index(f'id="statement-{statement_id}"'):]
    return card[:card.index("</section>")]


def test_a_rejected_statement_is_revised_in_the_console_and_keeps_its_history(site, base):
    conn = connect(site.db)
    now = datetime.now(UTC)
    store = StatementStore(conn)
    statement = store.draft(incident_id=site.incident_id, playbook="console_revise", ticket_number=site.ticket_number,
                            template="holding_statement", text="【极光优选】关于物流延误的说明（初稿）",
                            approvers=["root"], incident_start=now - timedelta(hours=1), ready_at=now,
                            window_minutes=240)
    approval = ApprovalService(site.config, conn, AlertDispatcher(site.config, conn, {})).request(
        f"statement:INC-{site.incident_id}:console_revise", ["root"], statement.text, 45)
    store.set_approval(statement.id, str(approval))
    root, ada, viv = login(base, "root"), login(base, "ada"), login(base, "viv")
    assert _post(root, base, statement.id, action="reject").status_code == 303
    card = _card(ada.get(f"{base}/statements", timeout=20).text, statement.id)
    assert "root 驳回了这份声明，尚未发布" in card and f'id="revise-{statement.id}"' in card
    assert "关于物流延误的说明（初稿）</textarea>" in card  # the form starts from the rejected text

    assert "id=\"revise-" not in _card(viv.get(f"{base}/statements", timeout=20).text, statement.id)
    assert _post(viv, base, statement.id, action="resubmit").status_code == 403  # viewers look only

    refused = _post(ada, base, statement.id, action="revise", text="进展见 INC-1 <b>加急</b>")
    assert refused.status_code == 400 and "internal id" in refused.text
    assert "进展见 INC-1 &lt;b&gt;加急&lt;/b&gt;</textarea>" in refused.text  # kept as typed, and inert

    text = "【极光优选】快递延误已安排补发，<script>alert(1)</script> 详情请联系客服。"
    assert _post(ada, base, statement.id, action="revise", text=text).status_code == 303
    revised = store.get(statement.id)
    assert (revised.status, revised.version, revised.text) == ("draft", 2, text)
    new_request = ApprovalService(site.config, conn, AlertDispatcher(site.config, conn, {})).get(
        int(revised.approval_id))
    assert new_request.approvers == ["root"] and new_request.expires_at - new_request.requested_at == timedelta(
        minutes=45)
    card = _card(viv.get(f"{base}/statements", timeout=20).text, statement.id)
    assert "第 2 版" in card and "&lt;script&gt;alert(1)&lt;/script&gt;" in card and "<script>" not in card
    assert "历史版本（1）" in card and "关于物流延误的说明（初稿）" in card and "ada 于" in card and "修改" in card
    assert _post(root, base, statement.id, action="approve").status_code == 303
    assert _post(root, base, statement.id, action="publish").status_code == 303
    assert store.get(statement.id).status == "published"
    trail = [(e["actor"], e["action"]) for e in AuditLog(conn).entries(f"statement:INC-{site.incident_id}:console_revise")]
    assert ("ada", "statement.revised") in trail and trail[-1] == ("root", "approval.approved")
    # the incident page tells the rounds
    page = viv.get(f"{base}/incidents/{site.incident_id}", timeout=20).text
    assert "ada 修改了声明（第 2 版），重新提交审批" in page and "root 发布了声明" in page


def test_a_statement_nobody_revises_holds_up_no_escalation(tmp_path):
    clock, engine, conn, desk = _expired(tmp_path)
    clock.now += timedelta(hours=12)  # the incident is still unresolved, and nobody has revised the statement
    outcomes = engine.tick()[0][2]
    # the statement's wait held up the steps behind it: 管理层 was never brought in
    assert "draft_statement: waiting" in outcomes and "escalate_if: done" in outcomes, outcomes
    assert "管理层" in engine.tickets.list()[0].departments


def test_a_rejected_statement_is_revised_then_resubmitted_and_published_in_chromium(site, base):
    """The revise/resubmit form end to end in the browser: a refused revision keeps what was typed, hostile
    text stays text, a second rejection is answered with the same text sent again, and a viewer sees no form."""
    conn = connect(site.db)
    now = datetime.now(UTC)
    store = StatementStore(conn)
    statement = store.draft(incident_id=site.incident_id, playbook="browser_revise", ticket_number=site.ticket_number,
                            template="holding_statement", text="【极光优选】关于包裹延误的说明（草稿）",
                            approvers=["root"], incident_start=now - timedelta(hours=1), ready_at=now,
                            window_minutes=240)
    approval = ApprovalService(site.config, conn, AlertDispatcher(site.config, conn, {})).request(
        f"statement:INC-{site.incident_id}:browser_revise", ["root"], statement.text, 45)
    store.set_approval(statement.id, str(approval))
    card, form = f"#statement-{statement.id}", f"#revise-{statement.id}"

    def submit(page, selector: str) -> None:
        page.click(selector)
        page.wait_for_load_state("load")

    with chromium_page() as page:
        browser_login(page, base, "root", "/statements")
        submit(page, f"{card} button[value=reject]")
    with chromium_page() as page:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        browser_login(page, base, "ada", "/statements")
        assert page.input_value(f"{form} textarea") == "【极光优选】关于包裹延误的说明（草稿）"
        # the form has its own width (a broken stylesheet dropped it and the textarea was squeezed)
        assert page.evaluate(f"getComputedStyle(document.querySelector('{form}')).maxWidth") == "720px"
        page.fill(f"{form} textarea", "进展见 INC-1，稍后更新")
        submit(page, f"{form} button[value=revise]")
        assert "internal id" in page.inner_text("#statement-error")
        assert page.input_value(f"{form} textarea") == "进展见 INC-1，稍后更新"  # nothing typed is lost
        hostile = "【极光优选】已安排补发<img src=x onerror=\"window.__pwned='statement'\"> \u202e详情请联系客服"
        page.fill(f"{form} textarea", hostile)
        submit(page, f"{form} button[value=revise]")
        assert page.url.endswith(f"/statements#statement-{statement.id}")
        assert page.inner_text(f"{card} .statement-text").startswith("【极光优选】已安排补发<img src=x")
        assert page.locator(f"{card} img").count() == 0 and page.evaluate("window.__pwned") is None
        assert page.locator(f"{card} [data-version='2']").count() == 1
        assert page.locator(f"{form}").count() == 0  # a draft again: nothing to revise
    with chromium_page() as page:
        browser_login(page, base, "root", "/statements")
        submit(page, f"{card} button[value=reject]")
    with chromium_page() as page:
        browser_login(page, base, "ada", "/statements")
        submit(page, f"{form} button[value=resubmit]")
        assert page.locator(f"{card} [data-version='3']").count() == 1
        page.click(f"#history-{statement.id} summary")
        assert page.locator(f"#history-{statement.id} .statement-version").count() == 2
        # a form posted without the page's token is refused, whatever the browser sends with it
        forged = page.evaluate(f"""fetch('/statements/{statement.id}', {{method: 'POST',
            headers: {{'content-type': 'application/x-www-form-urlencoded'}}, body: 'action=resubmit'}})
            .then(r => r.status)""")
        assert forged == 403
        assert errors == []
    with chromium_page() as page:
        browser_login(page, base, "viv", "/statements")
        assert page.locator(f"{card} form").count() == 0
    with chromium_page() as page:
        browser_login(page, base, "root", "/statements")
        submit(page, f"{card} button[value=approve]")
        submit(page, f"{card} button[value=publish]")
        assert store.get(statement.id).status == "published" and store.get(statement.id).text == hostile


def test_a_long_statement_paragraph_wraps_inside_its_card(site, base):
    """A statement's paragraph runs to hundreds of characters with no line break: it ran off the card and the
    page (3,260 px in a 1,600 px window), and the approver could not read what they approve."""
    paragraph = ("【极光优选关于近期物流延误的说明】" + "近期部分用户反映订单发货后物流信息长时间未更新，我们高度重视，"
                 "已成立专项小组逐单排查，" * 4 + "感谢大家的理解与监督。\n客服热线 400-000-0000")
    now = datetime.now(UTC)
    statement = StatementStore(connect(site.db)).draft(
        incident_id=site.incident_id, playbook="long_paragraph", ticket_number=site.ticket_number,
        template="holding_statement", text=paragraph, approvers=["root"], incident_start=now - timedelta(hours=1),
        ready_at=now, window_minutes=240)
    with chromium_page() as page:
        browser_login(page, base, "root", "/statements")
        wide = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], f"{wide[0]} px wide in a {wide[1]} px window"
        text = page.locator(f"#statement-{statement.id} .statement-text")
        assert text.inner_text() == paragraph  # its own line break kept
