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
from playbooks.tickets.models import DEPARTMENTS, Ticket, TicketConflict, TicketError

# a department option is one of them whole: pydantic's `pattern` searches, so a bare 客服|调查|… let
# 技术支持部 or 法律顾问 through validate to fail live on the ticket
DEPARTMENT = f"^({'|'.join(DEPARTMENTS)})$"


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


class TemplateProblem(ValueError):
    """A step template names a variable that does not exist, or is not a valid template."""


def fill(template: str, variables: dict[str, Any]) -> str:
    """`{name}` placeholders filled from the incident's variables; an unknown name is an error, not a blank."""
    try:
        return template.format_map(variables)
    except KeyError as exc:
        raise TemplateProblem(f"unknown variable {{{exc.args[0]}}} (variables: "
                              f"{', '.join('{' + k + '}' for k in variables)})") from None
    except (IndexError, ValueError, AttributeError) as exc:
        raise TemplateProblem(f"bad template {template[:40]!r}: {exc}") from None


class Step(ABC):
    type: ClassVar[str]
    Options: ClassVar[type[StepOptions]] = StepOptions
    templates: ClassVar[tuple[str, ...]] = ()  # options holding `{name}` templates (a string or a list of them)
    # while it waits, the steps after it wait too; False for a wait with a life of its own (a statement's
    # approvals and publication), which must not hold up an escalation or a close behind it
    holds_playbook: ClassVar[bool] = True

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def run(self, ctx: StepContext) -> StepResult: ...

    def check(self, ctx: StepContext) -> list[tuple[str, str]]:
        """Render every template against a synthetic incident: (option key, problem) for each that fails.

        Run by `playbook validate` and `dry-run`, so a misspelt variable fails there and not in a crisis.
        """
        problems = []
        variables = ctx.variables()
        for name in self.templates:
            value = getattr(self.options, name)
            texts = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for i, text in texts:
                if text is None:
                    continue
                try:
                    fill(text, variables)
                except TemplateProblem as exc:
                    problems.append((name if i is None else f"{name}.{i}", str(exc)))
        return problems


def with_ticket(ctx: StepContext, change: Callable[[Ticket], Ticket], attempts: int = 3) -> Ticket:
    """Apply a change to the incident's ticket at its current version; a playbook re-reads on conflict."""
    for _ in range(attempts):
        try:
            with ctx.fenced():
                ticket = ctx.ticket()
                if ticket is None:
                    raise TicketError(f"{ctx.incident.label} has no ticket (put open_ticket before this step)")
                return change(ticket)
        except TicketConflict:
            continue
    raise TicketConflict(f"ticket for {ctx.incident.label} kept changing; will retry on the next tick")
