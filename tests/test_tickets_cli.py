"""Support staff's CLI: a public post converted and walked through the whole lifecycle, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from crisiswatch.mention import Author, Mention
from index import open_backend
from tests.conftest import config_dict


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "ticket", "--as", "agent:lin",
                           *args], capture_output=True, text=True, timeout=60, cwd=cfg.parent)


def test_a_post_walks_the_whole_lifecycle_from_the_cli(tmp_path):
    data = config_dict(tmp_path)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    now = datetime.now(UTC)
    posts = [Mention(source="weibo", native_id=f"p{i}", url=f"https://weibo.com/7/p{i}", text=text,
                     author=Author(id=f"u{i}", name=name, followers=50), created_at=now - timedelta(minutes=10 - i),
                     brands=["aurora"], category="logistics", severity="重要", cluster_id="c1", sentiment=0.1)
             for i, (name, text) in enumerate([("小鹿", "极光优选显示已签收，可我根本没收到包裹！"),
                                                ("阿杰", "转发：极光优选显示已签收，可我根本没收到包裹！")])]
    backend = open_backend(data["index"]["url"])
    backend.upsert(posts)
    backend.close()

    converted = cli(cfg, "convert", posts[0].id, "--cluster")
    assert converted.returncode == 0, converted.stderr
    number = converted.stdout.split()[1]
    assert "opened · 重要 · logistics · 客服 · 2 posts" in converted.stdout
    again = cli(cfg, "convert", posts[1].id, "--category", "price")
    assert f"ticket {number} joined" in again.stdout  # same cluster, same complaint
    assert f"--category price not applied: {number} was already open for this complaint" in again.stderr

    illegal = cli(cfg, "close", number)
    assert illegal.returncode == 1 and illegal.stdout == ""
    assert illegal.stderr.strip() == f"crisiswatch: ticket {number} is 新建: cannot close (only from 已解决/已回访)"

    for args in (("assign", number, "调查"), ("reply", number, "您好，已为您核查物流并联系快递站点"),
                 ("resolve", number), ("followup", number, "--score", "4", "--comment", "处理得挺快"),
                 ("close", number)):
        step = cli(cfg, *args)
        assert step.returncode == 0, step.stderr
    shown = cli(cfg, "--json", "show", number)
    ticket = json.loads(shown.stdout)
    assert ticket["status"] == "已关闭" and ticket["department"] == "调查" and ticket["satisfaction"] == 4
    assert ticket["author_handle"] == "小鹿" and ticket["source_url"] == posts[0].url
    assert ticket["evidence"][0]["text"] == posts[0].text
    kinds = [e["kind"] for e in ticket["timeline"]]
    assert kinds == ["created", "assigned", "accept", "start", "reply", "resolve", "followup", "close"]
    assert {e["actor"] for e in ticket["timeline"][1:]} == {"agent:lin"}
    # the plain record reads as the ticket page does: events in words, what was said under them, no stored fields
    plain = cli(cfg, "show", number)
    assert plain.returncode == 0, plain.stderr
    record = plain.stdout.splitlines()
    assert not any("{" in line for line in record), plain.stdout
    replied = next(i for i, line in enumerate(record) if line.endswith("agent:lin            已回复客户"))
    assert record[replied + 1].strip() == "答复：您好，已为您核查物流并联系快递站点"
    assert "满意度：4" in plain.stdout and "客户意见：处理得挺快" in plain.stdout
    assert cli(cfg, "reopen", number).returncode == 0
    listed = cli(cfg, "list", "--status", "处理中")
    assert number in listed.stdout

    bad = cli(cfg, "followup", "CW-19990101-0001", "--score", "3")
    assert bad.returncode == 1 and bad.stderr.strip() == "crisiswatch: no ticket CW-19990101-0001"
    missing = cli(cfg, "convert", "nope")
    assert missing.returncode == 1 and missing.stderr.strip() == "crisiswatch: no mention 'nope' in the index"


def test_mentions_search_finds_the_id_to_convert(tmp_path):
    data = config_dict(tmp_path)
    now = datetime.now(UTC)
    posts = [Mention(source="weibo", native_id=f"s{i}", url=f"https://weibo.com/7/s{i}", text=text,
                     author=Author(id=f"u{i}", name="小鹿", followers=5), created_at=now - timedelta(hours=hours),
                     brands=["aurora"], category="logistics", severity="一般", sentiment=0.1)
             for i, (text, hours) in enumerate([("极光优选的快递丢了", 1), ("极光优选的快递三天前就丢了", 72),
                                                ("极光优选的耳机很好用", 1)])]
    backend = open_backend(data["index"]["url"])
    backend.upsert(posts)
    backend.close()
    run = subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--db", data["state_db"], "mentions", "search",
                          "快递", "--since", "24h", "--limit", "900"], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "crisiswatch: --limit 900: at most 500 are shown; narrow the range or the query"
    assert run.stdout.split()[0] == posts[0].id and posts[1].id not in run.stdout and posts[2].id not in run.stdout
