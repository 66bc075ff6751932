"""The step interface: typed options validated at load time, `run(context)` at run time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from crisiswatch.config import parse_duration
from playbooks.context import StepContext
from playbooks.tickets.models import Ticket, TicketConflict, TicketError


class StepOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def duration_field(*names: str) -> Any:
    """A validator for options holding durations such as 30m, 4h, 1d12h."""

    def check(cls: type, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    return field_validator(*names)(classmethod(check))


def span(value: str) -> timedelta:
    return parse_duration(value)


@dataclass
class StepResult:
    outcome: str                  # "done", "skipped", "waiting", "failed"
    detail: dict[str, Any] = field(default_factory=dict)


class Step(ABC):
    type: ClassVar[str]
    Options: ClassVar[type[StepOptions]] = StepOptions

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def run(self, ctx: StepContext) -> StepResult: ...


def with_ticket(ctx: StepContext, change: Callable[[Ticket], Ticket], attempts: int = 3) -> Ticket:
    """Apply a change to the incident's ticket at its current version; a playbook re-reads on conflict."""
    for _ in range(attempts):
        ticket = ctx.ticket()
        if ticket is None:
            raise TicketError(f"{ctx.incident.label} has no ticket (put open_ticket before this step)")
        try:
            return change(ticket)
        except TicketConflict:
            continue
    raise TicketConflict(f"ticket for {ctx.incident.label} kept changing; will retry on the next tick")
