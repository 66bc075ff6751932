"""Throughput of the full enrichment stage vs a snownlp-only pipeline, measured in the same run.

    python benchmarks/enrich.py [--n 50000] [--repeats 3] [--texts ../shared/data/sentiment/weibo.csv ...]

Mentions come from the shipped replay scenarios (Weibo-style posts with brand names, copies,
complaints and praise), with one in ten replaced by an X post in English and one in fifty by one in
another language, so language identification and the English model are on the measured path. Ours
runs every step (PII, brands, near-dups, language, sentiment, complaint, influence) in batches of 1,000; the baseline runs snownlp's sentiment alone, one post at a time,
on a sample (it is ~100x slower), and is reported per second. Medians and ratios, not one time.
The mix repeats texts (copies with small suffixes, as reposts do), and the complaint step reads a text
repeated in a batch once; with --texts the mentions are the distinct texts of those CSV files instead
(their `review` column, Weibo-style mentions, no copies), the harder case.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.replay import load_scenario  # noqa: E402
from crisiswatch.config import parse_config  # noqa: E402
from crisiswatch.mention import Mention  # noqa: E402
from monitor.enrich import Enricher  # noqa: E402

# X posts written for this benchmark (templates, so copies are not all identical)
ENGLISH = [
    "My {p} from Aurora arrived broken and support has ignored me for a week. Never again.",
    "Honestly the new Aurora {p} is fantastic, best money I've spent this year",
    "Does anyone know if Aurora ships the {p} to Canada?",
    "@AuroraHelp I was charged twice for my {p} order, please refund the second payment",
    "Aurora's {p} keeps overheating after three days of use, is this a known defect?",
    "Just saw the Aurora {p} ad on the subway lol",
]
OTHER = ["Mi {p} de Aurora llegó roto y nadie responde", "Le {p} d'Aurora est arrivé cassé, service client muet",
         "Auroraの{p}、届いたら壊れていました"]
PRODUCTS = ["blender", "air fryer", "phone", "headphones", "vacuum"]


def mentions(n: int) -> list[Mention]:
    posts = load_scenario("logistics_crisis").posts + load_scenario("quiet").posts
    rng = random.Random(7)
    out = []
    for i in range(n):
        p = posts[i % len(posts)]
        text = p.text if i < len(posts) else f"{p.text}{rng.choice(['', '！', ' 转发微博', '#极光优选#', '?'])}"
        source = "weibo"
        if i % 10 == 5:
            text, source = rng.choice(ENGLISH).format(p=rng.choice(PRODUCTS)), "x"
        elif i % 50 == 7:
            text, source = rng.choice(OTHER).format(p=rng.choice(PRODUCTS)), "x"
        out.append(Mention(source=source, native_id=f"b{i}", text=text, created_at=p.created_at,
                           brands=["aurora"], author={"id": p.author.id, "name": p.author.name,
                                                      "followers": p.author.followers},
                           engagement={"reposts": p.reposts, "comments": p.comments, "likes": p.likes}))
    return out


def real_mentions(paths: list[Path], n: int) -> list[Mention]:
    """Up to `n` distinct texts of the given CSV files (their `review` column) as Weibo mentions."""
    texts: dict[str, None] = {}
    for path in paths:
        with open(path, encoding="utf-8", newline="") as fh:
            texts.update((row["review"].strip(), None) for row in csv.DictReader(fh) if row["review"].strip())
    now = datetime.now(UTC)
    return [Mention(source="weibo", native_id=f"r{i}", text=text, created_at=now, brands=["aurora"],
                    author={"id": str(i), "name": "用户", "followers": 10})
            for i, text in enumerate(list(texts)[:n])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--snownlp-sample", type=int, default=1_000)
    ap.add_argument("--texts", type=Path, nargs="+", help="CSV files with a `review` column: their distinct texts")
    args = ap.parse_args(argv)
    config = parse_config({"brands": [{"key": "aurora", "names": ["极光优选", "极光", "Aurora"]}]})
    data = real_mentions(args.texts, args.n) if args.texts else mentions(args.n)
    # models load once per process (lingua's language models take seconds): not part of the rate
    Enricher.from_config(config).enrich([m.model_copy(deep=True) for m in data[:1000]])

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
    kind = f"distinct texts of {len(args.texts)} CSV file(s)" if args.texts else "the replay mix"
    print(f"enrichment throughput, {len(data):,} mentions ({kind}), median of {args.repeats}")
    print(f"{'pipeline':<34}{'mentions/s':>12}{'vs snownlp':>12}")
    print(f"{'crisiswatch (all 7 steps)':<34}{o:>12,.0f}{o / b:>11.1f}x")
    print(f"{'snownlp sentiment only':<34}{b:>12,.0f}{1:>11.1f}x   (on {len(sample):,} posts)")
    print(f"target >= 5,000 mentions/s: {'met' if o >= 5000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
