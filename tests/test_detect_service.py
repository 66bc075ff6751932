"""DetectionService with every rule on a real SQLite index: one crisis = one incident (other rules'
signals join it), cooldown, state that survives restarts exactly, flatlines, and a side-effect-free backtest."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from alerts.channels.console import ConsoleChannel
from alerts.dispatch import AlertDispatcher
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.mention import Mention
from index import open_backend
from monitor.backtest import backtest, months
from monitor.detection import DetectionService
from monitor.detectors.base import Signal
from monitor.flows import detect_and_respond
from monitor.incidents.service import IncidentService
from tests.conftest import config_dict

T0 = datetime(2025, 6, 14, 0, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]
WORDS = ["发货", "客服", "包装", "质量", "价格", "活动", "会员", "颜色"]


def write(backend, minute: int, n: int, negative: int = 0, text: str | None = None, source: str = "weibo",
          tag: str = "") -> None:
    backend.upsert([
        Mention(source=source, native_id=f"{tag}{minute}-{i}", brands=["aurora"],
                text=text or f"极光优选 {WORDS[(minute + i) % len(WORDS)]} {WORDS[(minute * 3 + i) % len(WORDS)]}",
                created_at=T0 + timedelta(minutes=minute, seconds=i % 60),
                sentiment=0.05 if i < negative else 0.95)
        for i in range(n)
    ])


def history(backend, minutes: int, start: int = 0) -> None:
    """A calm brand: two posts a minute on weibo, one in five minutes negative."""
    for m in range(start, minutes):
        write(backend, m, 2, negative=1 if m % 5 == 0 else 0)


@pytest.fixture()
def setup(tmp_path):
    config = parse_config(config_dict(tmp_path), str(tmp_path / "crisiswatch.yaml"))
    return config, open_backend(config.index.url)


def test_one_crisis_is_one_incident_that_other_rules_join(setup) -> None:
    config, backend = setup
    history(backend, 300)
    for m in range(300, 320):  # a logistics surge: volume, tone and a new term at once
        write(backend, m, 15, negative=12, text="极光优选 快递 丢件 没人管", tag="s")
    conn = connect(config.state_store)
    changes = DetectionService(config, backend, conn).advance(T0 + timedelta(minutes=330))
    opened = [c.incident for c in changes if c.kind == "opened"]
    assert len(opened) == 1 and opened[0].rule == "negative_spike"
    incident = IncidentService(conn).get(opened[0].id)
    joined = {r["rule"] for r in incident.facts["related"]}
    assert {"volume_spike", "negative_share", "emerging_terms"} <= joined
    terms = {r["facts"]["term"] for r in incident.facts["related"] if r["rule"] == "emerging_terms"}
    assert "丢件" in terms and "极光优选" not in terms
    assert "极光" not in incident.facts["top_terms"] and "快递" in incident.facts["top_terms"]


def test_restarts_decide_exactly_like_one_run(setup, tmp_path) -> None:
    config, backend = setup
    history(backend, 400)
    for m in range(200, 215):
        write(backend, m, 12, negative=10, text="极光优选 爆炸 起火 吓人", tag="a")
    for m in range(330, 340):
        write(backend, m, 10, negative=9, tag="b")
    whole = DetectionService(config, backend, connect(config.state_store)).advance(T0 + timedelta(minutes=400))

    other = parse_config(config_dict(tmp_path / "b"), str(tmp_path / "b.yaml"))
    other = other.model_copy(update={"state_db": str(tmp_path / "restarts.db")})
    pieces = []
    for cut in (90, 205, 206, 250, 335, 400):  # a new service object (a restart) before every piece
        pieces += DetectionService(other, backend, connect(other.state_db)).advance(T0 + timedelta(minutes=cut))

    def summary(changes):
        return [(c.kind, c.incident.id, c.incident.rule, c.incident.opened_at, c.incident.level) for c in changes]

    assert summary(pieces) == summary(whole)
    assert [c.kind for c in whole].count("opened") == 2


def test_cooldown_reopens_instead_of_opening_again(tmp_path) -> None:
    conn = connect(tmp_path / "s.db")
    incidents = IncidentService(conn)

    def signal(minute: int, rule: str = "volume_spike", brand: str = "aurora") -> Signal:
        return Signal(rule, f"brand={brand}", brand, "warning", T0 + timedelta(minutes=minute), 10.0, 1.0, 1e-7, "s")

    first = incidents.apply(signal(0), cooldown=timedelta(minutes=60))
    incidents.resolve(first.incident.id, at=T0 + timedelta(minutes=30), reason="quiet")
    again = incidents.apply(signal(50), cooldown=timedelta(minutes=60))
    assert again.kind == "reopened" and again.incident.id == first.incident.id and again.incident.status == "open"
    incidents.resolve(first.incident.id, at=T0 + timedelta(minutes=80), reason="quiet")
    later = incidents.apply(signal(200), cooldown=timedelta(minutes=60))
    assert later.kind == "opened" and later.incident.id != first.incident.id


def test_primary_rule_absorbs_an_earlier_secondary_incident(tmp_path) -> None:
    conn = connect(tmp_path / "s.db")
    incidents = IncidentService(conn)
    window = timedelta(minutes=120)
    at = T0 + timedelta(minutes=5)
    volume = Signal("volume_spike", "brand=aurora", "aurora", "warning", T0, 30.0, 2.0, 1e-8, "30 mentions")
    first = incidents.apply(volume, join_window=window)
    assert first.kind == "opened"
    primary = Signal("negative_spike", "brand=aurora", "aurora", "warning", at, 12.0, 0.2, 1e-9, "12 negative")
    change = incidents.apply(primary, join_window=window, primary=True)
    assert change.kind == "opened" and change.incident.rule == "negative_spike"
    assert incidents.get(first.incident.id).status == "resolved"
    assert [r["rule"] for r in change.incident.facts["related"]] == ["volume_spike"]
    other_brand = Signal("volume_spike", "brand=b", "b", "warning", at, 30.0, 2.0, 1e-8, "other brand")
    assert incidents.apply(other_brand, join_window=window).kind == "opened"
    late = Signal("negative_share", "brand=aurora", "aurora", "critical", at, 0.5, 0.1, 1e-12, "share")
    joined = incidents.apply(late, join_window=window)
    assert joined.kind == "escalated" and joined.incident.id == change.incident.id


def test_a_silent_source_raises_an_operator_flatline(setup) -> None:
    config, backend = setup
    for m in range(0, 1500):  # weibo carries the brand all day, then its crawler dies at minute 1440
        if m < 1440:
            write(backend, m, 1, negative=0)
        if m % 10 == 0:
            write(backend, m, 1, source="tousu_sina", tag="t")  # another source keeps flowing
    changes = DetectionService(config, backend, connect(config.state_store)).advance(T0 + timedelta(minutes=1500))
    flat = [c.incident for c in changes if c.kind == "opened" and c.incident.rule == "flatline"]
    assert [i.key for i in flat] == ["source=weibo"] and flat[0].brand == ""
    assert flat[0].opened_at >= T0 + timedelta(minutes=1440)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_backtest_lists_incidents_and_writes_nothing(setup, tmp_path) -> None:
    config, backend = setup
    history(backend, 300)
    for m in range(240, 255):
        write(backend, m, 14, negative=12, tag="s")
    state = Path(config.state_db)
    before = _digest(state)
    found = backtest(config, backend, T0 + timedelta(hours=2), T0 + timedelta(minutes=300), timedelta(hours=2),
                     playbook="negative_spike")
    assert len(found) == 1 and found[0].incident.opened_at == T0 + timedelta(minutes=240)
    assert found[0].playbooks and found[0].playbooks[0][0] == "negative_spike"
    assert _digest(state) == before
    conn = sqlite3.connect(state)  # as the backtest left it (connect would bring the state schema)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not tables & {"incidents", "outbox", "tickets", "playbook_runs", "detector_state"}


def test_backtest_cli_prints_what_would_fire_and_rejects_bad_times(setup, tmp_path) -> None:
    config, backend = setup
    history(backend, 240)
    for m in range(200, 215):
        write(backend, m, 14, negative=12, tag="s")
    path = tmp_path / "cw.yaml"
    path.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True))
    cmd = [sys.executable, "-m", "crisiswatch.cli", "-c", str(path), "backtest", "--warmup-hours", "1"]
    done = subprocess.run([*cmd, "--since", "2025-06-14T02:00", "--until", "2025-06-14T04:00"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 incident(s)" in done.stdout and "03:20" in done.stdout and "negative_spike" in done.stdout
    bad = subprocess.run([*cmd, "--since", "soon", "--until", "2025-06-14T04:00"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "--since" in bad.stderr


def test_a_backtest_says_how_far_it_has_come_after_each_month(setup, tmp_path, capsys) -> None:
    """A replay of years printed nothing until it was done. Now a line on stderr after each month replayed
    (none with --quiet); a surge five minutes into July, after a June that taught the baselines, is found
    once, as one replay of the whole span found it."""
    from crisiswatch.cli import main

    config, backend = setup
    july = 24480  # 2025-07-01 00:00, in minutes after T0
    history(backend, july + 60, start=july - 240)
    for m in range(july + 5, july + 20):
        write(backend, m, 14, negative=12, tag="s")
    path = tmp_path / "cw.yaml"
    path.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True))
    span = ["--warmup-hours", "2", "--since", "2025-06-30T22:00", "--until", "2025-07-01T01:00"]
    cmd = ["-c", str(path), "backtest", *span]
    assert main(cmd) == 0
    out, err = capsys.readouterr()
    assert "1 incident(s) would have opened" in out and "\n2025-07-01 00:05 INC-1 " in out
    assert err.splitlines() == [
        "backtest: through 2025-06-30 22:00 UTC · 40% · warm-up",
        "backtest: through 2025-07-01 00:00 UTC · 80% · 0 incident(s) so far",
        "backtest: through 2025-07-01 01:00 UTC · 100% · 1 incident(s) so far",
    ]
    assert main([*cmd, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "1 incident(s) would have opened" in out and err == ""


def test_a_backtest_steps_a_calendar_month_at_a_time() -> None:
    def at(*day: int) -> datetime:
        return datetime(*day, tzinfo=UTC)

    assert list(months(at(2025, 12, 15), at(2026, 2, 3))) == [at(2026, 1, 1), at(2026, 2, 1), at(2026, 2, 3)]
    assert list(months(at(2025, 6, 14), at(2025, 6, 15))) == [at(2025, 6, 15)]
    assert list(months(at(2025, 6, 14), at(2025, 7, 1))) == [at(2025, 7, 1)]


def test_weibo_emoticons_are_no_terms(setup) -> None:
    """A sarcastic [哈哈] under every post of a surge is tone, not topic: no term surge, no top term."""
    config, backend = setup
    history(backend, 300)
    for m in range(300, 320):
        write(backend, m, 15, negative=12, text="极光优选 快递 丢件 没人管[哈哈][允悲][doge]", tag="s")
    conn = connect(config.state_store)
    changes = DetectionService(config, backend, conn).advance(T0 + timedelta(minutes=330))
    incident = IncidentService(conn).get(next(c.incident for c in changes if c.kind == "opened").id)
    terms = {r["facts"]["term"] for r in incident.facts["related"] if r["rule"] == "emerging_terms"}
    assert "丢件" in terms and not {"哈哈", "允悲", "doge"} & terms
    assert "快递" in incident.facts["top_terms"] and not {"哈哈", "允悲", "doge"} & set(incident.facts["top_terms"])


def _signalled_terms(conn) -> set[str]:
    """Every term emerging_terms signalled, whether its incident was its own or another's it joined."""
    terms = set()
    for incident in IncidentService(conn).list(limit=1000):
        for signal in [{"rule": incident.rule, "key": incident.key}, *incident.facts.get("related", [])]:
            if signal["rule"] == "emerging_terms":
                terms.add(signal["key"].split("|term=", 1)[1])
    return terms


