"""`crisiswatch state migrate --to postgresql://…` copies a SQLite state file over, and proves it."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.message import AlertMessage
from alerts.outbox import Outbox
from crisiswatch.audit import AuditLog
from crisiswatch.cli import main
from crisiswatch.db import connect
from monitor.detectors.base import Signal
from monitor.incidents.service import IncidentService
from playbooks.tickets.service import TicketService
from tests.stores import new_database

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def filled_sqlite(path) -> str:
    conn = connect(path)
    incidents = IncidentService(conn)
    incidents.apply(Signal(rule="negative_spike", key="brand=aurora", brand="aurora", level="warning",
                                      at=T0, value=9.5, baseline=0.3, p_value=1e-9, summary="9 条负面 vs 0.3",
                                      facts={"top": ["快递没到"]}))
    tickets = TicketService(conn, clock=lambda: T0)
    for n in range(3):
        tickets.intake(channel="phone", customer="王女士", contact="13812345678", summary=f"快递五天没到 {n}",
                       category="logistics", severity="一般", actor="agent:lin")
    Outbox(conn).enqueue("k1", "slack", "#crisis", AlertMessage(kind="incident_opened", title="极光", severity="重要",
                                                                 brand="aurora", summary="s"))
    AuditLog(conn).record("agent:lin", "ticket.accept", "CW-1", note=None, score=0.25)
    conn.close()
    return str(path)


def test_a_sqlite_store_is_copied_to_postgresql_and_checked_table_by_table(tmp_path, postgres_server, capsys):
    db = filled_sqlite(tmp_path / "old.db")
    target = new_database(postgres_server)
    assert main(["--db", db, "state", "migrate", "--to", target]) == 0
    out = capsys.readouterr().out
    assert "every count and checksum matches" in out and "MISMATCH" not in out
    line = next(x for x in out.splitlines() if x.split()[:1] == ["tickets"])
    assert line.split()[1:3] == ["3", "3"] and line.split()[3] == line.split()[4]
    pg = connect(target)
    tickets = TicketService(pg, clock=lambda: T0)
    copied = tickets.list(limit=10)
    assert sorted(t.summary for t in copied) == ["快递五天没到 0", "快递五天没到 1", "快递五天没到 2"]
    new = tickets.intake(channel="phone", customer="李先生", contact="13912345678", summary="退款", category="logistics",
                         severity="一般", actor="agent:lin")
    assert new.id == max(t.id for t in copied) + 1  # ids go on after the copied ones
    assert IncidentService(pg).list()[0].facts["top"] == ["快递没到"]
    # into a store that already holds data: refused, nothing written twice
    assert main(["--db", db, "state", "migrate", "--to", target]) == 1
    assert "not empty" in capsys.readouterr().err
    assert pg.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 4


def test_a_copy_that_loses_rows_on_the_way_is_reported_and_fails(tmp_path, postgres_server, capsys):
    db = filled_sqlite(tmp_path / "old.db")
    target = new_database(postgres_server)
    sabotage = connect(target)  # a target that silently swallows one table's rows
    sabotage.execute("CREATE RULE swallow AS ON INSERT TO audit_log DO INSTEAD NOTHING")
    assert main(["--db", db, "state", "migrate", "--to", target]) == 1
    captured = capsys.readouterr()
    assert "audit_log" in captured.err and "MISMATCH" in captured.out


def test_a_laptop_file_holding_the_sqlite_index_too_is_copied_without_it(tmp_path, postgres_server, capsys):
    # the default set-up (state_db and index.url in one crisiswatch.db), and what `crisiswatch demo` leaves: the copy
    # stopped at "the two stores' schemas differ (mention_brands, mention_counts, …): upgrade both first"
    from index.sqlite import SQLiteBackend
    from tests.test_backend_contract import DATA

    db = filled_sqlite(tmp_path / "crisiswatch.db")
    backend = SQLiteBackend(db)
    backend.upsert(DATA)
    backend.close()
    target = new_database(postgres_server)
    assert main(["--db", db, "state", "migrate", "--to", target]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "every count and checksum matches" in out
    assert "not copied (not state: the SQLite mention index stays where index.url names it): mention_brands" in out
    assert connect(target).execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 3


def test_a_mistyped_source_is_said_not_copied_as_an_empty_store(tmp_path, capsys):
    typo = tmp_path / "crisiswatc.db"
    # it made an empty database there, copied it and said "copied 0 rows …; every count and checksum matches"
    assert main(["--db", str(typo), "state", "migrate", "--to", f"sqlite:///{tmp_path / 'new.db'}"]) == 1
    assert capsys.readouterr().err == f"crisiswatch: no state database at {typo} to copy (check --db, --from or state_db)\n"
    assert not typo.exists() and not (tmp_path / "new.db").exists()
