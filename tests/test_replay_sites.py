"""The replay server speaks every review and complaint site's shape for the all_sources scenario."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlencode

import pytest

from crawlers.jsonp import loads_jsonp
from crawlers.replay import ReplayServer, load_scenario
from crawlers.replay.targets import spider_targets
from crawlers.tousu_signature import signed_params


@pytest.fixture(scope="module")
def server():
    with ReplayServer(load_scenario("all_sources")) as running:
        yield running


def get(server: ReplayServer, path: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(server.base_url + path, timeout=10) as reply:
        return reply.headers["Content-Type"], reply.read()


def test_scenario_names_a_spider_and_target_for_every_source(server):
    assert spider_targets(server.scenario) == {
        "weibo_search": ["极光优选"], "jd_reviews": ["100012043978"], "tmall_reviews": ["652310918452"],
        "tousu_sina": ["6384912431"], "jutousu": ["极光优选"]}
    assert spider_targets(load_scenario("logistics_crisis")) == {"weibo_search": ["极光优选"]}


def test_jd_answers_gbk_jsonp_with_ratings_for_its_product_only(server):
    kind, body = get(server, "/comment/productPageComments.action?callback=fetchJSON_comment98&productId="
                             "100012043978&score=0&sortType=6&page=0&pageSize=10&isShadowSku=0&fold=1")
    assert kind == "text/html;charset=GBK" and body.startswith(b"fetchJSON_comment98(")
    data = loads_jsonp(body.decode("gbk"))
    total = len(server.posts("jd"))
    assert data["maxPage"] == -(-total // 10) and data["productCommentSummary"]["commentCount"] == total
    assert len(data["comments"]) == 10 and all(c["score"] in (1, 2, 4, 5) for c in data["comments"])
    other = loads_jsonp(get(server, "/comment/productPageComments.action?productId=1&page=0")[1].decode("gbk"))
    assert other["comments"] == [] and other["maxPage"] == 0


def test_tmall_pages_from_one(server):
    _, body = get(server, "/list_detail_rate.htm?itemId=652310918452&currentPage=2&callback=jsonp928")
    detail = loads_jsonp(body.decode("utf-8"))["rateDetail"]
    assert detail["paginator"]["page"] == 2 and len(detail["rateList"]) == 10
    assert {r["rateType"] for r in detail["rateList"]} <= {1, 0, -1}


def test_tousu_checks_signatures_and_serves_complaint_pages(server):
    values = {"couid": "6384912431", "type": 1, "page_size": 10, "page": 1}
    ok = json.loads(get(server, "/api/company/received_complaints?" + urlencode(signed_params(values)))[1])
    complaints = ok["result"]["data"]["complaints"]
    assert ok["result"]["status"]["code"] == 0 and len(complaints) == 10
    assert ok["result"]["data"]["pager"]["page_amount"] == -(-len(server.posts("tousu_sina")) // 10)
    forged = {**signed_params(values), "page": "2"}
    refused = json.loads(get(server, "/api/company/received_complaints?" + urlencode(forged))[1])
    assert refused["result"]["status"]["code"] != 0
    sn = complaints[0]["main"]["sn"]
    _, page = get(server, f"/complaint/view/{sn}/")
    assert b'class="ts-d-item"' in page and b"ts-q-list" in page


def test_jutousu_cuts_long_topics_and_serves_post_pages(server):
    posts = json.loads(get(server, "/front/api/search/searchPostList.do?pageNo=1&title=%E6%9E%81%E5%85%89&listType=1")[1])
    assert len(posts["postList"]) == 10 and all(isinstance(p["ctime"], int) for p in posts["postList"])
    _, page = get(server, f"/tousu/show/id/{posts['postList'][0]['id']}")
    assert b"tousu_content" in page
