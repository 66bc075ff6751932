"""Each mention rule on synthetic buckets: fires on its surge, not on noise or the daily rhythm;
minimum counts; state that survives a JSON round trip (as the service persists it)."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crisiswatch.config import (
    DetectionSettings,
    EmergingTermsSettings,
    FlatlineSettings,
    NegativeShareSettings,
    VolumeSpikeSettings,
)
from monitor.detectors import RULES, build_rules
from monitor.detectors.base import Observation
from monitor.detectors.baseline import SeasonalRate
from monitor.detectors.emerging_terms import EmergingTermsRule
from monitor.detectors.flatline import FlatlineRule
from monitor.detectors.negative_share import NegativeShareRule
from monitor.detectors.stats import binom_sf, nbinom_sf, poisson_cdf, poisson_sf
from monitor.detectors.volume_spike import VolumeSpikeRule
from tests.conftest import poisson

T0 = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)


def daily_rate(t: datetime, day: float = 12.0, night: float = 2.0) -> float:
    """Mentions per minute: busy afternoons, quiet nights."""
    phase = math.cos(2 * math.pi * (t.hour + t.minute / 60 - 15) / 24)
    return night + (day - night) * (1 + phase) / 2


def roundtrip(rule):
    fresh = type(rule)(rule.settings)
    fresh.restore(json.loads(json.dumps(rule.state())))
    return fresh


def test_tails_agree_with_closed_forms() -> None:
    assert abs(poisson_sf(3, 1.0) - (1 - math.exp(-1) * 2.5)) < 1e-12
    assert abs(binom_sf(3, 5, 0.5) - 0.5) < 1e-12
    assert abs(nbinom_sf(2, 2.0, 1.0) - (2 / 3) ** 2) < 1e-9  # size 1 = geometric
    assert abs(nbinom_sf(4, 3.0, 1e9) - poisson_sf(4, 3.0)) < 1e-5  # huge size = Poisson
    assert poisson_cdf(0, 20.0) == math.exp(-20.0)


def test_registry_builds_enabled_rules_in_priority_order() -> None:
    from crisiswatch.config import DetectionSettings

    assert list(RULES)[0] == "negative_spike"
    names = [r.name for r in build_rules(DetectionSettings(volume_spike={"enabled": False}))]
    assert "volume_spike" not in names and {"negative_share", "emerging_terms", "flatline"} <= set(names)


# ------------------------------------------------------------------ volume spike


def _volume_run(rule: VolumeSpikeRule, days: int, seed: int, surge: dict[datetime, int] | None = None,
                start: datetime = T0):
    rng = random.Random(seed)
    fired = []
    for i in range(days * 1440):
        t = start + i * MIN
        n = poisson(rng, daily_rate(t)) + (surge or {}).get(t, 0)
        sig = rule.observe(Observation(t, 1, "brand=aurora", "aurora", n, 0))
        if sig:
            fired.append(sig)
    return fired


def test_volume_spike_quiet_on_a_daily_rhythm_and_fires_on_a_surge() -> None:
    rule = VolumeSpikeRule(VolumeSpikeSettings())
    assert _volume_run(rule, 4, seed=1) == []  # four days of rhythm and noise: nothing
    onset = T0 + timedelta(days=4, hours=15)
    surge = {onset + k * MIN: 40 for k in range(10)}
    # the restored rule carries on from day 4, as a restarted service does (time does not run back)
    fired = _volume_run(roundtrip(rule), 1, seed=2, surge=surge, start=T0 + timedelta(days=4))
    assert fired and all(f.at >= onset for f in fired)
    assert fired[0].at <= onset + 2 * MIN and fired[0].rule == "volume_spike"


def test_volume_spike_knows_night_from_day() -> None:
    """After a week, 20 a minute at 03:00 is news although it is a normal afternoon's busy minute."""
    rule = VolumeSpikeRule(VolumeSpikeSettings())
    _volume_run(rule, 7, seed=3)
    night = T0 + timedelta(days=7, hours=3)
    day = T0 + timedelta(days=7, hours=15)
    assert rule.baseline.expected("brand=aurora", night, 1) < 0.5 * rule.baseline.expected("brand=aurora", day, 1)
    assert rule.observe(Observation(night, 1, "brand=aurora", "aurora", 20, 0)) is not None
    assert rule.observe(Observation(day, 1, "brand=aurora", "aurora", 20, 0)) is None


