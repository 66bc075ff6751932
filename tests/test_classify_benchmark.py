"""The complaint benchmark's reading of pooled held-out draws at the first draw's mix of sets."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.classify import category_f1_at_mix, score


def _row(style: str, categories: list[str]) -> dict:
    return {"text": "", "complaint": True, "categories": categories, "severity": "一般", "style": style}


def test_pooled_categories_are_read_at_the_mix_the_draws_were_meant_to_have() -> None:
    # three shop complaints read right, one hotel complaint read wrong: pooled, the hotel weighs a quarter
    rows = [_row("online_shopping", ["logistics"])] * 3 + [_row("chnsenticorp_hotel", ["product_quality"])]
    preds = [(True, ["logistics"], "一般")] * 3 + [(True, ["other"], "一般")]
    assert score(rows, preds)["category_micro_f1"] == pytest.approx(0.75)
    # at one hotel complaint per shop complaint the shop's counts weigh 2/3 and the hotel's 2: tp 2, fp 2, fn 2
    mix = Counter({"online_shopping": 1, "chnsenticorp_hotel": 1})
    assert category_f1_at_mix(rows, preds, mix) == pytest.approx(0.5)
    # the pooled mix itself changes nothing; non-complaints carry no categories
    same = Counter({"online_shopping": 3, "chnsenticorp_hotel": 1})
    quiet = {**_row("online_shopping", []), "complaint": False}
    assert category_f1_at_mix([*rows, quiet], [*preds, (True, ["price"], "一般")], same) == pytest.approx(0.75)
