#!/usr/bin/env python3
"""NAB scoring (Numenta Anomaly Benchmark v1.1 rules) for the realTweets series, and our detectors on it.

Follows NAB's `nab/sweeper.py` (per-row sweep scores, threshold sweep) and its runner's normalisation:
- the first min(floor(0.15 n), 750) rows of each series are probationary and never scored;
- a row inside a window is worth tpWeight * scaledSigmoid(-(right - i + 1) / width) / scaledSigmoid(-1)
  and only the best (earliest) detection of a window counts; an undetected window costs fnWeight;
- a detection outside windows costs fpWeight * scaledSigmoid(|prevRight - i| / (prevWidth - 1)),
  or the full fpWeight when no window came before it;
- a row is a detection when anomaly_score >= threshold; the threshold is optimised per detector and
  profile over all series together;
- normalised = 100 (raw - null) / (perfect - null) with null = -fnWeight * windows (never fires) and
  perfect = tpWeight * windows.

Usage: benchmarks/nab_score.py [--nab ../shared/data/nab] [--detector NAME]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SERIES = ("AAPL", "AMZN", "CRM", "CVS", "FB")
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
PUBLISHED_STANDARD = {
    "ARTime": 88.1,
    "earthgecko_skyline": 77.8,
    "contextOSE": 76.0,
    "numenta": 67.4,
    "twitterADVec": 66.0,
    "windowedGaussian": 64.8,
}
PROBATION_PERCENT = 0.15
PROBATION_CAP = 750  # NAB: probationPercent * 5000

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


@dataclass
class SweepRows:
    """Per-row NAB data for one series: weighted score if detected, and the window id (or sentinel)."""

    weighted: list[float]
    window: list[int]


def sweep_rows(n_rows: int, windows: list[tuple[int, int]], cost: dict[str, float]) -> SweepRows:
    """Per-row sweep scores (NAB `Sweeper.calcSweepScore`) for windows given as inclusive row spans."""
    max_tp = scaled_sigmoid(-1.0)
    probation = probationary_length(n_rows)
    weighted: list[float] = []
    window_of: list[int] = []
    spans = sorted(windows)
    k = 0
    cur: int | None = None
    prev_right: int | None = None
    prev_width = 0.0
    for i in range(n_rows):
        if cur is None and k < len(spans) and i == spans[k][0]:
            cur = k
            k += 1
        if cur is not None:
            left, right = spans[cur]
            width = float(right - left + 1)
            score = scaled_sigmoid(-(right - i + 1) / width) * cost["tpWeight"] / max_tp
            win = cur
        else:
            position = 3.0 if prev_right is None else abs(prev_right - i) / (prev_width - 1.0)
            score = scaled_sigmoid(position) * cost["fpWeight"]
            win = OUTSIDE
        weighted.append(score)
        window_of.append(win if i >= probation else PROBATION)
        if cur is not None and i == spans[cur][1]:
            prev_right, prev_width = i, float(spans[cur][1] - spans[cur][0] + 1)
            cur = None
    return SweepRows(weighted, window_of)


@dataclass
class ThresholdScore:
    threshold: float
    score: float
    tp: int
    fp: int


def scores_by_threshold(
    series: list[tuple[SweepRows, list[float]]], cost: dict[str, float]
) -> list[ThresholdScore]:
    """Raw score at every distinct threshold (NAB `calcScoreByThreshold`), over several series at once.

    Each entry's threshold T counts every row with anomaly_score >= T as a detection; the first entry
    (T = 1.1) is the never-firing detector.
    """
    rows: list[tuple[float, float, tuple[int, int] | None]] = []
    n_windows = 0
    for s, (sweep, anomaly) in enumerate(series):
        if len(anomaly) != len(sweep.weighted):
            raise ValueError("anomaly scores and rows differ in length")
        seen = set()
        for a, w, win in zip(anomaly, sweep.weighted, sweep.window, strict=True):
            if win == PROBATION:
                continue
            if win >= 0:
                seen.add(win)
            rows.append((a, w, (s, win) if win >= 0 else None))
        n_windows += len(seen)
    rows.sort(key=lambda r: r[0], reverse=True)
    best: dict[tuple[int, int], float] = {}
    fp_sum = 0.0
    tp = fp = 0
    window_sum = 0.0  # sum over detected windows of their best weighted score
    base = -n_windows * cost["fnWeight"]
    out: list[ThresholdScore] = []
    cur = 1.1
    for a, w, key in rows:
        if a != cur:
            out.append(ThresholdScore(cur, base + window_sum + fp_sum, tp, fp))
            cur = a
        if key is None:
            fp += 1
            fp_sum += w
        else:
            tp += 1
            old = best.get(key)
            if old is None:
                best[key] = w
                window_sum += w + cost["fnWeight"]
            elif w > old:
                best[key] = w
                window_sum += w - old
    out.append(ThresholdScore(cur, base + window_sum + fp_sum, tp, fp))
    return out


def normalised(raw: float, n_windows: int, cost: dict[str, float]) -> float:
    null = -n_windows * cost["fnWeight"]
    perfect = n_windows * cost["tpWeight"]
    return 100.0 * (raw - null) / (perfect - null)


def optimise(series: list[tuple[SweepRows, list[float]]], cost: dict[str, float], n_windows: int) -> tuple:
    """(normalised score, threshold, ThresholdScore) at the best threshold over all series together."""
    best = max(scores_by_threshold(series, cost), key=lambda t: t.score)
    return normalised(best.score, n_windows, cost), best.threshold, best


# --------------------------------------------------------------------------- data loading


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
class Corpus:
    names: list[str]
    timestamps: list[list[datetime]]
    values: list[list[float]]
    spans: list[list[tuple[int, int]]]
    profiles: dict[str, dict[str, float]]

    @property
    def n_windows(self) -> int:
        return sum(len(s) for s in self.spans)

    def sweeps(self, profile: str) -> list[SweepRows]:
        cost = self.profiles[profile]
        return [sweep_rows(len(t), sp, cost) for t, sp in zip(self.timestamps, self.spans, strict=True)]


def load_corpus(nab: Path) -> Corpus:
    windows = json.loads((nab / "windows.json").read_text())
    profiles = {k: v["CostMatrix"] for k, v in json.loads((nab / "profiles.json").read_text()).items()}
    names, tss, vals, spans = [], [], [], []
    for sym in SERIES:
        key = f"realTweets/Twitter_volume_{sym}.csv"
        ts, vs = read_series(nab / key)
        names.append(sym)
        tss.append(ts)
        vals.append(vs)
        spans.append(window_spans(ts, windows[key]))
    return Corpus(names, tss, vals, spans, profiles)


def read_published(nab: Path, detector: str, corpus: Corpus) -> tuple[list[list[float]], dict[str, list]]:
    """Published anomaly scores of one detector, and its per-row S(t)_<profile> columns."""
    scores, columns = [], {p: [] for p in PROFILES}
    for sym, ts in zip(corpus.names, corpus.timestamps, strict=True):
        path = nab / "published_results" / detector / f"{detector}_Twitter_volume_{sym}.csv"
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if len(rows) != len(ts):
            raise ValueError(f"{path}: {len(rows)} rows, data has {len(ts)}")
        scores.append([float(r["anomaly_score"]) for r in rows])
        for p in PROFILES:
            columns[p].append([float(r[f"S(t)_{p}"]) for r in rows])
    return scores, columns


def evaluate(corpus: Corpus, anomaly: list[list[float]], profiles=PROFILES) -> dict[str, tuple]:
    out = {}
    for p in profiles:
        series = list(zip(corpus.sweeps(p), anomaly, strict=True))
        out[p] = optimise(series, corpus.profiles[p], corpus.n_windows)
    return out


def raw_at_threshold(sweep: SweepRows, anomaly: list[float], cost: dict[str, float], threshold: float) -> float:
    """Raw NAB score of one series at a fixed threshold (for held-out evaluation)."""
    best: dict[int, float] = {}
    fp_sum = 0.0
    for a, w, win in zip(anomaly, sweep.weighted, sweep.window, strict=True):
        if win == PROBATION or a < threshold:
            continue
        if win == OUTSIDE:
            fp_sum += w
        elif w > best.get(win, -math.inf):
            best[win] = w
    n_windows = len({w for w in sweep.window if w >= 0})
    return sum(best.values()) + fp_sum - (n_windows - len(best)) * cost["fnWeight"]


# Leave-one-series-out grid for the "surge" detector: a few principled values of its three
# suppression/onset knobs. Every setting is chosen on four series and scored on the fifth.
LOSO_GRID = {
    "floor": (2.5, 3.0, 4.0), "rearm_ratio": (2.0, 3.0, 4.0), "gate_ratio": (1.0, 1.3, 1.6), "spread_hours": (168, 336),
}


def leave_one_series_out(corpus: Corpus) -> dict[str, float]:
    """Normalised held-out score per profile: settings and threshold picked on the other series."""
    import itertools

    from monitor.detectors.surge import SurgeScorer, SurgeSettings

    keys = list(LOSO_GRID)
    configs = [dict(zip(keys, values, strict=True)) for values in itertools.product(*LOSO_GRID.values())]
    scored = []
    for cfg in configs:
        per_series = []
        for ts, vs in zip(corpus.timestamps, corpus.values, strict=True):
            update = SurgeScorer(SurgeSettings(**cfg)).update
            per_series.append([update(t, v) for t, v in zip(ts, vs, strict=True)])
        scored.append(per_series)
    out = {}
    for p in PROFILES:
        cost = corpus.profiles[p]
        sweeps = corpus.sweeps(p)
        total = 0.0
        for held in range(len(corpus.names)):
            train = [i for i in range(len(corpus.names)) if i != held]
            n_train = sum(len(corpus.spans[i]) for i in train)
            best = max(
                (optimise([(sweeps[i], an[i]) for i in train], cost, n_train)[:2] + (an,) for an in scored),
                key=lambda r: r[0],
            )
            total += raw_at_threshold(sweeps[held], best[2][held], cost, best[1])
        out[p] = normalised(total, corpus.n_windows, cost)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nab", default=str(Path(__file__).resolve().parents[1] / "../shared/data/nab"))
    parser.add_argument("--detector", default="all", help="our detector name, or 'all' (default)")
    parser.add_argument("--loso", action="store_true", help="also leave-one-series-out scores of 'surge'")
    args = parser.parse_args(argv)
    nab = Path(args.nab)
    corpus = load_corpus(nab)

    print("Reproduction of NAB's published scores (threshold optimised over the 5 realTweets series)")
    print(
        f"{'detector':<14}{'standard':>10}{'published':>11}{'low_FP':>9}{'low_FN':>9}{'threshold':>11}"
        f"{'S(t) max |diff|':>17}"
    )
    published_dir = nab / "published_results"
    for det in sorted(d.name for d in published_dir.iterdir() if d.is_dir()):
        scores, columns = read_published(nab, det, corpus)
        res = evaluate(corpus, scores)
        # Newer NAB result files carry the sweep score of every row; older ones only detections'.
        diffs = [
            abs(a - b)
            for sw, col in zip(corpus.sweeps("standard"), columns["standard"], strict=True)
            for a, b in zip(sw.weighted, col, strict=True)
        ]
        full = all(col[0] != 0.0 for col in columns["standard"])
        diff = f"{max(diffs):.1g}" if full else "n/a (old fmt)"
        std = res["standard"]
        print(
            f"{det:<14}{std[0]:>10.1f}{PUBLISHED_STANDARD.get(det, float('nan')):>11.1f}"
            f"{res['reward_low_FP_rate'][0]:>9.1f}{res['reward_low_FN_rate'][0]:>9.1f}{std[1]:>11.4f}"
            f"{diff:>17}"
        )

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from monitor.detectors.anomaly import DEFAULT, DETECTORS, score_series

    names = list(DETECTORS) if args.detector == "all" else [args.detector]
    names = [DEFAULT if n == "default" else n for n in names]
    print()
    print("Our detectors (one setting for all series)")
    print(
        f"{'detector':<18}{'standard':>10}{'low_FP':>9}{'low_FN':>9}{'thr(std)':>10}{'TP rows':>9}"
        f"{'FP rows':>9}{'seconds':>9}"
    )
    for name in names:
        t0 = time.perf_counter()
        anomaly = [
            score_series(ts, vs, name) for ts, vs in zip(corpus.timestamps, corpus.values, strict=True)
        ]
        elapsed = time.perf_counter() - t0
        res = evaluate(corpus, anomaly)
        std = res["standard"]
        print(
            f"{name:<18}{std[0]:>10.1f}{res['reward_low_FP_rate'][0]:>9.1f}"
            f"{res['reward_low_FN_rate'][0]:>9.1f}{std[1]:>10.4f}{std[2].tp:>9}{std[2].fp:>9}{elapsed:>9.2f}"
        )
    print("published (standard): " + ", ".join(f"{k} {v}" for k, v in PUBLISHED_STANDARD.items()))
    if args.loso:
        grid = ", ".join(f"{k} {v}" for k, v in LOSO_GRID.items())
        print(f"\nsurge, leave-one-series-out (settings and threshold chosen on the other 4; grid: {grid})")
        res = leave_one_series_out(corpus)
        print(f"{'surge (LOSO)':<18}" + "".join(f"{res[p]:>9.1f}" for p in PROFILES) + "   (standard, low_FP, low_FN)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
