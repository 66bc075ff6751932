"""Alerts for the operator, not the response team: sources blocked, flatlines, a dead loop,
a dependency down.

Each health event and flatline incident is sent once: the last id seen is persisted. The run loop
records a heartbeat every pass; `deadman_check` runs outside the loop (a systemd timer or cron
calls `crisiswatch alerts deadman-check`, see deploy/) and raises an operator alert when the
heartbeat is older than `alerts.deadman_minutes`, or when there has never been one that long
after the first check (a fresh install whose loop never started). Every check while the silence
lasts makes sure its page is pending or sent: a page that failed for good (Slack down or refusing)
is put back to pending (audited), and every `alerts.deadman_repeat_minutes` after the first page a
reminder ("still silent for 3 h 15 min") goes out under its own key. A paged silence is kept in
`dependency_health` (as `deadman:loop`), so the first heartbeat after it (or the next check) sends
one all-clear: "monitoring loop back: silent from 12:00 to 12:41 CST (41 min)".

`DependencyHealth` turns "the index (a crawler, …) is down" into one operator alert once it has
been down for `alerts.dependency_grace_minutes`, and one resolution when it answers again.
Operator alerts go to `alerts.operator_route`, or to the crisis routes when none is set.

`StoreUnreachable` is the dead-man's way out when the state store itself cannot be reached (the
outbox lives there): it posts straight through the channels, at most once per reason every
`alerts.deadman_repeat_minutes`, remembered in a small local file, and says when the store is back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from alerts.channels.base import Channel
from alerts.dispatch import AlertDispatcher, build_channels
from alerts.message import AlertMessage
from alerts.outbox import FAILED, PENDING
from crawlers.health import SPIDERS_OF_SOURCE, source_health
from crawlers.state import CrawlState
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.indexurl import redact_url
from crisiswatch.localtime import local_time

logger = logging.getLogger(__name__)

OPERATOR_EVENTS = {"source_blocked": "数据源被封禁 source blocked", "layout_changed": "页面结构变化 layout changed",
                   "config_error": "数据源配置错误 source config error",
                   # one event per expired cookie (the crawl quarantines it and goes on with the others);
                   # failed crawls page through the dependency check, once per outage, not per crawl
                   "cookie_expired": "登录凭证过期 cookie expired"}
FLATLINE_RULES = ("flatline",)
STALE_FLATLINE_NEWS = timedelta(hours=6)  # a flatline's resolution or reopening older than this is not sent


def operator_message(config: Config, title: str, summary: str, severity: str = "重要", brand: str = "") -> AlertMessage:
    return AlertMessage(kind="operator", title=title, severity=severity, brand=brand, summary=summary,
                        timezone=config.alerts.timezone,
                        links={"仪表盘 Dashboard": config.alerts.dashboard_url.rstrip("/") + "/health"})


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

    def _message(self, title: str, summary: str, severity: str = "重要", brand: str = "") -> AlertMessage:
        return operator_message(self.config, title, summary, severity, brand)

    def _send(self, key: str, title: str, summary: str, severity: str = "重要", brand: str = "") -> int:
        return self.dispatcher.enqueue(key, self._message(title, summary, severity, brand))

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
        """Incidents from flatline rules (a source went silent) are the operator's, not PR's: one page when a
        source goes silent, saying what its crawl records say (the crawler's fault or not), and one all-clear
        when its posts are back (again after each reopening, never per detection pass)."""
        rows = self.conn.execute(
            f"SELECT id, key, rule, brand, summary FROM incidents WHERE id > ? AND rule IN"
            f" ({','.join('?' * len(FLATLINE_RULES))}) ORDER BY id",
            (self._cursor("flatline"), *FLATLINE_RULES)).fetchall()
        sent = 0
        for row in rows:
            source = _source_of(row["key"])
            sent += self._send(f"flatline:{row['id']}", f"数据断流 flatline: {source or row['brand']} (INC-{row['id']})",
                               f"{row['summary']} {self._crawl_records(source)}".strip(), brand=row["brand"])
            self._advance("flatline", row["id"])
        events = self.conn.execute(
            f"SELECT e.id, e.at, e.kind, i.id AS incident, i.key, i.opened_at, i.resolved_at, i.brand"
            f" FROM incident_events e JOIN incidents i ON i.id = e.incident_id WHERE e.id > ?"
            f" AND e.kind IN ('resolved', 'reopened') AND i.rule IN ({','.join('?' * len(FLATLINE_RULES))})"
            f" ORDER BY e.id", (self._cursor("flatline_events"), *FLATLINE_RULES)).fetchall()
        for event in events:
            source, label = _source_of(event["key"]) or event["brand"], f"INC-{event['incident']}"
            if datetime.now(UTC) - datetime.fromisoformat(event["at"]) > STALE_FLATLINE_NEWS:
                pass  # an upgrade's first check: yesterday's all-clears are no news
            elif event["kind"] == "reopened":
                sent += self._send(f"flatline:{event['incident']}:again:{event['id']}",
                                   f"数据再次断流 flatline again: {source} ({label})",
                                   f"{source} is silent again, soon after it came back "
                                   f"{self._crawl_records(source)}".strip(), brand=event["brand"])
            elif event["resolved_at"]:
                since, back = datetime.fromisoformat(event["opened_at"]), datetime.fromisoformat(event["resolved_at"])
                sent += self._send(f"flatline:{event['incident']}:back:{event['id']}",
                                   f"数据恢复 flatline over: {source} ({label})",
                                   f"{source} posts back to normal: silent from {_between(self.config, since, back)}"
                                   f" ({_span(back - since)})", severity="一般", brand=event["brand"])
            self._advance("flatline_events", event["id"])
        return sent

    def _crawl_records(self, source: str) -> str:
        """What the crawls of a silent source say: failing (the crawler's side: blocked, a cookie expired) or
        finishing cleanly (then the site itself went quiet or hides its posts)."""
        spiders = SPIDERS_OF_SOURCE.get(source, (source,))
        health = source_health(self.conn, list(spiders))
        health = [h for h in health if h.source in spiders]
        if not health:
            return f"No crawl of {source} on record."
        failing = [h for h in health if h.status != "ok"]
        if failing:
            return "Its crawler is failing: " + "; ".join(
                f"{h.source} {h.status} at {_local(self.config, h.at)}: {h.reason}" for h in failing) + "."
        return ("Its crawls finish cleanly (" + "; ".join(f"{h.source} at {_local(self.config, h.at)}: {h.reason}"
                                                          for h in health)
                + "): the site itself went quiet or hides its posts.")

    # dead-man ----------------------------------------------------------------------------------
    def beat(self, name: str = "loop") -> None:
        """The loop's heartbeat; the first one after a paged silence sends the all-clear."""
        now = self.clock()
        self.conn.execute("INSERT INTO heartbeats(name, at) VALUES (?,?) ON CONFLICT(name) DO UPDATE SET at=excluded.at",
                          (name, now.isoformat()))
        self._all_clear(name, now)

    def _all_clear(self, name: str, back: datetime) -> int:
        """One "loop back" message per paged silence, to the route that was paged; returns how many."""
        rows = self.conn.execute("DELETE FROM dependency_health WHERE name IN (?,?) RETURNING name, down_since,"
                                 " alerted_at", (f"deadman:{name}", f"deadman:{name}:never")).fetchall()
        sent = 0
        for row in rows:
            if not row["alerted_at"]:
                continue
            since = datetime.fromisoformat(row["down_since"])
            if row["name"].endswith(":never"):
                text = (f"monitoring {name} started: first heartbeat at {_local(self.config, back, '%H:%M %Z')},"
                        f" {_span(back - since)} after the first dead-man check ({_local(self.config, since)})")
                title = f"监控循环已启动 crisiswatch {name} started"
            else:
                text = f"monitoring {name} back: silent from {_between(self.config, since, back)} ({_span(back - since)})"
                title = f"监控循环恢复 crisiswatch {name} back"
            sent += self._send(f"{row['name']}:{row['down_since']}:back", title, text, severity="一般")
        return sent

    def last_beat(self, name: str = "loop") -> datetime | None:
        row = self.conn.execute("SELECT at FROM heartbeats WHERE name=?", (name,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def deadman_check(self, name: str = "loop") -> str | None:
        """Pages while the loop has not beaten for deadman_minutes, or has never beaten that long after
        the first check: the page once, then a reminder every deadman_repeat_minutes; a page that
        failed is put back to pending. Returns the problem, None when the loop is alive."""
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
                self._paged(f"deadman:{name}:never", first, problem)
                self._page_silence(f"deadman:{name}:never:{first.isoformat()}", waited,
                                   f"监控循环未启动 crisiswatch {name} never started",
                                   f"监控循环仍未启动 crisiswatch {name} still not started after", problem)
                return problem
            return f"no heartbeat from {name} yet (alerting after {limit.total_seconds() / 60:.0f} min)"
        silent = now - last
        if silent < limit:
            self._all_clear(name, last)  # the loop beat without saying so (an older release's loop)
            return None
        problem = (f"{name} has not run for {silent.total_seconds() / 60:.0f} min (last heartbeat"
                   f" {_local(self.config, last)}, limit {limit.total_seconds() / 60:.0f})")
        self._paged(f"deadman:{name}", last, problem)
        self._page_silence(f"deadman:{name}:{last.isoformat()}", silent,
                           f"监控循环停止 crisiswatch {name} is silent",
                           f"监控循环仍停止 crisiswatch {name} still silent for", problem)
        return problem

    def _paged(self, row: str, since: datetime, problem: str) -> None:
        """Remembers the silence being paged, for the all-clear when the loop beats again."""
        self.conn.execute("INSERT INTO dependency_health(name, down_since, last_error, alerted_at) VALUES (?,?,?,?)"
                          " ON CONFLICT(name) DO UPDATE SET down_since=excluded.down_since,"
                          " last_error=excluded.last_error", (row, since.isoformat(), problem[:500],
                                                              self.clock().isoformat()))

    def _page_silence(self, key: str, silent: timedelta, title: str, still: str, problem: str) -> None:
        """The page of this silence, then every deadman_repeat_minutes after it a reminder under its own
        key; the one due now, if it is in the outbox and failed (Slack down, or refusing), goes back to
        pending, so every check leaves it pending or sent."""
        message = self._message(title, problem, severity="紧急")
        routes = self.dispatcher.routes_for(message)
        first = [row.created_at for ch, t in routes if (row := self.dispatcher.outbox.by_key(f"{key}|{ch}|{t}"))]
        if first:
            repeat = timedelta(minutes=self.config.alerts.deadman_repeat_minutes)
            slot = int((self.clock() - datetime.fromisoformat(min(first))) / repeat)
            if slot:
                key, message.title = f"{key}:still:{slot}", f"{still} {_span(silent)}"
        if self.dispatcher.enqueue(key, message):
            return
        for channel, target in routes:
            row = self.conn.execute(
                "UPDATE outbox SET status=?, next_attempt_at=?, lease_holder=NULL, lease_until=NULL"
                " WHERE idempotency_key=? AND status=? RETURNING attempts, last_error",
                (PENDING, self.clock().isoformat(), f"{key}|{channel}|{target}", FAILED)).fetchall()
            if row:
                AuditLog(self.conn).record("crisiswatch", "deadman.requeue", f"{key}|{channel}|{target}",
                                           at=self.clock(), attempts=row[0]["attempts"],
                                           last_error=row[0]["last_error"])


def _between(config: Config, start: datetime, end: datetime) -> str:
    """`12:00 to 12:41 CST`, with the dates when it spans midnight in the team's zone."""
    same_day = _local(config, start, "%Y-%m-%d") == _local(config, end, "%Y-%m-%d")
    fmt = "%H:%M" if same_day else "%m-%d %H:%M"
    return f"{_local(config, start, fmt)} to {_local(config, end, fmt + ' %Z')}"


def _span(span: timedelta) -> str:
    """3 h · 1 h 30 min · 45 min (whole minutes, rounded down)"""
    hours, minutes = divmod(int(span.total_seconds() // 60), 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if part) \
        or "0 min"


def _source_of(key: str) -> str:
    """source=weibo -> weibo (a flatline's key); empty for other keys."""
    return key.removeprefix("source=") if key.startswith("source=") else ""


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


def local_state_dir() -> Path:
    """Where the dead-man keeps what it must remember without the state store: systemd's
    StateDirectory ($STATE_DIRECTORY), else $XDG_STATE_HOME/crisiswatch, else ~/.local/state/crisiswatch."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "crisiswatch"


def store_error_reason(exc: BaseException, store: str) -> str:
    """`OperationalError: connection failed: … Connection refused`: one line, no credentials."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    try:
        password = urlsplit(store).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "***")
    return redact_url(f"{type(exc).__name__}: {text}")[:300]


class StoreUnreachable:
    """The dead-man's page when the state store (and with it the outbox) cannot be reached.

    Posts through the channel classes to the operator route (or the crisis routes), without the
    outbox; a local JSON file (`local_state_dir()/deadman-store.json`) keeps when each reason was
    last paged, so a check every 5 minutes pages at most once per reason every
    `alerts.deadman_repeat_minutes`. A file that cannot be written costs a repeat page, never the page.
    """

    FILE = "deadman-store.json"

    def __init__(self, config: Config, channels: dict[str, Channel] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), state_dir: Path | None = None) -> None:
        self.config = config
        self.channels = channels  # built when needed: only a page without the store uses them
        self.clock = clock
        self.path = (state_dir or local_state_dir()) / self.FILE

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save(self, data: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            logger.warning("cannot keep the dead-man's state in %s (%s): it may page again next check", self.path, exc)

    def page(self, exc: BaseException) -> tuple[str, int]:
        """Pages (unless this reason was paged within the repeat interval); the line to print and the
        exit status: 1 paged or paged recently, 2 no route took the page."""
        now = self.clock()
        reason = store_error_reason(exc, self.config.state_store)
        problem = f"crisiswatch state store unreachable: {reason}"
        data = self._load()
        outages = data.setdefault("outages", {})
        # keyed by store too: deployments on one host and user share the file, and one's recovery is not another's
        seen = outages.setdefault(f"{self._store} {reason}", {"since": now.isoformat(), "paged_at": None,
                                                               "store": self._store, "reason": reason})
        repeat = timedelta(minutes=self.config.alerts.deadman_repeat_minutes)
        if seen["paged_at"] and now - datetime.fromisoformat(seen["paged_at"]) < repeat:
            self._save(data)
            return f"dead-man: {problem} (paged at {_local(self.config, datetime.fromisoformat(seen['paged_at']))}," \
                   f" again after {repeat.total_seconds() / 60:.0f} min)", 1
        since = datetime.fromisoformat(seen["since"])
        where = redact_url(self.config.state_store)
        summary = (f"{problem}. Since {_local(self.config, since, '%m-%d %H:%M %Z')} the run loop cannot work and no"
                   f" alert can be queued" + ("" if where in reason else f"; store {where}"))
        message = operator_message(self.config, "状态库不可达 crisiswatch state store unreachable", summary, "紧急")
        key = f"deadman:store:{hashlib.sha256(reason.encode()).hexdigest()[:12]}:{now.isoformat()}"
        sent, errors = [], []
        channels = self.channels if self.channels is not None else build_channels(self.config, None)
        for channel, target in AlertDispatcher(self.config, None, channels).routes_for(message):  # type: ignore[arg-type]
            try:
                channels[channel].send(message, target, key=f"{key}|{channel}|{target}")
                sent.append(f"{channel}:{target}")
            except Exception as exc_send:  # noqa: BLE001 -- every route gets its try; each failure is said
                errors.append(f"{channel}:{target}: {exc_send}")
        if sent:
            seen["paged_at"] = now.isoformat()
        self._save(data)
        line = f"dead-man: {problem}; " + (f"paged {', '.join(sent)} directly (no outbox)" if sent else "NOT paged")
        return line + "".join(f"; {e}" for e in errors), 1 if sent else 2

    def recovered(self, operator: OperatorAlerts) -> list[str]:
        """After a check that reached the store: each outage that was paged gets its all-clear through
        the outbox; the file forgets them all."""
        data = self._load()
        outages = {key: seen for key, seen in (data.get("outages") or {}).items()
                   if seen.get("store", self._store) == self._store}  # a file from before stores were told apart
        if not outages:
            return []
        now, lines = self.clock(), []
        for key, seen in outages.items():
            reason = seen.get("reason", key)
            since = datetime.fromisoformat(seen["since"])
            if seen.get("paged_at"):
                text = (f"crisiswatch state store reachable again (unreachable since"
                        f" {_local(self.config, since, '%m-%d %H:%M %Z')}, {_span(now - since)}: {reason})")
                operator._send(f"deadman:store:{since.isoformat()}:back", "状态库恢复 crisiswatch state store back",
                               text, severity="一般")
                lines.append(text)
        self._save({**data, "outages": {k: v for k, v in data["outages"].items() if k not in outages}})
        return lines

    @property
    def _store(self) -> str:
        return redact_url(self.config.state_store)
