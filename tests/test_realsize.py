"""Replies at the sites' real sizes go through the crawl path whole: block detection, the spider, validation.

Block detection once read the first 20 KB of a reply and called the cut-off JSON a block, so 12 of
13 real replies closed their crawl as `blocked` with nothing read. Every page here is as large as
the site's (see tests/realsize.py), minified and pretty-printed, and every post on it must come out.
"""

from __future__ import annotations

import json
from datetime import time
from typing import Any

import pytest
from scrapy.http import Request
from scrapy.responsetypes import responsetypes

from crawlers.blocks import LOGIN, block_of
from crawlers.middlewares import BlockDetectionMiddleware
from crawlers.normalize import CHINA
from crawlers.pipelines import ValidationPipeline
from crawlers.spiders.jd_reviews import JdReviewsSpider
from crawlers.spiders.jutousu import JutousuSpider
from crawlers.spiders.tmall_reviews import TmallReviewsSpider
from crawlers.spiders.tousu_sina import TousuSinaSpider
from crawlers.spiders.weibo_search import WeiboSearchSpider
from crawlers.spiders.weibo_timeline import WeiboTimelineSpider
from crisiswatch.mention import Mention, mention_id
from tests import realsize

KB = 1024


def downloaded(url: str, body: bytes, content_type: str, meta: dict[str, Any], status: int = 200) -> Any:
    """The response Scrapy's downloader builds for this reply (class chosen from headers and body)."""
    headers = {"Content-Type": content_type}
    cls = responsetypes.from_args(headers=headers, url=url, body=body)
    return cls(url=url, status=status, headers=headers, body=body, request=Request(url, meta=meta))


def crawl_path(crawler: Any, response: Any, extend: dict[str, str] | None = None) -> list[Mention]:
    """Block detection, the spider's callback (long texts answered from `extend`), then validation."""
    passed = BlockDetectionMiddleware.from_crawler(crawler).process_response(response.request, response)
    assert passed is response, "a real answer was taken for a block"
    validate = ValidationPipeline.from_crawler(crawler)
    callback = response.request.callback or crawler.spider.parse
    mentions = []
    for out in callback(response):
        if isinstance(out, Request):
            if "/statuses/extend" in out.url:
                body = json.dumps({"ok": 1, "data": {"ok": 1, "longTextContent": extend[out.meta["item"]["native_id"]]}})
                for item in crawler.spider.parse_long_text(downloaded(out.url, body.encode(), "application/json",
                                                                      out.meta)):
                    mentions.append(validate.process_item(item))
            continue
        mentions.append(validate.process_item(out))
    assert not crawler.spider.lost_pages and not crawler.spider.blocked
    return mentions


def check_every_post(mentions: list[Mention], posts: list[Any], source: str) -> None:
    by_id = {m.native_id: m for m in mentions if m.source == source}
    for post in posts:
        assert post.id in by_id, f"post {post.id} did not come out"
        # the whole text (the list of 聚投诉 cuts it, its page has the rest); Weibo appends emoticons
        whole = post.text[:30] if source == "jutousu" else post.text.strip()
        assert by_id[post.id].text.startswith(whole), (post.id, by_id[post.id].text[:80])


@pytest.mark.parametrize(("n", "pretty"), [(20, False), (35, False), (12, True), (20, True)])
def test_weibo_search_page_of_real_size_yields_every_post(crawler_for, n, pretty):
    body, posts = realsize.weibo_search(n, pretty)
    assert 40 * KB <= len(body) <= 200 * KB
    crawler = crawler_for(WeiboSearchSpider)
    url = "https://m.weibo.cn/api/container/getIndex?containerid=100103type%3D61%26q%3D极光优选&page=1"
    mentions = crawl_path(crawler, downloaded(url, body, "application/json; charset=utf-8",
                                              {"brand": "aurora", "query": realsize.BRAND, "page": 1}),
                          extend={p.id: p.text for p in posts})
    check_every_post(mentions, posts, "weibo")
    reposts = [m for m in mentions if m.extra.get("retweet_of")]
    originals = {m.native_id: m for m in mentions if m.extra.get("via_repost")}
    assert reposts and len(originals) == len(reposts)
    for repost in reposts:  # the spread of one post: every repost points at the indexed original
        original = originals[repost.extra["retweet_of"]["id"]]
        assert repost.parent_id == mention_id("weibo", original.native_id) == original.id
        assert original.author.name.startswith("原博主") and original.text


