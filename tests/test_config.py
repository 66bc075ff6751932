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
