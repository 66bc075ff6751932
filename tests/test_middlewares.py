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


def test_cookies_go_only_to_the_sources_own_site(tmp_path, monkeypatch):
    # cookies are a raw header (COOKIES_ENABLED off), not Scrapy's domain-aware jar: a redirect or a
    # pager link to another host went there with the account's cookie
    monkeypatch.setenv("WEIBO_COOKIE", "SUB=secret-sub; XSRF-TOKEN=x1")
    crawler = crawler_with(tmp_path, {"weibo_search": {"cookie_env": "WEIBO_COOKIE"}})
    middleware = CredentialsMiddleware.from_crawler(crawler)
    for url in ("https://m.weibo.cn/api/container/getIndex", "https://s.weibo.com/weibo?q=x",
                "https://passport.weibo.com/visitor"):
        request = Request(url)
        middleware.process_request(request)
        assert request.headers[b"Cookie"] == b"SUB=secret-sub; XSRF-TOKEN=x1", url
    for url in ("https://evil.example/collect", "https://weibo.cn.evil.example/", "http://169.254.169.254/latest"):
        for request in (Request(url), Request(url, headers={"Cookie": "SUB=secret-sub", "X-XSRF-TOKEN": "x1"})):
            middleware.process_request(request)
            assert b"Cookie" not in request.headers and b"X-XSRF-TOKEN" not in request.headers, url


def test_cookies_go_to_the_configured_base_url(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIBO_COOKIE", "SUB=abc")
    crawler = crawler_with(tmp_path, {"weibo_search": {"cookie_env": "WEIBO_COOKIE",
                                                       "base_url": "http://127.0.0.1:8999"}})
    request = Request("http://127.0.0.1:8999/api/container/getIndex")
    CredentialsMiddleware.from_crawler(crawler).process_request(request)
    assert request.headers[b"Cookie"] == b"SUB=abc"
