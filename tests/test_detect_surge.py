"""The default "surge" series detector: rare rows for this series, reported once per episode, explained."""

from __future__ import annotations

import argparse
import json
import math
import random
from datetime import timedelta

import pytest

from crisiswatch.commands.detect import run
from monitor.detectors.anomaly import ALERT_THRESHOLD, DEFAULT, DETECTORS, score_series
from monitor.detectors.auto import AutoScorer, looks_like_counts
from monitor.detectors.calibration import DecayingMoments
from monitor.detectors.surge import STATISTICS, Reading, SurgeScorer, SurgeSettings, describe
from tests.test_anomaly import DAY, START, STEP, poisson, seasonal_counts

THRESHOLD = ALERT_THRESHOLD["surge"]


def _alerts(scores: list[float], after: int = 3 * DAY) -> list[int]:
    return [i for i, s in enumerate(scores) if s >= THRESHOLD and i >= after]


def _surprise(score: float) -> float:
    return score / (1.0 - score)  # the score is S / (S + 1)


def test_surge_is_the_default() -> None:
    assert DEFAULT == "surge"


def test_crisis_is_reported_at_its_onset_above_every_noise_report() -> None:
    ts, vs = seasonal_counts(16, seed=5)
    onset = 15 * DAY + 40
    for k in range(24):  # a crisis: 10x the usual volume, fading over two hours
        vs[onset + k] += 200.0 * (0.9**k)
    scores = score_series(ts, vs, "surge")
    crisis = [a for a in _alerts(scores) if a >= onset]
    assert crisis and crisis[0] == onset, "reported on its first row"
    noise = max(scores[3 * DAY : onset])
    assert scores[onset] > noise, "rarer than anything in two weeks of ordinary noise"
    assert _surprise(scores[onset]) > 2 * _surprise(noise)
    # the fading tail of the same episode is not reported again
    assert all(s == 0.0 for s in scores[onset + 1 : onset + 24])


def test_reports_are_onsets_not_rows() -> None:
    """Ordinary Poisson noise: a few small reports a day, a report right after another only when its
    surprise grew by the ladder factor, nothing in the first day."""
    ts, vs = seasonal_counts(14, seed=11)
    scores = score_series(ts, vs, "surge")
    assert all(s == 0.0 for s in scores[:DAY])  # quiet_hours
    reported = [i for i, s in enumerate(scores) if s > 0.0]
    assert len(reported) < 3 * 13, "a few episodes a day, not rows"
    for a, b in zip(reported, reported[1:], strict=False):
        if b - a < 12:  # the same episode: reported again only because it grew
            assert _surprise(scores[b]) > SurgeSettings().ladder * _surprise(scores[a])
    assert max(_surprise(s) for s in scores) < 4.0, "noise is never rarer than 1 in 10,000"


def test_slow_level_shift_is_reported_within_hours() -> None:
    ts, vs = seasonal_counts(16, seed=6, base=10.0)
    rng = random.Random(6)
    onset = 15 * DAY
    for i in range(onset, len(vs)):  # volume steps up 6x and stays there: no single spike
        vs[i] = float(poisson(rng, 60.0))
    scores = score_series(ts, vs, "surge")
    after = [a for a in _alerts(scores) if a >= onset]
    assert after and after[0] <= onset + 12
    assert _surprise(max(scores[onset:])) > 2 * _surprise(max(scores[3 * DAY : onset]))


def test_busy_for_the_time_of_day_is_news() -> None:
    """20 a bucket is an ordinary afternoon but unheard of at night: the season statistic sees it."""
    ts, vs = seasonal_counts(16, seed=8, base=20.0)
    night = 15 * DAY + 18 * 12  # 18:00 is the trough of the rhythm (about 6 a bucket)
    assert max(vs[night - 6 : night]) < 15
    for k in range(36):  # three hours at the afternoon level, at night
        vs[night + k] = float(poisson(random.Random(k), 34.0))
    scorer = SurgeScorer()
    scores = [scorer.update(t, v) for t, v in zip(ts, vs, strict=True)]
    crisis = [a for a in _alerts(scores) if a >= night]
    assert crisis and crisis[0] <= night + 6
    assert max(vs[night : night + 36]) < max(vs[: night - 6]), "nothing the series has not seen by day"


