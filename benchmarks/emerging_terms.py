#!/usr/bin/env python3
"""Emerging terms on real Chinese posts: what the rule reports when a brand's ordinary talk is disturbed.

Streams the Weibo sentiment corpus as one brand's posts over four days (a quarter of them naming the brand),
through the live detection service on a temporary SQLite index, then adds one disturbance for 30 minutes
on the fourth afternoon and prints every term the rule signals, with when and its numbers:

- plain:   nothing added (every term signalled is a false alarm);
- phrase:  a new complaint (退款不到账, 客服不理人) in two posts a minute, each by its own author;
- spam:    one account posting the same ad with a short link and a hashtag seven times a minute;
- hashtag: a new Weibo hashtag (#极光优选退款难#) in two posts a minute;
- english: English complaints with an @handle and t.co links, two a minute.

A useful rule reports the phrase's words and the hashtag whole, and nothing for plain and spam; never a
stopword, a number, a link's pieces or a handle.

Usage: benchmarks/emerging_terms.py [--data ../shared/data/sentiment/weibo.csv] [--scenarios plain,phrase,...]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crisiswatch.config import parse_config  # noqa: E402
from crisiswatch.db import connect  # noqa: E402
from crisiswatch.mention import Mention  # noqa: E402
from index import open_backend  # noqa: E402
from monitor.detection import DetectionService  # noqa: E402
from monitor.incidents.service import IncidentService  # noqa: E402

T0 = datetime(2025, 6, 2, 16, 0, tzinfo=UTC)  # Tuesday 00:00 in Asia/Shanghai
DAYS = 4
PER_MINUTE = 3
DISTURB_AT = T0 + timedelta(days=DAYS - 1, hours=14)  # the fourth day, 14:00 Shanghai
DISTURB_MINUTES = 30
SCENARIOS = ("plain", "phrase", "spam", "hashtag", "english")


def disturbance(scenario: str, minute: int, rng: random.Random, texts: list[str]) -> list[tuple[str, str]]:
    """(author, text) posts added in one minute of the disturbance."""
    filler = rng.choice(texts)[:20]
    if scenario == "phrase":
        return [(f"c{minute}-{k}", f"极光优选 退款不到账 客服不理人 {filler}") for k in range(2)]
    if scenario == "spam":
        return [("spammer", "极光优选 双十一 狂欢 限时抢购 http://t.cn/A6xYz123 #极光优选大促#")] * 7
    if scenario == "hashtag":
        return [(f"h{minute}-{k}", f"#极光优选退款难# {filler}") for k in range(2)]
    if scenario == "english":
        return [(f"e{minute}-{k}", f"@AuroraHelp my refund is still not received after 3 weeks https://t.co/Ab12Cd{k}"
                                   f" http://x.com/a/status/{rng.randrange(10**9)}") for k in range(2)]
    return []


def run(scenario: str, texts: list[str], workdir: Path) -> list[tuple[str, int, str]]:
    db = workdir / f"{scenario}.db"
    config = parse_config({"state_db": str(db), "index": {"url": f"sqlite:///{db}"},
                           "brands": [{"key": "aurora", "names": ["极光优选"], "sources": {"weibo_search": ["极光优选"]}}]},
                          str(workdir / "c.yaml"))
    backend = open_backend(config.index.url)
    rng = random.Random(7)
    posts, n = [], 0
    for minute in range(DAYS * 1440):
        at = T0 + timedelta(minutes=minute)
        batch = [(f"u{rng.randrange(20000)}", texts[(n + k) % len(texts)]) for k in range(PER_MINUTE)]
        n += PER_MINUTE
        if DISTURB_AT <= at < DISTURB_AT + timedelta(minutes=DISTURB_MINUTES):
            batch += disturbance(scenario, minute, rng, texts)
        for k, (author, text) in enumerate(batch):
            text = text if rng.random() > 0.25 or "极光优选" in text else f"极光优选 {text}"
            posts.append(Mention(source="weibo", native_id=f"{minute}-{k}", text=text, brands=["aurora"],
                                 created_at=at + timedelta(seconds=k), sentiment=0.5, author={"id": author}))
    backend.upsert(posts)
    conn = connect(config.state_store)
    service = DetectionService(config, backend, conn)
    for hour in range(1, DAYS * 24 + 1):  # a pass an hour: the same decisions as one a minute, faster
        service.advance(T0 + timedelta(hours=hour))
    found: list[tuple[str, int, str]] = []
    for incident in reversed(IncidentService(conn).list(limit=10_000)):
        for signal in [{"rule": incident.rule, "facts": incident.facts}, *incident.facts.get("related", [])]:
            term = signal["facts"].get("term") if signal["rule"] == "emerging_terms" else None
            if term and term not in [f[0] for f in found]:
                found.append((term, signal["facts"].get("posts_with_term", 0), incident.opened_at.isoformat()))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/sentiment/weibo.csv")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = ap.parse_args()
    with open(args.data, encoding="utf-8") as fh:
        texts = [row["review"] for row in csv.DictReader(fh) if row.get("review")]
    random.Random(1).shuffle(texts)
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios.split(","):
            started = time.process_time()
            found = run(scenario, texts, Path(tmp))
            terms = ", ".join(f"{term} ({k})" for term, k, _ in found) or "nothing"
            print(f"{scenario:8} {len(found):3} term(s) signalled: {terms}  [{time.process_time() - started:.0f} s CPU]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
