"""A lease is never lost without its holder knowing: a keeper reconnects after the database closed its
connection (a restart, a failover, an idle connection cut), says the lease lost once its expiry passed
without a renewal, and the run loop stops before its next side effect. The loop's own connection heals
after the same cut instead of failing every pass."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from crisiswatch import lease
from crisiswatch.config import parse_config
from crisiswatch.db import connect, sqlite_path
from crisiswatch.lease import LeaseKeeper, Leases
from crisiswatch.store.postgres import PgConnection
from index import open_backend
from index.sqlite import SQLiteBackend
from monitor import loop as run_loop
from monitor.detection import DetectionService
from monitor.incidents.service import IncidentService
from tests.conftest import config_dict
from tests.stores import new_database
from tests.test_run_lease import surge

TTL = timedelta(seconds=1.5)


def cut(url: str) -> int:
    """What a PostgreSQL restart does to every client of the database: their connections are closed."""
    with psycopg.connect(url, autocommit=True) as admin:
        return admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE datname = current_database() AND pid <> pg_backend_pid()").rowcount


def wait_for(what, seconds: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(step)
    return bool(what())


@pytest.fixture
def pg_url(postgres_server) -> str:
    return new_database(postgres_server)


def test_a_connection_the_server_closed_is_opened_again_by_the_next_statement(pg_url):
    conn = PgConnection(pg_url)
    assert cut(pg_url) == 1
    with pytest.raises(psycopg.OperationalError):  # the statement that met the closed connection fails
        conn.execute("SELECT 1")
    assert conn.execute("SELECT 1").fetchone()[0] == 1  # the next one runs on a new connection
    # inside a transaction nothing is reopened: its statements fail until the ROLLBACK that ends it
    conn.execute("BEGIN")
    conn.execute("INSERT INTO leases(name, holder, acquired_at, expires_at) VALUES ('t', 'a', '', '')")
    cut(pg_url)
    for _ in range(2):
        with pytest.raises(psycopg.OperationalError):
            conn.execute("INSERT INTO leases(name, holder, acquired_at, expires_at) VALUES ('u', 'a', '', '')")
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0  # nothing of it was kept
    assert not conn.in_transaction


def test_a_keeper_whose_connection_is_cut_reconnects_and_keeps_the_lease(pg_url, caplog):
    main = connect(pg_url)
    assert Leases(main).acquire("run-loop", "host-a", TTL)
    keeper = LeaseKeeper(pg_url, "run-loop", "host-a", TTL).start()
    try:
        time.sleep(0.2)
        assert cut(pg_url) >= 1
        time.sleep(TTL.total_seconds() * 2.5)  # past the expiry the lease had when the connection was cut
        assert not Leases(connect(pg_url)).acquire("run-loop", "host-b", TTL)
        assert Leases(connect(pg_url)).get("run-loop").holder == "host-a" and not keeper.lost.is_set()
    finally:
        keeper.stop()
    assert "trying again on a new connection" in caplog.text


def hold_the_lease_row(state_url: str, name: str):
    """Another connection locks the lease's row (SQLite: the whole file): renewals wait on it."""
    path = sqlite_path(state_url)
    if path is not None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
    else:
        other = psycopg.connect(state_url, autocommit=True)
        other.execute("BEGIN")
        other.execute("SELECT * FROM leases WHERE name = %s FOR UPDATE", (name,))
    return other


def test_a_lease_no_renewal_reaches_before_it_runs_out_is_said_lost_in_time(state_url, caplog):
    """The database does not answer (a lock here; a failover or a silent network alike): at expiry the keeper
    says the lease lost, in one line, though no renewal has come back."""
    assert Leases(connect(state_url)).acquire("detect-cycle", "host-a", TTL)
    keeper = LeaseKeeper(state_url, "detect-cycle", "host-a", TTL).start()
    started = time.monotonic()
    other = hold_the_lease_row(state_url, "detect-cycle")
    try:
        assert wait_for(keeper.lost.is_set, TTL.total_seconds() + 1.5)
        assert time.monotonic() - started < TTL.total_seconds() + 1.5
    finally:
        other.execute("ROLLBACK")
        other.close()
        keeper.stop()
    lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert len(lost) == 1 and lost[0].startswith("lease detect-cycle lost (no renewal got through within its 1.5 s")
    assert Leases(connect(state_url)).acquire("detect-cycle", "host-b", TTL)  # expired: the next holder's


def test_a_renewal_that_finds_another_holder_says_which(state_url, caplog):
    conn = connect(state_url)
    assert Leases(conn).acquire("run-loop", "host-a", TTL)
    keeper = LeaseKeeper(state_url, "run-loop", "host-a", TTL).start()
    try:
        conn.execute("UPDATE leases SET holder = 'host-b' WHERE name = 'run-loop'")
        assert wait_for(keeper.lost.is_set, TTL.total_seconds())
    finally:
        keeper.stop()
    assert "lease run-loop lost (another process holds it: host-b)" in caplog.text
    assert Leases(conn).get("run-loop").holder == "host-b"  # not released by the one that lost it


class LostKeeper:
    """A keeper whose lease is gone (the pass must not act on it)."""

    def __init__(self, name: str, lost: bool = True) -> None:
        self.name, self.lost = name, threading.Event()
        if lost:
            self.lost.set()


def surge_loop(tmp_path, state_url: str) -> run_loop.RunLoop:
    from alerts.dispatch import AlertDispatcher

    config = parse_config(config_dict(tmp_path, state={"url": state_url}), str(tmp_path / "crisiswatch.yaml"))
    surge(open_backend(config.index.url), datetime.now(UTC) - timedelta(minutes=200))
    conn = connect(state_url)
    return run_loop.RunLoop(config, None, conn, AlertDispatcher(config, conn, {}), role="detect")


