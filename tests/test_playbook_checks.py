"""Playbooks that fail at `validate`, not in a crisis; a step that fails live still opens the ticket and
pages the operator; statements never carry internal ids and are published from the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from alerts.outbox import Outbox
from crisiswatch.cli import main
from crisiswatch.errors import CrisiswatchError
from playbooks.schema import Playbook
from playbooks.statements import StatementStore, render
from tests.conftest import config_dict
from tests.test_playbook_steps import SAFETY_POSTS, T0, Clock, engine_for, incident

LIBRARY = Path(__file__).parent.parent / "playbooks" / "library"


def broken(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "books"
    folder.mkdir(exist_ok=True)
    text = (LIBRARY / "product_safety.yaml").read_text(encoding="utf-8")
    assert old in text
    (folder / "product_safety.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def validate(tmp_path: Path, folder: Path, capsys) -> tuple[int, str]:
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True), encoding="utf-8")
    code = main(["--config", str(cfg), "playbook", "validate", str(folder)])
    return code, capsys.readouterr().err


def test_the_shipped_playbooks_and_reply_templates_validate(tmp_path, capsys):
    assert validate(tmp_path, LIBRARY, capsys) == (0, "")


def test_an_unknown_variable_fails_validate_naming_file_and_key(tmp_path, capsys):
    folder = broken(tmp_path, "{top_terms}", "{toppp_terms}")
    code, err = validate(tmp_path, folder, capsys)
    assert code == 1
    assert f"playbook {folder / 'product_safety.yaml'}: steps.0.title: unknown variable {{toppp_terms}}" in err


def test_an_unknown_statement_template_fails_validate(tmp_path, capsys):
    folder = broken(tmp_path, "template: holding_statement_product_safety", "template: holding_statment")
    code, err = validate(tmp_path, folder, capsys)
    assert code == 1 and "steps.6.template: unknown statement template 'holding_statment'" in err


def test_a_statement_that_would_carry_an_internal_id_fails_validate(tmp_path, capsys):
    folder = broken(tmp_path, "template: holding_statement_product_safety",
                    "template: \"{{ brand_name }}：详见工单 {{ ticket }}\"")
    code, err = validate(tmp_path, folder, capsys)
    assert code == 1 and "statements are public" in err
    with pytest.raises(CrisiswatchError, match="internal id"):
        render("{{ brand_name }}：{{ summary }}", {"brand_name": "极光优选", "summary": "见 CW-20250614-0001"})


def test_a_step_failing_live_still_opens_the_ticket_and_pages_the_operator(tmp_path):
    bad = Playbook.model_validate({  # as if the folder had been edited after validation
        "name": "typo", "trigger": {"rule": "negative_spike"}, "path": "books/typo.yaml",
        "steps": [{"type": "open_ticket", "title": "{brand_name} {toppp_terms}"}, {"type": "notify"}]})
    clock = Clock(T0 + timedelta(minutes=5))
    engine, conn = engine_for(tmp_path, clock, playbooks=[bad])
    ran = dict(engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS)))
    assert ran["typo"][0].startswith("open_ticket: failed (unknown variable {toppp_terms}")
    assert ran["typo"][1:] == ["open_ticket (fail-safe): done", "operator paged"]
    tickets = engine.tickets.list()
    assert len(tickets) == 1 and tickets[0].incident_id == 1 and tickets[0].severity == "重大"
    pages = [r for r in Outbox(conn).all() if r.message.kind == "operator"]
    assert len(pages) == 1
    assert "typo step 1 (open_ticket) failed on INC-1: unknown variable {toppp_terms}" in pages[0].message.summary
    assert tickets[0].number in pages[0].message.summary and "books/typo.yaml" in pages[0].message.summary
    clock.now += timedelta(minutes=1)
    engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS))  # retried: no second ticket or page
    assert len(engine.tickets.list()) == 1
    assert len([r for r in Outbox(conn).all() if r.message.kind == "operator"]) == 1


def test_statements_are_approved_and_published_from_the_cli(tmp_path, capsys):
    start = datetime.now(UTC) - timedelta(minutes=20)  # the CLI decides on the real clock: a live request
    engine, conn = engine_for(tmp_path, Clock(start + timedelta(minutes=20)))
    engine.handle(incident(conn, {"product_quality": 30, "logistics": 3}, SAFETY_POSTS, at=start))
    statement = StatementStore(conn).all()[0]
    ticket = engine.tickets.list()[0]
    assert ticket.number not in statement.text and "INC-" not in statement.text  # public text: no internal ids
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(json.loads(engine.config.model_dump_json()), allow_unicode=True), encoding="utf-8")
    assert main(["--config", str(cfg), "statement", "--as", "intern", "approve", str(statement.id)]) == 1
    assert "intern is not an approver" in capsys.readouterr().err
    assert main(["--config", str(cfg), "statement", "--as", "pr-lead", "publish", str(statement.id)]) == 1
    assert "only an approved statement can be published" in capsys.readouterr().err
    assert main(["--config", str(cfg), "statement", "--as", "pr-lead", "approve", str(statement.id)]) == 0
    assert main(["--config", str(cfg), "statement", "--as", "pr-lead", "publish", str(statement.id)]) == 0
    assert "published" in capsys.readouterr().out
    out = StatementStore(conn).get(statement.id)
    assert out.status == "published" and out.published_by == "pr-lead" and out.published_at is not None
    assert out.missed_window == (out.published_at > out.window_ends)


@pytest.mark.parametrize(("old", "new", "key"), [
    ("department: 调查", "department: 调查组", "steps.2.department"),     # assign: no such department
    ("to: 管理层", "to: 管理层领导", "steps.7.to"),                        # escalate_if: the same
])
def test_a_department_that_only_contains_a_real_one_fails_validate(tmp_path, capsys, old, new, key):
    """调查组 or 管理层领导 passed validate (the pattern matched a part of the name) and failed live on the ticket."""
    folder = broken(tmp_path, old, new)
    code, err = validate(tmp_path, folder, capsys)
    assert code == 1 and f"product_safety.yaml: {key}" in err


def test_validate_names_every_bad_file_of_a_folder_as_the_loop_would_skip_them(tmp_path, capsys):
    folder = broken(tmp_path, "type: task", "type: tasks")
    (folder / "rockets.yaml").write_text("name: rockets\ntrigger: {}\nsteps:\n  - type: open_ticket\n"
                                         "    departmnt: 客服\n", encoding="utf-8")
    (folder / "twin.yaml").write_text((LIBRARY / "negative_spike.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "twin2.yaml").write_text((LIBRARY / "negative_spike.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    code, err = validate(tmp_path, folder, capsys)
    assert code == 1
    assert "product_safety.yaml: steps.4.type: unknown step type 'tasks'" in err
    assert "rockets.yaml: steps.0.departmnt: Extra inputs are not permitted" in err
    assert "twin2.yaml: name: a second playbook named 'negative_spike'" in err


def validate_with_policies(tmp_path: Path, folder: Path, capsys, policies: dict) -> tuple[int, str]:
    data = config_dict(tmp_path)
    data["alerts"] = {**data["alerts"], "escalation_policies": policies}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code = main(["--config", str(cfg), "playbook", "validate", str(folder)])
    return code, capsys.readouterr().err


def test_a_page_naming_a_policy_the_team_does_not_have_fails_validate(tmp_path, capsys):
    """With paging configured, `policy: crisis_teem` paged nobody in a crisis (skipped, in the audit only)."""
    policies = {"crisis_team": {"steps": [{"notify": "#crisis-mgmt"}]}}
    assert validate_with_policies(tmp_path, LIBRARY, capsys, policies)[0] == 0
    code, err = validate_with_policies(tmp_path, broken(tmp_path, "policy: crisis_team", "policy: crisis_teem"),
                                       capsys, policies)
    assert code == 1 and "steps.3.policy: unknown escalation policy 'crisis_teem'" in err
    code, err = validate_with_policies(tmp_path, LIBRARY, capsys, {"crisis_team": {"steps": [{"notify": "route:pr"}]}})
    assert code == 1 and "steps.3.policy: escalation policy 'crisis_team' step 1: escalation step names unknown route" \
        " 'pr'" in err


def test_a_page_naming_an_unknown_policy_live_tells_the_operator_once(tmp_path):
    book = Playbook.model_validate({"name": "typo", "trigger": {"rule": "negative_spike"}, "steps": [
        {"type": "open_ticket"}, {"type": "page", "policy": "crisis_teem"}, {"type": "task", "items": ["复盘"]}]})
    clock = Clock(T0 + timedelta(minutes=5))
    engine, conn = engine_for(tmp_path, clock, playbooks=[book])  # configures crisis_team
    assert dict(engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS)))["typo"] == [
        "open_ticket: done", "page: skipped", "task: done"]
    pages = [r for r in Outbox(conn).all() if r.message.kind == "operator"]
    assert len(pages) == 1 and "unknown escalation policy 'crisis_teem'" in pages[0].message.summary


@pytest.mark.parametrize(("old", "new", "message"), [
    ("rule: negative_spike", "rule: negative_spkie",
     "trigger.rule: unknown detector rule 'negative_spkie' (rules: negative_spike, "),
    ("rule: negative_spike", "rule: negative_spike\n  brands: [auroa]", "trigger.brands: unknown brand 'auroa'"),
])
def test_a_trigger_that_can_never_match_fails_validate(tmp_path, capsys, old, new, message):
    """A misspelt rule or brand passed validate, and the playbook simply never ran."""
    folder = broken(tmp_path, old, new)
    code, err = validate(tmp_path, folder, capsys)
    assert code == 1 and message in err


def test_an_escalate_if_page_that_would_fail_fails_validate(tmp_path, capsys):
    folder = broken(tmp_path, "    to: 管理层\n  - type: close_when", "    to: 管理层\n    page: crisis_teem\n  - type: close_when")
    code, err = validate_with_policies(tmp_path, folder, capsys, {"crisis_team": {"steps": [{"notify": "#crisis-mgmt"}]}})
    assert code == 1 and "steps.7.page: unknown escalation policy 'crisis_teem'" in err
    code, err = validate(tmp_path, folder, capsys)  # no paging configured at all: escalate_now would raise
    assert code == 1 and "steps.7.page: no escalation policy configured" in err
