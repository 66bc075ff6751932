"""Everything playbooks and tickets need once per pass of the run loop, in one call for the loop to make."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from alerts.dispatch import AlertDispatcher
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from playbooks.engine import PlaybookEngine
from playbooks.tickets.flows import sla_sweep

logger = logging.getLogger(__name__)


@dataclass
class PlaybookCycle:
    resumed: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (incident, playbook, outcomes)
    reminders: list[dict] = field(default_factory=list)
    breaches: list[dict] = field(default_factory=list)
    still_late: list[dict] = field(default_factory=list)  # breaches said again, a day later each


def playbook_cycle(config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                   engine: PlaybookEngine | None = None, now: datetime | None = None) -> PlaybookCycle:
    """Resume waiting playbooks, then remind and escalate on ticket SLA timers (alerts go to the outbox).

    Each part is guarded: one failing must not stop the other or the loop.
    """
    engine = engine or PlaybookEngine(config, conn, dispatcher)
    report = PlaybookCycle()
    try:
        report.resumed = engine.tick(now)
    except Exception:
        logger.exception("playbook cycle: resuming waiting playbooks failed")
    try:
        found = sla_sweep(config, conn, dispatcher, engine.tickets)
        report.reminders, report.breaches, report.still_late = found["reminders"], found["breaches"], found["still_late"]
    except Exception:
        logger.exception("playbook cycle: SLA check failed")
    return report
