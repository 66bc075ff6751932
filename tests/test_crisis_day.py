"""A crisis day as the crisis team lives it: what each act in Slack does to everything else (tickets, pages,
the incident page). Texts are written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crisiswatch.db import connect
from monitor.slack_app import SlackInteractions
from playbooks.tickets.service import TicketService
from tests.test_alert_helpers import make_config, open_incident


def test_acknowledging_the_incident_in_slack_accepts_its_ticket_so_management_is_not_told_it_was_not(tmp_path):
    # 09:00 a crisis opens with its 重大 ticket (受理 within 15 min); 09:05 lin presses Acknowledge in Slack.
    # Before, the ticket stayed 新建 and at 09:15 "工单 … 受理已超时，升级至管理层" went out after the ack.
    config = make_config(tmp_path, slack={"users": {"ULIN": "lin"}})
    conn = connect(config.state_store)
    now = datetime.now(UTC)
    incident = open_incident(conn, at=now)
    tickets = TicketService.from_config(config, conn)
    ticket = tickets.open(title="极光优选 取暖器烫伤", severity="重大", category="product_quality", brand="aurora",
                          incident_id=incident.id, actor="playbook:product_safety", now=now)
    assert ticket.status == "新建"
    assert "已确认" in SlackInteractions(config, conn).act("ack", str(incident.id), "ULIN")
    accepted = tickets.get(ticket.id)
    assert accepted.status == "已受理" and accepted.acked_at is not None
    assert [e["kind"] for e in tickets.timeline(ticket.id)][-1] == "accept"
    late = tickets.check_sla(now + timedelta(minutes=20))
    assert not [b for b in late["breaches"] if b["timer"] == "ack"], late["breaches"]
