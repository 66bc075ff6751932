"""The detector interface: small rule classes fed one time bucket per key, in time order.

Like ElastAlert's RuleType, but rules only decide: they never query, send or mutate config.
Their state is a plain dict so the run loop can persist it and survive restarts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

Level = Literal["warning", "critical"]


def floor_time(value: datetime, minutes: int) -> datetime:
    """The start of the `minutes`-long bucket (aligned to the epoch) that holds `value`."""
    step = minutes * 60
    return datetime.fromtimestamp(int(value.timestamp()) // step * step, UTC)


@dataclass(frozen=True)
class Observation:
    """Counts of one key (e.g. one brand) in one time bucket."""

    start: datetime
    minutes: int
    key: str
    brand: str
    total: int
    negative: int
    dimension: str = "brand"  # what the key splits by: brand, brand/category, brand/source, source
    terms: Mapping[str, int] | None = None  # posts using each term (only for rules that ask for terms)
    term_posts: int | None = None  # the posts `terms` counts from (an author's repeated copies left out); None: total
    # sources of this key known not to be collecting in this bucket (crawls failing, flatlined): its counts are
    # short by their posts, so baselines do not learn from it (rules still decide on it)
    uncollected: tuple[str, ...] = ()


@dataclass
class Signal:
    """A rule's verdict that a bucket is abnormal, with the numbers that decided it."""

    rule: str
    key: str
    brand: str
    level: Level
    at: datetime
    value: float
    baseline: float
    p_value: float
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)


class Rule(ABC):
    name: ClassVar[str]
    # Which observations the rule is fed (the service only gathers what some enabled rule needs).
    dimensions: ClassVar[tuple[str, ...]] = ("brand",)
    needs_terms: ClassVar[bool] = False
    zone: str = "UTC"  # the team's time zone (alerts.timezone), for the clock times in summaries; set by build_rules

    def set_zone(self, zone: str) -> None:
        """The team's time zone: clock times in summaries, and the weekday of seasonal baselines."""
        self.zone = zone

    @abstractmethod
    def observe(self, obs: Observation) -> Signal | None:
        """Decide on this bucket using only this and earlier buckets (online)."""

    def observe_all(self, obs: Observation) -> list[Signal]:
        """Every signal for this bucket; rules that can fire on several sub-keys at once override it."""
        signal = self.observe(obs)
        return [signal] if signal is not None else []

    @abstractmethod
    def state(self) -> dict[str, Any]: ...

    @abstractmethod
    def restore(self, state: dict[str, Any]) -> None: ...
