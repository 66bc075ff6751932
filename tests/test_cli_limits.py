"""Where a command shows or takes less than asked, it says so; where it counts, it counts everything."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import yaml

from crisiswatch.cli import main
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.mention import Author, Mention
from index import open_backend
from playbooks.tickets.flows import MAX_COPIES, convert_from_index
from playbooks.tickets.service import TicketService
from tests.conftest import config_dict
from tests.test_alert_helpers import open_incident


def test_status_counts_every_open_incident(tmp_path, capsys):
    data = config_dict(tmp_path)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    conn = connect(parse_config(data, str(cfg)).state_store)
    for n in range(101):  # a bad night: more open incidents than one page of the list (it said 100)
        open_incident(conn, brand=f"b{n}")
    assert main(["--config", str(cfg), "status"]) == 0
    assert "open incidents: 101" in capsys.readouterr().out


def test_a_cluster_larger_than_a_ticket_takes_is_said(tmp_path, caplog):
    config = parse_config(config_dict(tmp_path), str(tmp_path / "crisiswatch.yaml"))
    now = datetime.now(UTC)
    copies = [Mention(source="weibo", native_id=f"p{i}", url=f"https://weibo.com/7/p{i}", text="极光优选显示已签收，可我没收到",
                      author=Author(id=f"u{i}", name=f"网友{i}"), created_at=now - timedelta(seconds=i),
                      brands=["aurora"], cluster_id="c1") for i in range(MAX_COPIES + 20)]
    backend = open_backend(config.index.url)
    backend.upsert(copies)
    tickets = TicketService.from_config(config, connect(config.state_store))
    with caplog.at_level(logging.WARNING, logger="playbooks.tickets.flows"):
        ticket = convert_from_index(tickets, backend, copies[0].id, actor="agent", cluster=True)
    assert len(ticket.mention_ids) == MAX_COPIES + 1  # the post and the first copies
    assert [r.getMessage() for r in caplog.records] == [
        f"the cluster holds {MAX_COPIES + 19} copies of the post; the ticket takes the first {MAX_COPIES} as evidence"]
