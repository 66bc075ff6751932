"""Faults between the writer and a real cluster: down at start, dying mid-bulk, 429s, mapping conflicts.

osmem-server stands in for the cluster; `EsCompatProxy` in front of it takes the port down and up and
injects replies. After every scenario each mention is in the index exactly once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from crisiswatch.db import connect
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from index import open_backend
from index.base import MentionFilter
from index.spool import backlog
from index.writer import IndexWriter
from tests.es_compat_proxy import EsCompatProxy

T0 = datetime(2025, 6, 14, 4, 0, tzinfo=UTC)
FAST = "retries=2&backoff=0.01"


def batch(start: int, count: int, text: str = "极光优选物流太慢", **fields) -> list[Mention]:
    return [Mention(source="weibo", native_id=str(n), text=f"{text} #{n}", created_at=T0 + timedelta(seconds=n),
                    brands=["aurora"], sentiment=0.2, author={"id": f"u{n % 5}", "followers": n}, **fields)
            for n in range(start, start + count)]


@pytest.fixture(params=["elasticsearch", "opensearch"])
def cluster(request, osmem_clone):
    """(index URL through the proxy, proxy, direct reader of the same clone)."""
    proxy = EsCompatProxy(osmem_clone.url).start()
    url = f"{request.param}://127.0.0.1:{proxy.port}?{FAST}"
    reader = open_backend(f"opensearch://{osmem_clone.url.split('://', 1)[1]}")
    yield url, proxy, reader
    reader.close()
    proxy.stop()


@pytest.fixture
def state(tmp_path):
    conn = connect(tmp_path / "state.db")
    yield conn
    conn.close()


def stored_once(reader, mentions: list[Mention]) -> None:
    reader._dirty = True  # another client wrote: refresh before reading
    ids = [m.id for m in reader.scan(MentionFilter())]
    assert len(ids) == len(set(ids)), "a mention was indexed twice"
    assert set(ids) == {m.id for m in mentions}


def test_down_at_start_spools_then_drains_in_order(cluster, state):
    url, proxy, reader = cluster
    proxy.stop()
    writer = IndexWriter.from_url(url, state, retry_after=0)
    first, second = batch(0, 30), batch(20, 30, text="已编辑")  # overlap: the later batch must win
    assert writer.write(first) == 0 and writer.write(second) == 0
    [(target, batches, waiting, _)] = backlog(state)
    assert (batches, waiting) == (2, 60) and "127.0.0.1" in target and FAST in target
    proxy.start()
    assert writer.write(batch(50, 10)) == 70
    assert backlog(state) == []
    stored_once(reader, batch(0, 60))
    assert reader.get(batch(25, 1)[0].id).text.startswith("已编辑")
    writer.close()


def test_server_stopping_mid_bulk_loses_and_duplicates_nothing(cluster, state):
    url, proxy, reader = cluster
    writer = IndexWriter.from_url(url, state, retry_after=0)
    assert writer.write(batch(0, 40)) == 40
    proxy.drop_after_forward("/_bulk", then_stop=True)  # this bulk is applied, then the node goes away
    assert writer.write(batch(40, 40)) == 0
    assert writer.write(batch(80, 40)) == 0
    assert writer.spool.pending() == 80
    proxy.start()
    assert writer.drain() == 80
    stored_once(reader, batch(0, 120))
    writer.close()


def test_429_is_retried_with_backoff(cluster, state):
    url, proxy, reader = cluster
    writer = IndexWriter.from_url(url, state, retry_after=0)
    proxy.reply_next(429, times=2, path_part="/_bulk")
    assert writer.write(batch(0, 25)) == 25
    assert sum(1 for method, path in proxy.requests if "/_bulk" in path) == 3
    proxy.reply_next(429, times=10, path_part="/_bulk")  # more than the retries: spooled, not lost
    assert writer.write(batch(25, 25)) == 0 and writer.spool.pending() == 25
    proxy._faults.clear()
    assert writer.drain() == 25
    stored_once(reader, batch(0, 50))
    writer.close()


def test_refused_documents_inside_a_bulk_are_retried_alone(cluster, state):
    url, proxy, reader = cluster
    writer = IndexWriter.from_url(url, state, retry_after=0)
    proxy.refuse_items_next(7)
    assert writer.write(batch(0, 20)) == 20
    bulks = [body for method, path, body in proxy.bodies if "/_bulk" in path]
    assert len(bulks) == 2 and len(bulks[1].splitlines()) == 2 * 7  # only the 7 refused ones went again
    assert DeadLetters(state).count() == 0
    stored_once(reader, batch(0, 20))
    writer.close()


def test_mapping_conflict_dead_letters_the_document_with_the_reason(cluster, state, osmem_clone):
    url, proxy, reader = cluster
    # an index created by an older template maps cluster_id as a number
    reader._raw("PUT", "/crisiswatch-mentions-000001", {
        "aliases": {"crisiswatch-mentions": {"is_write_index": True}},
        "mappings": {"properties": {"cluster_id": {"type": "long"}, "created_at": {"type": "date"},
                                    "id": {"type": "keyword"}}}})
    writer = IndexWriter.from_url(url, state, retry_after=0)
    good, bad = batch(0, 5, cluster_id="17"), batch(5, 2, cluster_id="storm-3")
    assert writer.write(good + bad) == 5
    letters = DeadLetters(state).recent()
    assert sorted(d.payload["native_id"] for d in letters) == ["5", "6"]
    assert all(d.stage == "index" and "cluster_id" in d.reason for d in letters)
    assert writer.spool.pending() == 0
    stored_once(reader, good)
    writer.close()


def test_status_shows_the_spool_backlog(cluster, state, tmp_path, capsys):
    import yaml

    from crisiswatch.cli import main

    url, proxy, _ = cluster
    proxy.stop()
    writer = IndexWriter.from_url(url, state, retry_after=0)
    writer.write(batch(0, 12))
    writer.write(batch(12, 3))
    config = tmp_path / "crisiswatch.yaml"
    config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "state.db"), "index": {"url": url}}))
    assert main(["--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert "mentions indexed: unknown (index unreachable" in out
    assert f"index spool: 15 mentions in 2 batches waiting for {url}" in out
    # since when, in the team's zone as every other time of `status` (it was the stored UTC string, cut)
    assert re.search(r"waiting for \S+ since \d\d-\d\d \d\d:\d\d \(Asia/Shanghai\)", out), out
