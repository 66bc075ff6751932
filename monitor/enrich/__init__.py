"""Enrichment: every mention passes through an ordered list of steps configured by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from crisiswatch.config import Config
from crisiswatch.mention import Mention
from monitor.enrich.steps import STEPS, EnrichStep

DEFAULT_STEPS = ("pii", "brands", "neardup", "sentiment", "complaint", "influence")


class Enricher:
    def __init__(self, steps: Sequence[EnrichStep]) -> None:
        self.steps = list(steps)

    @classmethod
    def from_config(cls, config: Config, names: Sequence[str] = DEFAULT_STEPS) -> Enricher:
        factories: list[Callable[[Config], EnrichStep]] = []
        for name in names:
            if name not in STEPS:
                raise ValueError(f"unknown enrichment step {name!r}; known: {', '.join(STEPS)}")
            factories.append(STEPS[name])
        return cls([factory(config) for factory in factories])

    def enrich(self, mentions: list[Mention]) -> list[Mention]:
        """Enrich in place (batched: the sentiment model is vectorised) and return the list."""
        for step in self.steps:
            step(mentions)
        return mentions


__all__ = ["DEFAULT_STEPS", "Enricher", "EnrichStep"]