def test_drops_are_reported_as_falls_and_only_when_asked() -> None:
    ts, vs = seasonal_counts(16, seed=9, base=30.0)
    outage = 15 * DAY + 100
    vs[outage : outage + 24] = [0.0] * 24
    both = SurgeScorer(SurgeSettings(sides="both"))
    scores = [both.update(t, v) for t, v in zip(ts, vs, strict=True)]
    assert [a for a in _alerts(scores) if a >= outage][0] <= outage + 1
    assert both.last is not None and both.last.direction == "down"
    up = score_series(ts, vs, "surge", SurgeSettings(sides="up"))
    assert not [a for a in _alerts(up) if outage <= a < outage + 24]


def test_reading_explains_the_report_in_the_series_units() -> None:
    ts, vs = seasonal_counts(16, seed=5)
    onset = 15 * DAY + 40
    vs[onset] += 400.0
    scorer = SurgeScorer()
    for t, v in zip(ts[: onset + 1], vs[: onset + 1], strict=True):
        score = scorer.update(t, v)
    reading = scorer.last
    assert score >= THRESHOLD and reading is not None
    assert reading.statistic == "spike" and reading.direction == "up"
    assert reading.value == pytest.approx(vs[onset])
    assert 5.0 < reading.baseline < 40.0, "the day's median, in mentions per bucket"
    assert reading.ratio > 10.0
    assert reading.since <= reading.at == ts[onset].timestamp()
    assert reading.p_value == pytest.approx(10 ** -reading.surprise)


@pytest.mark.parametrize("sides", ["up", "both"])
def test_state_round_trip_continues_exactly(sides: str) -> None:
    """A key saved and restored (a restart of the loop) scores the rest of its series as if it never stopped,
    the weeks of rows behind the gauss statistic included."""
    ts, vs = seasonal_counts(9, seed=4)
    vs[8 * DAY + 30] += 300.0
    settings = SurgeSettings(sides=sides)
    whole = score_series(ts, vs, "surge", settings)
    cut = 8 * DAY + 7  # mid-block: the open block's rows are part of the state too
    first = SurgeScorer(settings)
    for t, v in zip(ts[:cut], vs[:cut], strict=True):
        first.update(t, v)
    resumed = SurgeScorer(settings)
    resumed.restore(json.loads(json.dumps(first.state())))
    rest = [resumed.update(t, v) for t, v in zip(ts[cut:], vs[cut:], strict=True)]
    assert rest == pytest.approx(whole[cut:], abs=1e-4)
    assert _alerts(rest, after=0) == [a - cut for a in _alerts(whole) if a >= cut]


