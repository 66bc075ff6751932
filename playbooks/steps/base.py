"""The step interface: typed options validated at load time, `run(context)` at run time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from playbooks.context import StepContext


class StepOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
