"""A crawl killed between batches and restarted loses nothing and duplicates nothing; a later
crawl stops at the high-water mark instead of re-reading old pages."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from crawlers.replay import ReplayServer, load_scenario


def write_config(tmp_path: Path, base_url: str) -> Path:
    db = tmp_path / "cw.db"
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump({
        "state_db": str(db),
        "index": {"url": f"sqlite:///{db}", "batch_size": 50},
        "brands": [{"key": "aurora", "names": ["极光优选"], "sources": {"weibo_search": ["极光优选"]}}],
        "sources": {"weibo_search": {"base_url": base_url, "download_delay": 0.02, "max_pages": 10_000}},
        "enrichment": {"sentiment_model": "crisiswatch"},
    }, allow_unicode=True), encoding="utf-8")
    return cfg


def crawl(cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "crawl", "weibo_search"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def count(db: Path) -> tuple[int, int]:
    if not db.exists():
        return 0, 0
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*), COUNT(DISTINCT native_id) FROM mentions").fetchone()
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        conn.close()


def test_killed_crawl_resumes_without_loss_or_duplicates(tmp_path):
    scenario = load_scenario("quiet")
    expected = sum(1 for p in scenario.posts if "极光优选" in p.text)
    db = tmp_path / "cw.db"
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server.base_url)
        proc = crawl(cfg)
        deadline = time.monotonic() + 120
        while count(db)[0] < 100 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = count(db)[0]
        assert 0 < partial < expected, f"kill should land mid-crawl ({partial} of {expected})"

        first_pages = len([r for r in server.requests if "page=" in r])
        proc = crawl(cfg)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        rows, distinct = count(db)
        assert rows == distinct == expected
        # the mark had not moved, so the restart re-read from the newest page
        assert len([r for r in server.requests[first_pages:] if r.endswith("page=1")]) == 1

        # a third crawl with nothing new stops at the mark after the first page
        before = len(server.requests)
        proc = crawl(cfg)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        assert [r.rsplit("page=", 1)[1] for r in server.requests[before:]] == ["1"]
        assert count(db) == (expected, expected)