def test_a_pass_whose_run_lease_is_lost_stops_before_its_stages(tmp_path, state_url, caplog):
    loop = surge_loop(tmp_path, state_url)
    loop.run_keeper = LostKeeper("run-loop")
    report = loop.pass_once()
    assert report.lost == ["run-loop"] and not report.detected
    assert IncidentService(loop.conn).list() == []
    assert loop.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    said = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert said == ["lease run-loop lost: this pass stops before the detect cycle and the loop stands by to take "
                    "over again"]


def test_detection_reads_but_writes_no_incident_once_the_lease_is_lost_meanwhile(tmp_path, state_url, caplog):
    """The lease goes while detection reads the counts (the slow part): nothing is written, one line says so."""
    loop = surge_loop(tmp_path, state_url)
    run_keeper = loop.run_keeper = LostKeeper("run-loop", lost=False)

    class LosingBackend(SQLiteBackend):
        def counts_over_time(self, *args, **kwargs):
            run_keeper.lost.set()
            return super().counts_over_time(*args, **kwargs)

    loop.index.backend = LosingBackend.from_url(loop.config.index.url)
    report = loop.pass_once()
    assert report.lost == ["run-loop"] and not report.detected and "detection" not in report.failed_stages
    assert IncidentService(loop.conn).list() == []
    assert loop.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert "lease run-loop lost: this pass stops before writing incidents" in caplog.text
    # the same detection with the lease held decides the surge
    with pytest.raises(lease.LeaseLost):
        DetectionService(loop.config, loop.index.backend, loop.conn).advance(datetime.now(UTC), held=lambda: False)
    assert DetectionService(loop.config, open_backend(loop.config.index.url), loop.conn).advance(datetime.now(UTC))


class Stoppable(run_loop.Shutdown):
    """The loop's Shutdown, which the test asks to stop (the loop runs in a thread, where no signal reaches)."""

    last: Stoppable | None = None

    def __enter__(self) -> Stoppable:
        Stoppable.last = self
        return super().__enter__()

    def stop(self) -> None:
        self.asked = True
        self._woken.set()


@pytest.fixture
def loop_in_thread(tmp_path, pg_url, monkeypatch):
    """`run` (role all) on PostgreSQL in a thread, with a 1.5 s run-loop lease and a 0.1 s tick; every
    pass's report kept in order."""
    monkeypatch.setattr(run_loop, "run_lease_ttl", lambda tick: TTL)
    monkeypatch.setattr(run_loop, "Shutdown", Stoppable)
    reports: list[tuple[float, run_loop.PassReport]] = []
    real_pass = run_loop.RunLoop.pass_once

    def pass_once(self):
        report = real_pass(self)
        reports.append((time.monotonic(), report))
        return report

    monkeypatch.setattr(run_loop.RunLoop, "pass_once", pass_once)
    data = config_dict(tmp_path, state={"url": pg_url})
    data["brands"][0]["sources"] = {}
    config = parse_config(data, str(tmp_path / "crisiswatch.yaml"))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_loop.run_forever(config, None, tick_seconds=0.1)
        except BaseException as exc:  # noqa: BLE001 (the test reads it)
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert wait_for(lambda: len(reports) >= 2 or errors, 30), errors
    yield reports, errors, thread
    if Stoppable.last is not None:
        Stoppable.last.stop()
    thread.join(20)


def test_the_loop_heals_after_the_database_closed_every_connection(pg_url, loop_in_thread, caplog):
    reports, errors, thread = loop_in_thread
    holder = Leases(connect(pg_url)).get("run-loop").holder
    assert cut(pg_url) >= 2  # the loop's, the lease keeper's, the heartbeat's
    at = time.monotonic()
    # a pass may fail on the closed connection; the ones after it run cleanly again, on new connections
    assert wait_for(lambda: sum(1 for t, r in reports if t > at and not r.failed_stages) >= 3, 20), (
        errors, [r for t, r in reports if t > at][:5])
    assert thread.is_alive() and not errors
    time.sleep(TTL.total_seconds() * 2)  # the lease outlives the cut: renewed on the keeper's new connection
    assert Leases(connect(pg_url)).get("run-loop").holder == holder
    assert "lease run-loop lost" not in caplog.text


def test_a_loop_that_lost_its_lease_stands_by_and_takes_over_again(pg_url, loop_in_thread, caplog):
    caplog.set_level(logging.INFO)
    reports, errors, thread = loop_in_thread
    conn = connect(pg_url)
    holder = Leases(conn).get("run-loop").holder
    other_until = datetime.now(UTC) + timedelta(seconds=3)
    conn.execute("UPDATE leases SET holder = 'host-b:1:x', expires_at = ? WHERE name = 'run-loop'",
                 (other_until.isoformat(),))
    assert wait_for(lambda: "lease run-loop lost (another process holds it: host-b:1:x)" in caplog.text, 5)
    stood_by = time.monotonic()
    time.sleep(0.5)  # the pass under way ends
    quiet_from = time.monotonic()
    assert wait_for(lambda: Leases(conn).get("run-loop").holder == holder, 10)  # once host-b's lease ran out
    took_back = time.monotonic()
    assert not [t for t, _ in reports if quiet_from < t < took_back - 0.3]  # no pass while another held it
    assert wait_for(lambda: any(t > took_back for t, _ in reports), 10) and thread.is_alive() and not errors
    assert took_back - stood_by > 1.5
    assert "lease run-loop taken again" in caplog.text
