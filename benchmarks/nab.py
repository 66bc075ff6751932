"""NAB (Numenta Anomaly Benchmark v1.1) rules: the corpus, per-row weights, the threshold sweep.

Follows NAB's `nab/sweeper.py` (per-row sweep scores, threshold sweep) and its runner's normalisation:
- the first min(floor(0.15 n), 750) rows of each series are probationary and never scored;
- a row inside a window is worth tpWeight * scaledSigmoid(-(right - i + 1) / width) / scaledSigmoid(-1)
  and only the best (earliest) detection of a window counts; an undetected window costs fnWeight;
- a detection outside windows costs fpWeight * scaledSigmoid(|prevRight - i| / (prevWidth - 1)),
  or the full fpWeight when no window came before it;
- a row is a detection when anomaly_score >= threshold; the threshold is optimised per detector and
  profile over all series together;
- normalised = 100 (raw - null) / (perfect - null) with null = -fnWeight * windows (never fires) and
  perfect = tpWeight * windows, both summed over the series scored together.

The sweep is vectorised (numpy), so one threshold optimisation over all 53 series takes milliseconds:
the nested cross-validation in `nab_score.py` runs thousands of them.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
FAMILIES = ("realTweets", "realKnownCause", "realAWSCloudwatch", "realAdExchange", "realTraffic",
            "artificialWithAnomaly", "artificialNoAnomaly")
PROBATION_PERCENT = 0.15

# Sentinel window ids in the per-row window column.
OUTSIDE = -1
PROBATION = -2


def probationary_length(n_rows: int) -> int:
    """Rows at the start of a series that NAB never scores."""
    return int(min(math.floor(PROBATION_PERCENT * n_rows), PROBATION_PERCENT * 5000))


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: -1 (left window edge) -> 0.987, 0 (right edge) -> 0, >= 3 -> -1."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position >= 3.0, -1.0, out)


@dataclass
class SweepRows:
    """Per-row NAB data for one series: weighted score if detected, and the window id (or sentinel)."""

    weighted: np.ndarray
    window: np.ndarray


def sweep_rows(n_rows: int, windows: list[tuple[int, int]], cost: dict[str, float]) -> SweepRows:
    """Per-row sweep scores (NAB `Sweeper.calcSweepScore`) for windows given as inclusive row spans."""
    i = np.arange(n_rows)
    window = np.full(n_rows, OUTSIDE, dtype=np.int64)
    position = np.full(n_rows, 3.0)  # outside, before any window: the full fpWeight
    inside = np.zeros(n_rows, dtype=bool)
    spans = sorted(windows)
    for k, (left, right) in enumerate(spans):
        width = float(right - left + 1)
        window[left : right + 1] = k
        inside[left : right + 1] = True
        position[left : right + 1] = -(right - i[left : right + 1] + 1) / width
        end = spans[k + 1][0] if k + 1 < len(spans) else n_rows
        position[right + 1 : end] = np.abs(right - i[right + 1 : end]) / (width - 1.0)
    sig = _scaled_sigmoid(position)
    weighted = np.where(inside, sig * cost["tpWeight"] / scaled_sigmoid(-1.0), sig * cost["fpWeight"])
    window[: probationary_length(n_rows)] = PROBATION
    return SweepRows(weighted, window)


@dataclass
class ThresholdTable:
    """Raw score, true and false detection rows at every distinct threshold, highest threshold first.

    The first entry (threshold 1.1 for scores in [0, 1]) is the never-firing detector."""

    thresholds: np.ndarray
    scores: np.ndarray
    tp: np.ndarray
    fp: np.ndarray

    def best(self) -> int:
        """Index of the best threshold (the highest among equal scores, as NAB's optimiser)."""
        return int(np.argmax(self.scores))


def threshold_table(series: list[tuple[SweepRows, np.ndarray]], cost: dict[str, float]) -> ThresholdTable:
    """Raw score at every distinct threshold (NAB `calcScoreByThreshold`), over several series at once.

    Each entry's threshold T counts every row with anomaly_score >= T as a detection."""
    scores, weights, keys = [], [], []
    n_windows = 0
    for s, (sweep, anomaly) in enumerate(series):
        anomaly = np.asarray(anomaly, dtype=float)
        if len(anomaly) != len(sweep.weighted):
            raise ValueError("anomaly scores and rows differ in length")
        scored = sweep.window != PROBATION
        win = sweep.window[scored]
        n_windows += len(np.unique(win[win >= 0]))
        scores.append(anomaly[scored])
        weights.append(sweep.weighted[scored])
        keys.append(np.where(win >= 0, s * 1_000_000 + win, -1))
    a, w, key = np.concatenate(scores), np.concatenate(weights), np.concatenate(keys)
    order = np.argsort(-a, kind="stable")
    a, w, key = a[order], w[order], key[order]
    is_fp = key < 0
    fp_sum = np.cumsum(np.where(is_fp, w, 0.0))
    # Inside windows only the best detection counts: per window, the running best weight as the
    # threshold falls; each row adds what it improves on the window's best so far (first: + fnWeight).
    rows = np.flatnonzero(~is_fp)
    by_window = rows[np.argsort(key[rows], kind="stable")]
    wk = key[by_window]
    group = np.cumsum(np.r_[True, wk[1:] != wk[:-1]]) if len(wk) else wk
    best = np.maximum.accumulate(w[by_window] + 10.0 * group) - 10.0 * group  # weights lie in (0, 1]
    before = np.r_[-cost["fnWeight"], best[:-1]] if len(best) else best
    if len(best):
        before[np.r_[True, wk[1:] != wk[:-1]]] = -cost["fnWeight"]
    gain = np.zeros(len(a))
    gain[by_window] = best - before
    total = -n_windows * cost["fnWeight"] + np.cumsum(gain) + fp_sum
    last = np.r_[a[1:] != a[:-1], True]  # a threshold's score counts every row with a score >= it
    tp = np.cumsum(~is_fp)[last]
    fp = np.cumsum(is_fp)[last]
    base = -n_windows * cost["fnWeight"]
    return ThresholdTable(np.r_[1.1, a[last]], np.r_[base, total[last]], np.r_[0, tp], np.r_[0, fp])


def normalised(raw: float, n_windows: int, cost: dict[str, float]) -> float:
    null = -n_windows * cost["fnWeight"]
    perfect = n_windows * cost["tpWeight"]
    if perfect == null:  # no windows at all (artificialNoAnomaly): only false alarms, no scale
        return math.nan
    return 100.0 * (raw - null) / (perfect - null)


def optimise(series: list[tuple[SweepRows, np.ndarray]], cost: dict[str, float], n_windows: int):
    """(normalised score, threshold, index in the table, table) at the best threshold over all series."""
    table = threshold_table(series, cost)
    k = table.best()
    return normalised(float(table.scores[k]), n_windows, cost), float(table.thresholds[k]), k, table


def raw_at_threshold(sweep: SweepRows, anomaly: np.ndarray, cost: dict[str, float], threshold: float) -> float:
    """Raw NAB score of one series at a fixed threshold (for held-out evaluation)."""
    anomaly = np.asarray(anomaly, dtype=float)
    hit = (anomaly >= threshold) & (sweep.window != PROBATION)
    fp = float(sweep.weighted[hit & (sweep.window == OUTSIDE)].sum())
    windows = np.unique(sweep.window[sweep.window >= 0])
    tp = 0.0
    for k in windows:
        rows = hit & (sweep.window == k)
        tp += float(sweep.weighted[rows].max()) if rows.any() else -cost["fnWeight"]
    return tp + fp


# --------------------------------------------------------------------------- the corpus


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def read_series(path: Path) -> tuple[list[datetime], list[float]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [_parse_ts(r["timestamp"]) for r in rows], [float(r["value"]) for r in rows]


def window_spans(timestamps: list[datetime], limits: list[list[str]]) -> list[tuple[int, int]]:
    """Window limits (timestamps) to inclusive row spans; NAB matches them to rows exactly."""
    index = {t: i for i, t in enumerate(timestamps)}
    spans = []
    for start, end in limits:
        a, b = index.get(_parse_ts(start)), index.get(_parse_ts(end))
        if a is None or b is None:
            raise ValueError(f"window {start}..{end} does not start/end on a row")
        spans.append((a, b))
    return spans


@dataclass
class Series:
    key: str  # <family>/<file>, as in windows.json
    timestamps: list[datetime]
    values: list[float]
    spans: list[tuple[int, int]]

    @property
    def family(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1].removesuffix(".csv")


@dataclass
class Corpus:
    series: list[Series]
    profiles: dict[str, dict[str, float]]

    def __post_init__(self) -> None:
        self._sweeps = {p: [sweep_rows(len(s.values), s.spans, c) for s in self.series]
                        for p, c in self.profiles.items()}

    def sweeps(self, profile: str) -> list[SweepRows]:
        return self._sweeps[profile]

    def n_windows(self, which: list[int] | None = None) -> int:
        idx = range(len(self.series)) if which is None else which
        return sum(len(self.series[i].spans) for i in idx)

    def indices(self, family: str | None = None) -> list[int]:
        return [i for i, s in enumerate(self.series) if family is None or s.family == family]


def load_corpus(nab: Path, families: tuple[str, ...] = FAMILIES) -> Corpus:
    """Every series of these families that windows.json lists and the directory holds."""
    windows = json.loads((nab / "windows.json").read_text())
    profiles = {k: v["CostMatrix"] for k, v in json.loads((nab / "profiles.json").read_text()).items()}
    series = []
    for key in sorted(windows):
        if key.split("/", 1)[0] in families and (nab / key).exists():
            ts, vs = read_series(nab / key)
            series.append(Series(key, ts, vs, window_spans(ts, windows[key])))
    return Corpus(series, profiles)
