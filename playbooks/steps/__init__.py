"""Step types, keyed by the YAML `type:`; each module holds one step class."""

from playbooks.steps.base import Step, StepResult
from playbooks.steps.notify import NotifyStep
from playbooks.steps.open_ticket import OpenTicketStep

STEP_TYPES: dict[str, type[Step]] = {cls.type: cls for cls in (OpenTicketStep, NotifyStep)}

__all__ = ["STEP_TYPES", "Step", "StepResult"]
