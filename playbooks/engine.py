"""Runs the playbooks whose trigger matches an incident change, each step at most once.

A step is recorded in `playbook_runs` as `running` before it starts and with its outcome before the
next starts, so a restart resumes where it stopped (the step the process died in is audited as
`interrupted` and run again: steps are written to be run again safely) and never opens a second
ticket or sends a second alert. A step that waits (for a duration, an approval, a condition) is
recorded as `waiting` with its own state; `tick` runs it again later and the playbook carries on
once it is done. A step whose wait has a life of its own (`holds_playbook = False`: a statement's
approvals and publication) waits beside the steps after it instead, so an escalation never waits
for a statement. A step that raises is recorded as `failed` and retried by `tick` after a growing
pause (1, 2, 4 … 60 minutes), the operator paged once; after `playbooks.max_attempts` tries it is given up
(`gave_up`: paged once more, listed by `crisiswatch status`, its playbook stopped there) until someone fixes
the cause and puts it back (`crisiswatch playbook retry INC-N [STEP]`).

In the run loop the engine works under the loop's detect-cycle lease (`fence`): taking a step, each side
effect inside it and its outcome are written in transactions that first check the lease is still the loop's
at the generation it took, and a step's record carries that generation. A loop that stalled inside a step
while a standby took the lease stops before the side effect (`LeaseLost`), and its late write is refused.

Which incident changes were answered is recorded too (`playbook_answered`: the level each open
incident was handled at), and `tick` answers those that were not: an incident written by a process
that died before its playbooks ran, or escalated meanwhile, still gets them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.dispatch import AlertDispatcher
from alerts.operator import operator_message
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import StateConnection, transaction
from crisiswatch.lease import Fence, LeaseLost, fenced
from crisiswatch.mention import severity_rank
from index.base import Backend
from monitor.incidents.models import LEVEL_RANK, OPEN, Incident, IncidentChange, incident_severity
from monitor.incidents.service import IncidentService
from playbooks.checks import check_playbook
from playbooks.context import StepContext
from playbooks.schema import Playbook, load_usable
from playbooks.steps import STEP_TYPES
from playbooks.steps.notify import page_operator
from playbooks.steps.open_ticket import OpenTicketStep
from playbooks.tickets.mirror import mirror_for
from playbooks.tickets.models import TicketError
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)

SHIPPED_PLAYBOOKS = Path(__file__).parent / "library"
WAITING, RUNNING, FAILED = "waiting", "running", "failed"
GAVE_UP = "gave_up"  # failed `playbooks.max_attempts` times: left for a person (`playbook retry`)
RESUMED = (WAITING, RUNNING, FAILED)  # what `tick` runs again
TAKEN = (RUNNING, FAILED)  # earlier outcomes of a step that is taken again (recorded as running) before it runs
RETRY_KEYS = ("error", "attempts", "retry_at", "retries")  # the engine's own keys in a failed step's record


def retry_pause(attempts: int) -> timedelta:
    """How long a failed step rests before `tick` tries it again: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** (max(attempts, 1) - 1), 60))


def playbook_dir(config: Config) -> Path:
    return config.resolve(config.playbooks.dir) if config.playbooks.dir else SHIPPED_PLAYBOOKS


def category_share(facts: dict[str, Any], categories: list[str]) -> float:
    counts = facts.get("categories", {})
    total = sum(counts.values())
    return sum(counts.get(c, 0) for c in categories) / total if total else 0.0


def matches(playbook: Playbook, change: IncidentChange, severity: str) -> bool:
    t, incident = playbook.trigger, change.incident
    facts = incident.facts
    rules = [t.rule] if isinstance(t.rule, str) else t.rule
    if change.kind not in t.when or incident.rule not in rules:
        return False
    if t.brands and incident.brand not in t.brands:
        return False
    if severity_rank(severity) < severity_rank(t.min_severity):
        return False
    if t.min_level == "critical" and incident.level != "critical":
        return False
    if t.categories and category_share(facts, t.categories) < max(t.min_category_share, 1e-9):
        return False
    posts = facts.get("top_posts", [])
    if t.min_mentions and facts.get("mentions", 0) < t.min_mentions:
        return False
    # an unknown count (None) does not show that an author reaches min_followers
    if t.min_followers and max([p.get("followers") or 0 for p in [*posts, *facts.get("top_authors", [])]] or [0]) \
            < t.min_followers:
        return False
    if t.min_cluster_size and max([p.get("cluster_size", 1) for p in posts] or [0]) < t.min_cluster_size:
        return False
    if t.keywords:
        haystack = " ".join([*(p.get("text", "") for p in posts), *facts.get("top_terms", [])])
        if not any(k in haystack for k in t.keywords):
            return False
    return True


