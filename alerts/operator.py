"""Alerts for the operator, not the response team: sources blocked, flatlines, a dead loop,
a dependency down.

Each health event and flatline incident is sent once: the last id seen is persisted. The run loop
records a heartbeat every pass; `deadman_check` runs outside the loop (a systemd timer or cron
calls `crisiswatch alerts deadman-check`, see deploy/) and raises an operator alert when the
heartbeat is older than `alerts.deadman_minutes`, or when there has never been one that long
after the first check (a fresh install whose loop never started), once per silence.

`DependencyHealth` turns "the index (a crawler, …) is down" into one operator alert once it has
been down for `alerts.dependency_grace_minutes`, and one resolution when it answers again.
Operator alerts go to `alerts.operator_route`, or to the crisis routes when none is set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alerts.dispatch import AlertDispatcher
from alerts.message import AlertMessage
from crawlers.state import CrawlState
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.localtime import local_time

OPERATOR_EVENTS = {"source_blocked": "数据源被封禁 source blocked", "layout_changed": "页面结构变化 layout changed",
                   "config_error": "数据源配置错误 source config error",
                   # one event per expired cookie (the crawl quarantines it and goes on with the others);
                   # failed crawls page through the dependency check, once per outage, not per crawl
                   "cookie_expired": "登录凭证过期 cookie expired"}
FLATLINE_RULES = ("flatline",)


class OperatorAlerts:
    def __init__(self, config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.conn = conn
        self.dispatcher = dispatcher
        self.clock = clock

    def _cursor(self, name: str) -> int:
        row = self.conn.execute("SELECT last_id FROM alert_cursors WHERE name=?", (name,)).fetchone()
        return row[0] if row else 0

    def _advance(self, name: str, last_id: int) -> None:
        self.conn.execute("INSERT INTO alert_cursors(name, last_id) VALUES (?,?) ON CONFLICT(name)"
                          " DO UPDATE SET last_id=CASE WHEN excluded.last_id > alert_cursors.last_id"
                          " THEN excluded.last_id ELSE alert_cursors.last_id END", (name, last_id))

    def _send(self, key: str, title: str, summary: str, severity: str = "重要", brand: str = "") -> int:
        message = AlertMessage(kind="operator", title=title, severity=severity, brand=brand, summary=summary,
                               timezone=self.config.alerts.timezone,
                               links={"仪表盘 Dashboard": self.config.alerts.dashboard_url.rstrip("/") + "/health"})
        return self.dispatcher.enqueue(key, message)

    def check_health(self) -> int:
        """Source health events since the last check -> operator alerts; returns how many were sent."""
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
                                       f"{_local(self.config, event.at, '%Y-%m-%d %H:%M %Z')}".strip())
                # the cursor moves per event, so a crash re-sends nothing and skips nothing
                self._advance("source_health", event.id)

    def check_flatlines(self) -> int:
        """Incidents from flatline rules (a source or brand went silent) are the operator's, not PR's."""
        rows = self.conn.execute(
            f"SELECT id, rule, brand, summary FROM incidents WHERE id > ? AND rule IN"
            f" ({','.join('?' * len(FLATLINE_RULES))}) ORDER BY id",
            (self._cursor("flatline"), *FLATLINE_RULES)).fetchall()
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
        """Alerts (once per silence) when the loop has not beaten for deadman_minutes, or has never
        beaten that long after the first check; returns the problem, None when the loop is alive."""
        now = self.clock()
        limit = timedelta(minutes=self.config.alerts.deadman_minutes)
        last = self.last_beat(name)
        if last is None:
            self.conn.execute("INSERT INTO deadman_watch(name, first_checked_at) VALUES (?,?)"
                              " ON CONFLICT DO NOTHING",
                              (name, now.isoformat()))
            first = datetime.fromisoformat(self.conn.execute(
                "SELECT first_checked_at FROM deadman_watch WHERE name=?", (name,)).fetchone()[0])
            waited = now - first
            problem = (f"{name} has never run: no heartbeat in the {waited.total_seconds() / 60:.0f} min since the"
                       f" first dead-man check at {_local(self.config, first)} (limit {limit.total_seconds() / 60:.0f})")
            if waited >= limit:
                self._send(f"deadman:{name}:never:{first.isoformat()}", f"监控循环未启动 crisiswatch {name} never"
                           " started", problem, severity="紧急")
                return problem
            return f"no heartbeat from {name} yet (alerting after {limit.total_seconds() / 60:.0f} min)"
        silent = now - last
        if silent < limit:
            return None
        problem = (f"{name} has not run for {silent.total_seconds() / 60:.0f} min (last heartbeat"
                   f" {_local(self.config, last)}, limit {limit.total_seconds() / 60:.0f})")
        self._send(f"deadman:{name}:{last.isoformat()}", f"监控循环停止 crisiswatch {name} is silent", problem,
                   severity="紧急")
        return problem


def _local(config: Config, at: datetime, fmt: str = "%H:%M") -> str:
    return local_time(at, config.alerts.timezone, fmt)


class DependencyHealth:
    """Down/up reports for what the loop depends on, one operator alert per outage past the grace."""

    def __init__(self, config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.conn = conn
        self.operator = OperatorAlerts(config, conn, dispatcher, clock)
        self.clock = clock

    def local(self, at: datetime) -> str:
        """14:02 in the team's time zone."""
        return _local(self.config, at)

    def down(self, name: str, error: str, describe: Callable[[datetime], str]) -> bool:
        """Records a failure; True when this call raised the operator alert (once per outage)."""
        now = self.clock()
        self.conn.execute("INSERT INTO dependency_health(name, down_since, last_error) VALUES (?,?,?)"
                          " ON CONFLICT(name) DO UPDATE SET last_error=excluded.last_error",
                          (name, now.isoformat(), error[:500]))
        row = self.conn.execute("SELECT down_since, alerted_at FROM dependency_health WHERE name=?", (name,)).fetchone()
        since = datetime.fromisoformat(row["down_since"])
        grace = timedelta(minutes=self.config.alerts.dependency_grace_minutes)
        if row["alerted_at"] or now - since < grace:
            return False
        claimed = self.conn.execute("UPDATE dependency_health SET alerted_at=? WHERE name=? AND alerted_at IS NULL",
                                    (now.isoformat(), name)).rowcount
        if claimed:
            self.operator._send(f"dependency:{name}:{since.isoformat()}", f"依赖故障 {name} down", describe(since),
                                severity="紧急")
        return bool(claimed)

    def up(self, name: str) -> bool:
        """Clears an outage; True when it had been alerted and this call sent the resolution."""
        row = self.conn.execute("DELETE FROM dependency_health WHERE name=? RETURNING down_since, alerted_at",
                                (name,)).fetchall()
        if not row or not row[0]["alerted_at"]:
            return False
        since = datetime.fromisoformat(row[0]["down_since"])
        minutes = (self.clock() - since).total_seconds() / 60
        self.operator._send(f"dependency:{name}:{since.isoformat()}:resolved", f"依赖恢复 {name} back",
                            f"{name} answers again (down since {self.local(since)}, {minutes:.0f} min)",
                            severity="一般")
        return True
