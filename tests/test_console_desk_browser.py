"""The complaint desk in a real headless Chromium: an e-mail complaint taken in the console walks to 已关闭
with an owner, the templated reply and a 回访 score; statements are approved and published there too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crisiswatch.db import connect
from playbooks.statements import StatementStore
from playbooks.tickets.intake import take
from playbooks.tickets.service import TicketService
from tests.browser.dashboard_site import browser_login, build_site, chromium_page, serve

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
FILLED = ["已核对退款记录，款项因银行通道故障滞留", "已为您重新发起退款￥299，预计1个工作日内到账",
          "已要求支付团队对滞留退款每日巡检"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("desk"))


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def click(page, selector: str) -> None:
    page.click(selector)
    page.wait_for_load_state("load")


def test_an_email_complaint_walks_to_closed_in_the_console(base):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        browser_login(page, base, "ada", "/tickets")
        click(page, "#new-ticket")
        page.select_option("select[name=channel]", "email")
        page.fill("input[name=customer]", "陈女士")
        page.fill("input[name=contact]", "chen.nv@example.com")
        page.fill("textarea[name=summary]", "退款申请通过十天了钱还没到账，客服只会让我等")
        page.fill("input[name=expectation]", "三天内退款到账")
        click(page, "#suggest")
        assert "payment_billing" == page.input_value("select[name=category]")  # the classifier's suggestion
        assert "系统建议" in page.inner_text("#suggestion")
        assert "其次可能" in page.inner_text("#suggestion-alternative")  # the next likeliest category beside it
        page.select_option("select[name=severity]", "重要")  # the agent corrects the grade
        page.select_option("select[name=owner]", "ada")
        click(page, "#confirm-intake")
        assert re.search(r"/tickets/CW-\d{8}-\d{4}$", page.url)
        number = page.url.rsplit("/", 1)[1]
        assert "新建" in page.inner_text("h1") and "重要" in page.inner_text("h1")
        assert page.inner_text("#ticket-owner") == "ada" and "邮件" in page.inner_text("#ticket-channel")
        assert "chen.nv@example.com" in page.inner_text("#ticket-customer")  # the agent sees the contact

        page.goto(f"{base}/tickets?mine=1")
        assert number in page.inner_text("table.tickets")

        page.goto(f"{base}/tickets/{number}")
        draft = page.input_value("#reply-text")
        assert "【投诉概述】" in draft and "陈女士" in draft and "【请填写" in draft
        assert page.input_value("select[name=via]") == "书面"
        click(page, "#send-reply")  # the unedited template is refused, and the text stays in the form
        assert "unedited template" in page.inner_text("#ticket-error")
        answers = iter(FILLED)
        page.fill("#reply-text", re.sub(r"【请填写：[^】]*】", lambda _: next(answers), draft))
        click(page, "#send-reply")
        assert "已回复" in page.inner_text("h1") and page.inner_text("#ticket-reply-via") == "书面"
        click(page, "button[data-action=resolve]")
        page.fill("input[name=satisfaction]", "4")
        click(page, "button[data-action=followup]")
        assert page.inner_text("#ticket-score") == "4/5"
        click(page, "button[data-action=close]")
        assert "已关闭" in page.inner_text("h1")
        timeline = page.inner_text("#timeline")
        assert "重新发起退款" in timeline and "ada" in timeline
        page.screenshot(path=str(ARTIFACTS / "console-ticket.png"), full_page=True)


def test_a_viewer_sees_the_contact_masked_and_no_forms(site, base):
    with chromium_page() as page:
        browser_login(page, base, "ada", "/tickets/new")
        page.fill("input[name=customer]", "郑先生")
        page.fill("input[name=contact]", "13912345678")
        page.fill("textarea[name=summary]", "快递显示签收但我没收到")
        click(page, "#suggest")
        click(page, "#confirm-intake")
        number = page.url.rsplit("/", 1)[1]
    with chromium_page() as page:
        browser_login(page, base, "viv", f"/tickets/{number}")
        assert "139****5678" in page.inner_text("#ticket-customer")
        assert "13912345678" not in page.content()
        assert page.locator("#reply-form").count() == 0


def test_an_agent_ticks_off_a_checklist_item_in_the_console(site, base):
    with chromium_page() as page:
        browser_login(page, base, "ada", f"/tickets/{site.ticket_number}")
        assert page.get_attribute("#checklist li[data-task='1'] .tick", "aria-checked") == "true"  # done earlier
        # the checklist's own styles apply (a stylesheet broken above them dropped them): boxes, not bullets
        assert page.evaluate("getComputedStyle(document.getElementById('checklist')).listStyleType") == "none"
        click(page, "#checklist li[data-task='2'] button.tick")
        assert page.get_attribute("#checklist li[data-task='2'] .tick", "aria-checked") == "true"
        assert "完成任务：联系发帖用户致歉并跟进" in page.inner_text("#timeline")


def test_statements_are_approved_and_published_in_the_console(site, base):
    from datetime import UTC, datetime, timedelta

    from alerts.approvals import ApprovalService
    from alerts.dispatch import AlertDispatcher

    conn = connect(site.db)
    store = StatementStore(conn)
    now = datetime.now(UTC)
    statement = store.draft(incident_id=site.incident_id, playbook="product_safety", ticket_number=site.ticket_number,
                            template="holding_statement", text="【极光优选关于物流问题的说明】我们已成立专项小组。",
                            approvers=["root"], incident_start=now - timedelta(hours=1), ready_at=now,
                            window_minutes=240)
    approval = ApprovalService(site.config, conn, AlertDispatcher(site.config, conn, {})).request(
        "statement:INC-1:product_safety", ["root"], statement.text, 120)
    store.set_approval(statement.id, str(approval))
    with chromium_page() as page:
        browser_login(page, base, "ada", "/statements")
        click(page, f"#statement-{statement.id} button[value=approve]")
        assert "ada is not an approver" in page.inner_text("#statement-error")  # only the named approvers
    with chromium_page() as page:
        browser_login(page, base, "root", "/statements")
        click(page, f"#statement-{statement.id} button[value=approve]")
        click(page, f"#statement-{statement.id} button[data-action=publish]")
        assert "已发布" in page.inner_text(f"#statement-{statement.id}")
    out = store.get(statement.id)
    assert out.status == "published" and out.published_by == "root" and not out.missed_window


def test_a_direction_override_in_a_name_turns_only_the_name(site, base):
    """A customer name ending in U+202E (RIGHT-TO-LEFT OVERRIDE) must not run the phone number beside it
    backwards: the agent would dial 87654321931 for 13912345678."""
    conn = connect(site.db)
    ticket, _ = take(TicketService.from_config(site.config, conn), channel="email", customer="王女士\u202e",
                     contact="13912345678", summary="退款半个月没到账，客服说在处理", actor="ada", brand="aurora",
                     category="payment_billing", severity="一般")
    conn.close()
    with chromium_page() as page:
        browser_login(page, base, "ada", f"/tickets/{ticket.number}")
        assert "13912345678" in page.inner_text("#ticket-customer")
        left_of = page.evaluate("""() => {
            const walker = document.createTreeWalker(document.getElementById('ticket-customer'), NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode()) && !node.data.includes('13912345678'));
            const at = (text) => {
                const r = document.createRange(), i = node.data.indexOf(text);
                r.setStart(node, i); r.setEnd(node, i + text.length);
                return r.getBoundingClientRect().left;
            };
            return [at('139'), at('678')];
        }""")
        assert left_of[0] < left_of[1], f"the number reads backwards: '139' at x={left_of[0]}, '678' at x={left_of[1]}"
