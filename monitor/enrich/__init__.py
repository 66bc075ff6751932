"""Enrichment: every mention passes through an ordered list of steps configured by name."""

from __future__ import annotations

from collections.abc import Sequence

from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.mention import Mention
from monitor.enrich.steps import STEPS, EnrichStep

DEFAULT_STEPS = ("pii", "brands", "neardup", "language", "sentiment", "complaint", "influence")


class Enricher:
    def __init__(self, steps: Sequence[EnrichStep]) -> None:
        self.steps = list(steps)

    @classmethod
    def from_config(cls, config: Config, names: Sequence[str] = DEFAULT_STEPS,
                    state: StateConnection | None = None) -> Enricher:
        """Steps by name; `state` (the state database) lets steps such as near-dups persist."""
        unknown = [n for n in names if n not in STEPS]
        if unknown:
            raise ValueError(f"unknown enrichment step {unknown[0]!r}; known: {', '.join(STEPS)}")
        return cls([STEPS[name](config, state) for name in names])

    def enrich(self, mentions: list[Mention]) -> list[Mention]:
        """Enrich in place (batched: the sentiment model is vectorised) and return the list."""
        for step in self.steps:
            step(mentions)
        return mentions


__all__ = ["DEFAULT_STEPS", "Enricher", "EnrichStep"]