def test_decaying_moments_weigh_each_row_by_its_age_and_say_nothing_before_a_day() -> None:
    """The gauss statistic's mean and deviation: every earlier row weighted exp(-age / tau), normalised."""
    rng = random.Random(3)
    tau = 14 * 86400.0
    moments = DecayingMoments(tau, warmup=86400.0)
    rows: list[tuple[float, float]] = []
    t = 0.0
    while t < 20 * 86400.0:  # irregular sampling, at a level (1e7) where unshifted sums would lose the variance
        value = 1e7 + rng.gauss(0.0, 2.0) + (30.0 if t > 10 * 86400.0 else 0.0)
        moments.add(t, value)
        rows.append((t, value))
        if t < 86400.0:
            assert math.isnan(moments.mean) and math.isnan(moments.sd), "less than a day of rows says nothing"
        t += rng.choice((60.0, 300.0, 3600.0))
    last = rows[-1][0]
    for late in (last, last - 7200.0):  # a second row at the same time, then one out of order: both count as now
        moments.add(late, 1e7 + 40.0)
        rows.append((last, 1e7 + 40.0))
    weights = [math.exp(-(last - at) / tau) for at, _ in rows]
    mean = sum(w * v for w, (_, v) in zip(weights, rows, strict=True)) / sum(weights)
    var = sum(w * (v - mean) ** 2 for w, (_, v) in zip(weights, rows, strict=True)) / sum(weights)
    assert moments.mean == pytest.approx(mean, abs=1e-6)
    assert moments.sd == pytest.approx(math.sqrt(var), rel=1e-6)
    assert 1e7 < moments.mean < 1e7 + 30.0, "old rows still count, less than new ones"
    z, typical = moments.standardise(1e7 + 40.0)
    assert typical == moments.mean and z == pytest.approx((40.0 - (mean - 1e7)) / math.sqrt(var), rel=1e-6)
    steady = DecayingMoments(tau, warmup=86400.0)
    for k in range(2 * DAY):
        steady.add(k * 300.0, 5.0)
    assert math.isnan(steady.standardise(5.01)[0]), "no spread: no z"
    assert steady.standardise(5.01, min_sd=0.01) == (pytest.approx(1.0), 5.0), "unless the deviation has a floor"
    restored = DecayingMoments(tau, warmup=86400.0)
    restored.restore(json.loads(json.dumps(moments.state())))
    assert (restored.mean, restored.sd) == (moments.mean, moments.sd)


@pytest.mark.parametrize("sides", ["up", "both"])
def test_a_series_that_never_moved_does_not_page_for_a_one_percent_step(sides: str) -> None:
    """gauss's deviation has a floor and its z a resolution: a steady 100 with a 101 on day 2 and day 9 is no
    crisis (without them the second 101 scored S = 30, "critical", and the unchanged rows between opened
    an episode of their own)."""
    scorer = SurgeScorer(SurgeSettings(sides=sides))
    scores = [scorer.update(START + i * STEP, 101.0 if i in (2 * DAY, 9 * DAY) else 100.0) for i in range(12 * DAY)]
    reports = [(i, round(_surprise(s), 2)) for i, s in enumerate(scores) if s > 0.0]
    assert all(i in (2 * DAY, 9 * DAY) for i, _ in reports), reports
    assert max(scores) < ALERT_THRESHOLD["change" if sides == "both" else "surge"], reports
    assert all(_surprise(scorer.update(START + (12 * DAY + k) * STEP, 100.0)) == 0.0 for k in range(DAY))


def test_a_lone_mention_in_a_quiet_stream_is_not_unheard_of() -> None:
    """About one mention in three days: the first after a long silence is rare, but not S = 30."""
    for seed in range(6):
        rng = random.Random(seed)
        scorer = SurgeScorer()
        scores = [scorer.update(START + i * STEP, 1.0 if rng.random() < 1 / (3 * DAY) else 0.0)
                  for i in range(40 * DAY)]
        assert max(_surprise(s) for s in scores) < 3.0, seed


def test_a_wild_row_of_a_measurement_is_read_against_weeks_of_rows() -> None:
    rng = random.Random(7)
    ts = [START + i * STEP for i in range(10 * DAY)]
    vs = [50.0 + rng.gauss(0.0, 3.0) for _ in ts]
    wild = 8 * DAY
    vs[wild] = 90.0
    scorer = SurgeScorer(SurgeSettings(sides="both"))
    scores = [scorer.update(t, v) for t, v in zip(ts[: wild + 1], vs[: wild + 1], strict=True)]
    reading = scorer.last
    assert scores[wild] >= ALERT_THRESHOLD["change"] and reading is not None and reading.at == ts[wild].timestamp()
    assert reading.statistic == "gauss" and reading.direction == "up"
    assert reading.value == pytest.approx(90.0) and 48.0 < reading.baseline < 52.0
    line = describe(reading, "ms")
    assert f"90.0 ms vs a typical {reading.baseline:.1f} over recent weeks" in line
    # S ~ 18 is far past what eight days of calibration can vouch for: no "once in billions of days"
    assert reading.surprise > 10 and "about once in" not in line
    assert "rarer than anything in the last 7 days for this series" in line


