"""The measuring tools of the benchmarks: held-out intervals (complaints, sentiment) and the category error budget."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def classify():
    return _load("classify")


@pytest.fixture(scope="module")
def complaint_cv():
    return _load("complaint_cv")


@pytest.fixture(scope="module")
def sentiment():
    saved = dict(os.environ)  # the benchmark pins BLAS threads for itself; the test process keeps its own
    try:
        return _load("sentiment")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _rows(n: int) -> list[dict]:
    return [{"complaint": i % 2 == 0, "categories": ["logistics"] if i % 2 == 0 else [],
             "severity": "一般" if i % 2 == 0 else None} for i in range(n)]


def test_bootstrap_interval_is_a_point_for_perfect_predictions(classify) -> None:
    rows = _rows(40)
    perfect = [(r["complaint"], list(r["categories"]), r["severity"]) for r in rows]
    for lo, hi in classify.bootstrap(rows, perfect, draws=200).values():
        assert lo == hi == 1.0


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_more_posts(classify) -> None:
    def noisy(rows: list[dict]) -> list:  # every fifth post misread as the other class
        return [(r["complaint"] != (i % 5 == 0), ["logistics"], "一般") for i, r in enumerate(rows)]

    small, large = _rows(60), _rows(600)
    point = classify.score(large, noisy(large))["complaint"][2]
    lo_s, hi_s = classify.bootstrap(small, noisy(small), draws=300)["complaint F1"]
    lo_l, hi_l = classify.bootstrap(large, noisy(large), draws=300)["complaint F1"]
    assert lo_l < point < hi_l
    assert hi_l - lo_l < hi_s - lo_s


def test_error_budget_counts_runner_up_decisions(complaint_cv) -> None:
    # categories 0, 1, 2; the runner-up needs 0.3
    probs = np.array([[0.9, 0.5, 0.1],    # runner-up 1 added, and gold: right
                      [0.9, 0.5, 0.1],    # runner-up 1 added, not gold: wrong
                      [0.9, 0.2, 0.1],    # runner-up 1 not added, but gold: missed
                      [0.2, 0.9, 0.1]])   # top 1 not gold (gold 0), runner-up 0 not added: missed
    gold = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 0]], dtype=bool)
    b = complaint_cv.error_budget(probs, gold, 0.3)
    assert (b["runner_up_added_right"], b["runner_up_added_wrong"], b["runner_up_missed"]) == (1, 1, 2)
    assert b["top_right"] == 0.75
    assert b["top_two_right"] == 1.0 and b["runner_up_right_where_top_wrong"] == 1.0  # row 3: gold 0 is second
    # as chosen: tp 4 (rows 0, 0, 1, 2), fp 2, fn 2
    assert b["micro_f1"] == pytest.approx(8 / 12)
    # runner-up always right: row 1 drops its wrong runner-up, row 2 and row 3 gain theirs -> tp 6, fp 1, fn 0
    assert b["if_runner_up_right"] == pytest.approx(12 / 13)
    # top category always right: row 3's top becomes 0 -> tp 5, fp 1, fn 1
    assert b["if_top_right"] == pytest.approx(10 / 12)


def test_paired_interval_of_an_accuracy_difference(sentiment) -> None:
    labels = [i % 2 for i in range(1000)]
    right = [0.9 if y else 0.1 for y in labels]
    # the other model misses every tenth row: ours is 10 points better, and the interval says about that
    other = [(0.1 if y else 0.9) if i % 10 == 0 else p for i, (p, y) in enumerate(zip(right, labels, strict=True))]
    lo, hi = sentiment.paired_interval(right, other, labels)
    assert 0.07 < lo < 0.1 < hi < 0.13
    assert sentiment.paired_interval(right, right, labels) == (0.0, 0.0)
    lo, hi = sentiment.paired_interval(other, right, labels)
    assert -0.13 < lo < -0.1 < hi < -0.07
