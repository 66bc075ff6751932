"""Anomaly detectors (monitor.detectors.anomaly), the `detect` CLI, and the NAB scorer's core rules."""

from __future__ import annotations

import importlib.util
import math
import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.detectors.anomaly import DETECTORS, make_scorer, score_series
from tests.conftest import poisson

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2025, 3, 1)
STEP = timedelta(minutes=5)
DAY = 288  # rows per day at 5 minutes


def seasonal_counts(days: int, seed: int = 1, base: float = 20.0) -> tuple[list[datetime], list[float]]:
    """Mentions per 5 minutes with a daily rhythm (quiet nights) and Poisson noise."""
    rng = random.Random(seed)
    ts, vs = [], []
    for i in range(days * DAY):
        t = START + i * STEP
        rate = base * (1.0 + 0.7 * math.sin(2 * math.pi * (t.hour * 60 + t.minute) / 1440.0))
        ts.append(t)
        vs.append(float(poisson(rng, rate)))
    return ts, vs


@pytest.fixture(scope="module")
def spiky() -> tuple[list[datetime], list[float], int]:
    ts, vs = seasonal_counts(12, seed=3)
    onset = 9 * DAY + 100
    for k in range(12):  # a crisis: a burst 15x the usual volume that fades over an hour
        vs[onset + k] += 15 * 20.0 * (0.8**k)
    return ts, vs, onset


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_scores_are_in_unit_interval(detector: str, spiky) -> None:
    ts, vs, _ = spiky
    vs = list(vs)
    vs[500:510] = [0.0] * 10  # an outage: zeros must not break the log scale
    scores = score_series(ts, vs, detector)
    assert len(scores) == len(vs)
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in scores)
    assert max(scores) > 0.0


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_scores_are_causal(detector: str, spiky) -> None:
    ts, vs, onset = spiky
    full = score_series(ts, vs, detector)
    for cut in (1, 250, onset + 3, len(vs) - 1):
        assert score_series(ts[:cut], vs[:cut], detector) == full[:cut]


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_streaming_update_matches_score_series(detector: str, spiky) -> None:
    ts, vs, _ = spiky
    scorer = make_scorer(detector)
    assert [scorer.update(t, v) for t, v in zip(ts, vs, strict=True)] == score_series(ts, vs, detector)


def test_flat_series_never_scores() -> None:
    ts = [START + i * STEP for i in range(3 * DAY)]
    for name in DETECTORS:
        assert set(score_series(ts, [7.0] * len(ts), name)) == {0.0}
        assert set(score_series(ts, [0.0] * len(ts), name)) == {0.0}


def test_warmup_and_irregular_time() -> None:
    scorer = make_scorer("surge")
    # Within the first day nothing scores, however large.
    assert scorer.update(START, 5) == 0.0
    assert scorer.update(START + timedelta(hours=1), 5000) == 0.0
    # Gaps and a row out of order are tolerated.
    for i, h in enumerate([30, 31, 29, 80]):
        assert 0.0 <= scorer.update(START + timedelta(hours=h), 5 + i) <= 1.0


def test_unknown_detector() -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        score_series([START], [1.0], "nope")


