"""Incident -> AlertMessage: the numbers that fired, the posts behind them, links to act on."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from alerts.chart import series, sparkline
from alerts.message import AlertMessage
from crisiswatch.config import Config
from index import open_backend
from index.base import Backend
from monitor.incidents.models import Incident

logger = logging.getLogger(__name__)

KIND_TITLES = {
    "incident_opened": "负面声量异常",
    "incident_escalated": "事件升级",
    "incident_updated": "事件更新",
    "incident_resolved": "事件已恢复",
}


def chart_facts(config: Config, incident: Incident, backend: Backend | None) -> dict[str, Any]:
    """The brand's last hours, computed now from the index; nothing when the index cannot answer.

    Without a backend the configured index is opened for the call (the notify step has none).
    """
    own = backend is None
    try:
        if own:
            backend = open_backend(config.index.url)
        bucket = timedelta(minutes=config.detection.negative_spike.bucket_minutes)
        # signals are stamped with their bucket's start; the chart ends after that bucket
        data = series(backend, incident.brand, incident.last_fired_at + bucket, config.alerts.chart_hours)
    except Exception as exc:  # a chart is a nicety; the alert must go out without it
        logger.warning("no chart for %s: %s", incident.label, exc)
        return {}
    finally:
        if own and backend is not None:
            backend.close()
    bucket_minutes = config.detection.negative_spike.bucket_minutes
    data["baseline"] = round(incident.baseline * data["interval_seconds"] / (bucket_minutes * 60), 2)
    return {"series": data, "sparkline": sparkline(data["negative"])}


def incident_message(config: Config, incident: Incident, severity: str, kind: str = "incident_opened",
                     ticket_number: str | None = None, backend: Backend | None = None,
                     chart: bool = True) -> AlertMessage:
    brand_name = config.brand_name(incident.brand)
    base = config.alerts.dashboard_url.rstrip("/")
    links = {"仪表盘 Dashboard": f"{base}/?brand={incident.brand}", "事件 Incident": f"{base}/incidents/{incident.id}"}
    if ticket_number:
        links["工单 Ticket"] = f"{base}/tickets/{ticket_number}"
    summary = incident.summary if kind != "incident_resolved" else f"恢复正常 · 峰值 {incident.peak_value:.0f}"
    facts = {**incident.facts, "peak": incident.peak_value, "baseline": incident.baseline,
             "opened_at": incident.opened_at.isoformat(), "status": incident.status,
             "acked_by": incident.acked_by, "level": incident.level}
    if chart:
        facts.update(chart_facts(config, incident, backend))
    return AlertMessage(
        kind=kind, title=f"{brand_name} {KIND_TITLES.get(kind, kind)} ({incident.label})", severity=severity,
        brand=incident.brand, summary=summary, incident_id=incident.id, ticket_number=ticket_number,
        facts=facts, links=links, thread_key=f"incident:{incident.id}", timezone=config.alerts.timezone,
        brand_name=brand_name,
    )
