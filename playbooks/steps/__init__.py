"""Step types, keyed by the YAML `type:`; each module holds one step class."""

from playbooks.steps.assign import AssignStep
from playbooks.steps.base import Step, StepResult
from playbooks.steps.close_when import CloseWhenStep
from playbooks.steps.draft_statement import DraftStatementStep
from playbooks.steps.escalate_if import EscalateIfStep
from playbooks.steps.notify import NotifyStep
from playbooks.steps.open_ticket import OpenTicketStep
from playbooks.steps.page import PageStep
from playbooks.steps.sla import SlaStep
from playbooks.steps.task import TaskStep
from playbooks.steps.wait import WaitStep

STEP_TYPES: dict[str, type[Step]] = {cls.type: cls for cls in (
    OpenTicketStep, NotifyStep, AssignStep, SlaStep, PageStep, DraftStatementStep, TaskStep, WaitStep,
    EscalateIfStep, CloseWhenStep,
)}

__all__ = ["STEP_TYPES", "Step", "StepResult"]
