"""Two run loops inside one playbook step: the first stalls in the step (its keeper has not noticed yet that
the lease ran out) while a standby takes the lease and runs the playbook. The first must not then do the
step's side effect too, nor write over the standby's record: it checks the lease's generation (the fencing
token) inside the transaction that makes the side effect, and stops."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.db import connect
from crisiswatch.lease import LeaseLost, Leases
from playbooks.engine import PlaybookEngine
from playbooks.steps import open_ticket
from playbooks.tickets.service import TicketService
from tests.test_playbook_steps import SAFETY_POSTS, T0, Clock, engine_for, incident

LEASE, TTL = "detect-cycle", timedelta(minutes=5)


def test_a_loop_stalled_inside_a_step_does_not_do_it_beside_the_standby_that_took_its_lease(
    tmp_path, monkeypatch, state_url
):
    clock, lease_clock = Clock(T0 + timedelta(minutes=20)), Clock(T0 + timedelta(minutes=20))
    first, conn = engine_for(tmp_path, clock, state={"url": state_url})
    assert Leases(conn, clock=lease_clock).acquire(LEASE, "loop-a", TTL)
    first.fence = Leases(conn).fence(LEASE, "loop-a")
    first.held = lambda: (
        True
    )  # what its lease keeper knows: it has not renewed (or failed to) since the stall
    other = connect(first.config.state_store)  # the standby is another process
    standby = PlaybookEngine(
        first.config, other, AlertDispatcher(first.config, other, first.dispatcher.channels), clock=clock
    )
    title, stalled = open_ticket.fill, []

    def stalls(template, variables):  # the step's work before its side effect (rendering, the index, ...)
        if not stalled:
            stalled.append(True)
            lease_clock.now += TTL + timedelta(
                minutes=1
            )  # meanwhile its lease ran out and the standby took it
            assert Leases(other, clock=lease_clock).acquire(LEASE, "loop-b", TTL)
            standby.fence, standby.held = Leases(other).fence(LEASE, "loop-b"), lambda: True
            standby.tick()  # the incident's playbooks, answered by the standby (the first had not finished)
        return title(template, variables)

    monkeypatch.setattr(open_ticket, "fill", stalls)
    with pytest.raises(LeaseLost, match="stopped inside step 1 .open_ticket., before its side effect"):
        first.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS))

    assert standby.fence.generation == first.fence.generation + 1
    tickets = TicketService.from_config(first.config, conn).list()
    assert len(tickets) == 1  # the stalled loop did not open a second one
    assert len(tickets[0].tasks) == 4  # nor add the playbook's tasks again
    # every step taken and recorded under the standby's lease, the one the stalled loop was inside among them
    runs = conn.execute("SELECT playbook, step, outcome, fence FROM playbook_runs").fetchall()
    assert {r["fence"] for r in runs} == {standby.fence.generation}
    assert "running" not in {r["outcome"] for r in runs}
    opened = [
        e for e in AuditLog(conn).entries("INC-1") if e["action"] == "open_ticket" and e["outcome"] == "done"
    ]
    assert len(opened) == 1
    assert first.tick() == []  # still without its lease, the first does nothing more
