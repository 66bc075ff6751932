"""Each shipped crisis playbook fires on its replay scenario and does what it says.

The demos run as a user runs them (`crisiswatch demo --scenario X` in a subprocess, crawling the
replay server with the real spider), all at once so the module takes one demo's time.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.slack_api import SlackAPIServer

# logistics_surge on logistics_crisis: tests/test_end_to_end.py runs that demo (one ticket, one top-level
# alert) and tests/test_playbooks.py checks the playbook's steps on a logistics incident.
SCENARIOS = ("product_safety", "data_leak", "service_attitude", "price_dispute")
PLAYBOOK_FOR = {"product_safety": "product_safety", "data_leak": "data_leak",
                "service_attitude": "viral_service_attitude", "price_dispute": "price_dispute"}


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    runs = {}
    for scenario in SCENARIOS:
        slack = SlackAPIServer().start()
        work = root / scenario
        work.mkdir()
        cfg = work / "crisiswatch.yaml"
        cfg.write_text(yaml.safe_dump({"alerts": {
            "slack": {"base_url": slack.base_url, "channel": "#crisis"},
            "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}}), encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "demo", "--scenario", scenario,
             "--db", str(work / "demo.db")], cwd=work, env={**os.environ, "SLACK_BOT_TOKEN": slack.token},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[scenario] = (proc, slack, work / "demo.db")
    results = {}
    for scenario, (proc, slack, db) in runs.items():
        out, err = proc.communicate(timeout=240)
        results[scenario] = (proc.returncode, out, err, slack, db)
    yield results
    for *_, slack, _ in results.values():
        slack.stop()


def state(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return conn


def ran(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for r in conn.execute("SELECT playbook, type, outcome FROM playbook_runs ORDER BY playbook, step"):
        out.setdefault(r["playbook"], {})[r["type"]] = r["outcome"]
    return out


def ticket(conn: sqlite3.Connection) -> sqlite3.Row:
    rows = conn.execute("SELECT * FROM tickets").fetchall()
    assert len(rows) == 1, "several playbooks on one incident must share one ticket"
    return rows[0]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_only_its_own_crisis_playbook_fires_and_alerts_stay_in_one_thread(demos, scenario):
    code, out, err, slack, db = demos[scenario]
    assert code == 0, err[-3000:]
    conn = state(db)
    assert set(ran(conn)) == {"negative_spike", PLAYBOOK_FOR[scenario]}
    ticket(conn)
    top = [c for c in slack.posts(top_level_only=True) if not str(c.params.get("text", "")).count("审批")]
    assert len(top) == 1, [c.params.get("text") for c in slack.posts()]
    audited = {r[0] for r in conn.execute("SELECT action FROM audit_log WHERE actor=?",
                                          (f"playbook:{PLAYBOOK_FOR[scenario]}",))}
    assert audited >= {"open_ticket", "assign", "task", "notify"}


def test_product_safety_is_major_and_drafts_within_the_golden_window(demos):
    *_, db = demos["product_safety"]
    conn = state(db)
    t = ticket(conn)
    assert t["severity"] == "重大" and t["department"] == "调查"
    assert set(json.loads(t["departments"])) >= {"调查", "管理层", "法律"}
    assert datetime.fromisoformat(t["ack_due"]) - datetime.fromisoformat(t["created_at"]) == timedelta(minutes=15)
    assert "暂停销售并下架涉事批次" in [x["text"] for x in json.loads(t["tasks"])]
    s = conn.execute("SELECT * FROM statements").fetchone()
    assert s["status"] == "draft" and s["window_minutes"] == 240 and s["missed_window"] == 0
    assert datetime.fromisoformat(s["ready_at"]) - datetime.fromisoformat(s["incident_start"]) < timedelta(hours=4)
    assert "极光优选" in s["text"] and "暂停销售" in s["text"] and t["number"] not in s["text"]  # public text: no internal ids
    approval = conn.execute("SELECT * FROM approvals WHERE id=?", (int(s["approval_id"]),)).fetchone()
    assert approval["status"] == "pending" and json.loads(approval["approvers"]) == ["pr-lead", "legal-counsel"]
    assert ran(conn)["product_safety"]["draft_statement"] == "waiting"  # nothing is published before approval


def test_data_leak_goes_to_legal_and_tech_with_urgent_limits(demos):
    *_, db = demos["data_leak"]
    conn = state(db)
    t = ticket(conn)
    assert t["category"] == "fraud_security_privacy" and json.loads(t["departments"])[:2] == ["法律", "技术"]
    assert datetime.fromisoformat(t["ack_due"]) - datetime.fromisoformat(t["created_at"]) == timedelta(minutes=30)
    s = conn.execute("SELECT * FROM statements").fetchone()
    assert "信息安全" in s["text"] and s["window_minutes"] == 720 and s["missed_window"] == 0


def test_viral_service_attitude_brings_in_management(demos):
    *_, db = demos["service_attitude"]
    conn = state(db)
    t = ticket(conn)
    assert t["category"] == "service_attitude" and json.loads(t["departments"])[:2] == ["客服", "管理层"]
    assert "客服主管致电当事用户道歉并解决诉求" in [x["text"] for x in json.loads(t["tasks"])]
    assert ran(conn)["viral_service_attitude"]["escalate_if"] == "waiting"
    assert not conn.execute("SELECT 1 FROM statements").fetchone()  # no statement step


def test_price_dispute_checks_prices_with_legal_and_drafts_a_statement(demos):
    *_, db = demos["price_dispute"]
    conn = state(db)
    t = ticket(conn)
    assert t["category"] in ("price", "false_advertising") and json.loads(t["departments"])[:2] == ["客服", "法律"]
    assert "核对活动价格与历史价格记录" in [x["text"] for x in json.loads(t["tasks"])]
    s = conn.execute("SELECT * FROM statements").fetchone()
    assert s["status"] == "draft" and "极光优选" in s["text"]
