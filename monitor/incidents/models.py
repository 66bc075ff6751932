"""The incident record and its table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crisiswatch.mention import severity_rank

OPEN, RESOLVED = "open", "resolved"
LEVEL_RANK = {"warning": 1, "critical": 2}  # a signal at a higher level escalates its incident
_LEVEL_GRADE = {"warning": "重要", "critical": "紧急"}


@dataclass
class Incident:
    id: int
    key: str
    rule: str
    brand: str
    level: str
    status: str
    opened_at: datetime
    updated_at: datetime
    last_fired_at: datetime
    resolved_at: datetime | None
    peak_value: float
    baseline: float
    signals: int
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)
    acked_by: str | None = None
    acked_at: datetime | None = None
    muted_until: datetime | None = None
    version: int = 1

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def dismissed(self) -> dict[str, Any] | None:
        """Who dismissed it as a false alarm (误报), when and why; None for an incident that was not."""
        return self.facts.get("dismissed")

    @property
    def label(self) -> str:
        return f"INC-{self.id}"

    @property
    def severity(self) -> str:
        """The grade of the incident: its level's grade, raised to the gravest post behind it."""
        return incident_severity(self)


def incident_severity(incident: Incident) -> str:
    """The grade of an incident: its level's grade, raised to the gravest post behind it."""
    grade = _LEVEL_GRADE.get(incident.level, "一般")
    for post in incident.facts.get("top_posts", []):
        if severity_rank(post.get("severity")) > severity_rank(grade):
            grade = post["severity"]
    return grade


@dataclass(frozen=True)
class IncidentChange:
    """What a signal did: opened a new incident, updated an open one, or resolved one."""

    kind: str  # "opened" | "updated" | "escalated" | "reopened" | "resolved" | "suppressed"
    incident: Incident
    note: str = ""  # what a reopening (or suppressed) signal said (the incident's summary stays its peak's)
