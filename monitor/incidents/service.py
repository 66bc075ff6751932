"""Incident storage and the open / update / resolve decisions (hysteresis and cooldown)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from crisiswatch.db import Row, StateConnection, insert_id, transaction
from monitor.detectors.base import Signal
from monitor.incidents.models import LEVEL_RANK, OPEN, RESOLVED, Incident, IncidentChange


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _kept(facts: dict[str, Any]) -> dict[str, Any]:
    """Facts that outlive a new peak: the explanation and the joined signals."""
    return {k: v for k, v in facts.items() if k not in _SIGNAL_FACTS}


_SIGNAL_FACTS = frozenset({"negative", "total", "expected", "ratio", "p_value", "minutes", "share",
                           "baseline_share", "term", "posts_with_term", "dimension", "split", "source", "seen",
                           "baseline_gaps"})


def _row_to_incident(row: Row) -> Incident:
    return Incident(
        id=row["id"], key=row["key"], rule=row["rule"], brand=row["brand"], level=row["level"],
        status=row["status"], opened_at=_dt(row["opened_at"]), updated_at=_dt(row["updated_at"]),
        last_fired_at=_dt(row["last_fired_at"]), resolved_at=_dt(row["resolved_at"]),
        peak_value=row["peak_value"], baseline=row["baseline"], signals=row["signals"],
        summary=row["summary"], facts=json.loads(row["facts"]), acked_by=row["acked_by"],
        acked_at=_dt(row["acked_at"]), muted_until=_dt(row["muted_until"]), version=row["version"],
    )


class IncidentService:
    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    def get(self, incident_id: int) -> Incident | None:
        row = self.conn.execute("SELECT * FROM incidents WHERE id=?", (incident_id,)).fetchone()
        return _row_to_incident(row) if row else None

    def open_for(self, key: str, rule: str) -> Incident | None:
        row = self.conn.execute(
            "SELECT * FROM incidents WHERE status=? AND key=? AND rule=? ORDER BY id DESC LIMIT 1",
            (OPEN, key, rule),
        ).fetchone()
        return _row_to_incident(row) if row else None

    def list(self, status: str | None = None, brand: str | None = None, limit: int = 100) -> list[Incident]:
        where, params = _where(status, brand)
        rows = self.conn.execute(f"SELECT * FROM incidents{where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [_row_to_incident(r) for r in rows.fetchall()]

    def opened_between(self, since: datetime, until: datetime, brand: str | None = None) -> list[Incident]:
        """Every incident that opened in [since, until), oldest first (the dashboard's timeline marks them)."""
        where, params = _where(None, brand)
        where += (" AND" if where else " WHERE") + " opened_at >= ? AND opened_at < ?"
        rows = self.conn.execute(f"SELECT * FROM incidents{where} ORDER BY opened_at, id",
                                 [*params, since.astimezone(UTC).isoformat(), until.astimezone(UTC).isoformat()])
        return [_row_to_incident(r) for r in rows.fetchall()]

    def count(self, status: str | None = None, brand: str | None = None) -> int:
        where, params = _where(status, brand)
        return self.conn.execute(f"SELECT COUNT(*) FROM incidents{where}", params).fetchone()[0]

    def events(self, incident_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM incident_events WHERE incident_id=? ORDER BY id", (incident_id,))
        return [{"at": r["at"], "kind": r["kind"], "detail": json.loads(r["detail"])} for r in rows.fetchall()]

    def _event(self, incident_id: int, kind: str, **detail: Any) -> None:
        self.conn.execute(
            "INSERT INTO incident_events(incident_id, at, kind, detail) VALUES (?,?,?,?)",
            (incident_id, datetime.now(UTC).isoformat(), kind, json.dumps(detail, ensure_ascii=False, default=str)),
        )

    def joinable_for(self, brand: str, at: datetime, window: timedelta) -> Incident | None:
        """The brand's open incident that fired within `window` before `at` (the one to join), if any.

        Measured from its last signal, not its opening, so a long crisis stays one incident."""
        row = self.conn.execute(
            "SELECT * FROM incidents WHERE status=? AND brand=? AND last_fired_at>=? ORDER BY id LIMIT 1",
            (OPEN, brand, (at - window).isoformat()),
        ).fetchone()
        return _row_to_incident(row) if row else None

    def recently_resolved(self, key: str, rule: str, at: datetime, cooldown: timedelta) -> Incident | None:
        row = self.conn.execute(
            "SELECT * FROM incidents WHERE status=? AND key=? AND rule=? AND resolved_at>=?"
            " ORDER BY id DESC LIMIT 1",
            (RESOLVED, key, rule, (at - cooldown).isoformat()),
        ).fetchone()
        return _row_to_incident(row) if row else None

    def apply(self, signal: Signal, join_window: timedelta | None = None,
              cooldown: timedelta | None = None, primary: bool = False) -> IncidentChange:
        """A signal updates the open incident for its key and rule; else joins its brand's recent open
        incident (one crisis, one incident, like Dispatch's dedup); else reopens its key's incident
        resolved within `cooldown` (kind "reopened", with the signal's summary as its note); else opens a new one.

        A `primary` signal (the rule whose incidents carry the response playbooks) never joins another
        rule's incident: it opens its own and absorbs that one, so the response still starts."""
        with transaction(self.conn):
            current = self.open_for(signal.key, signal.rule)
            if current is not None:
                return self._update(current, signal)
            absorbed = None
            if join_window is not None and signal.brand:
                host = self.joinable_for(signal.brand, signal.at, join_window)
                if host is not None and not (primary and host.rule != signal.rule):
                    return self._join(host, signal)
                absorbed = host
            if cooldown is not None:
                previous = self.recently_resolved(signal.key, signal.rule, signal.at, cooldown)
                if previous is not None and previous.dismissed:
                    # the team said this signal is noise: within the cooldown it opens nothing (the loop logs it)
                    return IncidentChange("suppressed", previous, note=signal.summary)
                if previous is not None:
                    self.conn.execute(
                        "UPDATE incidents SET status=?, resolved_at=NULL, version=version+1 WHERE id=?",
                        (OPEN, previous.id))
                    self._event(previous.id, "reopened", summary=signal.summary, level=signal.level)
                    change = self._update(self.get(previous.id), signal)
                    # said, not silent: its resolution was announced, so is its return (an escalation says so itself)
                    return change if change.kind == "escalated" else IncidentChange("reopened", change.incident,
                                                                                    note=signal.summary)
            facts = json.dumps(signal.facts, ensure_ascii=False, default=str)
            at = signal.at.isoformat()
            new_id = insert_id(
                self.conn, "INSERT INTO incidents(key, rule, brand, level, opened_at, updated_at, last_fired_at,"
                " peak_value, baseline, summary, facts) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (signal.key, signal.rule, signal.brand, signal.level, at, at, at, signal.value,
                 signal.baseline, signal.summary, facts),
            )
            self._event(new_id, "opened", summary=signal.summary, level=signal.level)
            if absorbed is not None:
                self._absorb(new_id, absorbed, signal.at)
            return IncidentChange("opened", self.get(new_id))

    def _absorb(self, into: int, other: Incident, at: datetime) -> None:
        """Close `other` quietly (no change is reported, so nothing is sent) and keep its signals."""
        self.conn.execute(
            "UPDATE incidents SET status=?, resolved_at=?, updated_at=?, version=version+1 WHERE id=?",
            (RESOLVED, at.isoformat(), at.isoformat(), other.id))
        self._event(other.id, "merged", into=into)
        mine = {"rule": other.rule, "key": other.key, "level": other.level, "at": other.opened_at.isoformat(),
                "summary": other.summary, "facts": {k: v for k, v in other.facts.items() if k in _SIGNAL_FACTS}}
        related = [mine, *other.facts.get("related", [])]
        host = self.get(into)
        self.conn.execute("UPDATE incidents SET facts=? WHERE id=?", (
            json.dumps({**host.facts, "related": related}, ensure_ascii=False, default=str), into))
        self._event(into, "absorbed", incident=other.id, rule=other.rule, key=other.key)

    def _update(self, current: Incident, signal: Signal) -> IncidentChange:
        escalated = LEVEL_RANK[signal.level] > LEVEL_RANK.get(current.level, 0)
        peak = signal.value > current.peak_value
        facts = json.dumps({**signal.facts, **_kept(current.facts)}, ensure_ascii=False, default=str)
        at = signal.at.isoformat()
        self.conn.execute(
            "UPDATE incidents SET level=?, updated_at=?, last_fired_at=?,"
            " peak_value=CASE WHEN ? > peak_value THEN ? ELSE peak_value END, signals=signals+1,"
            " summary=CASE WHEN ?=1 THEN ? ELSE summary END, facts=CASE WHEN ?=1 THEN ? ELSE facts END,"
            " version=version+1 WHERE id=?",
            (signal.level if escalated else current.level, at, at, signal.value, signal.value, int(peak),
             signal.summary, int(peak), facts, current.id),
        )
        kind = "escalated" if escalated else "updated"
        self._event(current.id, kind, summary=signal.summary, level=signal.level)
        return IncidentChange(kind, self.get(current.id))

    def _join(self, host: Incident, signal: Signal) -> IncidentChange:
        """Attach another rule's signal: it keeps the host alive and may escalate it; its numbers go to
        facts["related"] (latest per rule and key) since they are in other units than the host's peak."""
        escalated = LEVEL_RANK[signal.level] > LEVEL_RANK.get(host.level, 0)
        related = {f"{r['rule']} {r['key']}": r for r in host.facts.get("related", [])}
        related[f"{signal.rule} {signal.key}"] = {
            "rule": signal.rule, "key": signal.key, "level": signal.level, "at": signal.at.isoformat(),
            "summary": signal.summary, "facts": signal.facts}
        facts = {**host.facts, "related": list(related.values())}
        at = signal.at.isoformat()
        self.conn.execute(
            "UPDATE incidents SET level=?, updated_at=?, last_fired_at=?, signals=signals+1, facts=?,"
            " version=version+1 WHERE id=?",
            (signal.level if escalated else host.level, at, at,
             json.dumps(facts, ensure_ascii=False, default=str), host.id),
        )
        self._event(host.id, "joined", rule=signal.rule, key=signal.key, summary=signal.summary,
                    level=signal.level)
        return IncidentChange("escalated" if escalated else "updated", self.get(host.id))

    def resolve_quiet(self, now: datetime, quiet: timedelta) -> list[IncidentChange]:
        """Resolve open incidents whose signal has been normal for `quiet` (hysteresis)."""
        changes = []
        for incident in self.list(status=OPEN, limit=10_000):
            if now - incident.last_fired_at >= quiet:
                changes.append(self.resolve(incident.id, at=now, reason=f"normal for {quiet}"))
        return changes

    def resolve(self, incident_id: int, at: datetime, reason: str, by: str = "crisiswatch") -> IncidentChange:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE incidents SET status=?, resolved_at=?, updated_at=?, version=version+1 WHERE id=? AND status=?",
                (RESOLVED, at.isoformat(), at.isoformat(), incident_id, OPEN),
            )
            self._event(incident_id, "resolved", reason=reason, by=by)
        return IncidentChange("resolved", self.get(incident_id))

    def dismiss(self, incident_id: int, at: datetime, reason: str, by: str) -> Incident:
        """Resolve the incident as a false alarm (误报), open or already resolved, keeping who and why; the same
        signal then opens nothing within the detection cooldown. Raises ValueError when it was dismissed already."""
        with transaction(self.conn):
            incident = self.get(incident_id)
            if incident.dismissed:
                raise ValueError(f"{incident.label} was already dismissed as a false alarm by "
                                 f"{incident.dismissed['by']}")
            dismissed = {"reason": reason, "by": by, "at": at.isoformat()}
            facts = json.dumps({**incident.facts, "dismissed": dismissed}, ensure_ascii=False, default=str)
            # an incident resolved already (quiet for a while) keeps its resolution time, as its report says it
            self.conn.execute(
                "UPDATE incidents SET status=?, resolved_at=COALESCE(resolved_at, ?), updated_at=?, facts=?,"
                " version=version+1 WHERE id=?",
                (RESOLVED, at.isoformat(), at.isoformat(), facts, incident_id))
            self._event(incident_id, "dismissed", reason=reason, by=by)
        return self.get(incident_id)

    def acknowledge(self, incident_id: int, by: str) -> Incident:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE incidents SET acked_by=?, acked_at=?, version=version+1 WHERE id=? AND acked_by IS NULL",
                (by, datetime.now(UTC).isoformat(), incident_id),
            )
            self._event(incident_id, "acknowledged", by=by)
        return self.get(incident_id)

    def regrade(self, incident_id: int, was: str, grade: str, at: datetime) -> IncidentChange:
        """The incident's grade rose with its facts (a graver post behind it): an escalation, said as one."""
        with transaction(self.conn):
            self.conn.execute("UPDATE incidents SET updated_at=?, version=version+1 WHERE id=?",
                              (at.isoformat(), incident_id))
            self._event(incident_id, "regraded", was=was, grade=grade)
        return IncidentChange("escalated", self.get(incident_id))

    def attach_facts(self, incident_id: int, **facts: Any) -> None:
        incident = self.get(incident_id)
        merged = {**incident.facts, **facts}
        self.conn.execute("UPDATE incidents SET facts=? WHERE id=?",
                          (json.dumps(merged, ensure_ascii=False, default=str), incident_id))


def _where(status: str | None, brand: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    for column, value in (("status", status), ("brand", brand)):
        if value:
            clauses.append(f"{column}=?")
            params.append(value)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params
