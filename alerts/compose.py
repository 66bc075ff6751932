"""Incident -> AlertMessage: the numbers that fired, the posts behind them, links to act on."""

from __future__ import annotations

from alerts.message import AlertMessage
from crisiswatch.config import Config
from monitor.incidents.models import Incident

KIND_TITLES = {
    "incident_opened": "负面声量异常",
    "incident_escalated": "事件升级",
    "incident_updated": "事件更新",
    "incident_resolved": "事件已恢复",
}


def incident_message(config: Config, incident: Incident, severity: str, kind: str = "incident_opened",
                     ticket_number: str | None = None) -> AlertMessage:
    brand = config.brand(incident.brand)
    brand_name = brand.display_name if brand else incident.brand
    base = config.alerts.dashboard_url.rstrip("/")
    links = {"仪表盘 Dashboard": f"{base}/?brand={incident.brand}", "事件 Incident": f"{base}/incidents/{incident.id}"}
    if ticket_number:
        links["工单 Ticket"] = f"{base}/tickets/{ticket_number}"
    summary = incident.summary if kind != "incident_resolved" else f"恢复正常 · 峰值 {incident.peak_value:.0f}"
    return AlertMessage(
        kind=kind, title=f"{brand_name} {KIND_TITLES.get(kind, kind)} ({incident.label})", severity=severity,
        brand=incident.brand, summary=summary, incident_id=incident.id, ticket_number=ticket_number,
        facts=incident.facts, links=links, thread_key=f"incident:{incident.id}",
    )