def _post(minute: int, i: int, text: str, author: str, tag: str) -> Mention:
    return Mention(source="weibo", native_id=f"{tag}{minute}-{i}", brands=["aurora"], text=text,
                   created_at=T0 + timedelta(minutes=minute, seconds=i), sentiment=0.5, author={"id": author})


def test_one_account_repeating_itself_is_no_emerging_term_but_a_repost_wave_is(setup) -> None:
    """A spammer posting the same ad 200 times is one voice; 200 people reposting one complaint are 200."""
    config, backend = setup
    history(backend, 400)
    ad = "极光优选 双十一 限时抢购 http://t.cn/A6xYz123 #极光优选大促#"
    backend.upsert([_post(m, i, ad, "spammer-1", "ad") for m in range(300, 320) for i in range(10)])
    conn = connect(config.state_store)
    DetectionService(config, backend, conn).advance(T0 + timedelta(minutes=330))
    assert _signalled_terms(conn) == set(), "one account's copies made terms surge"
    wave = "极光优选 退款不到账 大家小心"
    backend.upsert([_post(m, i, wave, f"fan-{m}-{i}", "rp") for m in range(340, 360) for i in range(10)])
    DetectionService(config, backend, conn).advance(T0 + timedelta(minutes=370))
    assert "退款" in _signalled_terms(conn)


