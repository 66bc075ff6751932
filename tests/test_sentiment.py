"""Sentiment model, anger signal and the `crisiswatch sentiment` CLI. Never reads ../shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crisiswatch.mention import sentiment_band
from monitor.enrich import sentiment
from monitor.enrich.english import EnglishSentiment
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
    assert sentiment.MODEL_PATH.stat().st_size < 8_000_000  # 26 int8 columns of 2**20 rows, compressed: 6 MB
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
    gbk = tmp_path / "gbk.txt"  # a Windows export: before, every line was scored as replacement noise, exit 0
    gbk.write_bytes("快递太慢了\n客服态度很好\n".encode("gbk"))
    wrong = _cli("--json", str(gbk))
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.strip() == f"crisiswatch: sentiment: {gbk} is not UTF-8 text (invalid start byte); scoring" \
                                   " stopped there"


EN_POSITIVE = ["Absolutely love my new blender, best purchase this year!",
               "Great support team, they fixed my order in five minutes. Thank you!"]
EN_NEGATIVE = ["Worst delivery ever. Two weeks late and nobody answers, I'm furious",
               "The charger broke after three days, total waste of money"]
EN_NEUTRAL = ["The store opens at 9am on Saturday", "Is the new model coming out in May?"]


def test_english_posts_get_three_classes() -> None:
    scored = sentiment.score_by_language([*EN_POSITIVE, *EN_NEGATIVE, *EN_NEUTRAL])
    assert [s.lang for s in scored] == ["en"] * 6
    assert [s.label for s in scored] == ["positive"] * 2 + ["negative"] * 2 + ["neutral"] * 2
    for s in scored:  # the stored score always falls in the band of the label
        assert sentiment_band(s.score) == s.label and 0.0 <= s.positive <= 1.0


class _Recorder:
    """A Chinese model that remembers what it was asked to read."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict(self, texts):
        self.seen += texts
        return [0.9] * len(texts)


def test_no_text_is_scored_by_a_model_of_another_language() -> None:
    chinese = _Recorder()
    texts = [POSITIVE[0], EN_NEGATIVE[0], "Le colis est arrivé cassé, je suis furieux", "", NEGATIVE[0]]
    scored = sentiment.score_by_language(texts, chinese=chinese)
    assert chinese.seen == [POSITIVE[0], NEGATIVE[0]]
    assert [s.lang for s in scored] == ["zh", "en", "fr", "und", "zh"]
    assert scored[1].label == "negative"
    assert scored[2].label is None and scored[2].positive is None and scored[2].score is None
    assert scored[3] == ("und", "neutral", 0.5, 0.5)  # blank: no opinion, as before


def test_a_post_without_words_is_neutral_not_unscored() -> None:
    """A repost with no comment of its own, a bare link, emoji: no language, no opinion to read; never nan."""
    chinese = _Recorder()
    scored = sentiment.score_by_language(["//@小王同学: //@Lily_W:", "http://t.cn/A6x9kQ2p", "ok"], chinese=chinese)
    assert chinese.seen == []
    assert scored == [("und", "neutral", 0.5, 0.5)] * 3


def test_english_batch_equals_one_by_one() -> None:
    model = EnglishSentiment()
    texts = [*EN_POSITIVE, "", *EN_NEGATIVE, "a\x00b", *EN_NEUTRAL]
    batch = model.probabilities(texts)
    single = [model.probabilities([t])[0] for t in texts]
    np.testing.assert_allclose(batch, np.array(single), atol=1e-9)
    assert batch[2].tolist() == [0.0, 1.0, 0.0]
    assert model.probabilities([]).shape == (0, 3)


def test_cli_json_names_the_language_label_and_probability(tmp_path: Path) -> None:
    path = tmp_path / "posts.txt"
    lines = [NEGATIVE[0], EN_POSITIVE[0], "Le colis est arrivé cassé, je suis furieux", "", POSITIVE[0]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _cli("--json", str(path))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["lang"] for r in rows] == ["zh", "en", "fr", "und", "zh"]
    assert [r["label"] for r in rows] == ["negative", "positive", None, "neutral", "positive"]
    assert rows[2]["positive"] is None and rows[3]["positive"] == 0.5
    assert all(set(r) == {"lang", "label", "positive"} for r in rows)
    plain = _cli(str(path)).stdout.split()
    assert plain[2] == "nan" and float(plain[0]) == pytest.approx(rows[0]["positive"], abs=1e-6)


