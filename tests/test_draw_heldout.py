"""Further held-out draws: the first draw's mix, or one domain, from posts nobody labelled, no text twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.draw_heldout import draw, draw_domain


def _write(path: Path, header: str, rows: list[str]) -> None:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")


def _labels(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "complaint": False, "categories": [], "severity": None,
                                        "split": split}) + "\n" for i, split in rows), encoding="utf-8")
    return path


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    shop = ["held out", "trained on", "in round 8", "", "trained on", "纸箱破了", "屏幕坏了", "纸箱破了", "好评"]
    _write(tmp_path / "online_shopping.csv", "cat,label,review",
           [f"书籍,{1 if t == '好评' else 0},{t}" for t in shop])
    _write(tmp_path / "weibo.csv", "label,review", ["1,held out too", "1,晒太阳", "1,看电影", "0,好烦"])
    _write(tmp_path / "smp2020_emotion.csv", "label,review", ["angry,personal", "angry,another"])
    return tmp_path


def test_the_draw_copies_the_first_mix_from_posts_nobody_labelled(texts: Path, tmp_path: Path) -> None:
    first = _labels(tmp_path / "real.jsonl", [("online_shopping:0", "heldout"), ("weibo:0", "heldout"),
                                              ("smp2020_emotion:0", "heldout"), ("online_shopping:1", "train")])
    round8 = _labels(tmp_path / "round8.jsonl", [("online_shopping:2", "train")])
    drawn = draw(texts, 2, 34, (first, round8))
    shop = sorted(i for i in drawn if i.startswith("online_shopping:"))
    # two per held-out post of its stratum (shop reviews labelled 0): not a labelled row (1, 2), not blank (3),
    # not a labelled post's text (4), and one of the two copies of "纸箱破了" (5, 7); never the other label (8)
    assert shop in (["online_shopping:5", "online_shopping:6"], ["online_shopping:6", "online_shopping:7"])
    assert sorted(i for i in drawn if i.startswith("weibo:")) == ["weibo:1", "weibo:2"]  # "好烦" is label 0
    assert not any(i.startswith("smp2020_emotion:") for i in drawn)  # every personal post is labelled already
    assert drawn == draw(texts, 2, 34, (first, round8))  # seeded: the draw can be checked by anyone


def test_a_stratum_too_small_for_the_draw_stops_it(texts: Path, tmp_path: Path) -> None:
    first = _labels(tmp_path / "real.jsonl", [("weibo:0", "heldout")])
    with pytest.raises(SystemExit, match="weibo label 1: only 2 posts"):
        draw(texts, 3, 34, (first,))


def test_a_partial_draw_takes_what_a_short_stratum_has(texts: Path, tmp_path: Path) -> None:
    first = _labels(tmp_path / "real.jsonl", [("weibo:0", "heldout")])
    assert sorted(draw(texts, 3, 34, (first,), partial=True)) == ["weibo:1", "weibo:2"]


def test_a_draw_from_one_domain_takes_its_unlabelled_posts_whose_text_no_labelled_post_has(tmp_path: Path) -> None:
    rows = [("酒店", 0, "隔音差"), ("酒店", 0, "早餐难吃"), ("酒店", 0, ""), ("酒店", 0, "前台冷淡"), ("酒店", 0, "前台冷淡"),
            ("酒店", 1, "很好"), ("书籍", 0, "缺页"), ("酒店", 0, "房间有霉味"), ("酒店", 0, "浴室漏水")]
    _write(tmp_path / "online_shopping.csv", "cat,label,review", [f"{c},{lab},{t}" for c, lab, t in rows])
    _write(tmp_path / "chnsenticorp_hotel.csv", "label,review", ["0,房间有霉味"])  # the same review, in the other set
    labels = _labels(tmp_path / "real.jsonl", [("online_shopping:0", "heldout"), ("chnsenticorp_hotel:0", "train")])
    drawn = draw_domain(tmp_path, "online_shopping:酒店", "0", 10, 39, (labels,))
    # not labelled (0), not blank (2), one of the two "前台冷淡" (3, 4), never praise (5), another category (6) or a
    # text a labelled post of another set has (7)
    assert sorted(drawn) in (["online_shopping:1", "online_shopping:3", "online_shopping:8"],
                             ["online_shopping:1", "online_shopping:4", "online_shopping:8"])
    assert draw_domain(tmp_path, "online_shopping:酒店", "0", 2, 39, (labels,)) == drawn[:2]  # seeded, and stops at count
