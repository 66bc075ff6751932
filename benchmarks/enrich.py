"""Throughput of the full enrichment stage vs a snownlp-only pipeline, measured in the same run.

    python benchmarks/enrich.py [--n 50000] [--repeats 3]

Mentions come from the shipped replay scenarios (Weibo-style posts with brand names, copies,
complaints and praise). Ours runs every step (PII, brands, near-dups, sentiment, complaint,
influence) in batches of 1,000; the baseline runs snownlp's sentiment alone, one post at a time,
on a sample (it is ~100x slower), and is reported per second. Medians and ratios, not one time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.replay import load_scenario  # noqa: E402
from crisiswatch.config import parse_config  # noqa: E402
from crisiswatch.mention import Mention  # noqa: E402
from monitor.enrich import Enricher  # noqa: E402


def mentions(n: int) -> list[Mention]:
    posts = load_scenario("logistics_crisis").posts + load_scenario("quiet").posts
    rng = random.Random(7)
    out = []
    for i in range(n):
        p = posts[i % len(posts)]
        text = p.text if i < len(posts) else f"{p.text}{rng.choice(['', '！', ' 转发微博', '#极光优选#', '?'])}"
        out.append(Mention(source="weibo", native_id=f"b{i}", text=text, created_at=p.created_at,
                           brands=["aurora"], author={"id": p.author.id, "name": p.author.name,
                                                      "followers": p.author.followers},
                           engagement={"reposts": p.reposts, "comments": p.comments, "likes": p.likes}))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--snownlp-sample", type=int, default=1_000)
    args = ap.parse_args(argv)
    config = parse_config({"brands": [{"key": "aurora", "names": ["极光优选", "极光"]}]})
    data = mentions(args.n)

    ours = []
    for _ in range(args.repeats):
        batch = [m.model_copy(deep=True) for m in data]
        enricher = Enricher.from_config(config)  # fresh near-dup index each run
        start = time.perf_counter()
        for i in range(0, len(batch), 1000):
            enricher.enrich(batch[i:i + 1000])
        ours.append(len(batch) / (time.perf_counter() - start))

    from snownlp import SnowNLP

    sample = [m.text for m in data[: args.snownlp_sample]]
    base = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for text in sample:
            _ = SnowNLP(text).sentiments
        base.append(len(sample) / (time.perf_counter() - start))

    o, b = statistics.median(ours), statistics.median(base)
    print(f"enrichment throughput, {args.n:,} mentions, median of {args.repeats}")
    print(f"{'pipeline':<34}{'mentions/s':>12}{'vs snownlp':>12}")
    print(f"{'crisiswatch (all 6 steps)':<34}{o:>12,.0f}{o / b:>11.1f}x")
    print(f"{'snownlp sentiment only':<34}{b:>12,.0f}{1:>11.1f}x   (on {len(sample):,} posts)")
    print(f"target >= 5,000 mentions/s: {'met' if o >= 5000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
