"""A process restarted with the same host name and PID (a container's command is PID 1 again after its
restart policy brings it back) takes its dead predecessor's leases at once, saying so in one line,
and never a lease of a process that may be alive."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

import crisiswatch.lease
from crisiswatch.db import connect
from crisiswatch.lease import Leases, new_holder
from monitor.loop import RUN_LEASE, take_run_lease

TTL = timedelta(minutes=2)


def never_stand_by(seconds: float) -> bool:
    raise AssertionError("stood by: the restarted loop waited out its own dead predecessor's lease")


def test_a_restarted_loop_with_the_same_host_and_pid_takes_its_dead_predecessors_lease_at_once(
    state_url, monkeypatch, caplog
):
    conn = connect(state_url)
    leases = Leases(conn)
    before = new_holder("all")  # the loop before the restart
    assert leases.acquire(RUN_LEASE, before, TTL)
    # in the same life, another holder of this process (detection beside the loop) is refused: it may be alive
    assert not leases.acquire(RUN_LEASE, new_holder("detect"), TTL)
    # so is a live process of this host, and any process of another host
    host = socket.gethostname()
    assert not leases.acquire(RUN_LEASE, f"{host}:{os.getppid()}@0ther000:all:1", TTL)
    assert not leases.acquire(RUN_LEASE, f"elsewhere:{os.getpid()}@0ther000:all:1", TTL)
    assert leases.get(RUN_LEASE).holder == before

    # the restart: the same host name and PID, a new process life
    monkeypatch.setattr(crisiswatch.lease, "INSTANCE", "a1fe2000")
    after = new_holder("all")
    assert after.startswith(f"{host}:{os.getpid()}") and after != before
    caplog.set_level(logging.WARNING, logger="crisiswatch.lease")
    keeper = take_run_lease(state_url, after, TTL, wait=True, sleep=never_stand_by)
    try:
        assert leases.get(RUN_LEASE).holder == after and not keeper.lost.is_set()
    finally:
        keeper.stop()
    said = [r.getMessage() for r in caplog.records if "took over" in r.getMessage()]
    assert said == [
        f"lease {RUN_LEASE}: took over from {before}, which is no longer running (an earlier process"
        f" with this PID ({os.getpid()}) on {host}: restarted)"
    ]


def test_a_holder_named_by_an_older_release_with_this_pid_is_an_earlier_life(state_url, caplog):
    """Leases written before holders carried their instance (host:pid:role:random) are read too: one
    with this host and PID is not this process's, so its holder is gone."""
    leases = Leases(connect(state_url))
    older = f"{socket.gethostname()}:{os.getpid()}:detect:0ld00000"
    assert leases.acquire("detect-cycle", older, TTL)
    assert leases.acquire("detect-cycle", new_holder("detect"), TTL)