@pytest.mark.parametrize(("n", "pretty", "prefix"), [(10, False, "230413"), (18, False, "230413"),
                                                    (10, True, "107603")])
def test_weibo_timeline_page_of_real_size_yields_every_post(crawler_for, n, pretty, prefix):
    body, posts = realsize.weibo_timeline(n, pretty, prefix)
    assert 40 * KB <= len(body) <= 160 * KB
    crawler = crawler_for(WeiboTimelineSpider)
    url = f"https://m.weibo.cn/api/container/getIndex?type=uid&value=2000000001&containerid={prefix}2000000001"
    meta = {"brand": "aurora", "query": "2000000001", "page": 1, "since_id": None, "container": prefix}
    mentions = crawl_path(crawler, downloaded(url, body, "application/json; charset=utf-8", meta),
                          extend={p.id: p.text for p in posts})
    check_every_post(mentions, posts, "weibo")


@pytest.mark.parametrize("content_type", ["text/html;charset=GBK", "text/html"])
def test_jd_gbk_page_of_real_size_yields_every_review(crawler_for, content_type):
    body, posts = realsize.jd_comments(10)
    assert 20 * KB <= len(body) <= 35 * KB
    crawler = crawler_for(JdReviewsSpider)
    url = "https://club.jd.com/comment/productPageComments.action?callback=fetchJSON_comment98&productId=100012043978"
    mentions = crawl_path(crawler, downloaded(url, body, content_type,
                                              {"brand": "aurora", "query": "100012043978", "page": 0}))
    check_every_post(mentions, posts, "jd")
    assert [m.rating for m in mentions[:5]] == [1.0, 2.0, 5.0, 4.0, 5.0]


def test_tmall_rate_page_of_real_size_yields_every_review(crawler_for):
    body, posts = realsize.tmall_rates(20)
    assert len(body) > 20 * KB
    crawler = crawler_for(TmallReviewsSpider, api="rate")
    url = "https://rate.tmall.com/list_detail_rate.htm?itemId=652310918452&currentPage=1&callback=jsonp928"
    mentions = crawl_path(crawler, downloaded(url, body, "text/javascript;charset=UTF-8",
                                              {"brand": "aurora", "query": "652310918452", "page": 1}))
    check_every_post(mentions, posts, "tmall")


def test_tmall_mtop_page_of_real_size_yields_every_review(crawler_for):
    body, posts = realsize.tmall_mtop(20)
    assert len(body) >= 18 * KB
    crawler = crawler_for(TmallReviewsSpider)
    url = "https://h5api.m.tmall.com/h5/mtop.alibaba.review.list.for.new.pc.detail/1.0/?jsv=2.7.2"
    request = Request(url, callback=crawler.spider.parse_mtop,
                      meta={"brand": "aurora", "query": "652310918452", "page": 1, "token_tries": 1})
    response = downloaded(url, body, "application/json;charset=UTF-8", request.meta)
    response.request.callback = crawler.spider.parse_mtop
    mentions = crawl_path(crawler, response)
    check_every_post(mentions, posts, "tmall")
    # the list dates reviews by day ("今天", "3天前"): the start of that day, said to be a day
    assert all(m.extra["date_precision"] == "day" for m in mentions)
    assert {m.created_at.astimezone(CHINA).time() for m in mentions} == {time(0, 0)}


