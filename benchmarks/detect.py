#!/usr/bin/env python3
"""Throughput of each anomaly detector (points per second, one core), against the 100k/s target.

Scores a synthetic 5-minute mention-count series (daily rhythm, Poisson noise, occasional bursts)
through the public `score_series` path, which calls the streaming `update` once per point.

Usage: benchmarks/detect.py [--points 1000000] [--repeats 3]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    ts, vs = synthetic(args.points)
    print(f"{args.points:,} synthetic points, median of {args.repeats} runs")
    print(f"{'detector':<12}{'points/s':>14}{'x target (100k/s)':>20}")
    for name in DETECTORS:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            score_series(ts, vs, name)
            times.append(time.perf_counter() - t0)
        rate = args.points / statistics.median(times)
        print(f"{name:<12}{rate:>14,.0f}{rate / TARGET:>20.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
