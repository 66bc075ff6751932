"""The demo recreates its own database and never someone's real one."""

from __future__ import annotations

import pytest

from crisiswatch.cli import main
from crisiswatch.db import connect
from crisiswatch.errors import CrisiswatchError
from monitor.demo import _fresh, _mark
from playbooks.tickets.service import TicketService


def test_the_demo_refuses_a_database_with_real_work_in_it(tmp_path, capsys):
    real = tmp_path / "prod.db"
    TicketService(connect(real)).open(title="王女士的快递五天没到", severity="一般", actor="agent")
    # `crisiswatch --db FILE` is how the README says to point every command at a database
    assert main(["--db", str(real), "demo"]) == 1
    assert "holds tickets, incidents or mentions no demo made" in capsys.readouterr().err
    assert [t.title for t in TicketService(connect(real)).list()] == ["王女士的快递五天没到"]  # it wiped them


def test_an_earlier_demos_database_and_an_empty_one_are_recreated(tmp_path):
    demo = tmp_path / "demo.db"
    _mark(str(demo), "all_sources")
    conn = connect(demo)
    TicketService(conn).open(title="演示工单", severity="一般", actor="playbook")
    conn.close()
    _fresh(str(demo))
    assert not demo.exists()
    empty = tmp_path / "empty.db"
    connect(empty).close()
    _fresh(str(empty))
    assert not empty.exists()
    junk = tmp_path / "notes.db"
    junk.write_text("not a database")
    with pytest.raises(CrisiswatchError):
        _fresh(str(junk))
