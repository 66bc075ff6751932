"""Escalation chains on a controllable clock, and approvals restricted to named approvers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from alerts.approvals import ApprovalRefused, ApprovalService
from crisiswatch.audit import AuditLog
from crisiswatch.errors import CrisiswatchError
from monitor.incidents.service import IncidentService
from playbooks.paging import escalation_service
from tests.test_alert_helpers import T0, Clock, make_config, open_incident, slack_dispatcher

POLICY = {"default": {
    "steps": [{"after_minutes": 0, "notify": "#crisis", "label": "响应群"},
              {"after_minutes": 10, "notify": "<!subteam^S0ONCALL>", "label": "值班"},
              {"after_minutes": 20, "notify": "slack:#mgmt <!subteam^S0MGMT>", "label": "管理层"},
              {"after_minutes": 30, "notify": "slack:#legal", "label": "法务"}],
    "stale_ack_minutes": 60}}


@pytest.fixture
def world(tmp_path, slack, state_url):
    config = make_config(tmp_path, state_url, escalation_policies=POLICY)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    incident = open_incident(d.conn)
    # the incident's own top-level message, as the notify step sends it
    from playbooks.compose import incident_message

    d.enqueue(f"incident:{incident.id}:opened", incident_message(config, incident, "重要", chart=False))
    return config, clock, d, incident, escalation_service(config, d.conn, d, clock=clock)


def texts(slack) -> list[str]:
    return [c.params["text"] for c in slack.posts()]


def test_tiers_go_out_on_their_delays_into_the_thread_and_other_channels(world, slack):
    config, clock, d, incident, esc = world
    esc.start(incident.id, "default")
    esc.start(incident.id, "default")  # idempotent
    assert len(esc.tick()) == 1
    d.deliver_due()
    assert len(slack.posts(top_level_only=True)) == 1 and len(slack.posts()) == 2
    clock.advance(minutes=9)
    assert esc.tick() == []
    clock.advance(minutes=1)
    [did] = esc.tick()
    assert "值班" in did
    d.deliver_due()
    ping = slack.posts()[-1].params
    assert ping["text"].startswith("<!subteam^S0ONCALL>") and ping["thread_ts"] == slack.messages[0]["ts"]
    clock.advance(minutes=20)
    esc.tick()
    d.deliver_due()
    mgmt = slack.posts()[-1].params
    assert mgmt["channel"] == "CMGMT" and "<!subteam^S0MGMT>" in mgmt["text"] and "thread_ts" not in mgmt
    assert esc.status(incident.id)["chains"][0]["next_step"] == 3
    actions = [e["action"] for e in AuditLog(d.conn).entries(incident.label)]
    assert actions[:1] == ["escalation.start"] and actions.count("escalation.notify") == 3
    start = AuditLog(d.conn).entries(incident.label)[0]
    assert [s["label"] for s in start["detail"]["steps"]] == ["响应群", "值班", "管理层", "法务"]


def test_acknowledge_stops_the_chain_and_a_stale_ack_renotifies(world, slack):
    config, clock, d, incident, esc = world
    esc.start(incident.id, "default")
    esc.tick()
    assert esc.acknowledge(incident.id, by="U0ALICE") is True
    assert esc.acknowledge(incident.id, by="U0ALICE") is False
    assert IncidentService(d.conn).get(incident.id).acked_by == "U0ALICE"
    clock.advance(minutes=59)
    assert esc.tick() == []                     # acknowledged: the on-call is never paged
    d.deliver_due()
    assert not any("S0ONCALL" in t for t in texts(slack))
    root = json.dumps(slack.messages[0]["blocks"], ensure_ascii=False)
    assert "acknowledged by U0ALICE" in root     # the top message shows the state
    clock.advance(minutes=1)
    did = esc.tick()
    assert any("went stale" in line for line in did) and any("step 1" in line for line in did)
    clock.advance(minutes=10)
    esc.tick()
    d.deliver_due()
    assert any(t.startswith("<!subteam^S0ONCALL>") for t in texts(slack))
    assert "escalation.ack_stale" in [e["action"] for e in AuditLog(d.conn).entries(incident.label)]


def test_resolution_closes_the_chain_and_escalate_now_jumps_a_tier(world, slack):
    config, clock, d, incident, esc = world
    esc.start(incident.id, "default")
    esc.escalate_now(incident.id, by="U0BOB")
    assert esc.status(incident.id)["chains"][0]["next_step"] == 2   # tiers 1 and 2 sent at once
    d.deliver_due()
    assert any("S0ONCALL" in t for t in texts(slack))
    IncidentService(d.conn).resolve(incident.id, at=T0, reason="quiet")
    clock.advance(hours=3)
    assert "closed" in esc.tick()[0]
    assert esc.status(incident.id)["chains"][0]["status"] == "closed" and esc.tick() == []


def test_a_chain_nobody_acknowledges_says_so_once_in_the_thread_and_to_the_operator(tmp_path, slack):
    from playbooks.compose import incident_message

    config = make_config(tmp_path, escalation_policies=POLICY,
                         operator_route={"name": "ops", "channel": "slack", "target": "#ops"})
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    incident = open_incident(d.conn)
    d.enqueue(f"incident:{incident.id}:opened", incident_message(config, incident, "重要", chart=False))
    esc = escalation_service(config, d.conn, d, clock=clock)
    esc.start(incident.id, "default")
    seen: dict[str, object] = {}
    for _ in range(18):                          # three hours, nobody acknowledges
        for line in esc.tick():
            for mark in ("(法务)", "nobody acknowledged"):
                if mark in line:
                    seen.setdefault(mark, clock.at)
        d.deliver_due()
        clock.advance(minutes=10)
    # the last tier (法务, 60 min in) gets the 30 minutes it gave the tier before, then the chain gives up
    assert seen["nobody acknowledged"] - seen["(法务)"] == timedelta(minutes=30)
    assert esc.status(incident.id)["chains"][0]["status"] == "exhausted"
    last = [c.params for c in slack.posts() if "nobody acknowledged" in json.dumps(c.params, ensure_ascii=False)]
    assert [p["channel"] for p in last] == ["CCRISIS", "COPS"], texts(slack)
    thread, ops = last
    assert thread["thread_ts"] == slack.messages[0]["ts"] and "thread_ts" not in ops
    said = json.dumps(ops["blocks"], ensure_ascii=False)
    assert "nobody acknowledged INC-1 after all 4 tiers (响应群, 值班, 管理层, 法务); it is still open" in said
    assert "escalation exhausted" in thread["text"] and "escalation exhausted" in ops["text"]
    [audit] = [e for e in AuditLog(d.conn).entries(incident.label) if e["action"] == "escalation.exhausted"]
    assert audit["detail"]["tiers"] == ["响应群", "值班", "管理层", "法务"] and audit["detail"]["to"] == \
        "slack:#crisis, slack:#ops"
    assert esc.acknowledge(incident.id, by="U0LATE") is True   # an acknowledgement still stops it for good
    assert esc.status(incident.id)["chains"][0]["status"] == "acknowledged"


def test_restart_resumes_the_chain_from_sqlite(world, slack):
    config, clock, d, incident, esc = world
    esc.start(incident.id, "default")
    esc.tick()
    again = escalation_service(config, d.conn, d, clock=clock)   # a new process, same database
    clock.advance(minutes=10)
    assert "值班" in again.tick()[0]


def test_bad_policies_fail_at_start(world):
    config, clock, d, incident, esc = world
    with pytest.raises(CrisiswatchError, match="unknown escalation policy 'nope'"):
        esc.start(incident.id, "nope")


def test_policy_as_a_plain_list_is_accepted(tmp_path):
    config = make_config(tmp_path, escalation_policies={"p": [{"after_minutes": 5, "notify": "<!subteam^S1>"}]})
    assert config.alerts.escalation_policies["p"].steps[0].after_minutes == 5


def test_approvals_only_by_named_approvers_and_expire(world, slack):
    config, clock, d, incident, esc = world
    approvals = ApprovalService(config, d.conn, d, clock=clock)
    first = approvals.request("声明草稿 INC-1", ["U0LEGAL", "U0PR"], "我们已关注到 <!channel> 相关反馈…", 30)
    d.deliver_due()
    post = [c for c in slack.posts() if "审批" in c.params["text"]][0]
    blob = json.dumps(post.params["blocks"], ensure_ascii=False)
    assert '"approve"' in blob and "<!channel>" not in blob and "<@U0LEGAL>" in blob
    with pytest.raises(ApprovalRefused, match="not an approver"):
        approvals.decide(first, "U0INTERN", True)
    decided = approvals.decide(first, "U0LEGAL", True)
    assert decided.status == "approved" and decided.decided_by == "U0LEGAL"
    with pytest.raises(ApprovalRefused, match="already approved"):
        approvals.decide(first, "U0PR", False)
    second = approvals.request("声明草稿 2", ["U0LEGAL"], "text", 30)
    clock.advance(minutes=31)
    assert approvals.expire_due() == [second]
    assert approvals.get(second).status == "expired"
    d.deliver_due()
    root = next(m for m in slack.messages if "声明草稿 INC-1" in m["text"])
    assert '"approve"' not in json.dumps(root["blocks"])   # buttons gone once decided
    decided_blob = json.dumps(root["blocks"], ensure_ascii=False)
    assert "已批准 approved · <@U0LEGAL>" in decided_blob  # who decided, as Slack names them
