"""Run workers by role: any number side by side, each stage done once, each worker listed by `status`."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import yaml

from crisiswatch.cli import main
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.lease import Leases
from crisiswatch.localtime import local_time
from crisiswatch.workers import Heartbeat, Workers
from tests.conftest import REPO, config_dict
from tests.test_run_lease import surge_to_slack

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_a_worker_beats_says_what_it_does_and_what_it_holds(state_url, tmp_path, capsys):
    worker = Heartbeat(state_url, "detect").start()
    try:
        worker.doing = "detect"
        conn = connect(state_url)
        assert Leases(conn).acquire("detect-cycle", worker.id, timedelta(minutes=5))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Workers(conn).live()[0].doing != "detect":
            time.sleep(0.2)
        [info] = Workers(conn).live()
        assert (info.id, info.role, info.doing, info.holds) == (worker.id, "detect", "detect", ("detect-cycle",))
        assert Workers(conn).live(datetime.now(UTC) + timedelta(minutes=5)) == []  # silent for long: gone
        cfg = tmp_path / "crisiswatch.yaml"
        cfg.write_text(yaml.safe_dump(config_dict(tmp_path, state={"url": state_url})), encoding="utf-8")
        assert main(["--config", str(cfg), "status"]) == 0
        out = capsys.readouterr().out
        assert "workers: 1 live" in out and f"{worker.id} [detect] detect" in out and "holds detect-cycle" in out
        zone = parse_config(yaml.safe_load(cfg.read_text(encoding="utf-8"))).alerts.timezone
        assert f"up since {local_time(info.started_at, zone, '%m-%d %H:%M')} · holds" in out  # as status reads times
    finally:
        worker.stop()
    assert Workers(connect(state_url)).live() == []


def test_detect_and_deliver_workers_side_by_side_double_nothing(state_url, tmp_path, slack):
    _, run, env = surge_to_slack(tmp_path, slack, state={"url": state_url})
    workers = [subprocess.Popen([*run, "--role", role], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for role in ("detect", "detect", "deliver", "deliver")]
    conn = connect(state_url)
    deadline = time.monotonic() + 60
    while (not slack.messages or len(Workers(conn).live()) < 4) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # several more passes of every worker
    live = Workers(conn).live()
    for p in workers:
        p.send_signal(signal.SIGINT)
    errs = [p.communicate(timeout=30)[1] for p in workers]
    assert sorted(w.role for w in live) == ["deliver", "deliver", "detect", "detect"], [e[-600:] for e in errs]
    assert not any("standing by" in e for e in errs)  # roles share; only `run` (all) stands by
    assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 1
    keys = Counter((m["metadata"] or {}).get("event_payload", {}).get("key") for m in slack.messages)
    assert keys and set(keys.values()) == {1}, keys
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE status='sent'").fetchone()[0] == len(keys)
    assert Workers(conn).live() == [] and Leases(conn).get("detect-cycle") is None  # stopped cleanly
