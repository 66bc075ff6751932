"""No phone or ID number from a post survives unmasked anywhere a crawl keeps or logs something.

The demo's sources are crawled over the replay server with a post that fails validation (its time
is unreadable) and valid posts on Weibo and JD, all carrying a phone and an ID number, and with posts
whose own text is clean but whose other fields are not: a repost of a post that has them, a JD
review with a customer-service reply and an appended review that have them, a Tmall review with such
a reply and appended review, and a 黑猫 complaint read with its timeline. Then every table of the
database (index, full-text shadow tables, state, dead letters) and every log line at DEBUG level is
searched for the raw numbers.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

from crawlers.replay import ReplayServer, load_scenario
from tests.replay_crawl import rows, write_config
from tests.replay_sources import small_scenario

PHONE, ID_NO = "13812345678", "110101199003074258"
LEAKY = f"极光优选快递三天没动静，电话{PHONE}打不通，身份证{ID_NO}都登记了"
ASIDE = f"请留电话{PHONE}和身份证{ID_NO}，专员联系您"  # said outside the post's own text
MASKED = "138****5678"

CRAWL = """
import sys
from crawlers.runner import run_crawls
from crisiswatch.config import load_config
config = load_config(sys.argv[1])
polite = {k: v for name in sys.argv[2:] for k, v in config.source(name).scrapy_overrides().items()}
jobs = [(name, {"details": "1"} if name == "tousu_sina" else {}) for name in sys.argv[2:]]
stats = run_crawls(config, jobs, overrides={**polite, "LOG_LEVEL": "DEBUG"})
print({name: s.get("crisiswatch/invalid", 0) for name, s in stats.items()})
"""


def scenario_with_personal_data(tmp_path: Path) -> Path:
    path = small_scenario(tmp_path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    author = {"name": "路人甲", "followers": 12}
    raw["phases"][0]["rate_per_hour"] = 2  # a page or two per source: the events are what matter here
    raw["events"] = [
        {"at": "25h", "source": "weibo", "author": author, "text": LEAKY,
         "extra": {"created_at": "下个世纪的某天"}},   # unreadable: dead-lettered by validation
        {"at": "25h10m", "source": "weibo", "author": author, "text": LEAKY + "，第二条"},
        {"at": "25h20m", "source": "jd", "author": author, "text": LEAKY + "，京东"},
        # clean text, personal data elsewhere: a repost's original, shop replies, appended reviews, a timeline
        {"at": "25h30m", "source": "weibo", "author": author, "text": "转发：极光优选这事说得对",
         "extra": {"retweet": {"text": "极光优选原博：" + ASIDE, "author": {"name": "原博主"}}}},
        {"at": "25h40m", "source": "jd", "author": author, "text": "极光优选的台灯还行，回复里有",
         "extra": {"replies": ["京东客服：" + ASIDE], "after_comment": "追加：" + ASIDE}},
        {"at": "25h45m", "source": "tmall", "author": author, "text": "极光优选的耳机收到了，回复里有",
         "extra": {"reply": "天猫客服：" + ASIDE, "append": "追加：" + ASIDE}},
        {"at": "25h50m", "source": "tousu_sina", "author": author, "text": "黑猫：" + ASIDE + "，极光优选不管"},
    ]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def every_value(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                out += [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row]
        return out
    finally:
        conn.close()


def test_no_raw_phone_or_id_in_any_table_dead_letter_or_log_line(tmp_path):
    scenario = load_scenario(str(scenario_with_personal_data(tmp_path)))
    spiders = ("weibo_search", "jd_reviews", "tmall_reviews", "tousu_sina")
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, dict.fromkeys(spiders, server.base_url),
                           sources={"weibo_search": ["极光优选"], "jd_reviews": [scenario.ids["jd"]],
                                    "tmall_reviews": [f"{scenario.ids['tmall']}:2200000001"],
                                    "tousu_sina": [scenario.ids["tousu_sina"]]})
        proc = subprocess.run([sys.executable, "-c", CRAWL, str(cfg), *spiders],
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    db = tmp_path / "cw.db"
    # the crawl really met the first three posts: one dead letter, two stored mentions with masked numbers
    (letters,) = rows(db, "SELECT COUNT(*) FROM dead_letters WHERE stage='validation'")[0]
    assert letters == 1, proc.stdout
    stored = [r[0] for r in rows(db, "SELECT doc FROM mentions WHERE doc LIKE '%打不通%'")]
    assert len(stored) == 2 and all(MASKED in doc for doc in stored)
    # and the fields beside the text: stored, and masked where they were written
    extra = {json.loads(doc)["source"]: json.loads(doc)["extra"]
             for (doc,) in rows(db, "SELECT doc FROM mentions WHERE doc LIKE '%\"text\": \"转发：极光优选这事说得对%'"
                                    " OR doc LIKE '%回复里有%' OR doc LIKE '%\"text\": \"黑猫：%'")}
    assert MASKED in extra["weibo"]["retweet_of"]["text"]
    assert MASKED in extra["jd"]["replies"][0]["content"] and MASKED in extra["jd"]["after_comment"]
    assert MASKED in extra["tmall"]["reply"] and MASKED in extra["tmall"]["append_comment"]
    assert MASKED in extra["tousu_sina"]["timeline"][0]["content"]
    assert extra["jd"]["sku"] == scenario.ids["jd"] and extra["tmall"]["item_id"] == scenario.ids["tmall"]
    assert "DEBUG" in proc.stderr and "Dropped" in proc.stderr  # the log was as talkative as it gets
    for raw in (PHONE, ID_NO):
        assert not [v for v in every_value(db) if raw in v], f"{raw} stored unmasked"
        assert raw not in proc.stderr and raw not in proc.stdout, f"{raw} in the crawl's log"
