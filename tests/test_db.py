"""State databases from an older release gain the columns added since, instead of failing on queries."""

from __future__ import annotations

import sqlite3

import pytest

from crisiswatch.db import connect, ensure_schema
from crisiswatch.errors import CrisiswatchError
from crisiswatch.store.migrate import latest
from playbooks.tickets.service import TicketService


def test_an_old_table_gains_new_columns_and_keeps_its_rows(tmp_path):
    conn = connect(tmp_path / "state.db")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    conn.execute("INSERT INTO notes (body) VALUES ('kept')")
    ensure_schema(
        conn,
        "notes-v2",
        """CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL,
               author TEXT, status TEXT NOT NULL DEFAULT 'open', score REAL DEFAULT 0.5);
           CREATE INDEX IF NOT EXISTS notes_status ON notes (status);""",
    )
    row = conn.execute("SELECT body, author, status, score FROM notes").fetchone()
    assert tuple(row) == ("kept", None, "open", 0.5)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'notes_status'").fetchone()


def test_a_column_that_cannot_be_added_in_place_is_named_in_one_line(tmp_path):
    conn = connect(tmp_path / "state.db")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    with pytest.raises(CrisiswatchError, match="table notes lacks column body") as err:
        ensure_schema(conn, "notes-v3", "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    assert "\n" not in str(err.value)


# The first release's ticket tables (before departments, replies, satisfaction, cluster joining...).
FIRST_RELEASE_TICKETS = """
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
    status TEXT NOT NULL, brand TEXT NOT NULL DEFAULT '', category TEXT NOT NULL DEFAULT 'other',
    severity TEXT NOT NULL, department TEXT NOT NULL DEFAULT '客服', channel TEXT NOT NULL DEFAULT '',
    incident_id INTEGER, source_url TEXT NOT NULL DEFAULT '', author_handle TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    ack_due TEXT NOT NULL, response_due TEXT NOT NULL, feedback_due TEXT NOT NULL, resolve_due TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE ticket_mentions (ticket_id INTEGER NOT NULL REFERENCES tickets(id), mention_id TEXT NOT NULL,
    PRIMARY KEY (ticket_id, mention_id));
CREATE TABLE ticket_sequence (day TEXT PRIMARY KEY, last INTEGER NOT NULL);
INSERT INTO tickets (number, title, status, severity, created_at, updated_at, ack_due, response_due,
    feedback_due, resolve_due) VALUES ('CW-20260101-0001', 'old ticket', '新建', '重要',
    '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', '2026-01-01T01:00:00+00:00',
    '2026-01-01T02:00:00+00:00', '2026-01-02T00:00:00+00:00', '2026-01-04T00:00:00+00:00');
INSERT INTO ticket_mentions VALUES (1, 'weibo:1');
INSERT INTO ticket_sequence VALUES ('20260101', 1);
"""


def test_a_ticket_database_from_the_first_release_opens_and_walks_on(tmp_path):
    old = sqlite3.connect(tmp_path / "state.db")  # written before versioned migrations: no schema_version
    old.executescript(FIRST_RELEASE_TICKETS)
    old.close()
    conn = connect(tmp_path / "state.db")
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == latest()
    tickets = TicketService(conn)
    old = tickets.by_number("CW-20260101-0001")
    assert old is not None and old.mention_ids == ["weibo:1"] and old.departments == []
    accepted = tickets.transition(old.id, "accept", actor="agent", expected_version=old.version)
    assert accepted.acked_at is not None and accepted.version == old.version + 1
    new = tickets.open(title="new ticket", severity="一般")
    assert new.number != old.number
