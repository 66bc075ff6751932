"""Alerts held until a person fixes something have their own outbox column (migration 0006), on SQLite and
on a real PostgreSQL: rows an older release marked with a `needs a fix: ` prefix on last_error migrate to it,
and `status`, `alerts outbox`, `alerts retry` and the deliverer read it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import psycopg
import pytest
import yaml

from alerts.message import AlertMessage
from alerts.outbox import PENDING, SENT, Outbox
from crisiswatch.cli import main
from crisiswatch.store import migrate as store_migrate
from crisiswatch.store.connect import open_store
from tests.conftest import config_dict
from tests.stores import STORES
from tests.test_alert_helpers import make_config, slack_dispatcher

T_QUEUED = "2026-03-02T08:00:00+00:00"
HELD_ERROR = "invalid_auth: the Slack token was refused; set a new one in SLACK_BOT_TOKEN"


@pytest.fixture(params=STORES)
def bare_url(request, tmp_path) -> str:
    """An empty store of each kind with no schema at all (not the suite's ready-made template)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cw.db'}"
    server = request.getfixturevalue("postgres_server")
    name = f"cw_bare_{os.getpid()}_{tmp_path.name.lower().replace('-', '_')}"[:60]
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server.url(name)


def store_as_of(url: str, version: int, monkeypatch):
    """The store as a release that had migrations 1..version left it."""
    every = store_migrate.migrations()
    with monkeypatch.context() as m:
        m.setattr(store_migrate, "migrations", lambda: every[:version])
        conn = open_store(url, schema=False)
        store_migrate._apply(conn)
    return conn


def old_row(conn, key: str, status: str, last_error: str | None) -> None:
    message = AlertMessage(kind="incident_opened", title=f"alert {key}", severity="紧急", brand="aurora", summary="-")
    conn.execute("INSERT INTO outbox(idempotency_key, channel, target, message, status, attempts, next_attempt_at,"
                 " last_error, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                 (key, "slack", "#crisis", json.dumps(message.to_dict(), ensure_ascii=False), status, 3,
                  "2999-01-01T00:00:00+00:00", last_error, T_QUEUED))


def cli(tmp_path, state_url: str, slack, *argv: str) -> tuple[int, str]:
    cfg = tmp_path / "crisiswatch.yaml"
    data = config_dict(tmp_path, state={"url": state_url})
    data["alerts"] = {**data["alerts"], "slack": {"base_url": slack.base_url}}
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--config", str(cfg), *argv])
    return code, out.getvalue()


def test_rows_held_with_the_old_prefix_migrate_to_the_needs_fix_column_on_both_stores(bare_url, monkeypatch):
    conn = store_as_of(bare_url, 5, monkeypatch)
    old_row(conn, "held", PENDING, "needs a fix: " + HELD_ERROR)
    old_row(conn, "retrying", PENDING, "Slack unreachable: ConnectionError: refused")
    old_row(conn, "quoted", PENDING, "Slack refused the message: needs a fix: is not a prefix here")
    store_migrate._apply(conn)   # the new release's first connection
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == store_migrate.latest()
    rows = {r.key: r for r in Outbox(conn).all()}
    assert rows["held"].needs_fix and rows["held"].last_error == HELD_ERROR
    assert not rows["retrying"].needs_fix and rows["retrying"].last_error.startswith("Slack unreachable")
    assert not rows["quoted"].needs_fix and rows["quoted"].last_error.endswith("is not a prefix here")
    [held] = [t for t in Outbox(conn).trouble_summary() if t.needs_fix]
    assert held.ids == [rows["held"].id] and held.last_error == HELD_ERROR


def test_status_outbox_and_retry_needs_fix_read_the_column_and_the_fix_delivers(tmp_path, slack, state_url,
                                                                                monkeypatch):
    config = make_config(tmp_path, state_url=state_url)
    d = slack_dispatcher(config, slack)
    real, slack.token = slack.token, "xoxb-revoked"
    d.enqueue("first", AlertMessage(kind="operator", title="舆情告警 one", severity="紧急", brand="aurora", summary="-"))
    d.enqueue("second", AlertMessage(kind="operator", title="舆情告警 two", severity="紧急", brand="aurora", summary="-"))
    d.deliver_due()
    held = d.outbox.all()
    assert [(r.status, r.needs_fix) for r in held] == [(PENDING, True)] * 2
    assert held[0].last_error.startswith("invalid_auth: the Slack token was refused")   # no prefix on the error
    monkeypatch.setenv("SLACK_BOT_TOKEN", real)                                        # ops set a working token
    slack.token = real
    code, out = cli(tmp_path, state_url, slack, "status")
    line = next(x for x in out.splitlines() if "waiting for a fix" in x)
    assert "2 alert(s) to slack #crisis" in line and "alerts retry --needs-fix" in line
    code, out = cli(tmp_path, state_url, slack, "alerts", "outbox")
    assert out.count("pending, waits for a fix") == 2
    # retried every 10 minutes: not due yet; `alerts retry --needs-fix` makes both due now, said as such
    assert d.deliver_due() == (0, 0)
    code, out = cli(tmp_path, state_url, slack, "alerts", "retry", "--needs-fix", "--as", "ops")
    assert code == 0 and out.count("was waiting for a fix") == 2, out
    assert d.deliver_due() == (2, 0)
    assert [(r.status, r.needs_fix, r.last_error) for r in d.outbox.all()] == [(SENT, False, None)] * 2
