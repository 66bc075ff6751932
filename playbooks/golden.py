"""The golden window said aloud: before it closes with no statement out, and when it has closed.

A draft waiting on approvers, rejected, or expired does not publish itself; the incident page counts down,
but nobody watches a page all morning. So the run loop says it in the incident's thread, to the statement's
approvers by their Slack ids (`alerts.slack.users`), once each: when a quarter of the window is left, and
when it has passed with nothing published. The outbox key makes each said once across restarts and workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.dispatch import AlertDispatcher
from alerts.message import MENTION, AlertMessage
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.localtime import local_time
from monitor.incidents.models import Incident
from monitor.incidents.service import IncidentService
from playbooks.statements import Statement, StatementStore

WARN_SHARE = 0.25  # warn when this share of the window is left: 1 h of 4 h, 6 h of 24 h
STATUS_WORDS = {"draft": "待审批", "approved": "已批准未发布", "rejected": "已驳回", "expired": "审批已过期"}


def approver_mentions(config: Config, approvers: list[str]) -> list[str]:
    """The approvers as Slack mentions: a member id as it is, a name through `alerts.slack.users`."""
    ids = {name: member for member, name in config.alerts.slack.users.items()}
    found = [f"<@{ids.get(a, a)}>" for a in approvers]
    return [m for m in found if MENTION.fullmatch(m)]


def golden_window_sweep(config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                        now: datetime) -> list[str]:
    """Alerts for open incidents whose golden window is closing or closed with no statement published."""
    statements = StatementStore(conn)
    said = []
    for incident in IncidentService(conn).list(status="open", limit=10_000):
        drafted = statements.all(incident.id)
        if not drafted or any(s.published_at for s in drafted):
            continue
        first = min(drafted, key=lambda s: s.window_ends)  # the window the first statement must meet
        closing = first.window_ends - timedelta(minutes=first.window_minutes * WARN_SHARE)
        if now >= first.window_ends:
            kind = "golden_window_missed"
        elif now >= closing:
            kind = "golden_window_closing"
        else:
            continue
        if dispatcher.enqueue(f"golden:{incident.id}:{first.id}:{kind}", _message(config, incident, first, kind, now)):
            said.append(f"{incident.label} {kind}")
    return said


def _message(config: Config, incident: Incident, statement: Statement, kind: str, now: datetime) -> AlertMessage:
    zone = config.alerts.timezone
    due = local_time(statement.window_ends, zone, "%H:%M")
    left = max(0, round((statement.window_ends - now) / timedelta(minutes=1)))
    state = STATUS_WORDS.get(statement.status, statement.status)
    if kind == "golden_window_missed":
        title = f"黄金时间已过，声明仍未发布 ({incident.label})"
        summary = f"黄金时间 {due} 已截止，声明 #{statement.id} {state}：请尽快发布或说明原因"
    else:
        title = f"黄金时间还剩 {left} 分钟，声明未发布 ({incident.label})"
        summary = f"黄金时间 {due} 截止，声明 #{statement.id} {state}：请审批人尽快处理并发布"
    base = config.alerts.dashboard_url.rstrip("/")
    brand_name = config.brand_name(incident.brand)
    return AlertMessage(
        kind=kind, title=f"{brand_name} {title}", severity=incident.severity, brand=incident.brand,
        summary=summary, incident_id=incident.id, thread_key=f"incident:{incident.id}",
        links={"声明 Statements": f"{base}/statements", "事件 Incident": f"{base}/incidents/{incident.id}"},
        mentions=approver_mentions(config, statement.approver_list), timezone=zone, brand_name=brand_name,
        facts={"statement": statement.id, "golden_window_ends": statement.window_ends.isoformat()})
