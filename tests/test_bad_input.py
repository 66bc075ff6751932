"""Bad input people really make gets one line naming it, never a traceback, and loses nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crisiswatch.cli import main
from crisiswatch.config import load_config, parse_config
from crisiswatch.errors import ConfigError


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "crisiswatch.yaml"
    path.write_bytes("brands:\n  - key: aurora\n    names: [极光优选]\n".encode("gbk"))
    with pytest.raises(ConfigError, match=r"line 3: not UTF-8 text .*save the file as UTF-8"):
        load_config(str(path))
    assert "not UTF-8" in one_line(cli("--config", str(path), "status", cwd=tmp_path))


@pytest.mark.parametrize(("raw", "key"), [
    ({"alerts": {"timezone": "Mars/Olympus"}}, "alerts.timezone"),
    ({"tickets": {"timezone": "Asia/Shanghia"}}, "tickets.timezone"),
    ({"alerts": {"quiet_hours": {"start": "25:99"}}}, "alerts.quiet_hours.start"),
    ({"alerts": {"dashboard_url": "127.0.0.1:8470"}}, "alerts.dashboard_url"),
    ({"alerts": {"slack": {"base_url": "http://[::1"}}}, "alerts.slack.base_url"),
    ({"sources": {"weibo_search": {"base_url": "http://h:port"}}}, "sources.weibo_search.base_url"),
    ({"sources": {"weibo_search": {"proxy": "gw.example:8000"}}}, "sources.weibo_search.proxy"),
])
def test_values_that_only_fail_later_are_refused_at_load(raw, key):
    with pytest.raises(ConfigError, match=rf"bad config <config>: {key}: "):
        parse_config(raw)


def test_a_bad_time_zone_no_longer_kills_status(tmp_path):
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db"), "alerts": {"timezone": "Mars/Olympus"}}))
    assert "alerts.timezone: unknown time zone 'Mars/Olympus'" in one_line(cli("--config", str(path), "status"))


def test_a_proxy_naming_env_vars_is_checked_when_the_crawl_expands_it():
    config = parse_config({"sources": {"weibo_search": {"proxy": "http://$PROXY_USER:$PROXY_PASS@gw:8000"}}})
    assert config.source("weibo_search").proxy.startswith("http://$PROXY_USER")


@pytest.mark.parametrize(("url", "problem"), [
    ("foo://h", "unknown scheme"),
    ("elasticsearch://h:notaport", "bad index URL"),
    ("elasticsearch://[::1", "bad index URL"),
    ("elasticsearch://127.0.0.1:9200?shards=abc", "shards='abc'.*must be a whole number"),
    ("sqlite://", "names no database file"),
    ("sqlite:///", "names no database file"),
    ("sqlite:///:memory:", "names no database file"),
])
def test_a_bad_index_url_stops_the_crawl_in_one_line(tmp_path, url, problem):
    config = tmp_path / "crisiswatch.yaml"
    config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db")}))
    line = one_line(cli("--config", str(config), "crawl", "weibo_search", "--index-url", url))
    assert "index.url given on the command line" in line
    assert __import__("re").search(problem, line), line
    # and from the file, before anything is crawled or any mark moves
    config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db"), "index": {"url": url}}))
    with pytest.raises(ConfigError, match=problem):
        load_config(str(config))
    assert not (tmp_path / "s.db").exists()


def test_credentials_in_the_index_url_are_refused_and_never_shown(tmp_path, capsys):
    url = "elasticsearch://elastic:s3cret-pass@127.0.0.1:9200"
    config = tmp_path / "crisiswatch.yaml"
    config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db"), "index": {"url": url}}))
    assert main(["--config", str(config), "status"]) == 1
    err = capsys.readouterr().err
    assert "ES_USERNAME and ES_PASSWORD" in err and "s3cret" not in err and "***@127.0.0.1" in err
    config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db")}))
    for command in (["crawl", "weibo_search"], ["collect", "x"]):
        assert main(["--config", str(config), *command, "--index-url", url]) == 1
        err = capsys.readouterr().err
        assert "carries credentials" in err and "s3cret" not in err


@pytest.mark.parametrize("url", ["postgresql://cw:s3cret-pass@127.0.0.1:1/cw",
                                 "postgresql://cw@127.0.0.1:1/cw?sslmode=disable&password=s3cret-pass"])
def test_a_password_in_the_state_url_is_refused_and_never_shown(tmp_path, capsys, url):
    config = tmp_path / "crisiswatch.yaml"
    config.write_text(yaml.safe_dump({"state": {"url": url}}))
    assert main(["--config", str(config), "status"]) == 1  # it was used, and printed in the connection error
    assert main(["--state-url", url, "state", "version"]) == 1
    err = capsys.readouterr().err
    assert err.count("holds a password") == 2 and "PGPASSWORD" in err and "s3cret" not in err


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--until", "2025-13-01"], ["-a", "since=last week"]])
def test_a_bad_crawl_time_is_one_line_before_any_request(tmp_path, args):
    config = tmp_path / "crisiswatch.yaml"
    config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db")}))
    # it was "unexpected error: RuntimeError: Crawler.stats is not set yet" and two Twisted tracebacks
    assert "is not a time: use ISO 8601" in one_line(cli("--config", str(config), "crawl", "weibo_search", *args,
                                                         cwd=tmp_path))


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys):
    import crisiswatch.commands.status as status

    def broken(args):
        raise RuntimeError("disk on fire at elasticsearch://u:pw@h:9200")

    monkeypatch.setattr(status, "run", broken)
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: disk on fire" in err and "pw@" not in err and "--debug" in err
    with pytest.raises(RuntimeError):
        main(["--debug", "status"])


@pytest.mark.parametrize(("url", "secret"), [
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4", "693a91f6"),
    ("https://oapi.dingtalk.com/robot/send?access_token=9f3c0ffee&timestamp=1&sign=c2lnbg%3D%3D", "9f3c0ffee"),
    ("https://oapi.dingtalk.com/robot/send?access_token=9f3c0ffee&timestamp=1&sign=c2lnbg%3D%3D", "c2lnbg"),
    ("https://api.example.cn/v1?q=极光&token=tok123", "tok123"),
    ("postgresql://cw:pg-pass@db:5432/cw", "pg-pass"),
    ("postgresql://cw@db/cw?password=pg-pass", "pg-pass"),
    ("postgresql://cw@db/cw?sslmode=verify-full&sslpassword=key-pass", "key-pass"),
])
def test_an_unexpected_error_quoting_a_url_shows_it_without_its_credentials(tmp_path, monkeypatch, capsys, url,
                                                                            secret):
    from crisiswatch.commands import status

    def fails(args):
        raise RuntimeError(f"HTTPSConnectionPool: Max retries exceeded with url: {url} (Caused by timeout)")

    monkeypatch.setattr(status, "run", fails)
    config = tmp_path / "crisiswatch.yaml"
    config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db")}))
    assert main(["--config", str(config), "status"]) == 1
    err = capsys.readouterr().err
    assert "unexpected error: RuntimeError" in err and secret not in err and "***" in err
    assert "(Caused by timeout)" in err  # the rest of the message is kept


def test_a_state_url_carrying_the_ssl_key_password_is_refused_without_showing_it(tmp_path, capsys):
    # libpq reads sslpassword from the URL too; it went out in "cannot connect to …" lines
    url = "postgresql://cw@127.0.0.1:9/cw?sslpassword=key-pass"
    assert main(["--state-url", url, "status"]) == 1
    err = capsys.readouterr().err
    assert "holds a password" in err and "key-pass" not in err


@pytest.mark.parametrize("command", [["demo"], ["serve", "--demo-login"]])
def test_a_bad_index_url_for_the_demo_or_the_dashboard_is_one_line(tmp_path, command):
    # the demo printed pydantic's five-line ValidationError as an "unexpected error", after recreating its database
    line = one_line(cli(*command, "--index-url", "ftp://es.internal:9200", cwd=tmp_path))
    assert line.startswith("crisiswatch: bad index.url given on the command line: unknown scheme"), line
    assert not (tmp_path / "crisiswatch-demo.db").exists()


@pytest.mark.parametrize(("where", "reason"), [
    ("settings.yaml/state.db", "is a file, not a folder"),  # a path under a file
    ("folder", "it is a folder"),
    ("settings.yaml", "file is not a database"),
])
def test_a_state_database_that_cannot_be_opened_names_the_settings_to_fix(tmp_path, where, reason):
    (tmp_path / "settings.yaml").write_text("not: a database\n")
    (tmp_path / "folder").mkdir()
    config = tmp_path / "crisiswatch.yaml"
    config.write_text(yaml.safe_dump({"state_db": where}))
    for args in (["--config", str(config), "alerts", "deliver"], ["--db", str(tmp_path / where), "state", "version"]):
        line = one_line(cli(*args, cwd=tmp_path))  # "unexpected error: FileExistsError: … '…/settings.yaml'"
        assert line.startswith(f"crisiswatch: cannot open the SQLite database {tmp_path / where}: "), line
        assert reason in line and "state_db" in line and "--db FILE" in line, line


@pytest.mark.parametrize("with_file", [True, False])
def test_a_missing_token_names_the_variable_to_set_not_a_bad_config(tmp_path, monkeypatch, with_file):
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    args = ["collect", "x", "--query", "极光优选"]
    if with_file:
        config = tmp_path / "crisiswatch.yaml"
        config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db")}))
        args = ["--config", str(config), *args]
    # it was "bad config crisiswatch.yaml: sources.x.token_env: …", and "bad config : …" with no file at all
    line = one_line(cli(*args, cwd=tmp_path))
    assert line == ("crisiswatch: environment variable X_BEARER_TOKEN is not set: put the X API bearer token in it "
                    "(or name another variable in sources.x.token_env)"), line


@pytest.mark.parametrize("with_file", [True, False])
def test_a_crawl_with_nothing_to_crawl_says_so(tmp_path, with_file):
    args = ["crawl", "jd_reviews"]
    if with_file:  # a brand with Weibo keywords only
        config = tmp_path / "crisiswatch.yaml"
        config.write_text(yaml.safe_dump({"state_db": str(tmp_path / "s.db"),
                                          "brands": [{"key": "aurora", "names": ["极光优选"],
                                                      "sources": {"weibo_search": ["极光优选"]}}]},
                                         allow_unicode=True), encoding="utf-8")
        args = ["--config", str(config), *args]
    # it was "jd_reviews: finished · 0 pages · 0 mentions · 0 invalid", exit status 0
    line = one_line(cli(*args, cwd=tmp_path))
    assert line.startswith("crisiswatch: jd_reviews has nothing to crawl: no brand in "), line
    assert line.endswith("lists targets under brands[].sources.jd_reviews (or give --query Q)"), line
    assert ("crisiswatch.yaml" if with_file else "the built-in defaults") in line
