#!/usr/bin/env python3
"""Throughput of each anomaly detector (points per second on one core) against a simple baseline.

Scores a synthetic 5-minute mention-count series (daily rhythm, Poisson-like noise, occasional
bursts) through the public `score_series` path, which calls the streaming `update` once per point.
Rates are CPU time of this process (the machine is shared; wall time would measure the neighbours),
reported as points/s and as a ratio against the baseline measured in the same run: a rolling z-score
(mean and deviation of the last day by EWMA), about the least a streaming detector can do per point.
The target is 100,000 points/s per detector.

Usage: benchmarks/detect.py [--points 500000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.detectors.anomaly import DETECTORS, score_series  # noqa: E402

TARGET = 100_000


def synthetic(n: int, seed: int = 7) -> tuple[list[datetime], list[float]]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1)
    step = timedelta(minutes=5)
    ts, vs = [], []
    burst = 0.0
    for i in range(n):
        daily = 40.0 * (1.0 + 0.6 * math.sin(2 * math.pi * i / 288))
        if rng.random() < 1e-3:
            burst = rng.uniform(5, 50) * daily
        burst *= 0.9
        lam = daily + burst
        # Normal approximation of a Poisson count: fast and good enough for timing.
        vs.append(max(0.0, round(rng.gauss(lam, math.sqrt(lam)))))
        ts.append(start + i * step)
    return ts, vs


def rolling_z(timestamps: list[datetime], values: list[float]) -> list[float]:
    """The baseline: |z| of each value against an EWMA mean and variance (one day), squashed to [0, 1)."""
    alpha = 1.0 / 288.0
    mean, var, out = values[0], 1.0, []
    for _, v in zip(timestamps, values, strict=True):
        d = v - mean
        z = abs(d) / math.sqrt(var) if var > 0.0 else 0.0
        out.append(z / (z + 1.0))
        mean += alpha * d
        var += alpha * (d * d - var)
    return out


def cpu_rate(fn, ts: list[datetime], vs: list[float], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn(ts, vs)
        times.append(time.process_time() - t0)
    return len(vs) / statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    ts, vs = synthetic(args.points)
    base = cpu_rate(rolling_z, ts, vs, args.repeats)
    print(f"{args.points:,} synthetic points, median of {args.repeats} runs, CPU time of one process")
    print(f"{'detector':<22}{'points/s':>12}{'x baseline':>12}{'x target (100k/s)':>20}")
    print(f"{'rolling z (baseline)':<22}{base:>12,.0f}{1.0:>12.2f}{base / TARGET:>20.2f}")
    for name in DETECTORS:
        rate = cpu_rate(lambda t, v, n=name: score_series(t, v, n), ts, vs, args.repeats)
        print(f"{name:<22}{rate:>12,.0f}{rate / base:>12.2f}{rate / TARGET:>20.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