def test_emerging_terms_are_words_not_links_handles_or_english_function_words(setup) -> None:
    """An English complaint with a handle and a short link, and a Weibo hashtag: the rule reports `refund` and
    the hashtag whole, never `my`, `not`, `co`, the link's code or the handle."""
    config, backend = setup
    history(backend, 330)
    backend.upsert([_post(m, i, f"@AuroraHelp my refund is still not received https://t.co/Xy{m}{i}", f"x{m}{i}", "en")
                    for m in range(300, 320) for i in range(2)])
    backend.upsert([_post(m, 5 + i, "#极光优选退款难# 等了三周", f"w{m}{i}", "tag") for m in range(300, 320) for i in range(2)])
    conn = connect(config.state_store)
    DetectionService(config, backend, conn).advance(T0 + timedelta(minutes=330))
    terms = _signalled_terms(conn)
    assert {"refund", "#极光优选退款难#"} <= terms, terms
    assert not terms & {"my", "is", "still", "not", "co", "https", "aurorahelp", "优选", "退款难"}, terms
    assert not any(t.startswith("xy") for t in terms), terms


def test_a_flapping_series_is_one_incident_whose_return_is_said_once_not_every_ten_minutes(setup) -> None:
    """Negative bursts at 03:20, 04:10, then one minute in ten for an hour and a half: one incident; the team
    hears it opened, resolved, back (with the new burst's numbers) and resolved, never a note per burst."""
    config, backend = setup
    history(backend, 480)
    for m in [*range(200, 205), *range(250, 253), *range(300, 400, 10)]:
        write(backend, m, 12, negative=12, tag="s")
    conn = connect(config.state_store)
    dispatcher = AlertDispatcher(config, conn, {"slack": ConsoleChannel(io.StringIO())})
    kinds = []
    for m in range(10, 480, 2):  # a pass every two minutes
        report = detect_and_respond(config, backend, conn, dispatcher, until=T0 + timedelta(minutes=m), deliver=False)
        kinds += [(c.kind, c.incident.id) for c in report.changes if c.kind != "updated"]
    assert len({i for _, i in kinds}) == 1, kinds
    assert [k for k, _ in kinds] == ["opened", "resolved", "reopened", "resolved", "reopened", "resolved"], kinds
    notes = [r.message for r in dispatcher.outbox.all() if r.message.incident_id is not None
             and r.message.kind != "incident_opened"]
    back = [n.summary for n in notes if n.summary.startswith("再次触发 reopened")]
    assert len(back) == 2 and "negative mentions in 1 min vs" in back[0], [n.summary for n in notes]
    assert len(notes) <= 6, [n.summary for n in notes]
