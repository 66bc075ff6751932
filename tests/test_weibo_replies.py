"""Replies under Weibo comments read from m.weibo.cn's hotFlowChild: pages in its real (flat) shape at
real size, the cursor, de-duplication against hotflow's inline replies, the page cap, lost pages,
blocks, a changed layout, the replies' own crawl mark, and the crawl's summary line."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.http import Request, TextResponse

from crawlers.spiders.weibo_comments import WeiboCommentsSpider
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.mention import Mention, mention_id
from tests.realsize import weibo_hotflow_child


def reply_page(spider, body: bytes, page: int = 1, total: int = 45, known: int = 0, oldest=None):
    """A hotFlowChild reply to the request the spider makes for the comment `cid` of post `mid`."""
    data = json.loads(body)
    cid = data["rootComment"][0]["id"]
    mid = data["rootComment"][0]["mid"]
    request = spider.reply_request("aurora", mid, cid, 0, 0, page, {"total": total, "known": known, "oldest": oldest})
    return TextResponse(request.url, body=body, encoding="utf-8", request=request), mid, cid


def split(out):
    out = list(out)
    return [o for o in out if isinstance(o, dict)], [o for o in out if isinstance(o, Request)]


def test_a_reply_page_yields_replies_linked_to_comment_and_post_and_the_next_cursor(crawler_for):
    spider = crawler_for(WeiboCommentsSpider).spider
    body, _, replies = weibo_hotflow_child(n=20, total=45)
    assert len(body) > 30_000, "a real page of 20 replies is tens of KB"
    response, mid, cid = reply_page(spider, body)
    assert response.url == f"https://m.weibo.cn/comments/hotFlowChild?cid={cid}&max_id=0&max_id_type=0"
    spider.replies_seen.add(replies[0]["id"])  # hotflow showed the newest one inline
    items, (nxt,) = split(spider.parse_replies(response))
    assert [i["native_id"] for i in items] == [r["id"] for r in replies[1:]]
    first = Mention.model_validate(items[0])
    assert first.source == "weibo_comment" and first.parent_id == mention_id("weibo", mid)
    assert first.extra["root_id"] == cid and first.extra["post_id"] == mid and first.query == f"{mid}/replies/{cid}"
    assert first.text.startswith("回复@柚子不酸:") and first.created_at == replies[1]["at"].replace(microsecond=0)
    assert first.author.name == replies[1]["author"].name
    # the cursor is the next reply's id (the 21st newest of 45), passed back with the reply's max_id_type
    assert nxt.url == f"https://m.weibo.cn/comments/hotFlowChild?cid={cid}&max_id={int(cid) * 1000 + 25}&max_id_type=0"
    assert nxt.meta["page"] == 2 and nxt.meta["known"] == 19 and nxt.meta["post"] == mid
    assert spider.crawler.stats.get_value("crisiswatch/replies_read") == 19


def test_newest_first_replies_stop_at_their_own_mark_and_only_then(crawler_for):
    crawler = crawler_for(WeiboCommentsSpider)
    body, _, replies = weibo_hotflow_child(n=20, total=45)
    root = json.loads(body)["rootComment"][0]
    mid, cid = root["mid"], root["id"]
    state = CrawlState(state_connection(crawler))
    # the comments' mark (set by crawls that never read replies) says nothing of replies, nor does another
    # comment's replies' mark (that list was read minutes before or after this one)
    state.advance_mark("weibo_comment", mid, datetime.now(UTC))
    state.advance_mark("weibo_comment", f"{mid}/replies/{int(cid) + 1}", datetime.now(UTC))
    assert len(split(crawler.spider.parse_replies(reply_page(crawler.spider, body)[0]))[1]) == 1
    # every reply of a newest-first page is at or before its comment's replies' mark: older pages are known
    state.advance_mark("weibo_comment", f"{mid}/replies/{cid}", replies[0]["at"])
    spider = crawler_for(WeiboCommentsSpider).spider
    assert split(spider.parse_replies(reply_page(spider, body)[0]))[1] == []
    assert spider.crawler.stats.get_value("crisiswatch/replies_stopped_at_mark") == 1
    # a list not newest first (the "hot" order) may hold new replies on any page: read on
    page = json.loads(body)
    page["data"] = page["data"][::-1]
    spider = crawler_for(WeiboCommentsSpider).spider
    assert len(split(spider.parse_replies(reply_page(spider, json.dumps(page).encode())[0]))[1]) == 1
    spider = crawler_for(WeiboCommentsSpider).spider  # newest first on this page, but not after the last one
    older_first = (replies[-1]["at"] - timedelta(hours=1)).isoformat()
    assert len(split(spider.parse_replies(reply_page(spider, body, page=2, oldest=older_first)[0]))[1]) == 1


@pytest.mark.parametrize(("body", "lost", "why"), [
    ('{"ok":0,"msg":"暂无数据"}', False, "gone"),  # the comment's replies are no longer listed
    ('<!DOCTYPE html><html><head><title>微博-出错了</title></head><body><p>暂无数据</p></body></html>', False, "gone"),
    ('{"ok":0,"msg":"出错了"}', True, "lost"),
    ('{"ok":1,"data":{"list":[]},"max_id":0}', True, "lost"),
])
def test_refusals_gone_comments_and_unreadable_reply_pages(crawler_for, body, lost, why):
    spider = crawler_for(WeiboCommentsSpider).spider
    response, mid, cid = reply_page(spider, weibo_hotflow_child()[0], total=12, known=1)
    assert list(spider.parse_replies(response.replace(body=body.encode()))) == []
    assert bool(spider.lost_pages) == lost and spider.lost_queries == ({f"{mid}/replies/{cid}"} if lost else set())
    assert spider.crawler.stats.get_value(f"crisiswatch/replies_unread_{why}") == 11


def test_a_reply_without_created_at_is_a_changed_layout(crawler_for):
    spider = crawler_for(WeiboCommentsSpider).spider
    body, _, _ = weibo_hotflow_child(n=5, total=5 + 1)
    page = json.loads(body)
    page["data"][0]["created_time"] = page["data"][0].pop("created_at")
    items, _ = split(spider.parse_replies(reply_page(spider, json.dumps(page).encode())[0]))
    assert len(items) == 5 and "created_at" not in items[0]
    assert spider.crawler.stats.get_value("crisiswatch/layout_changed") == 1


# over the replay server -----------------------------------------------------------------------

REPLIES = [23, 0, 12, 3]  # comment k has REPLIES[k] replies, the others k % 4; odd k show their newest inline


def replies_of(k: int) -> int:
    return REPLIES[k] if k < len(REPLIES) else k % 4


def post_with_replies(anchor: datetime, comments: int = 25, replies: list[int] = REPLIES):
    from tests.replay_crawl import OFFICIAL, scenario

    sc = scenario(anchor, [{"at": "26h", "author": OFFICIAL, "text": "极光优选公告", "comments": comments,
                            "extra": {"replies": replies}}])
    return sc, next(p for p in sc.posts if p.author.id == "2000000001")


def test_replies_are_read_page_by_page_once_each_and_said_in_the_summary(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, write_config

    sc, post = post_with_replies(datetime.now(UTC))
    db = tmp_path / "cw.db"
    with ReplayServer(sc) as server:
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [post.id]})
        out = crawl(cfg, "weibo_comments")
        child = [r for r in server.requests if r.startswith("/comments/hotFlowChild")]
    total = sum(replies_of(k) for k in range(25))
    inline = sum(1 for k in range(25) if k % 2 and replies_of(k))
    assert f"· {total - inline} replies read" in out and "not read" not in out
    # comment 0 (23 replies) is read on three pages, each by the cursor the page before gave
    first = f"/comments/hotFlowChild?cid={int(post.id) + 1}&"
    assert [r for r in child if r.startswith(first)][0].endswith("max_id=0&max_id_type=0")
    assert len([r for r in child if r.startswith(first)]) == 3 and len(child) == len(set(child))
    replies = rows(db, "SELECT COUNT(*), COUNT(DISTINCT native_id) FROM mentions"
                       " WHERE json_extract(doc, '$.extra.root_id') IS NOT NULL")
    assert replies == [(total, total)], "every reply once, the inline ones too"
    assert rows(db, "SELECT DISTINCT json_extract(doc, '$.parent_id'), json_extract(doc, '$.extra.post_id')"
                    " FROM mentions WHERE json_extract(doc, '$.extra.root_id') IS NOT NULL") == \
        [(mention_id("weibo", post.id), post.id)]
    read = sorted(f"{post.id}/replies/{int(post.id) + 1 + k}" for k in range(25) if replies_of(k) > (k % 2))
    assert rows(db, "SELECT query FROM crawl_marks ORDER BY query") == [(post.id,)] + [(q,) for q in read]


def test_replies_past_the_page_cap_are_said_and_keep_their_mark(tmp_path):
    from crawlers.replay import ReplayServer
    from crisiswatch.commands.crawl import summary_line
    from tests.replay_crawl import crawl, rows, write_config

    sc, post = post_with_replies(datetime.now(UTC), comments=20, replies=[45] + [0] * 19)
    db = tmp_path / "cw.db"
    with ReplayServer(sc) as server:
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [post.id]}, max_pages=2)
        out = crawl(cfg, "weibo_comments")
        assert len([r for r in server.requests if r.startswith("/comments/hotFlowChild")]) == 2
    assert "· 20 replies read · 25 replies not read (25 past the page cap)" in out
    stats = {"finish_reason": "finished", "crisiswatch/replies_unread": 3}  # a crawl that ended before closed()
    assert summary_line("weibo_comments", stats).endswith("0 invalid · 3 replies not read")
    assert rows(db, "SELECT reason FROM crawl_runs") == [("capped",)]
    assert rows(db, "SELECT query FROM crawl_marks") == [(post.id,)], "the replies' mark stays for the next crawl"


def test_a_refused_reply_page_is_lost_and_said(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, write_config

    sc, post = post_with_replies(datetime.now(UTC))
    db = tmp_path / "cw.db"
    with ReplayServer(sc) as server:
        server.inject(f"cid={int(post.id) + 1}&max_id=0", "refused")  # comment 0's first page: ok:0 出错了
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [post.id]})
        out = crawl(cfg, "weibo_comments", ok=False)
    assert "· 23 replies not read (23 on lost pages)" in out and "FAILED" in out
    assert rows(db, "SELECT reason FROM crawl_runs") == [("failed",)]
    marks = [q for (q,) in rows(db, "SELECT query FROM crawl_marks")]
    assert post.id in marks and f"{post.id}/replies/{int(post.id) + 1}" not in marks
    assert f"{post.id}/replies/{int(post.id) + 3}" in marks, "the other comments' replies were read in full"


@pytest.mark.parametrize(("fault", "says"), [("throttled", "BLOCKED: Weibo throttling (errno 100005"),
                                              ("login", "BLOCKED: Weibo login required (ok:-100)"),
                                              ("418", "BLOCKED: HTTP 418 (Weibo throttling)")])
def test_a_block_on_hotflowchild_blocks_the_source_and_keeps_the_marks(tmp_path, fault, says):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, write_config

    sc, post = post_with_replies(datetime.now(UTC))
    with ReplayServer(sc) as server:
        server.inject("/comments/hotFlowChild", fault, times=0)
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [post.id]})
        out = crawl(cfg, "weibo_comments", ok=False)
    assert says in out
    assert rows(tmp_path / "cw.db", "SELECT reason FROM crawl_runs") == [("blocked",)]
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM crawl_marks") == [(0,)]


def test_a_changed_reply_layout_is_reported_and_dead_lettered(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, write_config

    sc, post = post_with_replies(datetime.now(UTC))
    with ReplayServer(sc) as server:
        server.inject("/comments/hotFlowChild", "layout", times=0)
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [post.id]})
        out = crawl(cfg, "weibo_comments")
    invalid = int(re.search(r"· (\d+) invalid", out).group(1))
    assert invalid > 0 and rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM dead_letters") == [(invalid,)]
    assert rows(tmp_path / "cw.db", "SELECT event, json_extract(detail, '$.reason') FROM source_health") == \
        [("layout_changed", "replies lack id, text or created_at")]


def test_later_crawls_read_new_replies_and_stop_at_the_known_ones(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import Clock, crawl, rows, write_config

    anchor = datetime.now(UTC).replace(microsecond=0)
    sc, post = post_with_replies(anchor, comments=5, replies=[30, 0, 0, 0, 0])
    clock = Clock(post.created_at + timedelta(minutes=3 + 20, seconds=30))  # 20 of comment 0's 30 replies out
    first = f"/comments/hotFlowChild?cid={int(post.id) + 1}&"
    db = tmp_path / "cw.db"
    with ReplayServer(sc, clock=clock) as server:
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [post.id]})

        def pages(since: int) -> int:
            return len([r for r in server.requests[since:] if r.startswith(first)])

        def stored() -> int:
            return rows(db, "SELECT COUNT(*) FROM mentions WHERE json_extract(doc, '$.extra.root_id') = ?",
                        (str(int(post.id) + 1),))[0][0]

        crawl(cfg, "weibo_comments")
        assert pages(0) == 2 and stored() == 20
        clock.advance(minutes=10)  # ten more: page 1 is new, page 2 known, page 3 never asked for
        before = len(server.requests)
        crawl(cfg, "weibo_comments")
        assert pages(before) == 2 and stored() == 30
        before = len(server.requests)  # nothing new: the first page is known, and it ends there
        out = crawl(cfg, "weibo_comments")
        assert pages(before) == 1 and stored() == 30 and "not read" not in out


def test_a_crawl_reads_at_most_reply_pages_and_says_what_it_left(tmp_path):
    """10 s a page at Weibo's delay: a post with thousands of replies must not hold the crawl past its timeout
    (a crawl stopped by the timeout moves no mark, so it would read the same pages every run)."""
    import yaml

    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, write_config

    sc, post = post_with_replies(datetime.now(UTC), comments=20, replies=[23, 0, 12, 0, 5] + [0] * 15)
    db = tmp_path / "cw.db"
    with ReplayServer(sc) as server:
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [post.id]})
        doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        doc["sources"]["weibo_comments"]["reply_pages"] = 4
        cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        out = crawl(cfg, "weibo_comments")
        assert len([r for r in server.requests if r.startswith("/comments/hotFlowChild")]) == 4
    # which comments the four pages went to is the scheduler's order; what was not read is counted and said
    read, unread = map(int, re.search(r"· (\d+) replies read · (\d+) replies not read \((\d+) past the crawl's"
                                      r" reply pages \(reply_pages\)\)", out).groups()[:2])
    assert read + unread == 23 + 12 + 5 and unread > 0
    stored = dict(rows(db, "SELECT json_extract(doc, '$.extra.root_id'), COUNT(*) FROM mentions"
                           " WHERE json_extract(doc, '$.extra.root_id') IS NOT NULL GROUP BY 1"))
    assert sum(stored.values()) == read
    marks = {q for (q,) in rows(db, "SELECT query FROM crawl_marks")}
    for k, n in ((0, 23), (2, 12), (4, 5)):  # a comment read part-way or not at all keeps no mark of its replies
        cid = str(int(post.id) + 1 + k)
        assert (f"{post.id}/replies/{cid}" in marks) == (stored.get(cid, 0) == n), (k, stored, marks)
    partly = any(0 < stored.get(str(int(post.id) + 1 + k), 0) < n for k, n in ((0, 23), (2, 12), (4, 5)))
    assert rows(db, "SELECT reason FROM crawl_runs") == [("capped" if partly else "finished",)]
