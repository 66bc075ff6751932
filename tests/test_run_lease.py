"""One run loop per state database, and detection safe to call from two processes at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from crisiswatch.db import connect
from crisiswatch.lease import Leases
from crisiswatch.mention import Mention
from index import open_backend
from index.sqlite import SQLiteBackend
from monitor.detection import DetectionService
from monitor.incidents.service import IncidentService
from tests.conftest import REPO, config_dict

T0 = datetime(2025, 6, 14, 0, 0, tzinfo=UTC)


def surge(backend, start: datetime, quiet_minutes: int = 180, surge_minutes: int = 20) -> None:
    for minute in range(quiet_minutes + surge_minutes):
        negative = 12 if minute >= quiet_minutes else int(minute % 10 == 0)
        backend.upsert([Mention(source="weibo", native_id=f"{minute}-{i}", text=f"极光优选 post {i}", brands=["aurora"],
                                created_at=start + timedelta(minutes=minute, seconds=i), sentiment=0.05 if i < negative
                                else 0.95) for i in range(negative + 1)])


def test_leases_take_free_or_expired_and_refuse_held(state_url):
    now = [T0]
    leases = Leases(connect(state_url), clock=lambda: now[0])
    ttl = timedelta(seconds=60)
    assert leases.acquire("x", "a", ttl) and leases.acquire("x", "a", ttl)
    assert not leases.acquire("x", "b", ttl) and not leases.renew("x", "b", ttl)
    now[0] += timedelta(seconds=61)
    assert not leases.renew("x", "a", ttl)          # expired: a must stop
    assert leases.acquire("x", "b", ttl) and leases.get("x").holder == "b"
    leases.release("x", "a")                        # not a's to release
    assert leases.get("x").holder == "b"


def test_a_lease_counts_its_holders_and_a_fence_of_an_older_one_is_refused(state_url):
    """The generation is the fencing token: it grows with each new holder, never by the same holder taking
    it again, and not back to 1 after a release; a fence taken at an older generation no longer checks."""
    from crisiswatch.lease import LeaseLost, fenced

    now, conn = [T0], connect(state_url)
    leases, ttl = Leases(conn, clock=lambda: now[0]), timedelta(seconds=60)
    assert leases.acquire("x", "a", ttl) and leases.acquire("x", "a", ttl)
    first = leases.fence("x", "a")
    assert first.generation == 1 and leases.fence("x", "b") is None
    with fenced(conn, first):
        conn.execute("INSERT INTO brand_names(key, display_name, updated_at) VALUES ('made', 'a', '')")
    now[0] += timedelta(seconds=61)
    assert leases.acquire("x", "b", ttl) and leases.fence("x", "b").generation == 2
    with pytest.raises(LeaseLost, match="no longer ours: b holds it at generation 2"), fenced(conn, first):
        conn.execute("INSERT INTO brand_names(key, display_name, updated_at) VALUES ('stale', 'a', '')")
    assert [r[0] for r in conn.execute("SELECT key FROM brand_names")] == ["made"]  # the stale write undone
    leases.release("x", "b")
    assert leases.get("x") is None and leases.acquire("x", "a", ttl) and leases.fence("x", "a").generation == 3
    with pytest.raises(LeaseLost):  # a again, but not the a of generation 1 (a worker that stood by and came back)
        first.check(conn)


class MeetingBackend(SQLiteBackend):
    """The real SQLite index, whose first count query waits for the other detector to get there too:
    both have read the checkpoint before either writes, the race two loops ran into."""

    barrier = threading.Barrier(2, timeout=3)

    def counts_over_time(self, *args, **kwargs):
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:  # the other one never came (it was refused the lease)
            pass
        return super().counts_over_time(*args, **kwargs)


def test_two_detectors_at_once_decide_each_bucket_once(config):
    surge(open_backend(config.index.url), T0)
    results: list = []

    def detect() -> None:
        backend = MeetingBackend.from_url(config.index.url)
        results.append(DetectionService(config, backend, connect(config.state_store)).advance(T0 + timedelta(minutes=200)))

    threads = [threading.Thread(target=detect) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(len(r) > 0 for r in results) == [False, True]
    conn = connect(config.state_store)
    assert len(IncidentService(conn).list()) == 1
    events = conn.execute("SELECT COUNT(*) FROM incident_events").fetchone()[0]
    assert events == sum(len(r) for r in results)


def surge_to_slack(tmp_path, slack, **extra) -> tuple[dict, list[str], dict[str, str]]:
    """A config file alerting the loopback Slack over an index with a surge that ended now: (config data,
    the `run` command line, its environment)."""
    data = config_dict(tmp_path, **extra)
    data["brands"][0]["sources"] = {}
    data["alerts"] = {"slack": {"base_url": slack.base_url, "channel": "#crisis"},
                      "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    surge(open_backend(data["index"]["url"]), datetime.now(UTC) - timedelta(minutes=200))
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token, "PYTHONPATH": str(REPO)}
    return data, [sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "run", "--tick", "0.2"], env


def test_a_second_run_stands_by_and_history_is_written_once(tmp_path, slack):
    data, run, env = surge_to_slack(tmp_path, slack)
    loops = [subprocess.Popen(run, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    deadline = time.monotonic() + 60
    while not slack.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # several more passes of whichever loop runs
    for p in loops:
        p.send_signal(signal.SIGINT)
    errs = [p.communicate(timeout=30)[1] for p in loops]
    standby = [e for e in errs if "standing by to take over" in e]
    assert len(standby) == 1, [e[-800:] for e in errs]
    assert len([ln for ln in standby[0].splitlines() if "another run loop" in ln]) == 1  # said once, in one line
    conn = connect(data["state_db"])
    opened = conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]
    assert opened >= 1
    keys = Counter((m["metadata"] or {}).get("event_payload", {}).get("key") for m in slack.messages)
    assert set(keys.values()) == {1}, keys
    assert Leases(conn).get("run-loop") is None  # released on the way out


def test_sigterm_stops_the_loop_after_its_pass_and_gives_the_lease_back(tmp_path, slack):
    """What systemd's stop sends: the loop finishes its pass, releases the run-loop lease and exits 0."""
    data, run, env = surge_to_slack(tmp_path, slack)
    loop = subprocess.Popen(run, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not slack.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    loop.send_signal(signal.SIGTERM)
    _, err = loop.communicate(timeout=30)
    assert loop.returncode == 0, err[-800:]
    assert "SIGTERM: stopping after this pass" in err
    assert Leases(connect(data["state_db"])).get("run-loop") is None


# A signal handler runs in the main thread between any two of its bytecodes, whatever locks it holds then. The
# script asks for the stop at the n-th traced line of `Shutdown.wait`, inside whatever wait calls, for every n
# until one falls after the wait has run out: each time the wait must end within a second of the stop and say
# a stop was asked.
# (A `threading.Event` set from the handler hangs at the line where `Event.wait` holds the event's lock.)
STOP_INSIDE_A_WAIT = r"""
import signal, sys, time
from monitor.loop import Shutdown

for n in range(1, 100):
    shutdown, seen, asked_at = Shutdown().__enter__(), 0, None

    def trace(frame, event, arg):
        global seen, asked_at
        if event == "line":
            seen += 1
            if seen == n:
                asked_at = time.monotonic()
                shutdown._ask(signal.SIGINT, None)
        return trace

    started = time.monotonic()
    sys.settrace(trace)
    try:
        woke = shutdown.wait(3.0)
    finally:
        sys.settrace(None)
    ended = time.monotonic()
    shutdown.__exit__()
    if asked_at is None or asked_at - started >= 2.9:  # asked after the wait ran out: every line before was tried
        assert ended - started >= 2.9 and woke == (asked_at is not None), (n, woke, ended - started)
        print("lines", n - 1)
        break
    assert woke and ended - asked_at < 1.0, (n, woke, ended - asked_at)
"""


def test_a_stop_asked_for_at_any_line_of_a_wait_ends_the_wait_at_once():
    try:
        done = subprocess.run([sys.executable, "-c", STOP_INSIDE_A_WAIT], cwd=REPO, capture_output=True, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(f"the stop deadlocked the wait: no answer in {hung.timeout} s") from None
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.startswith("lines "), done.stdout


def test_a_second_loop_names_the_others_expiry_in_the_teams_zone(tmp_path):
    from crisiswatch.errors import CrisiswatchError
    from monitor.loop import RUN_LEASE, take_run_lease

    database = str(tmp_path / "state.db")
    Leases(connect(database)).acquire(RUN_LEASE, "first", timedelta(minutes=2))
    expires = Leases(connect(database)).get(RUN_LEASE).expires_at
    with pytest.raises(CrisiswatchError) as refused:
        take_run_lease(database, "second", timedelta(minutes=2), wait=False, zone="Asia/Shanghai")
    # `status` reads times in the team's zone; this line said UTC
    shanghai = expires.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"until {shanghai:%H:%M:%S} CST; not starting a second one" in str(refused.value)


def test_a_host_clock_ahead_cannot_take_a_lease_another_process_holds(state_url, monkeypatch):
    import crisiswatch.lease

    leases = Leases(connect(state_url))
    assert leases.acquire("run-loop", "host-a", timedelta(minutes=2))

    class Ahead(datetime):  # host b's clock runs three minutes fast
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(minutes=3)

    monkeypatch.setattr(crisiswatch.lease, "datetime", Ahead)
    # by b's clock, a's lease ran out a minute ago: b took it, and two loops ran
    assert not Leases(connect(state_url)).acquire("run-loop", "host-b", timedelta(minutes=2))
    assert Leases(connect(state_url)).get("run-loop").holder == "host-a"
