"""`crisiswatch --state-url postgresql://… demo` keeps its state in PostgreSQL, and the dashboard serves
the ticket it opened from there (the mentions stay in the demo's SQLite index)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import yaml

from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.store.url import without_password
from tests.browser.dashboard_site import Site, login, serve
from tests.stores import new_database


def test_the_demo_on_postgresql_opens_its_ticket_and_the_dashboard_serves_it(tmp_path, slack, postgres_server):
    url = new_database(postgres_server)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump({"alerts": {
        "slack": {"base_url": slack.base_url, "channel": "#crisis"},
        "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}}), encoding="utf-8")
    db = tmp_path / "demo.db"
    demo = [sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "--state-url", url, "demo",
            "--db", str(db)]
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token}
    proc = subprocess.run(demo, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"--state-url {url} " in proc.stdout  # what to run next names the store
    hidden = without_password(url.replace("postgres@", "postgres:s3cret@"))
    assert "s3cret" not in hidden and hidden.startswith("postgresql://postgres:***@")

    conn = connect(url)
    [(number, incident_id, title)] = conn.execute("SELECT number, incident_id, title FROM tickets").fetchall()
    assert incident_id is not None and conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] >= 1
    lite = sqlite3.connect(db)
    assert lite.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] > 100
    assert not lite.execute("SELECT 1 FROM sqlite_master WHERE name='tickets'").fetchone()  # state is elsewhere

    config = parse_config({"state": {"url": url}, "state_db": str(db), "index": {"url": f"sqlite:///{db}"},
                           "brands": [{"key": "aurora", "names": ["极光优选"]}]}, str(tmp_path / "dash.yaml"))
    with serve(Site(config, db, datetime.now(UTC), incident_id, number)) as base:
        page = login(base, "ada").get(f"{base}/tickets/{number}", timeout=20)
        assert page.status_code == 200 and number in page.text and title.split("：")[0] in page.text

    again = subprocess.run(demo, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 1 and "needs an empty state store" in again.stderr  # never wiped, never doubled
    assert conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 1
