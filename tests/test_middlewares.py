"""Credentials and proxies come from the config and environment, per source."""

from __future__ import annotations

from scrapy import Request
from scrapy.utils.test import get_crawler

from crawlers.middlewares import CredentialsMiddleware, ProxyMiddleware
from crawlers.spiders.weibo_search import WeiboSearchSpider
from crisiswatch.config import parse_config


def crawler_with(tmp_path, sources: dict):
    config = parse_config({"state_db": str(tmp_path / "s.db"), "sources": sources})
    crawler = get_crawler(WeiboSearchSpider, {"CRISISWATCH_CONFIG": config,
                                               "CRISISWATCH_STATE_DB": str(tmp_path / "s.db")})
    crawler.spider = WeiboSearchSpider.from_crawler(crawler, query="极光优选")
    return crawler


def test_cookie_comes_from_the_named_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIBO_COOKIE", "SUB=abc;\n SUBP=def")
    crawler = crawler_with(tmp_path, {"weibo_search": {"cookie_env": "WEIBO_COOKIE"}})
    request = Request("https://m.weibo.cn/api/container/getIndex")
    CredentialsMiddleware.from_crawler(crawler).process_request(request)
    assert request.headers[b"Cookie"] == b"SUB=abc; SUBP=def"  # a cookie pasted across lines still works


def test_proxy_only_when_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("PROXY_HOST", "127.0.0.1:3128")
    with_proxy = crawler_with(tmp_path, {"weibo_search": {"proxy": "http://$PROXY_HOST"}})
    request = Request("https://m.weibo.cn/")
    ProxyMiddleware.from_crawler(with_proxy).process_request(request)
    assert request.meta["proxy"] == "http://127.0.0.1:3128"
    plain = Request("https://m.weibo.cn/")
    ProxyMiddleware.from_crawler(crawler_with(tmp_path, {})).process_request(plain)
    assert "proxy" not in plain.meta
