"""Who may put a statement out: its approvers (and, in the console, an admin), not any agent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from alerts.approvals import ApprovalService
from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.cli import main
from crisiswatch.db import connect
from crisiswatch.errors import CrisiswatchError
from playbooks.publishing import StatementDesk
from playbooks.statements import StatementStore
from tests.browser.dashboard_site import build_site, csrf_of, login, serve
from tests.test_playbook_steps import SAFETY_POSTS, Clock, engine_for, incident


def _approved(site, playbook: str, approvers: list[str]) -> int:
    """A statement of the site's incident, approved by its first approver, waiting to be published."""
    conn = connect(site.db)
    now = datetime.now(UTC)
    store = StatementStore(conn)
    statement = store.draft(incident_id=site.incident_id, playbook=playbook, ticket_number=site.ticket_number,
                            template="holding_statement", text="【极光优选】我们已成立专项小组，正在核查。",
                            approvers=approvers, incident_start=now - timedelta(hours=1), ready_at=now,
                            window_minutes=240)
    approval = ApprovalService(site.config, conn, AlertDispatcher(site.config, conn, {})).request(
        f"statement:INC-{site.incident_id}:{playbook}", approvers, statement.text, 120)
    store.set_approval(statement.id, str(approval))
    StatementDesk(site.config, conn).decide(statement.id, approvers[0], True)
    conn.close()
    return statement.id


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("publish"))


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def _publish(session, base: str, statement_id: int):
    csrf = csrf_of(session.get(f"{base}/statements", timeout=20).text)
    return session.post(f"{base}/statements/{statement_id}", data={"action": "publish", "csrf": csrf},
                        allow_redirects=False, timeout=20)


def test_an_agent_who_is_not_an_approver_may_not_publish(site, base):
    statement_id = _approved(site, "refused_agent", ["pr-lead"])
    ada = login(base, "ada")
    page = ada.get(f"{base}/statements", timeout=20).text
    card = page[page.index(f'id="statement-{statement_id}"'):]
    card = card[:card.index("</section>")]
    assert 'data-action="publish"' not in card and "批准后由审批人或管理员发布" in card  # no button to press
    reply = _publish(ada, base, statement_id)  # nor a way round it
    assert reply.status_code == 403
    assert "ada 不是这份声明的审批人，不能发布：只有审批人（pr-lead）或管理员可以发布。" in reply.text
    conn = connect(site.db)
    statement = StatementStore(conn).get(statement_id)
    assert statement.status == "approved" and statement.published_by is None and statement.published_at is None
    refused = [e for e in AuditLog(conn).entries(f"INC-{site.incident_id}")
               if e["action"] == "statement.publish" and e["outcome"] == "refused"]
    assert refused and refused[-1]["actor"] == "ada" and refused[-1]["detail"]["statement"] == statement_id


def test_an_approver_publishes_and_so_does_an_admin(site, base):
    by_approver = _approved(site, "approver_publishes", ["ada"])
    by_admin = _approved(site, "admin_publishes", ["pr-lead"])
    assert _publish(login(base, "ada"), base, by_approver).status_code == 303
    assert _publish(login(base, "root"), base, by_admin).status_code == 303
    store = StatementStore(connect(site.db))
    assert (store.get(by_approver).status, store.get(by_approver).published_by) == ("published", "ada")
    assert (store.get(by_admin).status, store.get(by_admin).published_by) == ("published", "root")


def test_the_cli_publishes_only_as_an_approver(tmp_path, capsys):
    start = datetime.now(UTC) - timedelta(minutes=20)  # the CLI acts on the real clock
    engine, conn = engine_for(tmp_path, Clock(start + timedelta(minutes=20)))
    engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS, at=start))
    statement = StatementStore(conn).all()[0]
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(json.loads(engine.config.model_dump_json()), allow_unicode=True), encoding="utf-8")
    assert main(["--config", str(cfg), "statement", "--as", "pr-lead", "approve", str(statement.id)]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "statement", "--as", "intern", "publish", str(statement.id)]) == 1
    refusal = capsys.readouterr().err
    assert "intern may not publish statement 1: only its approvers (pr-lead, legal-counsel) publish it" in refusal
    assert StatementStore(conn).get(statement.id).status == "approved"
    with pytest.raises(CrisiswatchError, match="intern may not publish"):
        StatementDesk(engine.config, conn).publish(statement.id, "intern")
    assert main(["--config", str(cfg), "statement", "--as", "pr-lead", "publish", str(statement.id)]) == 0
    assert StatementStore(conn).get(statement.id).published_by == "pr-lead"