def test_the_mixture_folds_into_one_column_per_domain_that_scores_like_its_members() -> None:
    # What training ships (one weight column per kind of text) must score every document exactly
    # as the unfolded mixture of members does, or the stacking weights fitted on member scores lie.
    from monitor.enrich.train_sentiment import fold_mixture

    rng = np.random.default_rng(7)
    members, domains, buckets, docs = 5, 4, 64, 9
    weights = rng.normal(size=(members, domains, buckets))
    weights[0] = weights[0, :1]  # a general member: the same model for every domain
    biases, mix = rng.normal(size=(members, domains)), rng.normal(size=(domains, members + 1))
    x = rng.poisson(0.3, size=(docs, buckets)).astype(float)
    columns, folded_bias = fold_mixture(mix, weights, biases)
    assert columns.shape == (buckets, domains) and folded_bias.shape == (domains,)
    for d in range(domains):
        member_logits = x @ weights[:, d].T + biases[:, d]  # (docs, members)
        expected = member_logits @ mix[d, :-1] + mix[d, -1]
        np.testing.assert_allclose(x @ columns[:, d] + folded_bias[d], expected, rtol=1e-10, atol=1e-10)


def test_an_adapted_member_splits_into_per_set_models_that_score_like_it() -> None:
    # An 'adapt' member is fitted on [x, x if set 0, ..., x if set 3, one-hot set]; what it ships is
    # one column per set, which must give every row of that set the augmented model's score.
    from monitor.enrich.train_sentiment import _Linear, split_adapted

    rng = np.random.default_rng(11)
    sets, buckets, docs = 4, 32, 12
    fitted = _Linear(rng.normal(size=(sets + 1) * buckets + sets), float(rng.normal()))
    x, domain = rng.poisson(0.4, size=(docs, buckets)).astype(float), rng.integers(0, sets, size=docs)
    augmented = np.hstack([x] + [x * (domain == d)[:, None] for d in range(sets)] + [np.eye(sets)[domain]])
    per_set = split_adapted(fitted, sets)
    assert len(per_set) == sets and all(m.weights.shape == (buckets,) for m in per_set)
    split_scores = [x[i] @ per_set[domain[i]].weights + per_set[domain[i]].bias for i in range(docs)]
    np.testing.assert_allclose(split_scores, augmented @ fitted.weights + fitted.bias, rtol=1e-10, atol=1e-10)


def test_online_shopping_rows_are_read_by_kind_of_product_and_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    # the mixture's kinds of text split the online shopping set by its `cat` column; the other sets are one
    # kind each; a category the model has no column for must stop training, not be put in another's.
    # (The texts are ones the held-out hash keeps for training; "很甜很新鲜" is held out.)
    from crisiswatch.errors import CrisiswatchError
    from monitor.enrich.train_sentiment import DOMAINS, SENTIMENT_SETS, SET_OF_DOMAIN, training_rows

    rows = {"online_shopping": "cat,label,review\n水果,1,水果很甜\n计算机,0,开机太慢\n书籍,1,纸张不错\n水果,1,很甜很新鲜\n",
            "waimai": "label,review\n0,送得太慢\n1,好吃\n", "chnsenticorp_hotel": "label,review\n1,房间很干净\n",
            "weibo": "label,review\n0,好累啊\n"}
    for name, text in rows.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    texts, labels, domains = training_rows(tmp_path)
    assert dict(zip(texts, (DOMAINS[d] for d in domains), strict=True)) == {
        "水果很甜": "online_shopping:水果", "开机太慢": "online_shopping:计算机", "纸张不错": "online_shopping:书籍",
        "送得太慢": "waimai", "好吃": "waimai", "房间很干净": "chnsenticorp_hotel", "好累啊": "weibo"}
    assert labels.tolist() == [1, 0, 1, 0, 1, 1, 0]
    assert [SENTIMENT_SETS[s] for s in SET_OF_DOMAIN[domains]] == [DOMAINS[d].split(":")[0] for d in domains]
    (tmp_path / "online_shopping.csv").write_text("cat,label,review\n水果,1,很甜\n汽车,0,油耗高\n", encoding="utf-8")
    with pytest.raises(CrisiswatchError, match="汽车"):
        training_rows(tmp_path)


def test_the_committed_model_reads_each_kind_of_text() -> None:
    # one sentiment column and one kind-of-text logit per domain: a model trained on fewer kinds would
    # silently mix the products' experts with the wrong rows
    from monitor.enrich.train_sentiment import DOMAINS

    model = sentiment.CrisiswatchSentiment()
    assert model.weights.dtype == np.int8 and model.weights.shape[1] == 2 * len(DOMAINS) == 26
