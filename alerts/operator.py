"""Alerts for the operator, not the response team: sources blocked, flatlines, a dead loop.

Each health event and flatline incident is sent once: the last id seen is persisted. The run loop
records a heartbeat every pass; `deadman_check` (run from cron or the loop) raises an operator
alert when it is older than `alerts.deadman_minutes`, once per silence.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alerts.dispatch import AlertDispatcher
from alerts.message import AlertMessage
from crisiswatch.config import Config
from crisiswatch.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS alert_cursors (
    name TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS heartbeats (
    name TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
"""
OPERATOR_EVENTS = {"source_blocked": "数据源被封禁 source blocked", "layout_changed": "页面结构变化 layout changed",
                   "config_error": "数据源配置错误 source config error"}
FLATLINE_RULES = ("flatline",)


class OperatorAlerts:
    def __init__(self, config: Config, conn: sqlite3.Connection, dispatcher: AlertDispatcher,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.conn = conn
        self.dispatcher = dispatcher
        self.clock = clock
        ensure_schema(conn, "alert_operator", DDL)

    def _cursor(self, name: str) -> int:
        row = self.conn.execute("SELECT last_id FROM alert_cursors WHERE name=?", (name,)).fetchone()
        return row[0] if row else 0

    def _advance(self, name: str, last_id: int) -> None:
        self.conn.execute("INSERT INTO alert_cursors(name, last_id) VALUES (?,?) ON CONFLICT(name)"
                          " DO UPDATE SET last_id=MAX(last_id, excluded.last_id)", (name, last_id))

    def _send(self, key: str, title: str, summary: str, severity: str = "重要", brand: str = "") -> int:
        message = AlertMessage(kind="operator", title=title, severity=severity, brand=brand, summary=summary,
                               timezone=self.config.alerts.timezone,
                               links={"仪表盘 Dashboard": self.config.alerts.dashboard_url.rstrip("/") + "/health"})
        return self.dispatcher.enqueue(key, message)

    def check_health(self) -> int:
        """Source health events since the last check -> operator alerts; returns how many were sent."""
        from crawlers.state import CrawlState

        state, sent = CrawlState(self.conn), 0
        while True:
            events = state.events(self._cursor("source_health"), limit=200)
            if not events:
                return sent
            for event in events:
                title = OPERATOR_EVENTS.get(event.event)
                if title:
                    reason = event.detail.get("reason") or event.detail.get("error") or ""
                    sent += self._send(f"health:{event.id}", f"{title}: {event.source}",
                                       f"{event.source} {event.event} {reason} at "
                                       f"{event.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC".strip())
                # the cursor moves per event, so a crash re-sends nothing and skips nothing
                self._advance("source_health", event.id)

    def check_flatlines(self) -> int:
        """Incidents from flatline rules (a source or brand went silent) are the operator's, not PR's."""
        try:
            rows = self.conn.execute(
                f"SELECT id, rule, brand, summary FROM incidents WHERE id > ? AND rule IN"
                f" ({','.join('?' * len(FLATLINE_RULES))}) ORDER BY id",
                (self._cursor("flatline"), *FLATLINE_RULES)).fetchall()
        except sqlite3.OperationalError:  # no incidents table yet
            return 0
        sent = 0
        for row in rows:
            sent += self._send(f"flatline:{row['id']}", f"数据断流 flatline: {row['brand']} (INC-{row['id']})",
                               row["summary"], brand=row["brand"])
            self._advance("flatline", row["id"])
        return sent

    # dead-man ----------------------------------------------------------------------------------
    def beat(self, name: str = "loop") -> None:
        self.conn.execute("INSERT INTO heartbeats(name, at) VALUES (?,?) ON CONFLICT(name) DO UPDATE SET at=excluded.at",
                          (name, self.clock().isoformat()))

    def last_beat(self, name: str = "loop") -> datetime | None:
        row = self.conn.execute("SELECT at FROM heartbeats WHERE name=?", (name,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def deadman_check(self, name: str = "loop") -> str | None:
        """Alerts (once per silence) when the loop has not beaten for deadman_minutes; returns the problem."""
        last = self.last_beat(name)
        limit = timedelta(minutes=self.config.alerts.deadman_minutes)
        if last is None:
            return f"no heartbeat from {name} yet"
        silent = self.clock() - last
        if silent < limit:
            return None
        problem = f"{name} has not run for {silent.total_seconds() / 60:.0f} min (limit {limit.total_seconds() / 60:.0f})"
        self._send(f"deadman:{name}:{last.isoformat()}", f"监控循环停止 crisiswatch {name} is silent", problem,
                   severity="紧急")
        return problem
