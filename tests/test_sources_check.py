"""`crisiswatch sources check` against the replay server, in each of its answers: ok, blocked,
needs-cookie, cookie-expired, gated, layout-changed, unreachable; and `crisiswatch status` shows it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from crawlers.replay import ReplayServer, load_scenario
from tests.replay_crawl import rows
from tests.replay_sources import TARGETS, small_scenario
from tests.replay_sources import write_config as sources_config


def cli(cfg: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=180, env=env)


def edit(cfg: Path, change) -> Path:
    data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    change(data)
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return cfg


def lines(out: str) -> dict[tuple[str, str], str]:
    """{(source, target): "status reason"}"""
    found = {}
    for line in out.strip().splitlines():
        source, target, rest = line.split(" ", 2)
        found[(source, target)] = rest
    return found


def test_every_source_ok_exits_0_and_stores_nothing(tmp_path):
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        cfg = sources_config(tmp_path, server)
        proc = cli(cfg, "sources", "check")
        probes = list(server.requests)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    found = lines(proc.stdout)
    assert set(found) == {(s, t) for s, targets in TARGETS.items() for t in targets}
    assert all(v.startswith("ok ") and "posts read" in v for v in found.values())
    # one request per target (Tmall's mtop call once more, with the token the gateway handed out)
    assert len(probes) == len(found) + 1
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM crawl_marks") == [(0,)]
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM source_health") == [(0,)]


def test_each_failure_is_named_and_the_exit_is_1(tmp_path):
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        server.inject("q%3D%E6%9E%81%E5%85%89&", "418", times=0)   # weibo_search "极光": throttled
        server.inject("/h5/mtop.", "layout", times=0)              # Tmall: renamed fields
        server.inject("/api/company/", "500", times=0)             # 黑猫: server errors
        server.inject("searchPostList", "array", times=0)          # 聚投诉: a JSON array
        cfg = sources_config(tmp_path, server)

        def setup(data):
            data["brands"][0]["sources"]["weibo_search"] = ["极光优选", "极光"]
            data["sources"]["weibo_search"] = {"base_url": server.base_url, "download_delay": 0}
            data["sources"]["jd_reviews"]["base_url"] = "https://api.m.jd.com"  # the signed API

        proc = cli(edit(cfg, setup), "sources", "check")
    assert proc.returncode == 1
    found = lines(proc.stdout)
    assert found[("weibo_search", "极光优选")].startswith("ok ")
    assert found[("weibo_search", "极光")] == "blocked HTTP 418 (Weibo throttling)"
    assert found[("jd_reviews", "100012043978")].startswith("gated the signed api.m.jd.com comment API")
    assert "h5st" in found[("jd_reviews", "100012043978")]
    assert found[("tmall_reviews", "652310918452:2200000001")].startswith("layout-changed posts fail validation")
    assert found[("tousu_sina", "6384912431")] == "unreachable HTTP 500"
    assert found[("jutousu", "极光优选")] == "layout-changed reply is a JSON list where an object was expected"


def test_login_walls_say_which_cookie_is_missing_or_expired_and_status_shows_it(tmp_path):
    import os

    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        server.require_login("weibo", "SUB", "valid-session")
        cfg = sources_config(tmp_path, server)

        def setup(data):
            data["brands"][0]["sources"] = {"weibo_search": ["极光优选"], "weibo_timeline": ["2000000001"],
                                            "weibo_comments": ["4900000000000001"]}
            data["sources"] = {name: {"base_url": server.base_url, "download_delay": 0}
                               for name in ("weibo_search", "weibo_timeline", "weibo_comments")}
            data["sources"]["weibo_timeline"]["cookie_env"] = "WB_OLD"
            data["sources"]["weibo_comments"]["cookie_env"] = "WB_GOOD"

        env = {**os.environ, "WB_OLD": "SUB=stale-session", "WB_GOOD": "SUB=valid-session"}
        proc = cli(edit(cfg, setup), "sources", "check", env=env)
        status = cli(cfg, "status", env=env)
    assert proc.returncode == 1
    found = lines(proc.stdout)
    assert found[("weibo_search", "极光优选")] == (
        "needs-cookie HTTP 432 (Weibo: no valid login cookie): needs a login cookie "
        "(set sources.weibo_search.cookie_env or cookie_files)")
    assert found[("weibo_timeline", "2000000001")] == (
        "cookie-expired every configured cookie of weibo_timeline has expired (cookie 1): export fresh ones")
    assert found[("weibo_comments", "4900000000000001")].startswith("ok ")
    # the expired cookie was retired, with one health event for the operator
    events = rows(tmp_path / "cw.db", "SELECT source, event FROM source_health")
    assert events == [("weibo_timeline", "cookie_expired")]
    assert "weibo_search     needs-cookie: 极光优选: HTTP 432" in status.stdout, status.stdout
    assert "weibo_timeline   cookie-expired" in status.stdout
    assert "weibo_comments   ok: " in status.stdout


def test_one_source_only(tmp_path):
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        cfg = sources_config(tmp_path, server)
        proc = cli(cfg, "sources", "check", "jutousu")
        wrong = cli(cfg, "sources", "check", "myspace")
    assert proc.returncode == 0 and list(lines(proc.stdout)) == [("jutousu", "极光优选")]
    assert wrong.returncode == 1 and "no source named 'myspace'" in wrong.stderr


def test_spider_seen_refusals_are_named_for_their_target(tmp_path):
    """Before: 黑猫's refused signature probed as layout-changed, and a block a spider sees itself was noted
    under no target, so the target showed 'ok 0 posts read'."""
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        server.tousu_salt = "$0ther-salt%"  # the site's web app changed its salt
        proc = cli(sources_config(tmp_path, server), "sources", "check", "tousu_sina")
    assert proc.returncode == 1
    assert lines(proc.stdout)[("tousu_sina", "6384912431")].startswith(
        "gated 黑猫投诉 refused the request signature (签名错误)")
