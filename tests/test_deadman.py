"""The dead-man runs outside the loop (systemd timer or cron call `crisiswatch alerts deadman-check`)
and pages even on a fresh install whose loop never started, to the crisis route when no operator
route is configured."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import yaml

from crisiswatch.db import connect
from tests.conftest import REPO, config_dict

DEPLOY = REPO / "deploy"


def deadman_check(cfg, slack) -> subprocess.CompletedProcess:
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "alerts", "deadman-check"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_a_loop_that_never_started_pages_the_crisis_route(tmp_path, slack):
    data = config_dict(tmp_path)  # the example's shape: no operator_route
    data["alerts"] = {"slack": {"base_url": slack.base_url}, "deadman_minutes": 15,
                      "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    first = deadman_check(cfg, slack)  # the timer's first run on a fresh install
    assert first.returncode == 1 and "no heartbeat from loop yet" in first.stdout, first.stderr[-1500:]
    assert slack.messages == []

    conn = connect(data["state_db"])  # twenty minutes pass with no loop
    then = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    conn.execute("UPDATE deadman_watch SET first_checked_at=?", (then,))
    second = deadman_check(cfg, slack)
    assert second.returncode == 1 and "has never run" in second.stdout, second.stderr[-1500:]
    [page] = slack.messages
    assert page["channel"] == "CCRISIS" and "never started" in page["text"]
    assert deadman_check(cfg, slack).returncode == 1 and len(slack.messages) == 1  # once per silence


def test_systemd_timer_and_cron_call_the_deadman_check():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(DEPLOY / "crisiswatch-deadman.service")
    assert service["Service"]["ExecStart"].endswith("alerts deadman-check")
    assert service["Service"]["Type"] == "oneshot"
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(DEPLOY / "crisiswatch-deadman.timer")
    assert timer["Timer"]["OnBootSec"] and timer["Timer"]["OnUnitActiveSec"]
    cron = [line for line in (DEPLOY / "crisiswatch.cron").read_text().splitlines() if line[:1] in "*0123456789"]
    assert len(cron) == 1 and "alerts deadman-check" in cron[0] and len(cron[0].split()[:5]) == 5