# ------------------------------------------------------------------ CLI


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crisiswatch.cli", "detect", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture()
def series_csv(tmp_path: Path, spiky) -> Path:
    ts, vs, _ = spiky
    path = tmp_path / "series.csv"
    rows = [f"{t:%Y-%m-%d %H:%M:%S},{int(v)}" for t, v in zip(ts[: 2 * DAY], vs[: 2 * DAY], strict=True)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    return path


def test_cli_writes_scores_to_out_and_stdout(series_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    done = _cli(str(series_csv), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    src = series_csv.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    assert len(lines) == len(src)
    for a, b in zip(lines[1:], src[1:], strict=True):
        ts, value, score = a.split(",")
        assert f"{ts},{value}" == b
        assert 0.0 <= float(score) <= 1.0
    done = _cli(str(series_csv), "--detector", "gaussian")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(src)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("timestamp,value\n2025-01-01 00:00:00,3\n2025-01-01 00:05:00,lots\n", "line 3"),
        ("timestamp,value\nyesterday,3\n", "line 2"),
        ("time,value\n2025-01-01 00:00:00,3\n", "missing column timestamp"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    done = _cli(str(bad))
    assert done.returncode == 1
    assert done.stdout == ""
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and "bad.csv" in err[0] and needle in err[0], done.stderr


# ------------------------------------------------------------------ NAB scorer rules


@pytest.fixture(scope="module")
def nab():
    spec = importlib.util.spec_from_file_location("nab", ROOT / "benchmarks" / "nab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab"] = module
    spec.loader.exec_module(module)
    return module


def test_nab_scaled_sigmoid(nab) -> None:
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)  # 2/(1+e^-5) - 1
    assert nab.scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)  # 2/(1+e^-2.5) - 1
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(3.0) == -1.0


def test_nab_probationary_period(nab) -> None:
    assert nab.probationary_length(1000) == 150  # 15 %
    assert nab.probationary_length(1001) == 150  # floor
    assert nab.probationary_length(15902) == 750  # capped at 0.15 * 5000


COST = {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}


def test_nab_row_weights(nab) -> None:
    # 20 rows, probation = 3 rows, one window over rows 10..13 (width 4).
    sweep = nab.sweep_rows(20, [(10, 13)], COST)
    assert sweep.window[:3].tolist() == [nab.PROBATION] * 3
    assert sweep.window[10:14].tolist() == [0] * 4 and sweep.window[14] == nab.OUTSIDE
    assert sweep.weighted[5] == pytest.approx(-0.11)  # no window before: full fpWeight
    assert sweep.weighted[10] == pytest.approx(1.0)  # left edge: position -1, the best
    # row 11: position -(13-11+1)/4 = -0.75 -> (2/(1+e^-3.75) - 1) / 0.98661 = 0.96699
    assert sweep.weighted[11] == pytest.approx(0.96699, abs=1e-5)
    # row 15: |13-15| / (4-1) = 2/3 past the window -> 0.11 * (2/(1+e^(10/3)) - 1) = -0.10242
    assert sweep.weighted[15] == pytest.approx(-0.10242, abs=1e-5)


def test_nab_threshold_sweep_counts_earliest_detection_once(nab) -> None:
    sweep = nab.sweep_rows(20, [(10, 13)], COST)
    anomaly = [0.0] * 20
    anomaly[1] = 0.99  # probationary: never counts
    anomaly[5], anomaly[11], anomaly[12], anomaly[15] = 0.3, 0.8, 0.95, 0.6
    result = nab.threshold_table([(sweep, anomaly)], COST)
    table = {round(float(t), 2): float(s) for t, s in zip(result.thresholds, result.scores, strict=True)}
    assert table[1.1] == pytest.approx(-1.0)  # nothing detected: one missed window
    assert table[0.95] == pytest.approx(0.85979, abs=1e-5)  # row 12: position -0.5
    assert table[0.8] == pytest.approx(0.96699, abs=1e-5)  # row 11 is earlier: replaces row 12
    assert table[0.6] == pytest.approx(0.96699 - 0.10242, abs=1e-5)  # plus an FP after the window
    assert table[0.3] == pytest.approx(0.96699 - 0.10242 - 0.11, abs=1e-5)
    score, threshold, *_ = nab.optimise([(sweep, anomaly)], COST, n_windows=1)
    assert threshold == 0.8
    assert score == pytest.approx(100 * (0.96699 + 1) / 2, abs=1e-3)  # 100 (raw - null)/(perfect - null)


def test_nab_normalised_score_has_no_scale_without_windows(nab) -> None:
    assert math.isnan(nab.normalised(-0.22, 0, COST))  # artificialNoAnomaly: reported as false alarms


@pytest.fixture(scope="module")
def protocol(nab):
    spec = importlib.util.spec_from_file_location("nab_score", ROOT / "benchmarks" / "nab_score.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = module
    spec.loader.exec_module(module)
    return module


def _tiny_corpus(nab):
    """Three families of two 40-row series, one window each at rows 20..23."""
    series = [nab.Series(f"{fam}/s{k}.csv", [START + i * STEP for i in range(40)], [1.0] * 40, [(20, 23)])
              for fam in ("famA", "famB", "famC") for k in range(2)]
    return nab.Corpus(series, {p: dict(COST) for p in nab.PROFILES})


def test_held_out_choice_never_sees_the_family_it_scores(nab, protocol) -> None:
    """Both candidates are equally good on famB and famC; only famA's own labels prefer "second". The
    in-sample choice takes it, famA's held-out choice must not (a tie elsewhere keeps the first listed)."""
    corpus = _tiny_corpus(nab)
    hit, miss = [0.0] * 40, [0.0] * 40
    hit[20] = miss[5] = 0.9  # "hit" fires at the window's left edge, "miss" before the window
    scored = {"first": [list(miss), list(miss)] + [list(hit) for _ in range(4)],
              "second": [list(hit) for _ in range(6)]}
    rows = protocol.protocol_rows(corpus, scored)
    insample = next(r for r in rows["in-sample"] if r.label == "famA")
    assert insample.chosen == "second"
    fam_a = next(r for r in rows["held-out"] if r.label.startswith("famA"))
    assert fam_a.chosen == "first", "famA's own labels must not pick its candidate"
    assert nab.normalised(fam_a.raw["standard"], 2, COST) < 50.0  # and it pays for that honestly
    fam_b = next(r for r in rows["held-out"] if r.label.startswith("famB"))
    assert fam_b.chosen == "second"  # chosen with famA in the training families


def test_thinning_keeps_each_mention_with_probability_p(protocol) -> None:
    values = [40.0] * 2000
    copy = protocol.thinned(values, 0.25, seed=0, k=3)
    assert all(v.is_integer() and 0.0 <= v <= 40.0 for v in copy)
    assert sum(copy) / len(copy) == pytest.approx(10.0, abs=0.3)  # binomial(40, 1/4): mean 10, sd 0.06 over 2000
    assert copy == protocol.thinned(values, 0.25, seed=0, k=3)  # the same copy every run
    assert copy != protocol.thinned(values, 0.25, seed=1, k=3)


def test_fewer_mentions_scores_the_thinned_copies(nab, protocol) -> None:
    """The unthinned row is the scored series at its LOSO threshold; the thinned rows are what the detector
    makes of the thinned copies (here: a detector that finds the window only while the row at its start
    keeps all its mentions), never the unthinned scores again."""
    series = [nab.Series(f"{fam}/s{k}.csv", [START + i * STEP for i in range(40)], [8.0] * 40, [(20, 23)])
              for fam in ("realTweets", "famB") for k in range(2)]
    corpus = nab.Corpus(series, {p: dict(COST) for p in nab.PROFILES})
    hit = [0.0] * 40
    hit[20] = 0.9
    seen = []

    def run(timestamps, values):
        seen.append(values)
        return hit if values[20] == 8.0 else [0.0] * 40

    rows = protocol.fewer_mentions(corpus, [list(hit) for _ in series], run)
    assert [r.kept for r in rows] == [1.0, *protocol.THINNING]
    assert rows[0].mean == pytest.approx(100.0)
    assert len(seen) == len(protocol.THINNING) * len(protocol.THINNING_SEEDS) * 2  # the two realTweets series
    assert all(max(v) <= 8.0 for v in seen) and any(v[20] < 8.0 for v in seen)
    for r in rows[1:]:  # a copy scores 100 when its row 20 kept all 8 mentions, else misses the window (0)
        assert r.worst <= r.mean < 100.0
        assert r.nab_worst <= r.nab_mean < 100.0  # NAB's optimiser cannot find a window the scores miss
