"""`crisiswatch mentions remask` on the copies of post text the state store keeps: a ticket's evidence, an
incident's top posts, the alerts in the outbox (sent, pending or failed), on SQLite and PostgreSQL. A row
someone changes while the pass runs is skipped and counted, never overwritten; an alert already sent is
masked in the outbox and counted, since its channel keeps what it showed."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import yaml

import playbooks.tickets.remask
from crisiswatch.cli import main
from crisiswatch.db import connect
from crisiswatch.mention import Mention
from monitor.incidents.service import IncidentService
from playbooks.compose import incident_message
from playbooks.tickets.service import TicketService
from tests.conftest import config_dict
from tests.test_alert_helpers import T0, make_config, open_incident, slack_dispatcher

# what an older masking let through: full-width digits with spaces
RAW = "快递五天没到，回电１３８ １２３４ ５６７８，谁来管管"
MASKED = "快递五天没到，回电138****5678，谁来管管"


def post(text: str = RAW) -> dict:
    return {
        "id": "m1",
        "url": "https://weibo.com/1/A",
        "text": text,
        "author": "小鹿",
        "followers": 12,
        "created_at": T0.isoformat(),
        "severity": "重要",
    }


def write_config(tmp_path, state_url: str) -> str:
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(
        yaml.safe_dump(config_dict(tmp_path, state={"url": state_url}), allow_unicode=True), encoding="utf-8"
    )
    return str(cfg)


def remask(cfg: str, capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["--config", cfg, "mentions", "remask", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def a_crisis_stored_before_the_masking_improved(tmp_path, state_url, slack):
    """An incident with a raw top post, its ticket holding the post as evidence, its first alert sent to Slack,
    an update still pending and a third that failed for good."""
    config = make_config(tmp_path, state_url)
    d = slack_dispatcher(config, slack)
    incident = open_incident(d.conn, posts=[post()])
    ticket = TicketService.from_config(config, d.conn).open(
        title="快递丢件",
        severity="重要",
        incident_id=incident.id,
        evidence=[{"mention_id": "m1", "text": RAW}],
    )
    d.enqueue(f"incident:{incident.id}:opened", incident_message(config, incident, "重要", chart=False))
    assert d.deliver_due() == (1, 0)
    d.enqueue(
        f"incident:{incident.id}:updated",
        incident_message(config, incident, "重要", kind="incident_updated", chart=False),
    )
    d.outbox.enqueue("copy", "slack", "#ops", incident_message(config, incident, "重要", chart=False))
    d.outbox.mark_failed(d.outbox.by_key("copy").id, "channel_not_found", None)
    return d, incident, ticket


def alert_texts(conn) -> list[str]:
    return [
        p["text"]
        for r in conn.execute("SELECT message FROM outbox ORDER BY id").fetchall()
        for p in json.loads(r["message"])["facts"]["top_posts"]
    ]


def test_tickets_incidents_and_alerts_lose_what_the_older_masking_left(tmp_path, state_url, slack, capsys):
    d, incident, ticket = a_crisis_stored_before_the_masking_improved(tmp_path, state_url, slack)
    cfg = write_config(tmp_path, state_url)
    calls = len(slack.calls)

    rc, out, err = remask(cfg, capsys, "--dry-run")
    assert rc == 0, err
    assert (
        "remask (dry run): 5 read, 5 would change, 0 failed; 1 alert already sent held what is now masked"
        in out
    )
    assert alert_texts(d.conn) == [RAW, RAW, RAW]  # a dry run writes nothing

    rc, out, err = remask(cfg, capsys)
    assert rc == 0, err
    assert (
        "remask: 5 read, 5 changed, 0 failed; 1 alert already sent held what is now masked: masked in the"
        " outbox, not unsent"
    ) in out
    assert "incidents 1/1/0; tickets 1/1/0; outbox 3/3/0" in out
    assert "alert 1 (slack #crisis) was sent before" in err
    assert "through outbox 3" in err  # progress, per store
    assert IncidentService(d.conn).get(incident.id).facts["top_posts"][0]["text"] == MASKED
    tickets = TicketService(d.conn)
    after = tickets.get(ticket.id)
    assert after.evidence == [{"mention_id": "m1", "text": MASKED}]
    assert after.version == ticket.version + 1  # an agent's form read before the rewrite must reload
    assert alert_texts(d.conn) == [MASKED, MASKED, MASKED]  # sent, pending and failed alike
    assert len(slack.calls) == calls  # nothing is updated or deleted in Slack
    # the pending update goes out, and refreshes the thread's top message, masked
    assert d.deliver_due() == (1, 0)
    sent = json.dumps([c.params for c in slack.calls[calls:]], ensure_ascii=False)
    assert "１２３４" not in sent and "138＊＊＊＊5678" in sent  # (Slack's * shown as ＊, inert)

    rc, out, _ = remask(cfg, capsys)  # idempotent; nothing sent holds what is now masked any more
    assert rc == 0 and "remask: 5 read, 0 changed, 0 failed (read/changed/failed:" in out


def test_a_ticket_an_agent_changes_meanwhile_is_skipped_not_overwritten(
    tmp_path, state_url, slack, capsys, monkeypatch
):
    d, _, ticket = a_crisis_stored_before_the_masking_improved(tmp_path, state_url, slack)
    cfg = write_config(tmp_path, state_url)
    agent = TicketService(connect(state_url))
    later = Mention(
        source="weibo", native_id="p9", text="我也是，电话１３９ ８７６５ ４３２１", created_at=T0
    )
    real = playbooks.tickets.remask.EVIDENCE

    def an_agent_joins_a_post_while_the_evidence_is_masked(old: str) -> str | None:
        if len(agent.get(ticket.id).evidence) == 1:
            agent.join(ticket.id, [later], actor="alice")  # committed between the pass's read and its write
        return real.rewrite(old)

    monkeypatch.setattr(
        playbooks.tickets.remask,
        "EVIDENCE",
        dataclasses.replace(real, rewrite=an_agent_joins_a_post_while_the_evidence_is_masked),
    )
    rc, out, err = remask(cfg, capsys)
    assert rc == 1
    assert "remask: 5 read, 4 changed, 0 failed, 1 skipped (changed meanwhile: run again)" in out
    assert f"remask tickets: {ticket.number} skipped: changed meanwhile" in err
    kept = agent.get(ticket.id).evidence
    assert [e["text"] for e in kept] == [RAW, later.text]  # the agent's join is kept

    monkeypatch.setattr(playbooks.tickets.remask, "EVIDENCE", real)
    rc, out, err = remask(cfg, capsys)
    assert rc == 0, err
    assert [e["text"] for e in agent.get(ticket.id).evidence] == [MASKED, "我也是，电话139****4321"]


def test_an_alert_being_sent_right_now_is_skipped_until_it_is_settled(tmp_path, state_url, slack, capsys):
    d, incident, _ = a_crisis_stored_before_the_masking_improved(tmp_path, state_url, slack)
    cfg = write_config(tmp_path, state_url)
    claimed = d.outbox.claim("deliverer-2", timedelta(minutes=5))  # another deliverer is sending the update
    assert claimed is not None and claimed.key.startswith(f"incident:{incident.id}:updated|")

    rc, out, err = remask(cfg, capsys)
    assert rc == 1
    assert "1 skipped (changed meanwhile: run again)" in out and "outbox 3/2/0" in out
    assert f"alert {claimed.id} (slack #crisis) skipped" in err
    assert alert_texts(d.conn) == [MASKED, RAW, MASKED]  # the row being sent is left as its sender read it

    d.outbox.release(claimed.id, "deliverer-2")
    rc, out, _ = remask(cfg, capsys)
    assert rc == 0 and alert_texts(d.conn) == [MASKED, MASKED, MASKED]


def test_a_sent_alert_is_counted_only_when_it_held_something(tmp_path, state_url, slack, capsys):
    config = make_config(tmp_path, state_url)
    d = slack_dispatcher(config, slack)
    incident = open_incident(d.conn, posts=[post(MASKED)])
    d.enqueue(f"incident:{incident.id}:opened", incident_message(config, incident, "重要", chart=False))
    assert d.deliver_due() == (1, 0)
    rc, out, _ = remask(write_config(tmp_path, state_url), capsys)
    assert rc == 0 and "remask: 2 read, 0 changed, 0 failed (read/" in out and "already sent" not in out


def test_the_facts_of_an_absorbed_signal_are_post_copies_too(tmp_path, capsys):
    state_url = f"sqlite:///{tmp_path / 'cw.db'}"
    conn = connect(state_url)
    incident = open_incident(conn, posts=[post(MASKED)])
    related = [{"rule": "complaint_surge", "facts": {"top_posts": [post()]}}]
    IncidentService(conn).attach_facts(incident.id, related=related)
    rc, out, err = remask(write_config(tmp_path, state_url), capsys)
    assert rc == 0, err
    facts = IncidentService(conn).get(incident.id).facts
    assert facts["related"][0]["facts"]["top_posts"][0]["text"] == MASKED
    assert facts["top_posts"][0]["author"] == "小鹿"  # only the text is post text


def test_a_uk_number_and_address_the_older_masking_missed_leave_a_ticket(tmp_path, capsys):
    state_url = f"sqlite:///{tmp_path / 'cw.db'}"
    conn = connect(state_url)
    raw = "parcel left at 221B Baker Street, London NW1 6XE, ring 07700 900123"
    ticket = TicketService(conn).open(
        title="parcel", severity="一般", evidence=[{"mention_id": "x1", "text": raw}]
    )
    rc, out, err = remask(write_config(tmp_path, state_url), capsys)
    assert rc == 0, err
    assert "tickets 1/1/0" in out
    assert TicketService(conn).get(ticket.id).evidence[0]["text"] == (
        "parcel left at [address], London NW1 ***, ring 07700 ***123"
    )
