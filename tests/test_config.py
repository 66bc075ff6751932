from pathlib import Path

import pytest

from crisiswatch.config import load_config
from crisiswatch.errors import ConfigError

REPO = Path(__file__).parent.parent


def test_example_config_is_valid():
    config = load_config(str(REPO / "crisiswatch.example.yaml"))
    assert config.brands[0].key == "aurora"
    assert config.brands[0].sources.weibo_search == ["极光优选"]


def test_a_brand_is_named_as_people_call_it_or_by_its_key():
    config = load_config(str(REPO / "crisiswatch.example.yaml"))
    assert config.brand_name("aurora") == "极光优选"
    assert config.brand_name("gone") == "gone"  # an incident of a brand since removed from the config


@pytest.mark.parametrize(("body", "key", "problem"), [
    ("brands:\n  - key: Bad Key\n    names: [x]\n", "brands.0.key", "pattern"),
    ("brands:\n  - key: a\n    names: []\n", "brands.0.names", "at least 1"),
    ("index:\n  batch_size: 0\n", "index.batch_size", "greater than or equal to 1"),
    ("alerts:\n  routes:\n    - name: r\n      min_severity: 很严重\n", "alerts.routes.0.min_severity", "一般"),
    # pydantic said "Extra inputs are not permitted"
    ("detection:\n  negative_spike:\n    p_vaule: 0.01\n", "detection.negative_spike.p_vaule",
     "unknown key (did you mean 'p_value'?)"),
    ("index:\n  batch_size: 0\n  urll: x\n", "index.batch_size", "(and 1 more: index.urll)"),
    ("alerts:\n  routes:\n    - name: r\n      brands: [nobody]\n", "alerts.routes.0.brands", "unknown brand"),
    ("brands:\n  - {key: a, names: [x]}\n  - {key: a, names: [y]}\n", "brands", "duplicate"),
    # taken, then the first crawl's enrichment failed in its own process with "unknown sentiment model"
    ("enrichment:\n  sentiment_model: SnowNLP\n", "enrichment.sentiment_model", "'crisiswatch' or 'snownlp'"),
    # taken: a lease already run out when taken, so one account was used from two crawler hosts at once
    ("crawl:\n  cookie_lease_seconds: 0\n", "crawl.cookie_lease_seconds", "greater than or equal to 60"),
    # taken, and its settings (the cookie, the schedule) applied to no source
    ("sources:\n  weibo_serach:\n    cookie_env: WEIBO_COOKIE\n", "sources",
     "unknown source 'weibo_serach' (did you mean 'weibo_search'?); sources: weibo_search, weibo_timeline,"),
])
def test_bad_config_names_file_key_and_problem(tmp_path, body, key, problem):
    path = tmp_path / "cw.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    assert str(path) in message and key in message and problem in message


def test_broken_yaml_and_missing_file(tmp_path):
    path = tmp_path / "cw.yaml"
    path.write_text("brands: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(path))
    with pytest.raises(ConfigError, match="file not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_cli_prints_one_line_for_a_bad_config(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "cw.yaml"
    path.write_text("index:\n  url: 5\n  batch_size: -1\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(path), "status"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("crisiswatch: bad config")


def test_a_relative_sqlite_index_lies_beside_the_config_file_as_the_state_does(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    cfg = tmp_path / "etc" / "crisiswatch.yaml"
    cfg.write_text("state_db: state.db\nindex:\n  url: sqlite:///index.db\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # run from elsewhere, as a unit with WorkingDirectory= or a person by hand does
    config = load_config(str(cfg))
    assert config.state_store == str(tmp_path / "etc" / "state.db")
    assert config.index.url == f"sqlite:///{tmp_path / 'etc' / 'index.db'}"  # it was ./index.db of the cwd
    cfg.write_text("index:\n  url: sqlite:////var/lib/cw/index.db\n", encoding="utf-8")
    assert load_config(str(cfg)).index.url == "sqlite:////var/lib/cw/index.db"  # absolute: as written


# what people paste where the variable's name goes: a robot URL with its key, a bot token, a cookie, a
# bearer token, a signing secret (hex), an SMTP password
PASTED = {
    "alerts:\n  routes:\n    - {name: m, channel: wecom, url_env: '%s'}\n":
        ("alerts.routes.0.url_env", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4"),
    "alerts:\n  slack:\n    token_env: '%s'\n": ("alerts.slack.token_env", "xoxb-1234-5678-abcdefABCDEF"),
    "alerts:\n  slack:\n    signing_secret_env: '%s'\n": ("alerts.slack.signing_secret_env",
                                                           "f8e742231b10e8888abcd99yyyzzz85a5"),
    "alerts:\n  email:\n    password_env: '%s'\n": ("alerts.email.password_env", "hunter2!smtp"),
    "sources:\n  weibo_search:\n    cookie_env: '%s'\n": ("sources.weibo_search.cookie_env", "SUB=_2A25Lcookie; SUBP=0033"),
    "sources:\n  weibo_search:\n    cookie_envs: [WEIBO_1, '%s']\n": ("sources.weibo_search.cookie_envs.1",
                                                                      "SUB=_2A25Lsecond"),
    "sources:\n  x:\n    token_env: '%s'\n": ("sources.x.token_env", "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid"),
}


@pytest.mark.parametrize(("body", "key", "secret"), [(b, k, s) for b, (k, s) in PASTED.items()])
def test_a_secret_pasted_where_its_variable_name_goes_is_refused_without_repeating_it(tmp_path, body, key, secret):
    # it was taken as a name, and shown as one: in status, the outbox, errors and operator alerts
    path = tmp_path / "cw.yaml"
    path.write_text(body % secret, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    assert key in message and "not an environment variable name" in message
    assert secret not in message and "key=" not in message


def test_variable_names_for_secrets_load():
    config = load_config(str(REPO / "crisiswatch.example.yaml"))
    assert config.alerts.slack.token_env == "SLACK_BOT_TOKEN" and config.sources["x"].token_env == "X_BEARER_TOKEN"


def test_a_setting_that_was_never_read_is_said_and_the_config_still_loads(tmp_path, caplog):
    path = tmp_path / "crisiswatch.yaml"
    path.write_text("brands: [{key: aurora, names: [极光优选]}]\nenrichment: {negative_below: 0.3, keep_raw_text: true}\n",
                    encoding="utf-8")
    with caplog.at_level("WARNING"):
        config = load_config(path)
    assert config.enrichment.keep_raw_text is True and not hasattr(config.enrichment, "negative_below")
    assert "enrichment.negative_below is not used" in caplog.text