def test_volume_spike_min_count_and_new_keys() -> None:
    rule = VolumeSpikeRule(VolumeSpikeSettings())
    for n in (0, 1, 5, 9):  # below min_count, even for a brand-new split key with a tiny prior
        obs = Observation(T0, 1, "brand=aurora|category=safety", "aurora", n, 0, dimension="brand/category")
        assert rule.observe(obs) is None
    only_brand = VolumeSpikeRule(VolumeSpikeSettings(dimensions=["brand"]))
    split = Observation(T0, 1, "brand=aurora|source=jd", "aurora", 500, 0, dimension="brand/source")
    assert only_brand.observe(split) is None  # a dimension the config did not ask for


# ------------------------------------------------------------------ negative share


def test_negative_share_fires_on_a_turn_in_tone_at_steady_volume() -> None:
    rng = random.Random(5)
    rule = NegativeShareRule(NegativeShareSettings())
    fired = []
    for i in range(36 * 60):
        t = T0 + i * MIN
        total = poisson(rng, 8.0)
        share = 0.1 if i < 30 * 60 else 0.45
        negative = sum(rng.random() < share for _ in range(total))
        sig = rule.observe(Observation(t, 1, "brand=aurora", "aurora", total, negative))
        if sig:
            fired.append(sig)
        if i == 24 * 60:
            rule = roundtrip(rule)
    assert fired, "a jump from 10 % to 45 % negative must fire"
    onset = T0 + timedelta(hours=30)
    assert all(f.at >= onset for f in fired) and fired[0].at <= onset + 15 * MIN
    assert fired[0].facts["share"] > 2 * fired[0].facts["baseline_share"] and fired[0].facts["baseline_share"] < 0.15


def test_negative_share_needs_minimum_counts() -> None:
    rule = NegativeShareRule(NegativeShareSettings())
    for i in range(30):  # 100 % negative, but only a trickle of posts
        assert rule.observe(Observation(T0 + i * MIN, 1, "brand=new", "new", 1 if i % 3 == 0 else 0,
                                        1 if i % 3 == 0 else 0)) is None


# ------------------------------------------------------------------ emerging terms

VOCAB = ["好评", "发货", "客服", "包装", "质量", "价格", "活动", "会员", "颜色", "尺码"]


def _terms(rng: random.Random, n: int, extra: str | None = None, extra_posts: int = 0) -> dict[str, int]:
    counts: dict[str, int] = {"极光优选": n}  # the brand's name is in every post
    for _ in range(n):
        for word in rng.sample(VOCAB, 2):
            counts[word] = counts.get(word, 0) + 1
    if extra:
        counts[extra] = extra_posts
    return counts


def test_emerging_term_fires_with_the_term_in_its_key() -> None:
    rng = random.Random(7)
    rule = EmergingTermsRule(EmergingTermsSettings())
    signals = []
    for i in range(12 * 60):
        t = T0 + i * MIN
        n = poisson(rng, 3.0)
        surge = i >= 11 * 60 and i % 2 == 0
        if i >= 11 * 60:
            n *= 5  # volume jumps too: the brand's name must not fire for that
        signals += rule.observe_all(Observation(t, 1, "brand=aurora", "aurora", n, 0,
                                                terms=_terms(rng, n, "爆炸" if surge else None, 2)))
        if i == 6 * 60:
            rule = roundtrip(rule)
    terms = {s.facts["term"] for s in signals}
    assert terms == {"爆炸"}
    first = signals[0]
    assert first.key == "brand=aurora|term=爆炸" and first.at <= T0 + timedelta(hours=11, minutes=8)


def test_emerging_terms_one_post_never_fires_and_stop_terms() -> None:
    rng = random.Random(8)
    rule = EmergingTermsRule(EmergingTermsSettings(stop_terms=["维权"]))
    out = []
    for i in range(6 * 60):
        t = T0 + i * MIN
        terms = _terms(rng, 3)
        if i == 5 * 60:
            terms["致癌"] = 1  # a single post with a brand-new term
        if i >= 5 * 60 + 10:
            terms["维权"] = 3  # a stop-listed term
        out += rule.observe_all(Observation(t, 1, "brand=aurora", "aurora", 3, 0, terms=terms))
    assert out == []


# ------------------------------------------------------------------ flatline


def test_flatline_fires_when_a_busy_source_goes_silent() -> None:
    rng = random.Random(9)
    rule = FlatlineRule(FlatlineSettings())
    fired = []
    silent_from = T0 + timedelta(hours=30)
    for i in range(32 * 60):
        t = T0 + i * MIN
        n = 0 if t >= silent_from else poisson(rng, 2.0)
        sig = rule.observe(Observation(t, 1, "source=weibo", "", n, 0, dimension="source"))
        if sig:
            fired.append(sig)
    assert fired and silent_from <= fired[0].at <= silent_from + 60 * MIN
    assert fired[0].brand == "" and "weibo" in fired[0].summary


