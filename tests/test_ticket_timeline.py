"""The ticket page's record reads as words: every event a ticket records, in the interface language, with what a
person wrote under it, and none of the stored fields (keys, Python lists, ISO instants) shown raw."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from crisiswatch.config import TicketSettings
from crisiswatch.db import connect
from monitor.dashboard.i18n_events import collapse_repeats, event_text, ticket_timeline
from monitor.dashboard.web import local_time
from playbooks.tickets.service import TicketService
from tests.test_tickets import T0, Clock, post

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def worked(state_url):
    """A ticket taken through what agents and playbooks do to one, and its recorded events."""
    tickets = TicketService(connect(state_url), clock=Clock(T0), settings=TicketSettings(staff={"王主管": "管理层"}))
    t = tickets.convert([post("1", "极光优选的快递8天了还没到")], actor="playbook:logistics_surge")
    for step in (
        lambda t: tickets.assign(t.id, "调查", actor="lin", expected_version=t.version),
        lambda t: tickets.add_departments(t.id, ["客服", "法律"], actor="lin", expected_version=t.version),
        lambda t: tickets.add_tasks(t.id, ["核查物流轨迹", "联系承运商"], actor="lin", expected_version=t.version),
        lambda t: tickets.complete_task(t.id, 1, actor="lin", expected_version=t.version),
        lambda t: tickets.classify(t.id, actor="lin", expected_version=t.version, category="after_sales"),
        lambda t: tickets.transition(t.id, "accept", actor="lin", expected_version=t.version),
        lambda t: tickets.transition(t.id, "start", actor="lin", expected_version=t.version),
        lambda t: tickets.extend(t.id, T0 + timedelta(days=30), approved_by="王主管", actor="lin",
                                 expected_version=t.version),
        lambda t: tickets.transition(t.id, "reply", actor="lin", expected_version=t.version,
                                     note="已为您重新发货，单号稍后短信告知", via="电话"),
        lambda t: tickets.add_note(t.id, "客户要求上午联系", actor="lin", expected_version=t.version),
        lambda t: tickets.transition(t.id, "resolve", actor="lin", expected_version=t.version),
        lambda t: tickets.transition(t.id, "followup", actor="lin", expected_version=t.version, satisfaction=4,
                                     comment="处理还算及时"),
    ):
        t = step(t)
    return t, tickets.timeline(t.id)


def test_every_event_in_words_with_what_was_said(worked) -> None:
    ticket, events = worked
    lines = ticket_timeline(events, ticket.number, "zh", lambda at: local_time(at, ZONE),
                            [task["text"] for task in ticket.tasks])
    texts = [line["text"] for line in lines]
    assert len(lines) == len(events) == 13
    assert texts[0] == f"开立工单 {ticket.number}（一般）"
    assert "增加协办部门：客服、法律" in texts and "添加任务 2 项" in texts and "完成任务：联系承运商" in texts
    assert "确认分类与级别：售后/退换货" in texts
    assert "办结时限延至 2025-07-13 09:00（王主管 批准）" in texts  # in the team's time zone
    said = {label: value for line in lines for label, value in line["said"]}
    assert said["答复"] == "已为您重新发货，单号稍后短信告知" and said["答复方式"] == "电话"
    assert said["满意度"] == "4" and said["客户意见"] == "处理还算及时"
    assert "备注：客户要求上午联系" in texts and "备注" not in said  # a note is its own line, not repeated
    shown = " ".join(texts + [v for line in lines for _, v in line["said"]])
    for raw in ("[", "_added", "owner", "None", "T01:00", "other action", "其他处理记录", "same_"):
        assert raw not in shown, raw


def test_a_repeat_complaint_says_why_it_is_one(state_url) -> None:
    tickets = TicketService(connect(state_url), clock=Clock(T0), settings=TicketSettings(staff={"王主管": "管理层"}))
    first = tickets.convert([post("1", "极光优选快递十天没到，物流一直不更新", author="u1")], actor="x")
    second = tickets.convert([post("2", "还是没到，投诉了也没人管", author="u1")], actor="x")
    lines = ticket_timeline(tickets.timeline(second.id), second.number, "zh", lambda at: local_time(at, ZONE))
    assert f"关联到重复投诉 {first.number}（同一作者）" in [line["text"] for line in lines]
    assert not any("same_author" in v for line in lines for _, v in line["said"])


def test_english_interface_reads_english(worked) -> None:
    ticket, events = worked
    texts = [line["text"] for line in ticket_timeline(events, ticket.number, "en", lambda at: local_time(at, ZONE))]
    assert f"Ticket {ticket.number} opened (一般)" in texts and "Departments added: 客服, 法律" in texts
    assert "Category and grade confirmed: After-sales / returns" in texts


def test_an_incident_record_says_a_repeated_signal_once() -> None:
    """A signal that kept firing for an hour, others joining it, is one line with its count, not sixty lines
    around the actions; an action is never folded into it."""
    kinds = (["incident.opened"] + ["incident.joined", "incident.updated"] * 3 + ["step.notify.done"]
             + ["incident.updated"] * 4 + ["ticket.note"] * 2)
    events = [{"at": f"2025-06-13T01:{i:02d}:00+00:00", "kind": k, "actor": "lin" if k == "ticket.note" else "",
               "detail": {"level": "critical", "text": "已联系物流"}} for i, k in enumerate(kinds)]
    lines = collapse_repeats([{**e, "text": event_text(e["kind"], e["actor"], e["detail"], "zh")} for e in events])
    assert [(line["text"], line["count"]) for line in lines] == [
        ("事件开启，级别：严重", 1), ("信号持续，相关信号并入", 6), ("已发送告警", 1), ("信号持续", 4),
        ("备注：已联系物流", 2)]
    assert lines[1]["at"] == events[1]["at"] and lines[1]["last"] == events[6]["at"]
    other = {**events[-1], "actor": "ming", "text": "备注：已联系物流"}
    assert len(collapse_repeats([{**events[-1], "text": "备注：已联系物流"}, other])) == 2  # someone else's action
