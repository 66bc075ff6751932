"""Shared pieces of the alert tests (no tests here): a Slack-backed dispatcher, incidents, a settable clock."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from alerts.channels.console import ConsoleChannel
from alerts.channels.slack import SlackChannel
from alerts.channels.slack_ids import SlackChannelIds
from alerts.dispatch import AlertDispatcher
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from monitor.detectors.base import Signal
from monitor.incidents.service import IncidentService
from tests.conftest import config_dict

T0 = datetime(2025, 6, 14, 4, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def make_config(tmp_path, state_url: str = "", **alerts):
    data = config_dict(tmp_path, **({"state": {"url": state_url}} if state_url else {}))
    data["alerts"] = {**data["alerts"], **alerts}
    return parse_config(data, str(tmp_path / "crisiswatch.yaml"))


def slack_dispatcher(config, slack, clock=None, **channel_kwargs) -> AlertDispatcher:
    conn = connect(config.state_store)
    channels = {"slack": SlackChannel(slack.token, base_url=slack.base_url, ids=SlackChannelIds(conn), **channel_kwargs),
                "console": ConsoleChannel(io.StringIO())}
    return AlertDispatcher(config, conn, channels, **({"clock": clock} if clock else {}))


def open_incident(conn, brand: str = "aurora", level: str = "warning", at: datetime = T0, rule: str = "negative_spike",
                  posts: list[dict] | None = None):
    signal = Signal(rule=rule, key=f"brand={brand}", brand=brand, level=level, at=at, value=9, baseline=0.3,
                    p_value=1e-9, summary="9 negative mentions in 1 min vs 0.30 expected", facts={})
    service = IncidentService(conn)
    incident = service.apply(signal).incident
    service.attach_facts(incident.id, top_posts=posts or [
        {"id": "m1", "url": "https://weibo.com/1/A", "text": "快递五天没到", "author": "小鹿", "followers": 12,
         "created_at": at.isoformat(), "severity": "重要"}])
    return service.get(incident.id)
