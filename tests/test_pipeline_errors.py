"""A post a pipeline raises on is not lost silently: it is dead-lettered (masked), the crawl ends failed
with one line and a non-zero exit, and its query's crawl mark stays, so the next crawl reads it again."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from crawlers.replay import ReplayServer
from tests.conftest import REPO
from tests.replay_crawl import crawl, rows, scenario, write_config

QUERY = "极光优选"
MARKED = "极光优选第7条"


class RaiseOnMarkedPosts:
    """A pipeline with a bug that only some posts reach (as the enrichment step had, for every post)."""

    def process_item(self, item):
        if MARKED in item.text:
            raise ValueError("a bug in a pipeline")
        return item


def crawl_with_the_bug(cfg: Path) -> subprocess.CompletedProcess[str]:
    """The crawl command's path (crawlers.runner.run_crawls with the source's settings, as `crisiswatch crawl`
    passes them: the config's download delay of 0, not Weibo's 10 s a page), with the buggy pipeline before
    the index."""
    script = (
        "import sys; from crisiswatch.config import load_config; from crawlers.runner import run_crawls;"
        "from crawlers.settings import ITEM_PIPELINES;"
        "pipes = {**ITEM_PIPELINES, 'tests.test_pipeline_errors.RaiseOnMarkedPosts': 350};"
        "config = load_config(sys.argv[1]);"
        "s = run_crawls(config, [('weibo_search', {})], overrides={**config.source('weibo_search').scrapy_overrides(),"
        " 'ITEM_PIPELINES': pipes, 'LOG_LEVEL': 'ERROR'})['weibo_search'];"
        "print(s.get('crisiswatch/failed') or ''); print(s.get('item_scraped_count', 0))"
    )
    return subprocess.run([sys.executable, "-c", script, str(cfg)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_a_post_a_pipeline_raises_on_is_dead_lettered_and_read_again_next_crawl(tmp_path):
    events = [{"at": f"{2 + i}h", "author": {"id": 1_900_000_000 + i, "name": f"用户{i}", "followers": 3},
               "text": f"{QUERY}第{i}条，电话13812345678"} for i in range(12)]
    db = tmp_path / "cw.db"
    with ReplayServer(scenario(datetime.now(UTC), events, crowd_rate=0.5)) as server:
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": [QUERY]})
        n = len([p for p in server.posts("weibo") if QUERY in p.text])
        proc = crawl_with_the_bug(cfg)
        assert proc.returncode == 0, proc.stderr[-3000:]
        failed, indexed = proc.stdout.strip().splitlines()
        assert failed.startswith(f"1 of {n} posts lost in the pipeline (ValueError while processing a post")
        assert int(indexed) == n - 1
        assert rows(db, "SELECT COUNT(*) FROM mentions") == [(n - 1,)]
        (letter,) = rows(db, "SELECT stage, source, reason, payload FROM dead_letters")
        assert letter[:2] == ("pipeline", "weibo_search") and "a bug in a pipeline" in letter[2]
        lost = json.loads(letter[3])
        assert MARKED in lost["text"] and "13812345678" not in letter[3]  # masked
        (detail,) = rows(db, "SELECT detail FROM source_health WHERE event='crawl_failed'")[0]
        assert json.loads(detail)["posts_lost"] == 1

        out = crawl(cfg, "weibo_search")  # the bug fixed: the mark stayed, so the lost post is read again
    assert out.startswith("weibo_search: finished")
    assert rows(db, "SELECT COUNT(*) FROM mentions WHERE native_id=?", (lost["native_id"],)) == [(1,)]
    assert rows(db, "SELECT COUNT(*) FROM mentions") == [(n,)]