class PlaybookEngine:
    def __init__(self, config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                 playbooks: list[Playbook] | None = None, clock: Callable[[], datetime] | None = None,
                 backend: Backend | None = None) -> None:
        self.config = config
        self.conn = conn
        self.problems: list[str] = []  # playbook files of the folder that do not run, and why
        if playbooks is None:
            playbooks, self.problems = load_usable(playbook_dir(config))
            # what `playbook validate` would say of the others (a misspelt variable, a trigger that never
            # matches, a policy the team lacks): they run, and the operator hears of it now, not at 3 a.m.
            self.problems += [problem for book in playbooks for problem in check_playbook(book, config)]
        self.playbooks = sorted(playbooks, key=lambda b: (b.order, b.name))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tickets = TicketService.from_config(config, conn, clock=self.clock,
                                                 mirror=mirror_for(config.index.url, conn))
        self.incidents = IncidentService(conn)
        self.dispatcher = dispatcher
        self.backend = backend
        self.audit = AuditLog(conn)
        self.trace: list[dict[str, Any]] = []  # every step run by this engine, with its detail (for dry runs)
        # does the caller still hold what lets it act (the run loop's leases)? asked before each step: a
        # worker whose lease a standby took stops, and the standby finishes the playbook, each step once
        self.held: Callable[[], bool] | None = None
        # the lease the run loop runs playbooks under, as it took it: checked inside each step right before
        # its side effects, since `held` only knows what the lease keeper found at its last renewal
        self.fence: Fence | None = None
        for problem in self.problems:
            self._refused(problem)

    def _refused(self, problem: str) -> None:
        """A playbook file that does not load or would fail: one line, and the operator told once per problem."""
        logger.error("%s", problem)
        digest = hashlib.sha256(problem.encode()).hexdigest()[:16]
        try:
            self.dispatcher.enqueue(f"playbook_invalid:{digest}", operator_message(
                self.config, "预案文件有误 playbook file problem", f"{problem} · check with `crisiswatch playbook "
                "validate`", severity="紧急"))
        except Exception:  # the state store away: the line above is what is left
            logger.exception("the operator could not be told that a playbook file does not load")

    def _done(self, incident_id: int, playbook: str) -> dict[int, dict]:
        rows = self.conn.execute(
            "SELECT step, outcome, detail, at FROM playbook_runs WHERE incident_id=? AND playbook=?",
            (incident_id, playbook),
        ).fetchall()
        return {r["step"]: {"outcome": r["outcome"], "detail": json.loads(r["detail"]), "at": r["at"]} for r in rows}

    def handle(self, change: IncidentChange, dry_run: bool = False) -> list[tuple[str, list[str]]]:
        """Runs every matching playbook; returns (playbook, step outcomes) for the operator."""
        severity = incident_severity(change.incident)
        if change.kind == "escalated" and not dry_run:
            self.follow_grade(change.incident, severity)
        ran = []
        for playbook in self.playbooks:
            if matches(playbook, change, severity):
                ran.append((playbook.name, self.run(playbook, change.incident, severity, dry_run)))
        if not dry_run and change.kind in ("opened", "escalated"):
            self._answered(change.incident)
        return ran

    def follow_grade(self, incident: Incident, severity: str) -> list[str]:
        """The tickets opened for the incident (no customer's) take its graver grade, as `ticket regrade` does
        (deadlines from when their clocks started, an approved extension kept), the timeline saying why: a
        ticket opened 重要 for a warning kept a working day to respond after the incident turned critical, and
        a crisis regraded 紧急 → 重大 on a media report kept 紧急's deadlines all day. Never lowered: an agent's
        graver reading stands. A ticket that cannot be regraded is said and audited, and holds up nothing.
        Returns the tickets regraded."""
        regraded = []
        for ticket in self.tickets.all_for_incident(incident.id):
            if not ticket.is_open or ticket.customer or severity_rank(severity) <= severity_rank(ticket.severity):
                continue
            try:
                with fenced(self.conn, self.fence):
                    self.tickets.classify(ticket.id, actor="playbook:escalation", expected_version=ticket.version,
                                          severity=severity, now=self.clock(),
                                          note=f"事件 {incident.label} 等级由{ticket.severity}升为{severity}")
            except TicketError as exc:  # changed meanwhile, or refused: said, and the agent grades it by hand
                logger.warning("%s escalated to %s, but its ticket %s kept grade %s: %s", incident.label, severity,
                               ticket.number, ticket.severity, exc)
                self.audit.record("playbook:escalation", "regrade", incident.label, "failed", at=self.clock(),
                                  ticket=ticket.number, severity=severity, error=str(exc))
                continue
            self.audit.record("playbook:escalation", "regrade", incident.label, at=self.clock(), ticket=ticket.number,
                              severity=severity, level=incident.level)
            regraded.append(ticket.number)
        return regraded

    def _answered(self, incident: Incident) -> None:
        with fenced(self.conn, self.fence):
            self._answer(incident)

    def _answer(self, incident: Incident) -> None:
        self.conn.execute(
            "INSERT INTO playbook_answered(incident_id, level, at) VALUES (?,?,?) ON CONFLICT(incident_id)"
            " DO UPDATE SET level=excluded.level, at=excluded.at",
            (incident.id, incident.level, self.clock().isoformat()))

    def unanswered(self) -> list[IncidentChange]:
        """Open incidents whose opening or escalation no playbook answered (the process died first)."""
        rows = self.conn.execute(
            "SELECT i.id, a.level AS answered FROM incidents i LEFT JOIN playbook_answered a ON a.incident_id=i.id"
            " WHERE i.status=? AND i.brand<>'' AND (a.level IS NULL OR a.level<>i.level) ORDER BY i.id",
            (OPEN,)).fetchall()
        changes = []
        for row in rows:
            incident = self.incidents.get(row["id"])
            if incident is None:
                continue
            if row["answered"] is None:
                changes.append(IncidentChange("opened", incident))
            elif LEVEL_RANK.get(incident.level, 0) > LEVEL_RANK.get(row["answered"], 0):
                changes.append(IncidentChange("escalated", incident))
        return changes

    def tick(self, now: datetime | None = None) -> list[tuple[str, str, list[str]]]:
        """Answers incident changes left unanswered, then resumes every waiting, interrupted or failed
        playbook; returns (incident, playbook, outcomes) for those it ran."""
        if now is not None:
            self.clock = lambda: now
            self.tickets.now = self.clock
        ran: list[tuple[str, str, list[str]]] = []
        try:
            self._resume(ran)
        except LeaseLost as exc:
            logger.warning("%s", exc)
        return ran

    def _resume(self, ran: list[tuple[str, str, list[str]]]) -> None:
        seen = set()
        for change in self.unanswered():
            logger.warning("%s was %s but its playbooks had not run (the process stopped first): running them now",
                           change.incident.label, change.kind)
            try:
                answered = self.handle(change)
            except LeaseLost:
                raise
            except Exception:  # one incident that cannot be answered now must not hold up the others' playbooks
                logger.exception("answering %s failed; the next pass tries again", change.incident.label)
                continue
            for name, outcomes in answered:
                ran.append((change.incident.label, name, outcomes))
                seen.add((change.incident.id, name))
        marks = ",".join("?" * len(RESUMED))
        rows = self.conn.execute(
            f"SELECT DISTINCT incident_id, playbook FROM playbook_runs WHERE outcome IN ({marks}) ORDER BY incident_id",
            RESUMED).fetchall()
        by_name = {b.name: b for b in self.playbooks}
        for row in rows:
            if (row["incident_id"], row["playbook"]) in seen:
                continue
            playbook, incident = by_name.get(row["playbook"]), self.incidents.get(row["incident_id"])
            if playbook is None or incident is None:
                continue  # a playbook removed from the folder no longer runs
            ran.append((incident.label, playbook.name, self.run(playbook, incident, incident_severity(incident))))

    def run(self, playbook: Playbook, incident: Incident, severity: str, dry_run: bool = False) -> list[str]:
        now = self.clock()
        ctx = StepContext(config=self.config, playbook=playbook.name, incident=incident, severity=severity,
                          tickets=self.tickets, dispatcher=self.dispatcher, audit=self.audit, dry_run=dry_run,
                          now=now, conn=self.conn, backend=self.backend, fence=self.fence)
        done = {} if dry_run else self._done(incident.id, playbook.name)
        outcomes = []
        for index, spec in enumerate(playbook.steps):
            earlier = done.get(index)
            if earlier and "ticket" in earlier["detail"]:
                ctx.outputs["ticket_number"] = earlier["detail"]["ticket"]
            if earlier and earlier["outcome"] == GAVE_UP:  # what comes after it may need it: the playbook stops here
                outcomes.append(f"{spec.type}: gave up after {earlier['detail'].get('attempts')} attempts (earlier)")
                break
            if earlier and earlier["outcome"] not in RESUMED:
                outcomes.append(f"{spec.type}: {earlier['outcome']} (earlier)")
                continue
            if not dry_run and self.held is not None and not self.held():
                raise LeaseLost(f"playbook {playbook.name} on {incident.label} stopped before step {index + 1}"
                                f" ({spec.type}): this worker lost its lease; the one holding it carries on")
            kept = dict(earlier["detail"]) if earlier else {}
            attempts = int(kept.get("attempts", 0))
            resting = kept.get("retry_at")  # none once put back by hand (`playbook retry`): due at once
            if earlier and earlier["outcome"] == FAILED and resting and now < datetime.fromisoformat(resting):
                outcomes.append(f"{spec.type}: failed (retried at {resting})")
                break
            ctx.state = {k: v for k, v in kept.items() if k not in RETRY_KEYS}
            if not dry_run and (earlier is None or earlier["outcome"] in TAKEN):  # taken, under this loop's lease
                retries = {k: kept[k] for k in ("attempts", "retries") if kept.get(k)}
                with fenced(self.conn, self.fence):
                    if earlier and earlier["outcome"] == RUNNING:  # a process died inside this step: say where
                        logger.warning("playbook %s step %d (%s) on %s was interrupted at %s; running it again",
                                       playbook.name, index + 1, spec.type, incident.label, earlier["at"])
                        self.audit.record(ctx.actor, spec.type, incident.label, "interrupted", at=now,
                                          step=index + 1, since=earlier["at"])
                    self._record(incident, playbook, index, spec.type, RUNNING, {**ctx.state, **retries}, now)
            step = STEP_TYPES[spec.type](spec.options)
            try:
                result = step.run(ctx)
            except LeaseLost as exc:  # a standby holds the lease now and runs this step itself
                raise LeaseLost(f"playbook {playbook.name} on {incident.label} stopped inside step {index + 1}"
                                f" ({spec.type}), before its side effect: {exc}; the one holding it carries on") \
                    from None
            except Exception as exc:  # one broken step must not stop the loop; it is audited and retried
                outcomes += self._failed(ctx, playbook, index, spec.type, exc, attempts + 1,
                                         int(kept.get("retries", 0)))
                break
            if "ticket" in result.detail:
                ctx.outputs["ticket_number"] = result.detail["ticket"]
            outcomes.append(f"{spec.type}: {result.outcome}")
            self.trace.append({"incident": incident.label, "playbook": playbook.name, "step": index,
                               "type": spec.type, "outcome": result.outcome, "detail": result.detail})
            if dry_run:
                continue  # a dry run shows every step, including those after a wait
            still_waiting = earlier is not None and earlier["outcome"] == WAITING and result.outcome == WAITING
            with fenced(self.conn, self.fence):
                self._record(incident, playbook, index, spec.type, result.outcome, result.detail, now)
                if not still_waiting:  # a wait re-checked on every tick is audited when it starts and ends
                    self.audit.record(ctx.actor, spec.type, incident.label, result.outcome, at=now,
                                      **{k: v for k, v in result.detail.items() if k != "at"})
            if result.outcome == WAITING and step.holds_playbook:
                break
        return outcomes

    def _record(self, incident: Incident, playbook: Playbook, index: int, step_type: str, outcome: str,
                detail: dict[str, Any], now: datetime) -> None:
        """The step's record, with the generation of the lease it was written under: a write under an older
        generation than the record's is refused (LeaseLost), so a stalled loop never undoes a standby's."""
        fence = self.fence.generation if self.fence else None
        cur = self.conn.execute(
            "INSERT INTO playbook_runs(incident_id, playbook, step, type, outcome, detail, at, fence)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(incident_id, playbook, step) DO UPDATE SET"
            " type=excluded.type, outcome=excluded.outcome, detail=excluded.detail, at=excluded.at,"
            " fence=COALESCE(excluded.fence, playbook_runs.fence)"
            " WHERE excluded.fence IS NULL OR playbook_runs.fence IS NULL OR playbook_runs.fence <= excluded.fence",
            (incident.id, playbook.name, index, step_type, outcome,
             json.dumps(detail, ensure_ascii=False, default=str), now.isoformat(), fence),
        )
        if cur.rowcount != 1:
            raise LeaseLost(f"playbook {playbook.name} step {index + 1} on {incident.label}: written meanwhile under"
                            f" a newer lease than generation {fence}; this write is refused")

    def _failed(self, ctx: StepContext, playbook: Playbook, index: int, step_type: str, exc: Exception,
                attempts: int, retries: int = 0) -> list[str]:
        """A step that raised: one line, audited the first time, recorded for `tick` to retry after a pause,
        and (live) the fail-safe ticket and the operator's page; after `playbooks.max_attempts` tries it is
        given up instead, paged once more. With the state store itself away the line is all there is, and the
        raise leaves the incident unanswered, so the next pass runs it again. `retries`: how often a person
        put it back (`playbook retry`), so each round gives up, and pages, once."""
        label, now = ctx.incident.label, ctx.now
        self.trace.append({"incident": label, "playbook": playbook.name, "step": index,
                           "type": step_type, "outcome": "failed", "detail": {"error": str(exc)}})
        out = [f"{step_type}: failed ({exc})"]
        if ctx.dry_run:
            logger.warning("playbook %s step %d (%s) failed on %s: %s", playbook.name, index + 1, step_type, label, exc)
            return out
        if attempts >= self.config.playbooks.max_attempts:
            return out + self._give_up(ctx, playbook, index, step_type, exc, attempts, retries)
        retry_at = now + retry_pause(attempts)
        logger.error("playbook %s step %d (%s) failed on %s (attempt %d, next try %s): %s", playbook.name,
                     index + 1, step_type, label, attempts, retry_at.isoformat(), exc, exc_info=attempts == 1)
        with fenced(self.conn, self.fence):
            self._record(ctx.incident, playbook, index, step_type, FAILED,
                         {**ctx.state, "error": str(exc), "attempts": attempts, "retry_at": retry_at.isoformat(),
                          **({"retries": retries} if retries else {})}, now)
            if attempts == 1:  # the trail says it once; the retries are in the run record
                self.audit.record(ctx.actor, step_type, label, "failed", at=now, error=str(exc))
        return out + self._fail_safe(ctx, playbook, index, step_type, exc)

    def _give_up(self, ctx: StepContext, playbook: Playbook, index: int, step_type: str, exc: Exception,
                 attempts: int, retries: int) -> list[str]:
        """The step failed every try: it is no longer retried (an hourly page-less retry forever hid it), the
        operator is paged once more saying so and how to put it back once the cause is fixed."""
        label, now = ctx.incident.label, ctx.now
        again = f"crisiswatch playbook retry {label} {index + 1}"
        logger.error("playbook %s step %d (%s) on %s gave up after %d attempts: %s; once fixed: `%s`",
                     playbook.name, index + 1, step_type, label, attempts, exc, again)
        with fenced(self.conn, self.fence):
            self._record(ctx.incident, playbook, index, step_type, GAVE_UP,
                         {**ctx.state, "error": str(exc), "attempts": attempts, "gave_up_at": now.isoformat(),
                          **({"retries": retries} if retries else {})}, now)
            self.audit.record(ctx.actor, step_type, label, GAVE_UP, at=now, error=str(exc), attempts=attempts)
        ticket = self._fail_safe_ticket(ctx, playbook)
        page_operator(ctx, f"playbook_gave_up:{ctx.incident.id}:{playbook.name}:{index}:{retries}",
                      f"预案步骤已放弃 playbook step given up: {playbook.name}",
                      f"playbook {playbook.name} step {index + 1} ({step_type}) on {label} failed {attempts} times and"
                      f" is no longer retried: {exc} · file {playbook.path or playbook.name} · once the cause is fixed:"
                      f" `{again}`")
        return [f"gave up after {attempts} attempts", *ticket, "operator paged"]

    def _fail_safe(self, ctx: StepContext, playbook: Playbook, index: int, step_type: str,
                   exc: Exception) -> list[str]:
        """A step that fails live still leaves the incident a ticket, and the operator is paged with why."""
        out = self._fail_safe_ticket(ctx, playbook)
        reason = (f"playbook {playbook.name} step {index + 1} ({step_type}) failed on {ctx.incident.label}: {exc}"
                  f" · ticket {ctx.outputs.get('ticket_number') or ctx.incident.label + ' has none'}"
                  f" · file {playbook.path or playbook.name}")
        page_operator(ctx, f"playbook_failed:{ctx.incident.id}:{playbook.name}:{index}",
                      f"预案步骤失败 playbook step failed: {playbook.name}", reason)
        return [*out, "operator paged"]

    def _fail_safe_ticket(self, ctx: StepContext, playbook: Playbook) -> list[str]:
        try:
            with ctx.fenced():
                if ctx.ticket() is not None:
                    return []
                result = OpenTicketStep({}).run(ctx)  # the default title cannot fail on a variable
                self.audit.record(ctx.actor, "open_ticket", ctx.incident.label, result.outcome, at=ctx.now,
                                  fail_safe=True, **{k: v for k, v in result.detail.items() if k != "at"})
            return [f"open_ticket (fail-safe): {result.outcome}"]
        except LeaseLost:
            raise
        except Exception:  # the operator's page still goes out
            logger.exception("playbook %s: the fail-safe ticket for %s could not be opened", playbook.name,
                             ctx.incident.label)
            return []


