"""The state store's contract, on SQLite and on PostgreSQL alike: one schema, rows by position and by
name, numbers as numbers, transactions that roll back, and every small state module's writes.

The big services (tickets, incidents, outbox delivery, detection, playbooks, escalation, sessions,
leases) run their own test modules on both stores through the same `state_url` fixture.
"""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from alerts.approvals import ApprovalService
from alerts.channels.console import ConsoleChannel
from alerts.channels.slack_ids import SlackChannelIds
from alerts.dispatch import AlertDispatcher
from alerts.message import AlertMessage
from alerts.outbox import Outbox
from crawlers.health import source_health
from crawlers.probe import CheckResult, record_checks
from crawlers.sessions import Session, SessionPool
from crawlers.state import CrawlState
from crawlers.x.collector import Backlog, SinceIds
from crisiswatch.audit import AuditLog
from crisiswatch.brand_names import BrandNames
from crisiswatch.db import IntegrityError, connect, on_commit, transaction
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from crisiswatch.store.migrate import latest
from index.spool import Spool, backlog
from monitor.enrich.steps import NearDupStep
from playbooks.publishing import StatementDesk
from playbooks.statements import StatementStore
from tests.stores import new_database

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def columns_sqlite(conn) -> dict[str, list[str]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                         " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def columns_postgres(conn) -> dict[str, list[str]]:
    rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                        " WHERE table_schema='public' ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_one_schema_on_both_stores(tmp_path, postgres_server):
    lite = connect(tmp_path / "s.db")
    pg = connect(new_database(postgres_server))
    assert columns_sqlite(lite) == columns_postgres(pg)
    assert len(columns_sqlite(lite)) >= 35
    for conn in (lite, pg):
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == latest()


def test_a_transaction_inside_another_is_a_savepoint_and_commits_with_it(state_url):
    """A flow making several services' changes one (a dismissal): each service's own transaction nests, its
    error undoes its own part alone, and what waits for the commit (the index's copy) runs after it, once."""
    conn = connect(state_url)
    outbox = Outbox(conn, clock=lambda: T0)
    message = AlertMessage(kind="health", title="t", severity="一般", brand="aurora", summary="s")
    after: list[str] = []
    with transaction(conn):
        outbox.enqueue("outer", "console", "", message)
        with pytest.raises(RuntimeError), transaction(conn, lock="ticket:1"):
            outbox.enqueue("inner", "console", "", message)
            on_commit(conn, lambda: after.append("undone"))
            raise RuntimeError("refused")
        with transaction(conn, lock="ticket:2"):
            on_commit(conn, lambda: after.append("kept"))
        assert after == [] and connect(state_url).execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert after == ["kept"] and not conn.in_transaction
    assert outbox.by_key("outer") is not None and outbox.by_key("inner") is None
    with pytest.raises(RuntimeError), transaction(conn):
        with transaction(conn):
            on_commit(conn, lambda: after.append("rolled back"))
        raise RuntimeError("the whole goes")
    assert after == ["kept"]
    on_commit(conn, lambda: after.append("at once"))  # outside a transaction
    assert after == ["kept", "at once"]


def test_rows_by_position_and_name_numbers_as_numbers(state_url):
    conn = connect(state_url)
    state = CrawlState(conn)
    run = state.start_run("weibo")
    state.finish_run(run, "finished", items=7, pages=2)
    state.finish_run(state.start_run("weibo"), "finished", items=5, pages=1)
    row = conn.execute("SELECT SUM(items) AS n, AVG(pages) AS p, COUNT(*) AS c FROM crawl_runs").fetchone()
    assert (row[0], row["n"], row["c"]) == (12, 12, 2) and type(row["n"]) is int
    assert row["p"] == 1.5 and dict(row) == {"n": 12, "p": 1.5, "c": 2}
    summary = state.source_summary()[0]
    assert summary["items_last_hour"] == 12 and summary["runs"] == 2


def test_a_transaction_rolls_back_whole_and_a_duplicate_is_an_integrity_error(state_url):
    conn = connect(state_url)
    outbox = Outbox(conn, clock=lambda: T0)
    message = AlertMessage(kind="health", title="t", severity="一般", brand="aurora", summary="s")
    with pytest.raises(RuntimeError), transaction(conn):
        outbox.enqueue("k1", "console", "", message)
        raise RuntimeError("half way")
    assert outbox.by_key("k1") is None and not conn.in_transaction
    assert outbox.enqueue("k1", "console", "", message) and not outbox.enqueue("k1", "console", "", message)
    with pytest.raises(IntegrityError):
        conn.execute("INSERT INTO brand_names(key, display_name, updated_at) VALUES (?,?,?)", ("a", None, "x"))
    with pytest.raises((sqlite3.OperationalError, psycopg.errors.UndefinedTable)):
        conn.execute("SELECT * FROM no_such_table")
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE status LIKE '%end%'").fetchone()[0] == 1  # % in SQL


def test_crawl_marks_only_move_forward_and_health_is_kept(state_url):
    state = CrawlState(connect(state_url))
    state.advance_mark("weibo", "极光", T0)
    state.advance_mark("weibo", "极光", T0 - timedelta(hours=1))
    assert state.mark("weibo", "极光") == T0
    state.advance_mark("weibo", "极光", T0 + timedelta(minutes=5))
    assert state.mark("weibo", "极光") == T0 + timedelta(minutes=5)
    state.record("weibo", "source_blocked", reason="captcha")
    assert state.blocked_since("weibo") is not None and state.events()[0].detail == {"reason": "captcha"}
    state.record("weibo", "source_unblocked")
    assert state.blocked_since("weibo") is None


def test_audit_dead_letters_and_brand_names(state_url):
    conn = connect(state_url)
    audit = AuditLog(conn)
    audit.record("agent:lin", "ticket.accept", "CW-1", at=T0, version=2)
    assert audit.entries("CW-1")[0]["detail"] == {"version": 2}
    letters = DeadLetters(conn)
    letters.add("index", "bad record 13812345678", {"text": "call 13812345678"}, source="weibo")
    assert letters.count("index") == 1 and "13812345678" not in letters.recent()[0].reason
    names = BrandNames(conn)
    names.remember({"aurora": "极光优选"})
    names.remember({"aurora": "极光优选 Aurora"})
    assert names.all() == {"aurora": "极光优选 Aurora"}


def test_slack_ids_since_ids_and_near_duplicates_persist(state_url, store_config):
    conn = connect(state_url)
    SlackChannelIds(conn).put({"#crisis": "C0123ABC"})
    SlackChannelIds(conn).put({"crisis": "C0999XYZ"})
    assert SlackChannelIds(connect(state_url)).get("#crisis") == "C0999XYZ"
    since = SinceIds(conn)
    since.advance("q", "1934000000000000012")
    since.advance("q", "1934000000000000001")
    since.defer("q", Backlog("1934000000000000030", "1934000000000000040"))
    assert since.get("q") == "1934000000000000012" and since.backlog("q").until_id == "1934000000000000030"
    step = NearDupStep(store_config, conn)
    posts = [Mention(source="weibo", native_id=str(i), text="极光优选的快递八天了还没到，客服一直说在核实，太失望了",
                     created_at=datetime.now(UTC)) for i in range(2)]
    step(posts)
    assert posts[0].cluster_id == posts[1].cluster_id
    again = Mention(source="weibo", native_id="9", text="极光优选的快递八天了还没到，客服一直说在核实，太失望了",
                    created_at=datetime.now(UTC))
    NearDupStep(store_config, connect(state_url))([again])  # a new process loads the clusters
    assert again.cluster_id == posts[0].cluster_id


def test_the_index_spool_keeps_batches_in_order(state_url):
    conn = connect(state_url)
    spool = Spool(conn, "es")
    for n in range(3):
        spool.append([Mention(source="weibo", native_id=f"{n}-{i}", text="t", created_at=T0) for i in range(n + 1)])
    assert spool.pending() == 6 and backlog(conn)[0][:3] == ("es", 3, 6)
    seen = []
    for seq, mentions in spool.batches():
        seen.append(len(mentions))
        spool.remove(seq)
    assert seen == [1, 2, 3] and spool.pending() == 0


def test_a_statement_is_drafted_once_and_an_approval_is_decided_once(state_url, store_config):
    conn = connect(state_url)
    statements = StatementStore(conn)
    for _ in range(2):
        draft = statements.draft(incident_id=1, playbook="p", ticket_number="CW-1", template="t", text="致歉",
                                 approvers=["pr"], incident_start=T0, ready_at=T0 + timedelta(minutes=30),
                                 window_minutes=60)
    assert len(statements.all(1)) == 1 and draft.text == "致歉"
    out = io.StringIO()
    approvals = ApprovalService(store_config, conn, AlertDispatcher(store_config, conn, {"console": ConsoleChannel(out)}),
                                clock=lambda: T0)
    first = approvals.request("statement:1", ["lin"], "publish?", 30)
    second = approvals.request("statement:2", ["lin"], "publish?", 30)
    assert second == first + 1
    assert approvals.decide(first, "lin", True).status == "approved"
    with pytest.raises(Exception, match="already approved"):
        approvals.decide(first, "lin", False)


def test_a_rejected_statement_gets_a_new_round_and_keeps_the_old_one(state_url, store_config):
    conn = connect(state_url)
    statements = StatementStore(conn)
    draft = statements.draft(incident_id=1, playbook="p", ticket_number="CW-1", template="t", text="致歉",
                             approvers=["lin"], incident_start=T0, ready_at=T0, window_minutes=60)
    desk = StatementDesk(store_config, conn, clock=lambda: T0 + timedelta(minutes=5))
    statements.set_approval(draft.id, str(desk.approvals.request("statement:INC-1:p", ["lin"], draft.text, 30)))
    desk.decide(draft.id, "lin", False)
    revised = desk.revise(draft.id, "ada", "致歉（修改稿）")
    assert (revised.status, revised.version, revised.text) == ("draft", 2, "致歉（修改稿）")
    [old] = statements.history(draft.id)
    assert (old.version, old.text, old.status, old.decided_by, old.change) == (1, "致歉", "rejected", "lin", "revised")
    assert desk.approvals.get(int(revised.approval_id)).status == "pending"
    with pytest.raises(Exception, match="waiting for its approvers"):  # one round at a time
        desk.resubmit(draft.id, "ada")


def test_source_checks_and_quarantined_cookies_are_kept(state_url):
    conn = connect(state_url)
    record_checks(conn, [CheckResult("weibo_search", "极光", "ok", ""),
                         CheckResult("weibo_search", "极光优选", "blocked", "captcha page")])
    [health] = source_health(conn)
    assert (health.source, health.status, health.via) == ("weibo_search", "blocked", "check")
    cookies = [Session(f"weibo_search cookie {n}", "env", {"SUB": str(n)}, fingerprint=f"fp{n}") for n in (1, 2)]
    pool = SessionPool("weibo_search", cookies, conn)
    assert pool.expire(cookies[0], "432") and pool.expire(cookies[0], "432") is None
    again = SessionPool("weibo_search", [Session(c.label, c.origin, dict(c.cookies), c.fingerprint) for c in cookies],
                        connect(state_url))
    assert [s.label for s in again.live] == ["weibo_search cookie 2"]