def test_settings_are_in_hours_so_sampling_rate_does_not_matter() -> None:
    """The same kind of series sampled every minute: a 10x surge is still reported at its onset."""
    rng = random.Random(4)
    ts, vs = [], []
    n = 16 * 1440
    for i in range(n):
        ts.append(START + timedelta(minutes=i))
        vs.append(float(poisson(rng, 4.0)))
    onset = 15 * 1440 + 600
    for k in range(60):
        vs[onset + k] += 40.0
    scores = score_series(ts, vs, "surge")
    assert [a for a in _alerts(scores, after=3 * 1440) if a >= onset][0] == onset
    assert STEP == timedelta(minutes=5)  # the shared fixtures are 5-minute series


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_cli_output_of_a_truncated_file_is_a_prefix(detector: str, tmp_path) -> None:
    """`crisiswatch detect` on the first rows of a file scores them exactly as on the whole file."""
    ts, vs = seasonal_counts(4, seed=12)
    vs[3 * DAY + 10] += 400.0
    lines = [f"{t:%Y-%m-%d %H:%M:%S},{int(v)}" for t, v in zip(ts, vs, strict=True)]
    outputs = []
    for cut in (len(lines), 3 * DAY + 11):
        src, out = tmp_path / f"in{cut}.csv", tmp_path / f"out{cut}.csv"
        src.write_text("timestamp,value\n" + "\n".join(lines[:cut]) + "\n")
        assert run(argparse.Namespace(series=str(src), detector=detector, out=str(out))) == 0
        outputs.append(out.read_text().splitlines())
    full, short = outputs
    assert len(short) == 3 * DAY + 12 and full[: len(short)] == short


def test_calibration_tails_are_ranks_then_an_exponential_and_never_infinite() -> None:
    from monitor.detectors.calibration import TailCalibration

    cal = TailCalibration(100)
    for v in range(100):
        cal.push(float(v))
    assert cal.upper(50.0) == pytest.approx(51 / 101)  # the empirical rank inside the body
    assert cal.upper(200.0) < cal.upper(120.0) < cal.upper(99.0) <= 0.1  # ordered past the record
    assert cal.upper(99.0) >= 1 / 101 - 1e-12, "a value already seen is no rarer than it was"
    assert cal.lower(-50.0) < cal.lower(0.0)
    flat = TailCalibration(50)
    for _ in range(50):
        flat.push(0.0)  # a count that never moved: no spread to extrapolate from
    assert flat.upper(0.0) == 0.1 and flat.upper(5.0) == pytest.approx(1 / 51)


def test_how_rare_is_said_within_what_the_history_can_vouch_for() -> None:
    def rare(once_in_hours: float, history_hours: float) -> str:
        return describe(Reading("spike", "up", 3.0, 1e-3, 48.0, 12.0, 0.0, 3600.0, once_in_hours, history_hours),
                        "mentions").split("; ")[1]

    assert rare(2500.0, 672.0) == "about once in 104 days for this series"  # four times the history: said
    assert rare(7000.0, 672.0) == "rarer than anything in the last 28 days for this series"  # over ten times
    assert rare(500.0, 36.0) == "rarer than anything in the last 36 hours for this series"
    assert rare(5.0, math.inf) == rare(5.0, 0.0) == "about once in 5 hours for this series"  # no history known


