"""The complaint benchmark's reading of pooled held-out draws at the first draw's mix of sets, and its labels by the
rubric alone."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.classify import by_the_rubric, category_f1_at_mix, score


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


def _reading(complaint: bool, categories: list[str], severity: str | None) -> dict:
    return {"complaint": complaint, "categories": categories, "severity": severity}


def test_rubric_labels_are_the_readings_where_two_agree_and_the_majority_where_they_do_not(tmp_path: Path) -> None:
    pq, other = _reading(True, ["product_quality"], "一般"), _reading(True, ["other"], "重要")
    readings = tmp_path / "readings.jsonl"
    readings.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "hotel:1", "readings": [pq, pq]},
        {"id": "hotel:2", "readings": [pq, other, other]},  # the first reading is outvoted
        {"id": "hotel:3", "readings": [pq, _reading(False, [], None), _reading(False, [], None)]},
    ]), encoding="utf-8")
    ours = [{**_row("chnsenticorp_hotel", ["logistics"]), "id": f"hotel:{n}", "text": f"post {n}"} for n in (1, 2, 3)]
    read = by_the_rubric(ours, readings)
    assert [(r["complaint"], r["categories"], r["severity"]) for r in read] == [
        (True, ["product_quality"], "一般"), (True, ["other"], "重要"), (False, [], None)]
    assert [(r["id"], r["text"], r["style"]) for r in read] == [(r["id"], r["text"], r["style"]) for r in ours]
    # a held-out post nobody read is an error, not a silently shorter set
    with pytest.raises(SystemExit, match="1 held-out post"):
        by_the_rubric([*ours, {**ours[0], "id": "hotel:4"}], readings)
