"""Post text reaches Slack and webhooks inert (no mention, no formatting, no link); statements are built
from curated facts; a stale acknowledgement re-pages with a mention, so someone is actually paged."""

from __future__ import annotations

import json

from alerts.message import neutral_markdown
from playbooks.compose import incident_message
from playbooks.paging import escalation_service
from tests.test_alert_helpers import T0, Clock, make_config, open_incident, slack_dispatcher

HOSTILE = "<!channel> *x* _y_ ~z~ `code` https://evil.example"


def mrkdwn_objects(node):
    if isinstance(node, list):
        for n in node:
            yield from mrkdwn_objects(n)
    elif isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node
        for v in node.values():
            yield from mrkdwn_objects(v)


def test_a_hostile_post_reaches_slack_with_no_mention_formatting_or_link(tmp_path, slack):
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack)
    incident = open_incident(d.conn, posts=[{"text": HOSTILE, "author": "*boss*", "followers": 3,
                                             "created_at": T0.isoformat()}])
    d.conn.execute("UPDATE incidents SET facts=json_set(facts, '$.top_terms', json_array('_evil_', '~x~'))")
    from monitor.incidents.service import IncidentService

    d.enqueue("a", incident_message(config, IncidentService(d.conn).get(incident.id), "重要", chart=False))
    assert d.deliver_due() == (1, 0)
    [post] = slack.posts()
    blocks = post.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    texts = [o["text"] for o in mrkdwn_objects(blocks)]
    carrying = [t for t in texts if "code" in t]
    assert carrying, texts
    for text in carrying + [post.params["text"]]:
        for live in ("<!channel>", "*x*", "_y_", "~z~", "`code`", "https://evil.example"):
            assert live not in text, (live, text)
    assert all(o.get("verbatim") is True for o in mrkdwn_objects(blocks))  # nothing auto-linked
    assert "evil.example" in carrying[0]                                   # still shown, as text
    blob = json.dumps(blocks, ensure_ascii=False)
    assert "_evil_" not in blob and "~x~" not in blob and "*boss*" not in blob


def test_webhook_markdown_is_inert_too():
    line = neutral_markdown(HOSTILE)
    assert "https://" not in line and "<!channel>" not in line
    for raw in ("*x*", "_y_", "~z~", "`code`"):
        assert raw not in line


def test_a_stale_acknowledgement_re_pages_tier_one_with_a_mention(tmp_path, slack):
    policy = {"default": {"steps": [{"after_minutes": 0, "notify": "#crisis", "label": "响应群"},
                                    {"after_minutes": 10, "notify": "<!subteam^S0ONCALL>", "label": "值班"}],
                          "stale_ack_minutes": 30}}
    config = make_config(tmp_path, escalation_policies=policy)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    incident = open_incident(d.conn)
    esc = escalation_service(config, d.conn, d, clock=clock)
    esc.start(incident.id, "default")
    esc.tick()
    esc.acknowledge(incident.id, by="U0ALICE")
    clock.advance(minutes=31)
    assert any("went stale" in line for line in esc.tick())
    clock.advance(minutes=3)  # past the wait for the incident's own message
    d.deliver_due()
    repage = [c for c in slack.posts() if "tier" in c.params["text"] or "响应群" in c.params["text"]][-1]
    assert "<@U0ALICE>" in repage.params["text"], repage.params["text"]