def test_every_statistic_is_explained_in_one_line() -> None:
    since = START.timestamp()
    for statistic in STATISTICS:
        for direction in ("up", "down"):
            line = describe(Reading(statistic, direction, 2.5, 10**-2.5, 48.0, 12.0, since, since + 3600, 90.0),
                            "mentions")
            assert "for this series" in line and direction in line
            if statistic != "swing":  # swing speaks in multiples of its usual size
                assert "48.0" in line or "48 " in line


def test_a_state_saved_before_slow_level_and_gauss_carries_on_and_calibrates_them_afresh() -> None:
    """A live key persisted by the first round (four statistics, no weeks of rows) keeps its history and
    learns the new three; gauss waits for a day of rows after the restart, as on a new key."""
    ts, vs = seasonal_counts(11, seed=4)
    cut = 8 * DAY
    first = SurgeScorer()
    for t, v in zip(ts[:cut], vs[:cut], strict=True):
        first.update(t, v)
    state = json.loads(json.dumps(first.state()))
    state["scalars"] = state["scalars"][:12]  # the first round's shape: no slow level
    for name in ("peaks", "troughs"):
        state[name] = state[name][:4]  # spike, shift, season, swing
    state["open"] = [v[:4] for v in state["open"]]
    del state["weeks"]
    resumed = SurgeScorer()
    resumed.restore(state)
    gauss = STATISTICS.index("gauss")
    scores = []
    for i, (t, v) in enumerate(zip(ts[cut:], vs[cut:], strict=True)):
        scores.append(resumed.update(t, v))
        if i == DAY - 2:
            assert resumed.state()["peaks"][gauss] == [], "no z-score before a day of rows"
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert resumed.state()["peaks"][0][: len(state["peaks"][0])] == state["peaks"][0], "spike history kept"
    peaks = resumed.state()["peaks"]
    assert 0 < len(peaks[gauss]) < len(peaks[STATISTICS.index("level")]) < len(state["peaks"][0])


def test_counts_are_told_from_measurements_by_their_first_day() -> None:
    rng = random.Random(1)
    assert looks_like_counts([float(poisson(rng, 20.0)) for _ in range(DAY)])  # mentions per bucket
    assert looks_like_counts([float(poisson(rng, 0.3)) for _ in range(DAY)])  # a quiet brand
    assert not looks_like_counts([35.0 + rng.gauss(0.0, 2.0) for _ in range(DAY)])  # a CPU percentage
    assert not looks_like_counts([float(60 + rng.randint(-2, 2)) for _ in range(DAY)])  # a speed: steadier than counts
    assert not looks_like_counts([3.0, -1.0, 0.0] * 96)
    assert not looks_like_counts([0.0] * DAY) and not looks_like_counts([5.0])


def test_auto_reads_counts_as_surge_and_measurements_as_change() -> None:
    ts, vs = seasonal_counts(16, seed=9, base=30.0)
    outage = 15 * DAY + 100
    vs[outage : outage + 24] = [0.0] * 24
    counts = AutoScorer()
    scores = [counts.update(t, v) for t, v in zip(ts, vs, strict=True)]
    assert counts.kind == "counts" and scores == score_series(ts, vs, "surge")
    latency = [50.0 + v / 3.0 for v in vs]  # the same shape as a measurement: its falls are news too
    measured = AutoScorer()
    scores = [measured.update(t, v) for t, v in zip(ts, latency, strict=True)]
    assert measured.kind == "measurement" and scores == score_series(ts, latency, "change")
    fall = [i for i, s in enumerate(scores) if s >= ALERT_THRESHOLD["auto"] and i >= outage]
    assert fall and fall[0] <= outage + 1 and measured.last.direction == "down"


def test_an_episode_needs_at_least_a_one_in_ten_surprise() -> None:
    """Below S = 1 the scorer does not rank rows exactly (that is what keeps it fast), so it refuses a lower floor."""
    with pytest.raises(ValueError, match="floor"):
        SurgeSettings(floor=0.5)
