"""SIGKILL a process running playbooks between two steps, or inside a step with side effects, then
let the run loop (`crisiswatch run --once`, a real second process) take over: every step is done
exactly once, as in a run nobody killed (one ticket, one alert per key, one approval request, one
paging chain, one checklist), and the trail says which step the killed process was in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from crisiswatch.db import connect
from tests.conftest import REPO, config_dict

# the killed process: writes the incident as detection does, then answers it as respond() does, with
# one function wrapped to SIGKILL the process at the named point
CHILD = textwrap.dedent('''
    import io, os, signal, sys
    from datetime import UTC, datetime
    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from monitor.detectors.base import Signal
    from monitor.incidents.models import IncidentChange
    from monitor.incidents.service import IncidentService
    from playbooks.engine import PlaybookEngine

    config_path, point = sys.argv[1], sys.argv[2]
    config = load_config(config_path)
    conn = connect(config.state_store)

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def after(owner, name):  # the side effect happens, then the process dies before recording it
        original = getattr(owner, name)
        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            die()
            return result
        setattr(owner, name, wrapped)

    if point == "between_steps":  # step 1 of negative_spike recorded done, step 2 not begun
        from playbooks import engine as engine_module
        original_record = engine_module.PlaybookEngine._record
        def record(self, incident, playbook, index, step_type, outcome, detail, now):
            original_record(self, incident, playbook, index, step_type, outcome, detail, now)
            if playbook.name == "negative_spike" and index == 0 and outcome == "done":
                die()
        engine_module.PlaybookEngine._record = record
    elif point == "in_open_ticket":
        from playbooks.tickets.service import TicketService
        after(TicketService, "open")
    elif point == "in_notify":
        after(AlertDispatcher, "enqueue")
    elif point == "in_page":
        from alerts.escalation import EscalationService
        after(EscalationService, "start")
    elif point == "in_task":
        from playbooks.tickets.service import TicketService
        after(TicketService, "add_tasks")
    elif point == "in_statement_approval":
        from alerts.approvals import ApprovalService
        after(ApprovalService, "request")

    service = IncidentService(conn)
    at = datetime.now(UTC)
    change = service.apply(Signal(rule="negative_spike", key="brand=aurora", brand="aurora", level="critical", at=at,
                                  value=20, baseline=0.5, p_value=1e-12, summary="20 negative in 1 min", facts={}))
    service.attach_facts(change.incident.id, categories={"product_quality": 30}, top_terms=["充电宝", "冒烟", "批次"],
                         mentions=40, top_authors=[], top_posts=[
        {"id": "m1", "url": "https://weibo.com/1/A", "text": "极光优选的充电宝充电时冒烟起火", "author": "小鹿",
         "followers": 300, "severity": "重大", "category": "product_quality", "source": "weibo"}])
    if point == "before_playbooks":  # the incident is written, its playbooks not begun
        die()
    dispatcher = AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())})
    engine = PlaybookEngine(config, conn, dispatcher)
    engine.handle(IncidentChange("opened", service.get(change.incident.id)))
''')

KILL_POINTS = ["before_playbooks", "between_steps", "in_open_ticket", "in_notify", "in_page", "in_task",
               "in_statement_approval"]

STOPPED_IN = {"in_open_ticket": "negative_spike step 1 (open_ticket)", "in_notify": "negative_spike step 2 (notify)",
              "in_page": "product_safety step 4 (page)", "in_task": "product_safety step 5 (task)",
              "in_statement_approval": "product_safety step 7 (draft_statement)"}


def write_config(tmp_path, state_url: str | None = None):
    data = config_dict(tmp_path, **({"state": {"url": state_url}} if state_url else {}))
    data["brands"] = [{"key": "aurora", "names": ["极光优选", "极光"]}]  # nothing to crawl: the loop only answers
    data["alerts"] = {"routes": [{"name": "response", "channel": "console"}],
                      "escalation_policies": {"crisis_team": {"steps": [{"notify": "#crisis-mgmt"}]}}}
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def env() -> dict[str, str]:
    drop = {"SLACK_BOT_TOKEN", "X_BEARER_TOKEN", "KIBANA_URL"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "PYTHONPATH": str(REPO)}


def child(cfg, point: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(cfg), point], cwd=REPO, env=env(),
                          capture_output=True, text=True, timeout=120)


def run_once(cfg) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "run", "--once"],
                          cwd=REPO, env=env(), capture_output=True, text=True, timeout=180)


def outcome(url: str) -> dict:
    """What the response did, in the terms that matter: each step's end, and each side effect's count."""
    conn = connect(url)
    tasks = [json.loads(r[0]) for r in conn.execute("SELECT tasks FROM tickets")]
    return {
        "steps": [tuple(r) for r in conn.execute(
            "SELECT playbook, step, type, outcome FROM playbook_runs ORDER BY playbook, step")],
        "tickets": conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0],
        "tasks": [len(t) for t in tasks],
        "alerts": sorted(r[0] for r in conn.execute("SELECT idempotency_key FROM outbox")),
        "approvals": conn.execute("SELECT COUNT(*) FROM approvals").fetchone()[0],
        "statements": conn.execute("SELECT COUNT(*) FROM statements").fetchone()[0],
        "chains": conn.execute("SELECT COUNT(*) FROM escalation_chains").fetchone()[0],
    }


@pytest.fixture(scope="module")
def unkilled(tmp_path_factory):
    """The same response with nobody killed, then one pass of the loop."""
    tmp = tmp_path_factory.mktemp("unkilled")
    cfg = write_config(tmp)
    done = child(cfg, "none")
    assert done.returncode == 0, done.stderr[-3000:]
    again = run_once(cfg)
    assert again.returncode == 0, again.stderr[-3000:]
    return outcome(f"sqlite:///{tmp / 'cw.db'}")


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_playbook_killed_anywhere_is_finished_once_by_the_next_pass(tmp_path, unkilled, point):
    killed_and_restarted(tmp_path, unkilled, point, f"sqlite:///{tmp_path / 'cw.db'}")


@pytest.mark.parametrize("point", ["between_steps", "in_task", "in_statement_approval"])
def test_the_same_on_postgresql(tmp_path, unkilled, point, postgres_server):
    from tests.stores import new_database

    killed_and_restarted(tmp_path, unkilled, point, new_database(postgres_server))


def killed_and_restarted(tmp_path, unkilled: dict, point: str, url: str) -> None:
    cfg = write_config(tmp_path, None if url.startswith("sqlite") else url)
    killed = child(cfg, point)
    assert killed.returncode == -9, f"the kill point {point} was never reached: {killed.stderr[-3000:]}"
    conn = connect(url)
    before = outcome(url)
    assert before != unkilled, "the kill came too late to test anything"

    if point.startswith("in_"):  # what the on-call engineer sees before the loop comes back: where it stopped
        status = subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "status"], cwd=REPO,
                                env=env(), capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr[-3000:]
        assert "playbook steps failing or interrupted: 1\n" in status.stdout
        assert f"INC-1 {STOPPED_IN[point]} interrupted" in status.stdout

    restarted = run_once(cfg)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    after = outcome(url)
    assert after == unkilled
    assert unkilled["tickets"] == 1 and unkilled["approvals"] == 1 and unkilled["chains"] == 1
    if point.startswith("in_"):  # the trail says which step the killed process was in
        interrupted = [r["action"] for r in conn.execute(
            "SELECT action FROM audit_log WHERE outcome='interrupted' AND subject='INC-1'")]
        assert len(interrupted) == 1, interrupted
    elif point == "before_playbooks":
        assert "INC-1 was opened but its playbooks had not run" in restarted.stderr
