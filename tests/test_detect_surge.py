"""The default "surge" series scorer: onsets of rare surges, once each, calibrated per series."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from monitor.detectors.anomaly import ALERT_THRESHOLD, DEFAULT, DETECTORS, score_series
from monitor.detectors.surge import SurgeScorer, SurgeSettings
from tests.test_anomaly import DAY, START, STEP, poisson, seasonal_counts

THRESHOLD = ALERT_THRESHOLD["surge"]


def _alerts(scores: list[float]) -> list[int]:
    return [i for i, s in enumerate(scores) if s >= THRESHOLD]


def test_surge_is_the_default() -> None:
    assert DEFAULT == "surge"


def test_spike_fires_once_at_its_onset() -> None:
    ts, vs = seasonal_counts(16, seed=5)
    onset = 15 * DAY + 40
    for k in range(24):  # a crisis: 10x the usual volume, fading over two hours
        vs[onset + k] += 200.0 * (0.9**k)
    alerts = [a for a in _alerts(score_series(ts, vs, "surge")) if a >= 3 * DAY]  # past the first days
    assert alerts and onset <= alerts[0] <= onset + 2
    assert len(alerts) == 1, "the rest of the same burst is not a new alert"


def test_slow_level_shift_fires_within_hours() -> None:
    ts, vs = seasonal_counts(16, seed=6, base=10.0)
    rng = random.Random(6)
    onset = 15 * DAY
    for i in range(onset, len(vs)):  # volume steps up 6x and stays there: no single spike
        vs[i] = float(poisson(rng, 60.0))
    alerts = [a for a in _alerts(score_series(ts, vs, "surge")) if a >= 3 * DAY]  # past the first days
    assert alerts and onset <= alerts[0] <= onset + 4 * 12


def test_bursty_series_needs_a_bigger_surge() -> None:
    """Daily spikes of 5x are routine for this series, so a new one is no alert; a 40x one is."""
    ts, vs = seasonal_counts(16, seed=8)
    for day in range(16):
        for k in range(6):
            vs[day * DAY + 150 + k] += 100.0
    routine = 15 * DAY + 150
    big = 15 * DAY + 230
    vs[big] += 800.0
    alerts = _alerts(score_series(ts, vs, "surge"))
    assert routine not in alerts
    assert big in alerts


def test_truncating_input_never_changes_earlier_scores() -> None:
    ts, vs = seasonal_counts(10, seed=9)
    vs[9 * DAY] += 500.0
    full = score_series(ts, vs, "surge")
    for cut in (3, DAY + 7, 9 * DAY + 1):
        assert score_series(ts[:cut], vs[:cut], "surge") == full[:cut]


def test_settings_are_in_hours_so_sampling_rate_does_not_matter() -> None:
    """The same rhythm sampled every minute: a 10x surge still fires near its onset."""
    rng = random.Random(4)
    ts, vs = [], []
    n = 16 * 1440
    for i in range(n):
        ts.append(START + timedelta(minutes=i))
        vs.append(float(poisson(rng, 4.0)))
    onset = 15 * 1440 + 600
    for k in range(60):
        vs[onset + k] += 40.0
    scorer = SurgeScorer(SurgeSettings())
    scores = [scorer.update(t, v) for t, v in zip(ts, vs, strict=True)]
    alerts = [a for a in _alerts(scores) if a >= 3 * 1440]
    assert alerts and onset <= alerts[0] <= onset + 10
    assert STEP == timedelta(minutes=5)  # the shared fixtures are 5-minute series


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_cli_output_of_a_truncated_file_is_a_prefix(detector: str, tmp_path) -> None:
    """`crisiswatch detect` on the first rows of a file scores them exactly as on the whole file."""
    import argparse

    from crisiswatch.commands.detect import run

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