def test_complaint_pages_yield_every_complaint(crawler_for):
    body, posts = realsize.tousu_list(10)
    crawler = crawler_for(TousuSinaSpider)
    url = "https://tousu.sina.com.cn/api/company/received_complaints?couid=6384912431&page=1"
    check_every_post(crawl_path(crawler, downloaded(url, body, "application/json",
                                                    {"brand": "aurora", "query": "6384912431", "page": 1})),
                     posts, "tousu_sina")
    body, posts = realsize.jutousu_list(10)
    crawler = crawler_for(JutousuSpider, details=0)
    url = "https://ts.21cn.com/front/api/search/searchPostList.do?pageNo=1&title=极光优选&listType=1"
    check_every_post(crawl_path(crawler, downloaded(url, body, "application/json",
                                                    {"brand": "aurora", "query": realsize.BRAND, "page": 1})),
                     posts, "jutousu")


def test_posts_that_talk_about_captchas_and_logins_are_not_blocks():
    """Users write 验证码, 请登录 and passport links in their posts: a JSON page's words are not its shape."""
    body, _ = realsize.weibo_search(20, pretty=True)
    page = json.loads(body)
    page["data"]["cards"][0]["mblog"]["text"] = "极光优选登录要验证码，请登录 passport.weibo.com 再试，rgv587_flag 是什么"
    response = downloaded("https://m.weibo.cn/api/container/getIndex?page=1",
                          json.dumps(page, ensure_ascii=False).encode(), "application/json", {})
    assert block_of(response, expects_json=True) is None


@pytest.mark.parametrize(("body", "status", "headers", "kind", "reason"), [
    (realsize.login_page("weibo"), 200, {}, LOGIN, "HTML Weibo login page where JSON was expected"),
    (realsize.login_page("jd"), 200, {}, LOGIN, "HTML JD login page where JSON was expected"),
    (realsize.login_page("jutousu"), 200, {}, LOGIN, "HTML 聚投诉 login wall where JSON was expected"),
    (realsize.captcha_page(), 200, {}, "captcha", "HTML captcha page (验证码) where JSON was expected"),
    (b'{"ok":-100,"url":"https://passport.weibo.com/sso/signin?entry=wapsso"}', 200, {}, LOGIN,
     "Weibo login required (ok:-100)"),
    (b'{"ok":-100,"errno":"-100","msg":"","url":"https://m.weibo.cn/captcha?scene=limit","extra":""}', 200, {},
     "captcha", "Weibo captcha (ok:-100)"),
    (b"", 418, {}, "throttled", "HTTP 418 (Weibo throttling)"),
    (b"", 432, {}, LOGIN, "HTTP 432 (Weibo: no valid login cookie)"),
    (b"{}", 200, {}, LOGIN, "empty JSON object {} (data withheld: login cookie missing or expired)"),
    (b"", 302, {"Location": "https://passport.weibo.com/visitor/visitor?entry=miniblog&a=enter"}, LOGIN,
     "redirect to a login page (https://passport.weibo.com/visitor/visitor)"),
])
def test_blocks_are_recognised_with_their_reason(body, status, headers, kind, reason):
    url = "https://m.weibo.cn/api/container/getIndex?page=1"
    response = downloaded(url, body, "text/html; charset=utf-8", {}, status=status)
    if headers:
        response = response.replace(headers={**headers, "Content-Type": "text/html"})
    if len(body) > 1000:
        assert len(body) > 30 * KB and body.index(b"<form" if b"<form" in body else b"<body") > 20 * KB
    block = block_of(response, expects_json=True)
    assert block is not None and block.kind == kind and block.reason == reason


def test_an_unreadable_or_plain_html_reply_is_not_a_block():
    url = "https://m.weibo.cn/api/container/getIndex?page=1"
    body, _ = realsize.weibo_search(20)
    for broken in (body[: len(body) // 2], b"<html><body><p>Service upgrade</p></body></html>", b"null", b"[]"):
        assert block_of(downloaded(url, broken, "application/json", {}), expects_json=True) is None