def test_flatline_ignores_quiet_and_new_sources() -> None:
    rng = random.Random(10)
    rule = FlatlineRule(FlatlineSettings())
    for i in range(30 * 60):
        t = T0 + i * MIN
        n = 0 if i > 28 * 60 else poisson(rng, 0.1)  # too quiet for silence to mean anything
        assert rule.observe(Observation(t, 1, "source=jutousu", "", n, 0, dimension="source")) is None
        assert rule.observe(Observation(t, 1, "source=x", "", 0, 0, dimension="source")) is None


# ------------------------------------------------------------------ the surge detector behind the rules


def test_warm_volume_key_fires_once_at_the_onset_with_the_detectors_explanation() -> None:
    """After a day the surge detector decides: one signal at the start of a ten-minute surge (the count
    tail alone fired on every one of its buckets), explained as level vs baseline, since when, how rare."""
    rule = VolumeSpikeRule(VolumeSpikeSettings(dimensions=["brand"]))
    onset = T0 + timedelta(days=2, hours=3)  # night: about 2 a minute
    surge = {onset + k * MIN: 40 for k in range(10)}
    fired = _volume_run(rule, 3, seed=12, surge=surge)
    assert [f.at for f in fired] == [onset]
    facts = fired[0].facts["surge"]
    assert facts["statistic"] in {"spike", "season"} and facts["direction"] == "up"
    assert facts["value"] > 5 * facts["baseline"] and facts["once_in_hours"] > 24  # vs the day's median
    # how rare, within what two days of history can vouch for (not "once in 17 years")
    assert "since" in fired[0].summary and "rarer than anything in the last 2 days" in fired[0].summary


def test_cold_volume_key_decides_by_its_count_tail() -> None:
    """A key first seen an hour ago has no history to be rare against: the tail alone fires, unexplained."""
    rule = VolumeSpikeRule(VolumeSpikeSettings(dimensions=["brand"]))
    for i in range(60):
        assert rule.observe(Observation(T0 + i * MIN, 1, "brand=new", "new", 1, 0)) is None
    signal = rule.observe(Observation(T0 + 60 * MIN, 1, "brand=new", "new", 80, 0))
    assert signal is not None and "surge" not in signal.facts


def test_warm_negative_share_is_explained_by_the_detector() -> None:
    rng = random.Random(13)
    rule = NegativeShareRule(NegativeShareSettings())
    fired = []
    for i in range(46 * 60):  # warm after about 32 hours (24 calibration samples)
        total = poisson(rng, 8.0)
        negative = sum(rng.random() < (0.1 if i < 40 * 60 else 0.45) for _ in range(total))
        sig = rule.observe(Observation(T0 + i * MIN, 1, "brand=aurora", "aurora", total, negative))
        if sig:
            fired.append(sig)
    assert fired and fired[0].at >= T0 + timedelta(hours=40)
    assert fired[0].facts["surge"]["direction"] == "up" and len(fired) < 10, "onsets, not every bucket"


def test_a_surge_says_since_when_in_the_teams_time_zone() -> None:
    """The on-call reads every other time of an alert in the team's zone: "since 11:00 CST", not "03:00 UTC"."""
    [rule] = [r for r in build_rules(DetectionSettings(), "Asia/Shanghai") if r.name == "volume_spike"]
    onset = T0 + timedelta(days=2, hours=3)  # 03:00 UTC = 11:00 in Shanghai
    fired = _volume_run(rule, 3, seed=12, surge={onset + k * MIN: 40 for k in range(10)})
    assert fired and "since 11:00 CST" in fired[0].summary and "UTC" not in fired[0].summary, fired[0].summary


def test_the_weekend_begins_at_midnight_in_the_teams_zone() -> None:
    """Six weeks of a brand four times as busy on weekdays as at weekends (Shanghai's): Monday 02:00 in
    Shanghai, still Sunday in UTC, is expected as a weekday, and Saturday 02:00 (Friday in UTC) as a weekend."""
    shanghai = "Asia/Shanghai"
    rate = SeasonalRate(1.0, 1440, 3)
    rate.set_zone(shanghai)
    start = datetime(2025, 6, 1, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai
    for i in range(42 * 1440):  # weekday factors are learned once an hour slot has a day of data: 24 days
        t = start + i * MIN
        rate.learn("brand=aurora", t, 1, 1 if t.astimezone(ZoneInfo(shanghai)).weekday() >= 5 else 4)
    monday_2am = datetime(2025, 7, 13, 18, 0, tzinfo=UTC)
    saturday_2am = datetime(2025, 7, 11, 18, 0, tzinfo=UTC)
    assert rate.expected("brand=aurora", monday_2am, 1) > 3
    assert rate.expected("brand=aurora", saturday_2am, 1) < 2
