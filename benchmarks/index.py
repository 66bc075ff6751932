#!/usr/bin/env python3
"""Indexing throughput: our bulk path vs the raw client on the same documents, in the same run.

OpenSearch/Elasticsearch (on osmem-server, started here): `write_docs` (retry/backoff, per-document
errors, rollover-safe ids) vs `helpers.bulk`, both on documents built beforehand by `es_bodies.to_doc`
(building them, mostly jieba, is timed separately). SQLite: `SQLiteBackend.upsert` vs a raw
`executemany` of the same rows, both building the rows (jieba included). Medians of repeats;
target ratio >= 0.8.

Usage: benchmarks/index.py [--mentions 5000] [--batch 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crisiswatch.db import connect, ensure_schema, transaction  # noqa: E402
from crisiswatch.mention import Mention  # noqa: E402
from index import es_bodies  # noqa: E402
from index.elastic import ElasticsearchBackend, OpenSearchBackend  # noqa: E402
from index.sqlite import DDL, TEXT_KEY_BITS, SQLiteBackend  # noqa: E402
from index.tokenize import segment  # noqa: E402

TARGET = 0.8
WORDS = ["极光优选", "快递", "五天", "没到", "客服", "不理人", "空气炸锅", "很好用", "物流", "太慢", "退款", "售后"]


def mentions(n: int, seed: int = 3) -> list[Mention]:
    rng = random.Random(seed)
    t0 = datetime(2025, 6, 14, tzinfo=UTC)
    return [Mention(source=rng.choice(["weibo", "jd", "tousu_sina"]), native_id=str(i),
                    text="".join(rng.choices(WORDS, k=8)) + f" {i}", created_at=t0 + timedelta(seconds=i),
                    brands=["aurora"], sentiment=rng.random(), category="logistics",
                    author={"id": f"u{i % 500}", "name": f"user{i % 500}", "followers": rng.randint(0, 10**6)})
            for i in range(n)]


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def rate(n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def search_pair(label: str, cls, url: str, helpers_bulk, docs: dict, batch: int, repeats: int) -> None:
    """Chunks alternate between the two paths, so both see the same server load (the box may be busy)."""
    ours, raw = [], []
    chunks = batches(list(docs.items()), batch)
    for r in range(repeats):
        mine = cls.from_url(f"{url}?alias=bench-ours-{r}")
        other = cls.from_url(f"{url}?alias=bench-raw-{r}")  # same template and mapping, written raw
        mine.ensure_ready()
        other.ensure_ready()
        t_ours = t_raw = 0.0
        for n, chunk in enumerate(chunks):
            actions = [{"_index": other.alias, "_id": k, "_source": v} for k, v in chunk]
            for which in (("ours", "raw") if n % 2 == 0 else ("raw", "ours")):
                start = time.perf_counter()
                if which == "ours":
                    mine.write_docs(dict(chunk))
                    t_ours += time.perf_counter() - start
                else:
                    helpers_bulk(other.client, actions, chunk_size=batch)
                    t_raw += time.perf_counter() - start
        ours.append(len(docs) / t_ours)
        raw.append(len(docs) / t_raw)
        mine.close()
        other.close()
    report(label, statistics.median(ours), statistics.median(raw))


def report(label: str, ours: float, raw: float) -> None:
    ratio = ours / raw
    print(f"{label:<34} ours {ours:>9,.0f}/s · raw {raw:>9,.0f}/s · ratio {ratio:.2f} "
          f"({'ok' if ratio >= TARGET else 'BELOW'} target {TARGET})")


def sqlite_pair(items: list[Mention], batch: int, repeats: int) -> None:
    def raw_write(path: str) -> None:
        conn = connect(path)
        ensure_schema(conn, "mentions", DDL)
        by_id = {m.id: m for m in items}
        seq: dict[int, int] = {}
        for chunk in batches(items, batch):
            rows, brands, fts = [], [], []
            for m in chunk:
                ts = m.created_at.timestamp()
                rows.append((m.id, m.source, m.native_id, ts, m.author.id, m.author.name, m.author.followers,
                             int(m.author.verified), m.category, m.severity, m.sentiment, m.sentiment_band,
                             json.dumps(m.to_record(), ensure_ascii=False)))
                brands.extend((m.id, b, ts) for b in m.brands)
                fts.append((m.id, segment(f"{m.title} {m.text}")))
            with transaction(conn) as c:
                c.executemany("INSERT INTO mentions(id, source, native_id, created_ts, author_id, author_name,"
                              " followers, verified, category, severity, sentiment, sentiment_band, doc)"
                              " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                c.executemany("INSERT INTO mention_brands(mention_id, brand, created_ts) VALUES (?,?,?)", brands)
                # the same full-text keys the backend allocates (second << bits | sequence)
                keyed = []
                for mid, body in fts:
                    second = int(by_id[mid].created_at.timestamp())
                    seq[second] = seq.get(second, -1) + 1
                    keyed.append(((second << TEXT_KEY_BITS) | seq[second], mid, second, body))
                c.executemany("INSERT INTO mention_text_key(key, mention_id, second) VALUES (?,?,?)",
                              [(k, mid, sec) for k, mid, sec, _ in keyed])
                c.executemany("INSERT INTO mention_text(rowid, body) VALUES (?,?)", [(k, b) for k, _, _, b in keyed])
        conn.close()

    def ours_write(path: str) -> None:
        backend = SQLiteBackend(path)
        for chunk in batches(items, batch):
            backend.upsert(chunk)
        backend.close()

    ours, raw = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for which in (("ours", "raw") if r % 2 == 0 else ("raw", "ours")):
                path = f"{tmp}/{which}{r}.db"
                if which == "ours":
                    ours.append(rate(len(items), lambda p=path: ours_write(p)))
                else:
                    raw.append(rate(len(items), lambda p=path: raw_write(p)))
    report("sqlite (upsert vs executemany)", statistics.median(ours), statistics.median(raw))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from elasticsearch import helpers as es_helpers
    from opensearchpy import helpers as os_helpers
    from osmem_server import OsmemServer

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from es_compat_proxy import EsCompatProxy

    items = mentions(args.mentions)
    build = statistics.median(rate(len(items), lambda: [es_bodies.to_doc(m) for m in items])
                              for _ in range(args.repeats))
    print(f"{args.mentions} mentions, batches of {args.batch}, median of {args.repeats} repeats")
    print(f"{'document building (jieba tokens)':<34} {build:>14,.0f}/s (same cost for both paths; not in ratio)")
    docs = {m.id: es_bodies.to_doc(m) for m in items}
    with OsmemServer.start(freeze=False) as server, EsCompatProxy(server.url) as proxy:
        host = server.url.split("://", 1)[1]
        search_pair("opensearch-py (write_docs vs bulk)", OpenSearchBackend, f"opensearch://{host}",
                    os_helpers.bulk, docs, args.batch, args.repeats)
        search_pair("elasticsearch (via compat proxy)", ElasticsearchBackend,
                    f"elasticsearch://127.0.0.1:{proxy.port}", es_helpers.bulk, docs, args.batch, args.repeats)
    sqlite_pair(items, args.batch, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
