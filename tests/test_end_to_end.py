"""The whole loop on replayed scenarios, as a user runs it: `crisiswatch demo` in a subprocess."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import yaml

from crisiswatch.localtime import local_time
from tests.slack_api import SlackAPIServer


def run_demo(tmp_path: Path, slack: SlackAPIServer, scenario: str) -> tuple[subprocess.CompletedProcess, Path]:
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump({"alerts": {
        "slack": {"base_url": slack.base_url, "channel": "#crisis"},
        "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}}), encoding="utf-8")
    db = tmp_path / "demo.db"
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token}
    proc = subprocess.run(
        [sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "demo", "--scenario", scenario,
         "--db", str(db)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )
    return proc, db


def test_crisis_scenario_opens_one_ticket_and_sends_one_slack_message(tmp_path, slack):
    # the default demo scenario: the 物流 crisis seen on Weibo, JD, Tmall, 黑猫投诉 and 聚投诉
    proc, db = run_demo(tmp_path, slack, "all_sources")
    assert proc.returncode == 0, proc.stderr[-3000:]
    conn = sqlite3.connect(db)
    sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM mentions")}
    assert sources == {"weibo", "jd", "tmall", "tousu_sina", "jutousu"}
    tickets = conn.execute("SELECT number, severity FROM tickets").fetchall()
    assert len(tickets) == 1
    number = tickets[0][0]
    assert number.startswith("CW-") and len(number) == len("CW-20250614-0001")
    assert f"ticket {number} opened" in proc.stdout
    # the incident's time as the team reads it (and as the alerts and the ticket line say it), not in UTC
    opened_at = datetime.fromisoformat(conn.execute("SELECT opened_at FROM incidents").fetchone()[0])
    assert f"INC-1 opened at {local_time(opened_at, 'Asia/Shanghai', '%H:%M')} (Asia/Shanghai)" in proc.stdout
    top = slack.posts(top_level_only=True)
    assert len(top) == 1, [c.params.get("text") for c in slack.posts()]
    message = top[0].params
    assert message["channel"] == "CCRISIS"  # #crisis, resolved to its id
    blocks = message["blocks"] if isinstance(message["blocks"], list) else __import__("json").loads(message["blocks"])
    text = str(blocks)
    assert "极光优选" in text and number in text
    assert any(b["type"] == "actions" for b in blocks)
    # every other message of this incident went into its thread
    assert all(c.params.get("thread_ts") for c in slack.posts() if c is not top[0])
    # the outbox agrees: nothing pending, nothing failed
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'").fetchone()[0] == 0
    opened = conn.execute("SELECT opened_at FROM incidents").fetchall()
    assert len(opened) == 1
    # the demo says how to look at what it left, and those commands find its database
    assert f"crisiswatch --db {db} ticket list" in proc.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--db", str(db), "ticket", "list"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert number in listed.stdout and list(elsewhere.iterdir()) == []  # no empty crisiswatch.db beside it
    env = {**os.environ, "CRISISWATCH_DB": str(db)}
    status = subprocess.run([sys.executable, "-m", "crisiswatch.cli", "status"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=60)
    assert number in status.stdout
    assert "outbox: 2 sent" in status.stdout  # counts in words, not a Python dict


def test_quiet_scenario_opens_nothing(tmp_path, slack):
    proc, db = run_demo(tmp_path, slack, "quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] > 500
    assert slack.posts() == []
    assert "no incident" in proc.stdout