def stalled_steps(conn: StateConnection) -> list[dict[str, Any]]:
    """Steps that failed and wait for their retry, were given up, or that a process died in (`crisiswatch
    status` lists them)."""
    rows = conn.execute("SELECT incident_id, playbook, step, type, outcome, detail, at FROM playbook_runs"
                        " WHERE outcome IN (?,?,?) ORDER BY incident_id, playbook, step",
                        (FAILED, GAVE_UP, RUNNING)).fetchall()
    return [{"incident": f"INC-{r['incident_id']}", "playbook": r["playbook"], "step": r["step"] + 1, "type": r["type"],
             "outcome": r["outcome"], "at": r["at"], **json.loads(r["detail"])} for r in rows]


def retry_steps(conn: StateConnection, incident_id: int, step: int | None, *, by: str, now: datetime) -> list[str]:
    """Put back the incident's given-up steps (or failed ones resting before their next try), or only step
    number `step`, for the run loop's next pass to run: their tries start again, and a second give-up pages
    again. Returns what was put back; [] when nothing of the incident had failed."""
    marks = ",".join("?" * len((FAILED, GAVE_UP)))
    rows = conn.execute(f"SELECT playbook, step, type, outcome, detail FROM playbook_runs WHERE incident_id=?"
                        f" AND outcome IN ({marks}) ORDER BY playbook, step", (incident_id, FAILED, GAVE_UP)).fetchall()
    back = []
    with transaction(conn):
        for row in rows:
            if step is not None and row["step"] != step - 1:
                continue
            detail = json.loads(row["detail"])
            state = {k: v for k, v in detail.items() if k not in (*RETRY_KEYS, "gave_up_at")}
            retries = int(detail.get("retries", 0)) + (row["outcome"] == GAVE_UP)
            conn.execute("UPDATE playbook_runs SET outcome=?, detail=?, at=? WHERE incident_id=? AND playbook=?"
                         " AND step=? AND outcome=?",
                         (FAILED, json.dumps({**state, "error": detail.get("error", ""), "attempts": 0,
                                              "retries": retries}, ensure_ascii=False, default=str),
                          now.isoformat(), incident_id, row["playbook"], row["step"], row["outcome"]))
            AuditLog(conn).record(by, "playbook.retry", f"INC-{incident_id}", at=now, playbook=row["playbook"],
                                  step=row["step"] + 1, type=row["type"], was=row["outcome"])
            back.append(f"{row['playbook']} step {row['step'] + 1} ({row['type']}, {row['outcome']}"
                        f" after {detail.get('attempts', 0)} attempts: {detail.get('error', '')})")
    return back


__all__ = ["PlaybookEngine", "incident_severity", "matches", "retry_steps", "stalled_steps"]
