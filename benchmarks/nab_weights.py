"""The thirteenth round's learned weights (docs/detection-rounds.md, R13-1): a weight per statistic and side.

Learning a weight means scoring the corpus once per trial, hundreds of times per fold, so the detector is run
once per candidate with its evidence recorded (`EvidenceRecorder`: per row, the number of tests and the tail
probability of each statistic in a tail), and each trial replays the onset rule over that evidence with the
trial's weights (`replay`). The replay is checked against the detector itself before its figures are used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from nab import Corpus, optimise

from monitor.detectors.auto import looks_like_counts
from monitor.detectors.surge import STATISTICS, SurgeScorer, SurgeSettings, epoch_seconds, surprise

K = len(STATISTICS)
GRID = (0.8, 0.9, 1.0, 1.1, 1.25)
SWEEPS = 2


class EvidenceRecorder(SurgeScorer):
    """The surge detector, keeping each row's evidence: (tests, tails), or None where nothing was tested."""

    def __init__(self, settings: SurgeSettings) -> None:
        super().__init__(settings)
        self.evidence: list[tuple[int, list[tuple[float, int, str]]] | None] = []

    def update_seconds(self, t: float, value: float) -> float:
        self.evidence.append(None)
        return super().update_seconds(t, value)

    def _strongest(self, tests: int, tails: list[tuple[float, int, str]]) -> tuple[float, float, int, str]:
        self.evidence[-1] = (tests, list(tails))
        return super()._strongest(tests, tails)


@dataclass
class Evidence:
    """One series' recorded evidence: the rows that were tested, and each statistic's unweighted S there."""

    n_rows: int
    index: np.ndarray  # positions of the tested rows in the series
    t: np.ndarray  # their epoch seconds
    S: np.ndarray  # tested rows x (2 K): S of each statistic and side in a tail, 0 elsewhere
    first: float  # epoch seconds of the series' first row


def record(timestamps: list[datetime], values: list[float], candidate: str) -> Evidence:
    """Run `candidate` ("surge" or "auto") over a series, keeping its evidence. Auto's choice is made as
    `AutoScorer` makes it: on the first `quiet_hours` of rows, counts read by surge, anything else by change."""
    settings = SurgeSettings()
    t = [epoch_seconds(x) for x in timestamps]
    sides = "up"
    if candidate == "auto":
        day = [v for x, v in zip(t, values, strict=True) if x - t[0] < settings.quiet_hours * 3600.0]
        sides = "up" if looks_like_counts(day) else "both"
    scorer = EvidenceRecorder(replace(settings, sides=sides))
    for x, v in zip(t, values, strict=True):
        scorer.update_seconds(x, v)
    tested = [(j, ev) for j, ev in enumerate(scorer.evidence) if ev is not None]
    S = np.zeros((len(tested), 2 * K))
    for row, (_, (tests, tails)) in enumerate(tested):
        for q, i, side in tails:
            S[row, i if side == "up" else K + i] = surprise(min(1.0, q * tests))
    index = np.array([j for j, _ in tested], dtype=int)
    return Evidence(len(t), index, np.array(t)[index] if len(index) else np.zeros(0), S, t[0])


def replay(ev: Evidence, weights: np.ndarray) -> np.ndarray:
    """The detector's per-row scores with these weights, from its evidence (`SurgeScorer._report`'s onset
    rule over the weighted S of each tested row)."""
    s = SurgeSettings()
    out = np.zeros(ev.n_rows)
    if not len(ev.t):
        return out
    combined = (ev.S * weights).max(axis=1)
    episode, below = 0.0, None
    rest, quiet = s.rest_hours * 3600.0, s.quiet_hours * 3600.0
    for j, t, S in zip(ev.index.tolist(), ev.t.tolist(), combined.tolist(), strict=True):
        if S < s.floor:
            if below is None:
                below = t
            elif t - below >= rest:
                episode = 0.0
            continue
        below = None
        if S <= s.ladder * episode or t - ev.first < quiet:
            continue
        episode = S
        out[j] = S / (S + 1.0)
    return out


def learn(corpus: Corpus, evidence: list[Evidence], train: list[int]) -> np.ndarray:
    """R13-1's weights on the training series: coordinate ascent from all ones over GRID, the up sides in
    STATISTICS order then the down sides, at most SWEEPS sweeps, a change kept only if it raises the
    normalised standard score at the optimised threshold."""
    cost = corpus.profiles["standard"]
    sweeps = corpus.sweeps("standard")
    n_windows = corpus.n_windows(train)

    def value(w: np.ndarray) -> float:
        series = [(sweeps[i], replay(evidence[i], w)) for i in train]
        return optimise(series, cost, n_windows)[0]

    weights = np.ones(2 * K)
    best = value(weights)
    for _ in range(SWEEPS):
        changed = False
        for k in range(2 * K):
            for g in GRID:
                if g == weights[k]:
                    continue
                trial = weights.copy()
                trial[k] = g
                v = value(trial)
                if v > best + 1e-9:
                    best, weights, changed = v, trial, True
        if not changed:
            break
    return weights


def as_settings(weights: np.ndarray) -> SurgeSettings:
    return SurgeSettings(weights=tuple(float(w) for w in weights))

