"""An operator's slips meet one clear line, not a quiet wrong answer."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from crisiswatch.cli import main
from crisiswatch.db import connect
from playbooks.tickets.service import TicketService
from tests.conftest import config_dict


def test_a_mistyped_database_is_said_not_shown_as_an_empty_queue(tmp_path, capsys):
    typo = tmp_path / "nowhere" / "prod.db"
    for command in (["ticket", "list"], ["status"], ["report", "--period", "7d"], ["mentions", "search", "快递"]):
        assert main(["--db", str(typo), *command]) == 1, command
        assert capsys.readouterr().err.startswith(f"crisiswatch: no database at {typo} (check --db")
    assert not typo.parent.exists()  # it made the folder and an empty database, then said "no tickets"


def test_json_after_the_action_and_a_closed_pipe(tmp_path):
    db = tmp_path / "cw.db"
    tickets = TicketService(connect(db))
    for n in range(300):
        tickets.open(title=f"快递没到 第{n}单", severity="一般", actor="agent")
    listed = subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--db", str(db), "ticket", "list", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 50, listed.stderr
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True), encoding="utf-8")
    # some 300 KB, more than a pipe holds: `head` closes it while the command still writes
    piped = subprocess.run(f"{sys.executable} -m crisiswatch.cli --db {db} ticket --json list --limit 300 | head -c 100",
                           shell=True, capture_output=True, timeout=60)
    assert len(piped.stdout) == 100 and piped.stderr == b"", piped.stderr.decode()


def test_an_unknown_brand_or_spider_is_named_with_the_known_ones(tmp_path, capsys):
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True), encoding="utf-8")
    assert main(["--config", str(cfg), "ticket", "new", "--channel", "phone", "--customer", "王女士", "--contact",
                 "13812345678", "--summary", "快递五天没到", "--brand", "auroa"]) == 1  # stored as brand 'auroa'
    assert capsys.readouterr().err.strip() == "crisiswatch: --brand: unknown brand 'auroa' (brands: aurora)"
    assert main(["--config", str(cfg), "crawl", "weibo_serach"]) == 1  # it said "run `scrapy list`"
    assert "no spider named 'weibo_serach' (spiders: jd_reviews, jutousu, tmall_reviews, tousu_sina, " \
           "weibo_comments, weibo_search, weibo_timeline)" in capsys.readouterr().err
    assert main(["--config", str(cfg), "status"]) == 0
    assert "detection: nothing decided yet · " in capsys.readouterr().out  # "decided up to never"


def test_a_url_given_to_db_is_said_not_made_into_a_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # `--db postgresql://cw@db/cw` made ./postgresql:/cw@db/cw, a new SQLite file, and sent nothing from it
    assert main(["--db", "postgresql://cw@db.internal/cw", "alerts", "deliver"]) == 2
    assert capsys.readouterr().err == ("crisiswatch: --db takes a SQLite file path; a store named by URL goes to "
                                       "--state-url (postgresql://***@db.internal/cw)\n")
    assert list(tmp_path.iterdir()) == []
