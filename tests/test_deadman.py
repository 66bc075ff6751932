"""The dead-man runs outside the loop (systemd timer or cron call `crisiswatch alerts deadman-check`)
and pages even on a fresh install whose loop never started, to the crisis route when no operator
route is configured."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import yaml

from crisiswatch.db import connect
from tests.conftest import REPO, config_dict

DEPLOY = REPO / "deploy"


def deadman_check(cfg, slack, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token, "PYTHONPATH": str(REPO),
           "XDG_STATE_HOME": str(cfg.parent / "state"), **(env or {})}   # never the real ~/.local/state
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "alerts", "deadman-check"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_a_loop_that_never_started_pages_the_crisis_route(tmp_path, slack):
    data = config_dict(tmp_path)  # the example's shape: no operator_route
    data["alerts"] = {"slack": {"base_url": slack.base_url}, "deadman_minutes": 15,
                      "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    first = deadman_check(cfg, slack)  # the timer's first run on a fresh install
    assert first.returncode == 1 and "no heartbeat from loop yet" in first.stdout, first.stderr[-1500:]
    assert slack.messages == []

    conn = connect(data["state_db"])  # twenty minutes pass with no loop
    then = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    conn.execute("UPDATE deadman_watch SET first_checked_at=?", (then,))
    second = deadman_check(cfg, slack)
    assert second.returncode == 1 and "has never run" in second.stdout, second.stderr[-1500:]
    [page] = slack.messages
    assert page["channel"] == "CCRISIS" and "never started" in page["text"]
    assert deadman_check(cfg, slack).returncode == 1 and len(slack.messages) == 1  # once per silence


def test_systemd_timer_and_cron_call_the_deadman_check():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(DEPLOY / "crisiswatch-deadman.service")
    assert service["Service"]["ExecStart"].endswith("alerts deadman-check")
    assert service["Service"]["Type"] == "oneshot"
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(DEPLOY / "crisiswatch-deadman.timer")
    assert timer["Timer"]["OnBootSec"] and timer["Timer"]["OnUnitActiveSec"]
    cron = [line for line in (DEPLOY / "crisiswatch.cron").read_text().splitlines() if line[:1] in "*0123456789"]
    assert len(cron) == 1 and "alerts deadman-check" in cron[0] and len(cron[0].split()[:5]) == 5


# while the silence lasts, every check makes sure its page is pending or sent -------------------------

def _slack_reachable(d, slack, up: bool) -> None:
    for client in (d.channels["slack"].poster, d.channels["slack"].client):
        client.base_url = slack.base_url if up else "http://127.0.0.1:9/api/"


def test_a_page_that_meets_a_slack_outage_goes_out_when_slack_is_back(tmp_path, slack):
    from alerts.operator import OperatorAlerts
    from crisiswatch.audit import AuditLog
    from tests.test_alert_helpers import T0, Clock, make_config, slack_dispatcher

    config = make_config(tmp_path, max_attempts=3)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    op = OperatorAlerts(config, d.conn, d, clock=clock)
    op.beat()                                       # the loop's last beat; then it dies
    clock.advance(minutes=16)
    _slack_reachable(d, slack, up=False)            # ... and Slack is unreachable for ten minutes
    while clock.at < T0 + timedelta(minutes=26):    # the timer runs the check every 5 minutes
        assert op.deadman_check()
        for _ in range(3):                          # and the loop's deliverer would retry in between
            d.deliver_due()
            clock.advance(seconds=90)
        clock.advance(seconds=30)
    assert slack.posts() == []
    gave_up = [r.key for r in d.outbox.all() if r.status == "failed"]
    _slack_reachable(d, slack, up=True)             # Slack is back at 14:26; the loop is still dead
    for _ in range(6):                              # the checks of the next half hour
        op.deadman_check()
        d.deliver_due()
        clock.advance(minutes=5)
    [page] = slack.posts()                          # once, not only with the reminder an hour in
    assert "is silent" in page.params["text"]
    if gave_up:                                     # the row had failed for good: put back, audited
        assert {(e["action"], e["subject"]) for e in AuditLog(d.conn).entries()} == {("deadman.requeue", gave_up[0])}


def test_a_silence_that_lasts_is_paged_again_every_hour(tmp_path, slack):
    from alerts.operator import OperatorAlerts
    from tests.test_alert_helpers import T0, Clock, make_config, slack_dispatcher

    config = make_config(tmp_path)                  # deadman 15 min, reminders every 60
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    op = OperatorAlerts(config, d.conn, d, clock=clock)
    op.beat()
    for _ in range(39):                             # a check every 5 minutes for 3 h 15 min
        clock.advance(minutes=5)
        op.deadman_check()
        d.deliver_due()
    texts = [c.params["text"] for c in slack.posts()]
    assert len(texts) == 4, texts
    assert "is silent" in texts[0]
    assert [t.split("still silent for ")[1][:8] for t in texts[1:]] == ["1 h 15 m", "2 h 15 m", "3 h 15 m"]


def test_a_loop_that_never_started_is_paged_again_every_hour(tmp_path, slack):
    from alerts.operator import OperatorAlerts
    from tests.test_alert_helpers import T0, Clock, make_config, slack_dispatcher

    config = make_config(tmp_path, deadman_repeat_minutes=30)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    op = OperatorAlerts(config, d.conn, d, clock=clock)
    for _ in range(17):                             # 80 minutes of checks, no loop
        op.deadman_check()
        d.deliver_due()
        clock.advance(minutes=5)
    texts = [c.params["text"] for c in slack.posts()]
    assert len(texts) == 3 and "never started" in texts[0], texts
    assert "still not started after 45 min" in texts[1] and "still not started after 1 h 15 min" in texts[2]


# the state store down: the dead-man pages without it ---------------------------------------------

def test_with_the_state_store_down_the_deadman_pages_straight_to_slack(tmp_path, slack):
    import json

    import psycopg

    from crisiswatch.store.throwaway import ThrowawayPostgres, _as_server_user, postgres_bin

    pg = ThrowawayPostgres().start()
    pg_ctl = [str(postgres_bin() / "pg_ctl"), "-D", str(pg.data), "-l", str(pg.root / "log"), "-w", "-t", "60"]
    options = f"-p {pg.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    try:
        with psycopg.connect(pg.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE cw")
        data = config_dict(tmp_path, state={"url": pg.url("cw")})
        data["alerts"] = {"slack": {"base_url": slack.base_url},
                          "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}
        cfg = tmp_path / "crisiswatch.yaml"
        cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        env = {"XDG_STATE_HOME": str(tmp_path / "state"), "PGPASSWORD": "s3cr3t-pw"}  # trust auth: must not show
        assert "no heartbeat from loop yet" in deadman_check(cfg, slack, env).stdout   # the store is up
        subprocess.run(_as_server_user([*pg_ctl, "-m", "fast", "stop"]), check=True, capture_output=True)

        runs = [deadman_check(cfg, slack, env) for _ in range(2)]   # PostgreSQL is down: two checks, 5 min apart
        assert [r.returncode for r in runs] == [1, 1], runs[0].stderr[-1500:]
        assert "state store unreachable: OperationalError" in runs[0].stdout and "paged slack:#crisis" in runs[0].stdout
        assert "unexpected error" not in runs[0].stderr
        [page] = slack.messages                                      # one page, not one per check
        shown = json.dumps(page, ensure_ascii=False)
        assert page["channel"] == "CCRISIS" and "state store unreachable" in page["text"]
        assert "crisiswatch state store unreachable: OperationalError" in shown and "Connection refused" in shown
        assert "s3cr3t" not in shown + runs[0].stdout + runs[0].stderr

        state = tmp_path / "state" / "crisiswatch" / "deadman-store.json"
        kept = json.loads(state.read_text())
        for outage in kept["outages"].values():                      # an hour later it is still down
            outage["paged_at"] = (datetime.fromisoformat(outage["paged_at"]) - timedelta(minutes=61)).isoformat()
        state.write_text(json.dumps(kept))
        assert deadman_check(cfg, slack, env).returncode == 1 and len(slack.messages) == 2

        subprocess.run(_as_server_user([*pg_ctl, "-o", options, "start"]), check=True, capture_output=True)
        back = deadman_check(cfg, slack, env)                        # the store is back (the loop still is not)
        assert "state store reachable again" in back.stdout, back.stderr[-1500:]
        assert "state store back" in slack.messages[-1]["text"] and len(slack.messages) == 3
        assert json.loads(state.read_text())["outages"] == {}
    finally:
        pg.stop()


# the all-clear --------------------------------------------------------------------------------------

def test_a_paged_silence_that_ends_gets_one_all_clear_on_the_same_route(tmp_path, slack):
    from alerts.operator import OperatorAlerts
    from tests.test_alert_helpers import T0, Clock, make_config, slack_dispatcher

    config = make_config(tmp_path, operator_route={"name": "ops", "channel": "slack", "target": "#ops"})
    clock = Clock(T0)                               # 12:00 in Shanghai
    d = slack_dispatcher(config, slack, clock=clock)
    op = OperatorAlerts(config, d.conn, d, clock=clock)
    op.beat()
    clock.advance(minutes=5)
    op.beat()                                       # a short gap, never paged: nothing to clear
    clock.advance(minutes=20)
    assert op.deadman_check()
    d.deliver_due()
    clock.advance(minutes=16)
    op.beat()                                       # the loop is back at 12:41
    d.deliver_due()
    for _ in range(3):                              # later checks and beats say nothing more
        clock.advance(minutes=5)
        op.beat()
        assert op.deadman_check() is None
        d.deliver_due()
    posts = [c.params for c in slack.posts()]
    assert [p["channel"] for p in posts] == ["COPS", "COPS"]
    assert "is silent" in posts[0]["text"] and "loop back" in posts[1]["text"]
    assert "monitoring loop back: silent from 12:05 to 12:41 CST (36 min)" in json.dumps(posts[1]["blocks"],
                                                                                        ensure_ascii=False)


def test_a_loop_that_starts_after_the_never_started_page_is_announced_once(tmp_path, slack):
    from alerts.operator import OperatorAlerts
    from tests.test_alert_helpers import T0, Clock, make_config, slack_dispatcher

    config = make_config(tmp_path)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    op = OperatorAlerts(config, d.conn, d, clock=clock)
    for _ in range(5):                              # 12:00 … 12:20: checks, no loop; paged at 12:15
        op.deadman_check()
        d.deliver_due()
        clock.advance(minutes=5)
    op.beat()                                       # the loop starts at 12:25
    d.deliver_due()
    op.beat()
    assert op.deadman_check() is None
    d.deliver_due()
    texts = [c.params["text"] for c in slack.posts()]
    assert len(texts) == 2 and "never started" in texts[0] and "loop started" in texts[1]
    assert "first heartbeat at 12:25 CST, 25 min after the first dead-man check (12:00)" in \
        json.dumps(slack.messages[1]["blocks"], ensure_ascii=False)


def test_the_store_outage_kept_on_disk_is_each_state_stores_own(tmp_path, slack):
    # two deployments on one host and user (two teams, or staging beside production) share the dead-man's file:
    # a check of the store that is up announced the other's recovery and forgot it, which then paged again
    (tmp_path / "not-a-folder").write_text("")
    configs = {}
    for name, db in (("down", tmp_path / "not-a-folder" / "cw.db"), ("up", tmp_path / "up.db")):
        data = config_dict(tmp_path, state_db=str(db))
        data["alerts"] = {"slack": {"base_url": slack.base_url},
                          "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    first = deadman_check(configs["down"], slack)
    assert first.returncode == 1 and "state store unreachable" in first.stdout and len(slack.messages) == 1
    other = deadman_check(configs["up"], slack)
    assert "reachable again" not in other.stdout, other.stdout
    again = deadman_check(configs["down"], slack)
    assert again.returncode == 1 and "(paged at" in again.stdout, again.stdout  # not a second page
    assert not any("state store back" in m["text"] for m in slack.messages)
