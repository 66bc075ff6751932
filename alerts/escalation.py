"""Escalation chains after PagerDuty: tiers with their own delays, stopped by an acknowledgement.

A chain is (incident, policy). Step i goes out `after_minutes` after step i-1; after the last tier
the chain repeats `repeat` times; an acknowledgement stops it; an acknowledgement that goes stale
(incident still open after `stale_ack_minutes`) starts it again. A chain that runs out with nobody
acknowledging (the last tier given as long as it gave the tier before, at least 5 minutes) says so once, in the incident's thread and on the operator route ("nobody
acknowledged INC-1 after all 3 tiers (…); it is still open"), and stays exhausted until someone
acknowledges or the incident closes. An acknowledgement of an incident that is already resolved
changes nothing: it is refused with "INC-1 already resolved at …" and audited as refused. Chains live in SQLite, so a
restarted loop resumes them, and the policy and every step are written to the audit log.

Alerts know nothing of how incidents are kept: the service pages about whatever an `Incidents`
port hands it (monitor's incidents, through `playbooks.paging`, which builds this service).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from alerts.dispatch import AlertDispatcher
from alerts.message import MENTION, AlertMessage
from crisiswatch.audit import AuditLog
from crisiswatch.config import CHANNEL_TYPES, Config, EscalationPolicy, EscalationStep
from crisiswatch.db import Row, StateConnection, transaction
from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time

ACTIVE, EXHAUSTED, ACKED, CLOSED = "active", "exhausted", "acknowledged", "closed"


EXHAUST_AFTER_MINUTES = 5  # the least time the last tier gets to acknowledge before the chain says it ran out


class AcknowledgeRefused(CrisiswatchError):
    """An acknowledgement or escalation that cannot apply (the incident is already resolved); nothing
    was changed."""


class Pageable(Protocol):
    """What a chain needs to know of the thing it pages about."""

    @property
    def id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def brand(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def acked_by(self) -> str | None: ...
    @property
    def severity(self) -> str: ...
    @property
    def resolved_at(self) -> datetime | None: ...


class Incidents(Protocol):
    """The port to wherever incidents live (implemented above alerts, in playbooks.paging)."""

    def get(self, incident_id: int) -> Pageable | None: ...

    def acknowledge(self, incident_id: int, by: str) -> object: ...

    def note(self, incident: Pageable, text: str) -> AlertMessage:
        """The thread update that carries `text` (the Slack channel refreshes the top message with it)."""
        ...


@dataclass(frozen=True)
class Destination:
    channel: str | None   # None: the incident's thread on the response routes
    target: str
    mentions: list[str]


def parse_notify(config: Config, notify: str) -> Destination:
    """'<!subteam^S1>' · '#mgmt' · 'slack:#mgmt' · 'email:a@b' · 'route:legal' — mentions may be combined."""
    mentions = [t for t in notify.split() if MENTION.fullmatch(t)]
    rest = [t for t in notify.split() if t not in mentions]
    if not rest:
        return Destination(None, "", mentions)
    where = " ".join(rest)
    if where.startswith("route:"):
        route = next((r for r in [*config.alerts.routes, config.alerts.operator_route]
                      if r and r.name == where[6:]), None)
        if route is None:
            raise CrisiswatchError(f"escalation step names unknown route {where[6:]!r}")
        return Destination(route.channel, route.address, mentions)
    channel, sep, target = where.partition(":")
    if sep and channel in CHANNEL_TYPES:
        return Destination(channel, target, mentions)
    if where.startswith("#") or where.startswith("C"):
        return Destination("slack", where, mentions)
    raise CrisiswatchError(f"escalation step cannot notify {notify!r}: use a mention, #channel or channel:target")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class EscalationService:
    def __init__(self, config: Config, conn: StateConnection, dispatcher: AlertDispatcher, incidents: Incidents,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.conn = conn
        self.dispatcher = dispatcher
        self.clock = clock
        self.incidents = incidents
        self.audit = AuditLog(conn)

    def policy(self, name: str) -> EscalationPolicy:
        policy = self.config.alerts.escalation_policies.get(name)
        if policy is None:
            known = ", ".join(self.config.alerts.escalation_policies) or "none configured"
            raise CrisiswatchError(f"unknown escalation policy {name!r} (alerts.escalation_policies: {known})")
        return policy

    # commands ----------------------------------------------------------------------------------
    def start(self, incident_id: int, policy: str, *, actor: str = "crisiswatch") -> None:
        """Begins the chain; a second start for the same incident and policy changes nothing."""
        chosen = self.policy(policy)
        for step in chosen.steps:
            parse_notify(self.config, step.notify)  # a bad step fails now, not at 3 a.m.
        if self.incidents.get(incident_id) is None:
            raise CrisiswatchError(f"no incident {incident_id}")
        now = self.clock()
        cur = self.conn.execute(
            "INSERT INTO escalation_chains(incident_id, policy, status, next_at, started_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
            (incident_id, policy, ACTIVE, (now + timedelta(minutes=chosen.steps[0].after_minutes)).isoformat(),
             now.isoformat()),
        )
        if cur.rowcount:
            self.audit.record(actor, "escalation.start", f"INC-{incident_id}", policy=policy,
                              steps=[s.model_dump() for s in chosen.steps], repeat=chosen.repeat,
                              stale_ack_minutes=chosen.stale_ack_minutes)

    def acknowledge(self, incident_id: int, by: str) -> bool:
        """Stops every chain of the incident and acknowledges the incident; False if nothing changed.
        Raises AcknowledgeRefused, changing nothing, when the incident is already resolved."""
        now = self.clock()
        incident = self.incidents.get(incident_id)
        if incident is None:
            return False
        self._refuse_if_resolved(incident, by, "acknowledge")
        cur = self.conn.execute(
            "UPDATE escalation_chains SET status=?, acked_by=?, acked_at=?, next_at=NULL"
            " WHERE incident_id=? AND status IN (?,?)", (ACKED, by, now.isoformat(), incident_id, ACTIVE, EXHAUSTED))
        first = incident.acked_by is None
        if first:
            self.incidents.acknowledge(incident_id, by)
        changed = bool(cur.rowcount) or first
        if changed:
            self.audit.record(by, "escalation.acknowledge", f"INC-{incident_id}", chains=cur.rowcount)
            self._note(self.incidents.get(incident_id), f"已确认 acknowledged by {by}", f"ack:{now.isoformat()}")
        return changed

    def _refuse_if_resolved(self, incident: Pageable, by: str, what: str) -> None:
        """A late or replayed click on a resolved incident: audited, said, nothing changed."""
        if incident.is_open:
            return
        at = incident.resolved_at
        when = f" at {local_time(at, self.config.alerts.timezone, '%m-%d %H:%M %Z')}" if at else ""
        self.audit.record(by, f"escalation.{what}", incident.label, outcome="refused",
                          reason="already resolved", resolved_at=at.isoformat() if at else None)
        raise AcknowledgeRefused(f"{incident.label} already resolved{when}: nothing to {what}, nothing changed")

    def escalate_now(self, incident_id: int, by: str) -> None:
        """Sends the next tier of every chain now (starting the first policy if none runs). Raises
        AcknowledgeRefused, paging nobody, when the incident is already resolved."""
        incident = self.incidents.get(incident_id)
        if incident is None:
            raise CrisiswatchError(f"no incident {incident_id}")
        self._refuse_if_resolved(incident, by, "escalate")
        rows = self._chains(incident_id)
        if not rows:
            if not self.config.alerts.escalation_policies:
                raise CrisiswatchError("no escalation policy configured (alerts.escalation_policies)")
            name = "default" if "default" in self.config.alerts.escalation_policies else \
                next(iter(self.config.alerts.escalation_policies))
            self.start(incident_id, name, actor=by)
            rows = self._chains(incident_id)
        self.audit.record(by, "escalation.escalate_now", f"INC-{incident_id}", policies=[r["policy"] for r in rows])
        now = self.clock()
        for row in rows:
            steps = self.policy(row["policy"]).steps
            step = row["step"] if row["status"] == ACTIVE else min(row["step"], len(steps) - 1)
            if row["status"] == ACTIVE and row["step"] == 0 and len(steps) > 1:
                self._send(row, 0)  # the first tier had not gone out yet; "escalate" means past it
                step = 1
            self.conn.execute("UPDATE escalation_chains SET status=?, step=?, next_at=? WHERE incident_id=? AND policy=?",
                              (ACTIVE, step, now.isoformat(), incident_id, row["policy"]))
        self.tick(only=incident_id)

    # the clock ---------------------------------------------------------------------------------
    def tick(self, only: int | None = None) -> list[str]:
        """Sends the steps that are due and re-opens stale acknowledgements; returns what it did."""
        now, done = self.clock(), []
        for row in self._all(only):
            incident = self.incidents.get(row["incident_id"])
            if incident is None or not incident.is_open:
                with transaction(self.conn):
                    self.conn.execute("UPDATE escalation_chains SET status=?, next_at=NULL WHERE incident_id=?"
                                      " AND policy=?", (CLOSED, row["incident_id"], row["policy"]))
                self.audit.record("crisiswatch", "escalation.closed", f"INC-{row['incident_id']}",
                                  policy=row["policy"])
                done.append(f"INC-{row['incident_id']} {row['policy']}: closed (incident resolved)")
                continue
            policy = self.policy(row["policy"])
            if row["status"] == ACKED:
                stale = policy.stale_ack_minutes
                if stale and now - _dt(row["acked_at"]) >= timedelta(minutes=stale):
                    self.conn.execute(
                        "UPDATE escalation_chains SET status=?, step=0, loop=0, round=round+1, next_at=?"
                        " WHERE incident_id=? AND policy=? AND status=?",
                        (ACTIVE, now.isoformat(), row["incident_id"], row["policy"], ACKED))
                    self.audit.record("crisiswatch", "escalation.ack_stale", incident.label, policy=row["policy"],
                                      acked_by=row["acked_by"], minutes=stale)
                    done.append(f"{incident.label} {row['policy']}: acknowledgement by {row['acked_by']} went stale")
                    row = self._chains(row["incident_id"], row["policy"])[0]
                else:
                    continue
            while row["status"] == ACTIVE and row["next_at"] and _dt(row["next_at"]) <= now:
                done.append(self._advance(row, policy, incident, now))
                row = self._chains(row["incident_id"], row["policy"])[0]
        return done

    def _advance(self, row: Row, policy: EscalationPolicy, incident: Pageable, now: datetime) -> str:
        index, steps = row["step"], policy.steps
        if index >= len(steps):  # the last tier had its time and nobody acknowledged: say so, then go quiet
            with transaction(self.conn):
                moved = self.conn.execute(
                    "UPDATE escalation_chains SET status=?, next_at=NULL WHERE incident_id=? AND policy=? AND status=?",
                    (EXHAUSTED, row["incident_id"], row["policy"], ACTIVE)).rowcount
            return self._exhausted(row, policy, incident) if moved else f"{incident.label} {row['policy']}: exhausted"
        sent = self._send(row, index)
        nxt, loop = index + 1, row["loop"]
        if nxt < len(steps):
            next_at = now + timedelta(minutes=steps[nxt].after_minutes)
        elif loop < policy.repeat:
            nxt, loop = 0, loop + 1
            next_at = now + timedelta(minutes=steps[0].after_minutes or steps[-1].after_minutes or 1)
        else:  # past the last tier: it gets as long as it gave the tier before (at least EXHAUST_AFTER)
            next_at = now + timedelta(minutes=max(steps[-1].after_minutes, EXHAUST_AFTER_MINUTES))
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE escalation_chains SET step=?, loop=?, status=?, next_at=? WHERE incident_id=? AND policy=?"
                " AND status=?",
                (nxt, loop, ACTIVE, next_at.isoformat(), row["incident_id"], row["policy"], ACTIVE))
        return sent

    def _exhausted(self, row: Row, policy: EscalationPolicy, incident: Pageable) -> str:
        """The last tier went out and nobody acknowledged: one alert in the incident's thread (ringing
        the last tier again) and one on the operator route, and an audit line; the chain stays quiet."""
        tiers = [s.label or f"tier {i + 1}" for i, s in enumerate(policy.steps)]
        rounds = f", {policy.repeat + 1} rounds" if policy.repeat else ""
        text = (f"nobody acknowledged {incident.label} after all {len(tiers)} tiers ({', '.join(tiers)}{rounds});"
                " it is still open")
        links = {"事件 Incident": f"{self.config.alerts.dashboard_url.rstrip('/')}/incidents/{incident.id}"}
        key = f"escalation:{incident.id}:{row['policy']}:{row['round']}:exhausted"
        thread = AlertMessage(
            kind="escalation", title=f"{incident.label} 无人确认 escalation exhausted", severity=incident.severity,
            brand=incident.brand, summary=f"{text} · {incident.summary}", incident_id=incident.id, links=links,
            thread_key=f"incident:{incident.id}", timezone=self.config.alerts.timezone,
            mentions=parse_notify(self.config, policy.steps[-1].notify).mentions)
        operator = AlertMessage(
            kind="operator", title=f"{incident.label} 无人确认 escalation exhausted", severity=incident.severity,
            brand=incident.brand, summary=f"{text} · {incident.summary}", incident_id=incident.id, links=links,
            timezone=self.config.alerts.timezone)
        crisis = self.dispatcher.routes_for(thread)
        pairs = [*((ch, t, thread) for ch, t in crisis),
                 *((ch, t, operator) for ch, t in self.dispatcher.routes_for(operator) if (ch, t) not in crisis)]
        new = sum(self.dispatcher.enqueue_to(f"{key}|{ch}|{t}", ch, t, message) for ch, t, message in pairs)
        where = ", ".join(f"{ch}:{t}" for ch, t, _ in pairs)
        self.audit.record("crisiswatch", "escalation.exhausted", incident.label, policy=row["policy"], tiers=tiers,
                          rounds=policy.repeat + 1, to=where, enqueued=new, round=row["round"])
        return f"{text} -> {where}"

    def _send(self, row: Row, index: int) -> str:
        step: EscalationStep = self.policy(row["policy"]).steps[index]
        incident = self.incidents.get(row["incident_id"])
        dest = parse_notify(self.config, step.notify)
        mentions = self._mentions(row, dest)
        tier = step.label or f"tier {index + 1}"
        message = AlertMessage(
            kind="escalation", title=f"{incident.label} 升级 escalation · {tier}", severity=incident.severity,
            brand=incident.brand, summary=f"未确认 not acknowledged · {incident.summary}", incident_id=incident.id,
            links={"事件 Incident": f"{self.config.alerts.dashboard_url.rstrip('/')}/incidents/{incident.id}"},
            thread_key=f"incident:{incident.id}", mentions=mentions, timezone=self.config.alerts.timezone)
        key = f"escalation:{incident.id}:{row['policy']}:{row['round']}:{row['loop']}:{index}"
        if dest.channel is None:
            pairs = [p for p in self.dispatcher.routes_for(message) if p[0] == "slack"] or \
                self.dispatcher.routes_for(message)[:1]
        else:
            pairs = [(dest.channel if dest.channel in self.dispatcher.channels else "console", dest.target)]
        new = sum(self.dispatcher.enqueue_to(f"{key}|{ch}|{t}", ch, t, message) for ch, t in pairs)
        where = ", ".join(f"{ch}:{t}" for ch, t in pairs)
        self.audit.record("crisiswatch", "escalation.notify", incident.label, policy=row["policy"], step=index,
                          tier=tier, to=where, mentions=mentions, enqueued=new, round=row["round"],
                          loop=row["loop"])
        return f"{incident.label} {row['policy']}: step {index + 1} ({tier}) -> {where}"

    def _mentions(self, row: Row, dest: Destination) -> list[str]:
        """A step's own mentions; after a stale acknowledgement (round > 0) also whoever acknowledged
        and, if that still names nobody, the policy's first mention: a re-page must ring someone."""
        mentions = list(dest.mentions)
        if row["round"] > 0:
            acker = f"<@{row['acked_by']}>" if row["acked_by"] else ""
            if MENTION.fullmatch(acker) and acker not in mentions:
                mentions.append(acker)
            if not mentions:
                steps = self.policy(row["policy"]).steps
                mentions = next((m for s in steps if (m := parse_notify(self.config, s.notify).mentions)), [])
        return mentions

    def _note(self, incident: Pageable, text: str, suffix: str) -> None:
        """A line in the incident thread; the Slack channel refreshes the top message with it."""
        self.dispatcher.enqueue(f"incident:{incident.id}:{suffix}", self.incidents.note(incident, text))

    # reading -----------------------------------------------------------------------------------
    def _chains(self, incident_id: int, policy: str | None = None) -> list[Row]:
        if policy:
            return self.conn.execute("SELECT * FROM escalation_chains WHERE incident_id=? AND policy=?",
                                     (incident_id, policy)).fetchall()
        return self.conn.execute("SELECT * FROM escalation_chains WHERE incident_id=? ORDER BY policy",
                                 (incident_id,)).fetchall()

    def _all(self, only: int | None) -> list[Row]:
        sql = "SELECT * FROM escalation_chains WHERE status IN (?,?,?)"
        params: list[Any] = [ACTIVE, EXHAUSTED, ACKED]
        if only is not None:
            sql += " AND incident_id=?"
            params.append(only)
        return self.conn.execute(sql + " ORDER BY incident_id, policy", params).fetchall()

    def status(self, incident_id: int) -> dict:
        incident = self.incidents.get(incident_id)
        chains = []
        for row in self._chains(incident_id):
            policy = self.config.alerts.escalation_policies.get(row["policy"])
            chains.append({"policy": row["policy"], "status": row["status"], "next_step": row["step"],
                           "loop": row["loop"], "round": row["round"], "next_at": row["next_at"],
                           "started_at": row["started_at"], "acked_by": row["acked_by"], "acked_at": row["acked_at"],
                           "steps": [s.model_dump() for s in policy.steps] if policy else []})
        return {"incident_id": incident_id, "incident_status": incident.status if incident else None,
                "acked_by": incident.acked_by if incident else None, "chains": chains}
