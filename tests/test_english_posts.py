"""The real English posts for the complaint labels: read from VADER's source package, split by review."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from benchmarks.english_posts import HELD_OUT, SETS, main, read_rated, split_of
from crisiswatch.errors import CrisiswatchError
from monitor.enrich.train_complaint import read_real_labels

AMAZON = ("1_1\t-0.9\tno picture at all.\n1_2\t0.1\tpress the i/p button.\n"
          "2_1\t-2.0\tit broke after a week, and support hung up\tthree times.\n2_2\t2.5\ti love it!\n")
TWEETS = "7\t-1.5\t@anonymous my phone died again. hate this thing\n8\t1.2\tsunny day :)\n"


def _sdist(path: Path) -> Path:
    """A vaderSentiment source tarball as PyPI has it: the rated sets inside a tarball inside the tarball."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for name, text in ((SETS["vader_amazon"], AMAZON), (SETS["vader_tweets"], TWEETS)):
            data = text.encode()
            info = tarfile.TarInfo(f"hutto_ICWSM_2014/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        info.size = inner.getbuffer().nbytes
        inner.seek(0)
        tar.addfile(info, inner)
    return path


def test_rated_posts_keep_their_order_and_whole_text(tmp_path: Path) -> None:
    rated = read_rated(_sdist(tmp_path / "vader.tar.gz"))
    assert rated["vader_amazon"][2] == ("2_1", "it broke after a week, and support hung up\tthree times.")
    assert [sid for sid, _ in rated["vader_tweets"]] == ["7", "8"]


def test_a_review_is_held_out_whole(tmp_path: Path) -> None:
    # the split is a function of the review, never of the sentence: no held-out review teaches its wording
    reviews = {f"{r}_{s}": split_of("vader_amazon", f"{r}_{s}") for r in range(1, 60) for s in range(1, 6)}
    for r in range(1, 60):
        assert len({reviews[f"{r}_{s}"] for s in range(1, 6)}) == 1
    held = sum(reviews[f"{r}_1"] == HELD_OUT for r in range(1, 60))
    assert 0 < held < 59  # some reviews are held out, not all


def test_labels_join_the_written_posts_by_row(tmp_path: Path) -> None:
    out, splits = tmp_path / "posts", tmp_path / "splits.jsonl"
    assert main(["--sdist", str(_sdist(tmp_path / "vader.tar.gz")), "--out", str(out), "--split-file", str(splits)]) == 0
    ids = [json.loads(line) for line in splits.read_text().splitlines()]
    assert [r["id"] for r in ids] == ["vader_amazon:0", "vader_amazon:1", "vader_amazon:2", "vader_amazon:3",
                                      "vader_tweets:0", "vader_tweets:1"]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps({"id": r["id"], "complaint": r["id"] == "vader_tweets:0",
                                            "categories": ["product_quality"] if r["id"] == "vader_tweets:0" else [],
                                            "severity": "一般" if r["id"] == "vader_tweets:0" else None,
                                            "split": "train"}, ensure_ascii=False) for r in ids) + "\n",
                      encoding="utf-8")
    rows = {r["id"]: r for r in read_real_labels(labels, out, "train")}
    assert rows["vader_tweets:0"]["text"] == "@anonymous my phone died again. hate this thing"
    assert rows["vader_tweets:0"]["complaint"] and rows["vader_amazon:3"]["text"] == "i love it!"


def test_a_post_not_yet_labelled_is_an_error_not_a_non_complaint(tmp_path: Path) -> None:
    out = tmp_path / "posts"
    main(["--sdist", str(_sdist(tmp_path / "vader.tar.gz")), "--out", str(out)])
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps({"id": f"vader_amazon:{i}", "complaint": None if i else False,
                                            "categories": None, "severity": None, "split": "train"})
                                for i in range(3)) + "\n", encoding="utf-8")
    with pytest.raises(CrisiswatchError, match="2 post\\(s\\) of the train split have no label yet.*vader_amazon:1"):
        read_real_labels(labels, out, "train")
