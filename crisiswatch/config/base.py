"""What every config section shares: strict models and readable durations."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[dhms])+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_duration(text: str) -> timedelta:
    """'4h', '90m', '1d12h', '30s' -> timedelta; the unit keeps SLA tables and scenarios readable."""
    value = str(text).replace(" ", "")
    if not _DURATION.match(value):
        raise ValueError(f"bad duration {text!r} (use e.g. 30m, 4h, 3d, 1h30m)")
    unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(float(n) * unit[u] for n, u in _DURATION_PART.findall(value)))
