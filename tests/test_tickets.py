"""Complaint tickets: convert, lifecycle, optimistic locking, joining, repeats, SLA and business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisiswatch.config import BusinessHours, TicketSettings
from crisiswatch.db import connect
from crisiswatch.mention import Author, Mention
from playbooks.tickets.models import TicketConflict, TicketError
from playbooks.tickets.service import TicketService

T0 = datetime(2025, 6, 13, 1, 0, tzinfo=UTC)  # Friday 09:00 in Shanghai


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def post(native: str, text: str, *, author: str = "u1", name: str = "小鹿", category: str = "logistics",
         severity: str = "一般", cluster: str | None = None, source: str = "weibo", **extra) -> Mention:
    return Mention(source=source, native_id=native, url=f"https://weibo.com/{author}/{native}", text=text,
                   author=Author(id=author, name=name, followers=120), created_at=T0 - timedelta(hours=1),
                   brands=["aurora"], category=category, severity=severity, cluster_id=cluster, extra=extra)


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def tickets(state_url, clock):
    return TicketService(connect(state_url), clock=clock)


def test_convert_snapshots_the_post_and_routes_by_category(tickets):
    m = post("1", "极光优选的快递8天了还没到，客服一直说在核实")
    t = tickets.convert([m], actor="agent:lin")
    assert t.number.startswith("CW-20250613-") and t.status == "新建"
    assert (t.category, t.severity, t.department, t.channel) == ("logistics", "一般", "客服", "weibo")
    assert t.source_url == m.url and t.author_handle == "小鹿" and t.mention_ids == [m.id]
    assert t.evidence[0]["text"] == m.text and t.evidence[0]["captured_at"] == T0.isoformat()
    # the manual's limits in working time: respond within 1 hour, done within 15 working days
    assert t.ack_due == T0 + timedelta(hours=1) and t.resolve_due == datetime(2025, 7, 3, 10, 0, tzinfo=UTC)
    leak = tickets.convert([post("2", "我在极光优选的订单信息被泄露了，骗子电话报出我的地址", author="u2",
                                 category="fraud_security_privacy", severity="重大")], actor="agent:lin")
    assert leak.departments == ["法律", "技术", "管理层"] and leak.ack_due == T0 + timedelta(minutes=15)


def test_whole_lifecycle_and_illegal_transitions(tickets, clock):
    t = tickets.convert([post("1", "快递丢了")], actor="agent:lin")
    with pytest.raises(TicketError, match=r"is 新建: cannot resolve \(only from 已回复\)"):
        tickets.transition(t.id, "resolve", actor="agent:lin", expected_version=t.version)
    for action, status in (("accept", "已受理"), ("start", "处理中"), ("reply", "已回复"), ("resolve", "已解决")):
        clock.now += timedelta(minutes=30)
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, note=f"{action}!")
        assert t.status == status
    with pytest.raises(TicketError, match="satisfaction score from 1 to 5"):
        tickets.transition(t.id, "followup", actor="agent:lin", expected_version=t.version, satisfaction=9)
    t = tickets.transition(t.id, "followup", actor="agent:lin", expected_version=t.version, satisfaction=4,
                           comment="处理及时")
    assert (t.status, t.satisfaction, t.replies) == ("已回访", 4, 1)
    t = tickets.transition(t.id, "close", actor="agent:lin", expected_version=t.version)
    assert t.status == "已关闭" and t.closed_at == clock.now
    t = tickets.transition(t.id, "reopen", actor="agent:wu", expected_version=t.version, note="用户再次反映")
    assert (t.status, t.reopened, t.satisfaction, t.closed_at) == ("处理中", 1, None, None)
    kinds = [e["kind"] for e in tickets.timeline(t.id)]
    assert kinds == ["created", "accept", "start", "reply", "resolve", "followup", "close", "reopen"]
    with pytest.raises(TicketError, match="unknown action 'archive'"):
        tickets.transition(t.id, "archive", actor="x", expected_version=t.version)


def test_two_agents_never_lose_an_update(tickets, state_url, clock):
    t = tickets.convert([post("1", "快递丢了")], actor="agent:lin")
    other_desk = TicketService(connect(state_url), clock=clock)  # a second agent, own connection
    lin_view, wu_view = tickets.get(t.id), other_desk.get(t.id)
    tickets.add_note(t.id, "已联系物流", actor="agent:lin", expected_version=lin_view.version)
    with pytest.raises(TicketConflict, match=r"changed by someone else \(now version 2, you had 1\)"):
        other_desk.assign(t.id, "调查", actor="agent:wu", expected_version=wu_view.version)
    fresh = tickets.get(t.id)
    assert fresh.department == "客服" and [e["kind"] for e in tickets.timeline(t.id)] == ["created", "note"]
    assert tickets.assign(t.id, "调查", actor="agent:wu", expected_version=fresh.version).department == "调查"


def test_a_near_duplicate_cluster_joins_one_complaint(tickets):
    first = tickets.convert([post("1", "极光优选虚假签收！", cluster="c1")], actor="agent:lin")
    again = tickets.convert([post("2", "转发：极光优选虚假签收！", author="u9", cluster="c1")], actor="agent:wu")
    assert again.id == first.id and len(again.mention_ids) == 2 and len(again.evidence) == 2
    assert again.version == first.version + 1
    assert tickets.convert([post("1", "极光优选虚假签收！", cluster="c1")], actor="x").id == first.id
    assert len(tickets.list()) == 1
    other = tickets.convert([post("3", "另一件事：耳机坏了", author="u3", cluster="c2", category="product_quality")],
                            actor="x")
    assert other.id != first.id


def test_an_order_number_survives_the_masking_so_the_ticket_carries_it(tickets):
    """Masked posts (the default: no raw text kept) still name their order: the agent needs it, and two
    complaints about one order are linked by it."""
    from monitor.enrich.steps import mask_mention

    first = post("o1", "极光优选订单号：4021987735126653 一直没发货，电话13812345678", author="u1")
    second = post("o2", "订单号 4021987735126653 的退款也没到", author="u2", category="payment_billing")
    for m in (first, second):
        mask_mention(m)
    assert "13812345678" not in first.text
    a = tickets.convert([first], actor="x")
    b = tickets.convert([second], actor="x")
    assert a.order_no == "4021987735126653"
    assert {"number": a.number, "reason": "same_order", "direction": "earlier"} in b.related


def test_repeat_complaints_are_linked(tickets, clock):
    a = tickets.convert([post("1", "极光优选快递十天没到，物流一直不更新", author="u1")], actor="x")
    clock.now += timedelta(days=3)
    b = tickets.convert([post("2", "还是没到，投诉了也没人管", author="u1")], actor="x")
    assert {"number": a.number, "reason": "same_author", "direction": "earlier"} in b.related
    c = tickets.convert([post("3", "订单号已打码", author="u7", raw_text="我的订单号：88812345678 一直没发货")],
                        actor="x")
    d = tickets.convert([post("4", "订单号已打码", author="u8", raw_text="订单号 88812345678 退款没到账",
                              category="payment_billing")], actor="x")
    assert c.order_no == "88812345678" and {"number": c.number, "reason": "same_order",
                                             "direction": "earlier"} in d.related
    e = tickets.convert([post("5", "极光优选快递十天没到，物流信息一直不更新", author="u5")], actor="x")
    assert any(r["number"] == a.number and r["reason"] == "same_topic" for r in e.related)
    clock.now += timedelta(days=40)
    late = tickets.convert([post("6", "极光优选快递十天没到，物流一直不更新", author="u1")], actor="x")
    assert late.related == []  # outside the 30-day window


def test_complaints_taken_at_the_desk_are_linked_by_contact_customer_or_summary(tickets, clock):
    def take(customer, contact, summary, category="logistics"):
        return tickets.intake(channel="phone", customer=customer, contact=contact, summary=summary,
                              category=category, severity="一般", actor="x")

    def reasons(t):
        return {(r["number"], r["reason"]) for r in t.related if r["direction"] == "earlier"}

    a = take("王女士", "138 1234 5678", "极光优选快递十天没到，物流一直不更新")
    clock.now += timedelta(days=2)
    # the same phone written with the country code, another grievance in another category: the same caller
    b = take("王", "+86-138-1234-5678", "退款申请通过了钱还没到账", "payment_billing")
    assert reasons(b) == {(a.number, "same_contact")}
    # a namesake with another number and another grievance is not a repeat; the same grievance is
    assert reasons(take("王女士", "13900001111", "耳机用了两天就坏了", "product_quality")) == set()
    c = take("王女士", "wang@example.com", "极光优选快递十天没到，物流一直不更新，再次投诉", "other")
    assert reasons(c) == {(a.number, "same_customer")}
    # another customer telling the same story in the same category: the summary is compared, as posts are
    d = take("李先生", "13700002222", "极光优选快递十天没到，物流信息一直不更新")
    assert (a.number, "same_topic") in reasons(d)
    clock.now += timedelta(days=40)
    assert take("王女士", "13812345678", "极光优选快递十天没到").related == []  # outside the 30-day window


def test_sla_reminds_then_breaches_and_escalates_once(tickets, clock):
    t = tickets.convert([post("1", "快递丢了", severity="重要")], actor="x")  # ack 1h, Friday 09:00
    clock.now = T0 + timedelta(minutes=50)  # 80% of the 1 h limit has passed
    found = tickets.check_sla()
    assert [(r["ticket"], r["timer"]) for r in found["reminders"]] == [(t.number, "ack")] and not found["breaches"]
    assert tickets.check_sla() == {"reminders": [], "breaches": [], "still_late": []}  # each reminder once
    clock.now = T0 + timedelta(hours=1, minutes=1)
    found = tickets.check_sla()
    assert [(b["timer"], b["escalated_to"]) for b in found["breaches"]] == [("ack", "管理层")]
    t = tickets.get(t.id)
    assert t.breaches == 1 and t.escalation_level == 1 and "管理层" in t.departments
    assert tickets.list(breached=True)[0].id == t.id and tickets.list(breached=False) == []
    t = tickets.transition(t.id, "accept", actor="x", expected_version=t.version)
    clock.now = T0 + timedelta(hours=7, minutes=30)  # first response: 1 working day, due Friday 18:00
    assert [r["timer"] for r in tickets.check_sla()["reminders"]] == ["response"]  # ack is met now


def test_business_hours_pause_the_clock_for_ordinary_grades(state_url):
    hours = BusinessHours(start="09:00", end="18:00", days=[1, 2, 3, 4, 5], grades=["一般"])
    clock = Clock(datetime(2025, 6, 13, 9, 0, tzinfo=UTC))  # Friday 17:00 in Shanghai
    tickets = TicketService(connect(state_url), settings=TicketSettings(business_hours=hours), clock=clock)
    ordinary = tickets.convert([post("1", "小问题")], actor="x")
    # 1 working hour: Fri 17-18; 2 working days (18 h): Fri 17-18, Mon 9-18, Tue 9-17 -> Tue 17:00 Shanghai
    assert ordinary.ack_due == datetime(2025, 6, 13, 10, 0, tzinfo=UTC)
    assert ordinary.response_due == datetime(2025, 6, 17, 9, 0, tzinfo=UTC)
    urgent = tickets.convert([post("2", "充电宝冒烟", author="u2", severity="紧急")], actor="x")
    assert urgent.ack_due == clock.now + timedelta(minutes=30)  # urgent grades' hours run around the clock
    with pytest.raises(ValueError, match="ISO weekdays"):
        BusinessHours(days=[0])


def test_configured_sla_and_routing_override_the_defaults(state_url):
    settings = TicketSettings(sla={"一般": {"ack": "2h", "response": "4h", "feedback": "1d", "resolve": "2d"}},
                              routing={"logistics": ["调查"]})
    tickets = TicketService(connect(state_url), settings=settings, clock=Clock(T0))
    t = tickets.convert([post("1", "快递丢了")], actor="x")
    assert t.ack_due == T0 + timedelta(hours=2) and t.department == "调查"
    with pytest.raises(TicketError, match="unknown department or person '市场部'"):
        tickets.assign(t.id, "市场部", actor="x", expected_version=t.version)


def test_mirror_hears_every_create_and_update(state_url):
    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []

        def created(self, ticket) -> None:
            self.calls.append(("created", ticket.status))

        def updated(self, ticket, event) -> None:
            self.calls.append((event["kind"], ticket.status))

    mirror = Recorder()
    tickets = TicketService(connect(state_url), mirror=mirror, clock=Clock(T0))
    t = tickets.convert([post("1", "快递丢了")], actor="x")
    tickets.transition(t.id, "accept", actor="x", expected_version=t.version)
    assert mirror.calls == [("created", "新建"), ("accept", "已受理")]


def test_tasks_are_completable(tickets):
    t = tickets.convert([post("1", "快递丢了")], actor="x")
    t = tickets.add_tasks(t.id, ["核查订单与物流记录", "联系用户"], actor="playbook:x", expected_version=t.version)
    t = tickets.complete_task(t.id, 0, actor="agent:lin", expected_version=t.version)
    assert [(x["text"], x["done"], x["by"]) for x in t.tasks] == [("核查订单与物流记录", True, "agent:lin"),
                                                                ("联系用户", False, None)]
    with pytest.raises(TicketError, match="has no task 5"):
        tickets.complete_task(t.id, 4, actor="x", expected_version=t.version)


@pytest.mark.parametrize(("tickets_cfg", "message"), [
    ({"routing": {"logistics": ["市场部"]}}, "tickets.routing: routing.logistics: unknown department"),
    ({"routing": {"weather": ["客服"]}}, "unknown category 'weather'"),
    ({"sla": {"超级": {"ack": "1h", "response": "2h", "feedback": "3h", "resolve": "4h"}}}, "unknown grade '超级'"),
    ({"sla": {"一般": {"ack": "soon", "response": "2h", "feedback": "3h", "resolve": "4h"}}}, "bad SLA limit 'soon'"),
    ({"business_hours": {"start": "9am"}}, "tickets.business_hours.start"),
])
def test_bad_ticket_settings_name_the_key(tickets_cfg, message):
    from crisiswatch.config import parse_config
    from crisiswatch.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config({"tickets": tickets_cfg}, "cw.yaml")
