"""Times as staff read them: one kernel function, the team's zone, stored times read as UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from alerts.message import AlertMessage
from crisiswatch.db import connect
from crisiswatch.localtime import local_time
from playbooks.tickets.service import TicketService


@pytest.fixture
def server_in_new_york(monkeypatch):
    """The process's own zone is not the team's, as on a server rented abroad."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_instant_reads_in_the_team_zone_whatever_its_form():
    at = datetime(2026, 6, 14, 13, 5, tzinfo=UTC)
    assert local_time(at, "Asia/Shanghai") == "2026-06-14 21:05"
    assert local_time(at.isoformat(), "Asia/Shanghai", "%H:%M") == "21:05"
    assert local_time(None, "Asia/Shanghai") == "" and local_time("", "UTC", empty="never") == "never"


def test_a_time_stored_without_an_offset_is_utc_not_the_servers_zone(server_in_new_york, tmp_path):
    naive = datetime(2026, 6, 14, 13, 5)  # written as UTC, without the offset
    assert local_time(naive, "Asia/Shanghai") == "2026-06-14 21:05"
    assert local_time(naive.isoformat(), "Asia/Shanghai") == "2026-06-14 21:05"
    # the ticket desk's deadlines and Slack's times go through it (the desk read such a time as New York's)
    tickets = TicketService(connect(str(tmp_path / "state.db")), timezone="Asia/Shanghai")
    assert tickets.local(naive) == "2026-06-14 21:05"
    message = AlertMessage(kind="health", title="t", severity="一般", brand="acme", summary="")
    assert message.local_time(naive.isoformat()) == "06-14 21:05"
