"""Sentiment model, anger signal and the `crisiswatch sentiment` CLI. Never reads ../shared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.enrich import sentiment
from monitor.enrich.sentiment import anger, load_model

ROOT = Path(__file__).resolve().parents[1]

POSITIVE = [
    "质量非常好，物流也很快，包装完整，下次还会再来买！",
    "味道很好吃，送餐速度快，分量足，五星好评",
    "酒店位置方便，房间干净整洁，前台服务热情周到，非常满意",
    "今天和朋友去公园野餐，阳光正好，太开心了，幸福满满",
    "客服态度很好，耐心帮我解决了问题，点赞！",
]
NEGATIVE = [
    "质量太差了，用了两天就坏了，再也不会买了，差评",
    "外卖送了两个小时，饭都凉了，难吃死了，太失望",
    "房间又脏又吵，隔音很差，服务员态度恶劣，不推荐",
    "垃圾客服，投诉了三次都没人管，退款到现在还没到账，气死我了",
    "手机刚买一周就黑屏，售后一直推卸责任，真是糟糕透了",
]
ANGRY = "你们这是什么垃圾公司！骗子！退款拖了一个月都不处理，简直气死我了，我要投诉到底！"
CALM_HAPPY = "今天天气真好，和家人一起喝下午茶，感觉很幸福，开心～"


@pytest.fixture(scope="module")
def model() -> sentiment.SentimentModel:
    return load_model()


def test_model_loads_from_the_repository(model: sentiment.SentimentModel) -> None:
    assert sentiment.MODEL_PATH.is_file()
    assert sentiment.MODEL_PATH.resolve().is_relative_to(ROOT)
    assert sentiment.MODEL_PATH.stat().st_size < 5_000_000
    assert model.name == "crisiswatch"
    assert load_model() is model  # cached: the artefact is read once per process


@pytest.mark.parametrize("text", POSITIVE)
def test_positive_sentences_score_above_half(model: sentiment.SentimentModel, text: str) -> None:
    assert model.predict([text])[0] > 0.5


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative_sentences_score_below_half(model: sentiment.SentimentModel, text: str) -> None:
    assert model.predict([text])[0] < 0.5


def test_blank_text_is_neutral_and_order_is_kept(model: sentiment.SentimentModel) -> None:
    texts = [POSITIVE[0], "", NEGATIVE[0], "   \t", POSITIVE[1], NEGATIVE[1]]
    scores = model.predict(texts)
    assert len(scores) == len(texts)
    assert scores[1] == 0.5 and scores[3] == 0.5
    assert scores[0] > 0.5 > scores[2] and scores[4] > 0.5 > scores[5]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert model.predict([]) == []


def test_batch_equals_one_by_one(model: sentiment.SentimentModel) -> None:
    # Includes a separator character and URLs/mentions, which the batch featuriser rewrites.
    texts = [*POSITIVE, *NEGATIVE, "a\x00b 好", "看 http://t.cn/abc 这个//@某人: 太差了", "", "!", ANGRY]
    batch = model.predict(texts)
    single = [model.predict([t])[0] for t in texts]
    assert batch == pytest.approx(single, abs=1e-9)
    assert model.predict(list(reversed(texts))) == pytest.approx(list(reversed(batch)), abs=1e-9)


def test_batches_larger_than_the_chunk_size_keep_order(monkeypatch: pytest.MonkeyPatch,
                                                        model: sentiment.SentimentModel) -> None:
    texts = [*POSITIVE, *NEGATIVE] * 3
    expected = model.predict(texts)
    monkeypatch.setattr(sentiment, "BATCH", 4)
    assert model.predict(texts) == pytest.approx(expected, abs=1e-9)


def test_unknown_model_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="crisiswatch.*snownlp"):
        load_model("bert")


def test_anger_is_higher_for_a_rant_than_for_a_happy_post() -> None:
    rant, calm, blank = anger([ANGRY, CALM_HAPPY, ""])
    assert 0.0 <= calm < rant <= 1.0
    assert blank == 0.5


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", "sentiment", *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60)


def test_cli_reads_stdin_and_prints_one_score_per_line(model: sentiment.SentimentModel) -> None:
    lines = [POSITIVE[0], "", NEGATIVE[0], POSITIVE[2]]
    result = _cli(stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    scores = [float(x) for x in result.stdout.split()]
    assert scores == pytest.approx(model.predict(lines), abs=1e-6)
    assert scores[1] == 0.5 and scores[0] > 0.5 > scores[2]


def test_cli_reads_a_file_and_the_snownlp_model(tmp_path: Path) -> None:
    path = tmp_path / "posts.txt"
    path.write_text(f"{NEGATIVE[3]}\n{POSITIVE[3]}\n\n", encoding="utf-8")
    ours = _cli(str(path))
    assert ours.returncode == 0, ours.stderr
    neg, pos, blank = (float(x) for x in ours.stdout.split())
    assert neg < 0.5 < pos and blank == 0.5
    # The baseline adapter is exercised only here: importing snownlp costs seconds.
    snow = _cli("--model", "snownlp", str(path))
    assert snow.returncode == 0, snow.stderr
    snow_scores = [float(x) for x in snow.stdout.split()]
    assert len(snow_scores) == 3 and snow_scores[2] == 0.5 and 0.0 <= min(snow_scores) <= max(snow_scores) <= 1.0
    assert snow_scores[:2] != pytest.approx([neg, pos], abs=1e-6)  # really a different model


def test_cli_reports_user_errors_in_one_line(tmp_path: Path) -> None:
    missing = _cli(str(tmp_path / "nope.txt"))
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "nope.txt" in missing.stderr
    unknown = _cli("--model", "bert", stdin="好\n")
    assert unknown.returncode == 1 and "snownlp" in unknown.stderr
