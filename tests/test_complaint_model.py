"""The learned second opinion beside the lexicon: category probabilities, the complaint detector, and the
rubric guards (praise, questions, news) it weighs as features. Texts written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crisiswatch.errors import CrisiswatchError
from monitor.enrich.complaint import classify, classify_many
from monitor.enrich.complaint_evidence import read_evidence
from monitor.enrich.complaint_guards import GUARD_FEATURES, guard_flags
from monitor.enrich.complaint_model import (
    COLUMNS,
    DENSE_NAMES,
    TEXT_KINDS,
    load_complaint_model,
    reader_features,
    save_model,
)
from monitor.enrich.complaint_rules import CATEGORY_KEYS, load_lexicon
from monitor.enrich.textfeatures import featurise, linear_scores
from monitor.enrich.train_complaint import (
    default_sets,
    fit_reader,
    majority_reading,
    read_posts,
    read_real_labels,
)

# Written for this test, in plain words the lexicon mostly knows too; the model must agree on its own.
PLAIN = {
    "product_quality": "刚买的电水壶用了两次底座就漏水了，质量太差",
    "logistics": "快递在中转站放了一个星期都没动，物流信息也不更新",
    "after_sales": "空调坏了报修，售后拖了半个月都没派人上门维修",
    "service_attitude": "打客服电话问个问题，对方很不耐烦，说完就挂了",
    "payment_billing": "没开通过会员，每个月却被自动扣费三十",
    "fraud_security_privacy": "账号被盗了，绑定的银行卡被人转走两千",
    "price": "昨天刚买今天就降价两百，申请价保被拒",
    "false_advertising": "详情页写的纯棉，收到一看全是化纤，与描述不符",
    "other": "用了三年的健身房突然关门了，年卡还剩大半年",
}


def test_the_committed_model_loads_and_knows_every_category() -> None:
    model = load_complaint_model()
    assert model is not None, "monitor/enrich/models/complaint_model.npz is missing"
    assert model.keys == CATEGORY_KEYS
    probs = model.probabilities(list(PLAIN.values()))
    assert probs.shape == (len(PLAIN), len(CATEGORY_KEYS))
    assert ((probs >= 0) & (probs <= 1)).all()
    top = [CATEGORY_KEYS[i] for i in probs.argmax(axis=1)]
    assert top == list(PLAIN), dict(zip(PLAIN, top, strict=True))
    detector = model.complaint_probability([*PLAIN.values(), "今天阳光很好，和朋友去公园野餐了"])
    assert (detector[:-1] > 0.5).all() and detector[-1] < 0.5


# Complaints that name no problem word the lexicon knows: only the detector can find them.
WORDLESS = [
    "门店的店长当着一群人的面说我买不起就别看",
    "给我推的理财说保本，现在亏了三成",
]


@pytest.mark.parametrize("text", WORDLESS)
def test_the_detector_finds_complaints_without_complaint_words(text: str) -> None:
    (alone,) = classify_many([text], use_model=False)
    assert not alone.complaint
    (result,) = classify_many([text])
    assert result.complaint and result.categories and result.severity, result.reasons
    assert any("文本模型" in r and "投诉" in r for r in result.reasons), result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "请问这款空气炸锅有黑色的吗？",  # a question
        "新买的耳机音质很棒，推荐给大家",  # praise
        "听说某品牌充电宝冒烟了，大家注意安全",  # a bystander
        "【通报】市场监管局约谈三家外卖平台，要求整改",  # news
        "晚上吃了火锅，好满足",  # no company, no problem
    ],
)
def test_the_model_never_overrules_what_the_text_says(text: str) -> None:
    assert not classify(text).complaint, classify(text).reasons


def test_the_model_blend_keeps_the_lexicon_words_in_the_reasons() -> None:
    result = classify("快递三天没到，物流一直不更新")
    assert result.categories == ["logistics"]
    assert "“快递”" in result.reasons[0] and result.reasons[0].endswith("→ 物流")


def test_batch_and_single_classification_agree() -> None:
    texts = [*PLAIN.values(), *WORDLESS, "", "物流超快，好评"]
    assert classify_many(texts) == [classify(t) for t in texts]


def test_quoted_praise_is_the_company_talking() -> None:
    result = classify("冰箱冷藏室结冰，报修两次，来的师傅都说“正常现象”就走了")
    # the repairman's "normal" is his, not the customer's: no praise is read and the post stays a complaint.
    # (Its categories are the model's: product_quality, with after_sales the runner-up at P 0.27 against the
    # second category's bar of 0.3 since stop 34's retraining, 0.34 before; the desk shows the runner-up.)
    assert result.complaint and not any("夸奖/满意" in r for r in result.reasons), result.reasons
    # the quote is reported, not counted: the reasons of a non-complaint show it was set aside
    other = classify("店员说这款“性价比很高”，还没决定买不买")
    assert not other.complaint
    assert any("在引号里" in r for r in other.reasons) and not any("夸奖/满意" in r for r in other.reasons)


def test_a_complaint_site_post_marked_solved_is_not_a_complaint() -> None:
    text = "【投诉对象】某某家电【投诉问题】空调不制冷【投诉要求】维修 更新：师傅已上门修好，问题已解决，撤销投诉。"
    assert not classify(text).complaint
    assert classify(text.split("更新")[0]).complaint  # the same post before the update still is one


def test_coupon_refused_at_checkout_is_price_but_a_wrong_total_is_billing() -> None:
    assert classify("领的满100减30券，结算时提示不适用此商品，翻遍全店都用不了").categories == ["price"]
    assert classify("明明用了满减，结算金额还是原价").categories == ["payment_billing"]


def test_training_defaults_to_the_authored_sets() -> None:
    names = [p.name for p in default_sets()]
    assert names and all(n.startswith("complaints_dev") for n in names)
    assert len(read_posts(default_sets())) > 1500


def _label(id_: str, split: str, complaint: bool = True, **kw) -> str:
    return json.dumps({"id": id_, "complaint": complaint, "categories": kw.get("categories", ["logistics"]),
                       "severity": kw.get("severity", "一般"), "split": split}, ensure_ascii=False)


def test_real_labels_are_joined_with_their_texts_by_set_and_row(tmp_path: Path) -> None:
    (tmp_path / "waimai.csv").write_text("label,review\n0,送了两个小时饭都凉了\n1, 好吃，还会再点 \n0,汤洒了一袋子\n",
                                         encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join([
        _label("waimai:0", "train"), _label("waimai:1", "train", complaint=False, categories=[], severity=None),
        _label("waimai:2", "heldout", categories=["product_quality"]),
    ]) + "\n", encoding="utf-8")
    train = read_real_labels(labels, tmp_path, "train")
    assert [(r["text"], r["complaint"], r["categories"]) for r in train] == [
        ("送了两个小时饭都凉了", True, ["logistics"]), ("好吃，还会再点", False, [])]
    held = read_real_labels(labels, tmp_path, "heldout")  # the split is the lead's, never mixed
    assert [r["id"] for r in held] == ["waimai:2"] and held[0]["text"] == "汤洒了一袋子"


def test_rows_drawn_actively_are_marked_so_cross_validation_scores_only_the_random_draw(tmp_path: Path) -> None:
    (tmp_path / "waimai.csv").write_text("label,review\n0,送了两个小时饭都凉了\n0,汤洒了一袋子\n0,饭是凉的\n",
                                         encoding="utf-8")
    active = json.loads(_label("waimai:1", "train"))
    active["sample"] = "active"
    round8 = {**json.loads(_label("waimai:2", "train")), "sample": "round8"}  # a draw of its own: trains only
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join([_label("waimai:0", "train"), json.dumps(active, ensure_ascii=False),
                                 json.dumps(round8, ensure_ascii=False)]) + "\n", encoding="utf-8")
    assert [(r["id"], r["active"]) for r in read_real_labels(labels, tmp_path, "train")] == [
        ("waimai:0", False), ("waimai:1", True), ("waimai:2", True)]


@pytest.mark.parametrize("split", ["heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "heldout7", "heldout8"])  # each held-out draw
def test_the_reader_never_sees_a_held_out_post(tmp_path: Path, split: str) -> None:
    # the reader learns sentiment and kind of text from the shared sets, with their sentiment labels: a held-out
    # post it read would come to the complaint model with its label half known
    held_out = "鳄鱼皮靴开胶"  # its n-grams occur nowhere else; its copy in another set is left out by its text
    filler = ["送了两个小时饭都凉了", "好吃，还会再点", "房间很干净", "物流很快", "今天天气不错", "客服态度很好"]
    for k, name in enumerate(TEXT_KINDS):
        rows = ([held_out] if name in ("online_shopping", "weibo") else []) + filler[k:] + filler[:k]
        (tmp_path / f"{name}.csv").write_text("label,review\n" + "".join(f"{i % 2},{t}\n" for i, t in enumerate(rows)),
                                              encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(_label("online_shopping:0", split, categories=["product_quality"]) + "\n", encoding="utf-8")
    buckets = featurise(["鳄鱼皮靴"], 16, (3,)).bucket  # its trigrams' buckets
    weights, _ = fit_reader(tmp_path, labels, bits=16, orders=(3,))
    assert np.abs(weights[buckets]).max() == 0
    # without the labels the post is read, so the same buckets carry weight: the test can tell
    weights, _ = fit_reader(tmp_path, None, bits=16, orders=(3,))
    assert np.abs(weights[buckets]).max() > 0


def test_held_out_votes_are_the_majority_of_three_readings(tmp_path: Path) -> None:
    (tmp_path / "waimai.csv").write_text("label,review\n0,送了两个小时饭都凉了\n0,汤洒了一袋子\n", encoding="utf-8")
    voted = json.loads(_label("waimai:0", "heldout", categories=["logistics", "product_quality"]))
    voted["fresh"] = {"complaint": True, "categories": ["logistics"], "severity": "重要"}
    voted["third"] = {"complaint": True, "categories": ["logistics", "service_attitude"], "severity": "重要"}
    two = json.loads(_label("waimai:1", "heldout", categories=["logistics"]))
    two["fresh"] = {"complaint": False, "categories": [], "severity": None}  # no third reading: ours stands
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps(voted, ensure_ascii=False) + "\n" + json.dumps(two, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    ours = read_real_labels(labels, tmp_path, "heldout")
    assert [(r["categories"], r["severity"]) for r in ours] == [(["logistics", "product_quality"], "一般"),
                                                                 (["logistics"], "一般")]
    held = read_real_labels(labels, tmp_path, "heldout", votes=True)
    assert [(r["complaint"], r["categories"], r["severity"]) for r in held] == [
        (True, ["logistics"], "重要"), (True, ["logistics"], "一般")]
    assert majority_reading({**voted, "complaint": False, "fresh": {**voted["fresh"], "complaint": False}}) == {
        "complaint": False, "categories": [], "severity": None}


def test_a_label_without_a_text_is_an_error_not_a_smaller_set(tmp_path: Path) -> None:
    (tmp_path / "waimai.csv").write_text("label,review\n0,送了两个小时饭都凉了\n", encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join([_label("waimai:0", "train"), _label("waimai:7", "train"),
                                 _label("weibo:0", "train")]) + "\n", encoding="utf-8")
    with pytest.raises(CrisiswatchError, match="2 label\\(s\\) have no text.*waimai:7"):
        read_real_labels(labels, tmp_path, "train")


GUARDED = {
    "neutral_question": "请问这款空气炸锅有黑色的吗？",
    "pure_praise": "新买的耳机音质很棒，推荐给大家",
    "not_about_the_author": "听说某品牌充电宝冒烟了，大家注意安全",
}


def test_the_rubric_guards_are_features_the_detector_weighs(tmp_path: Path) -> None:
    # a model file whose detector reads nothing but the guards: a large bias ("complaint") that each guard
    # that holds takes back, so the wiring from guard to feature column to verdict is all that decides
    real = load_complaint_model()
    assert real is not None
    dense = np.zeros((len(DENSE_NAMES), COLUMNS))
    for name in GUARD_FEATURES:
        dense[DENSE_NAMES.index(name), 0] = -40.0
    path = save_model(tmp_path / "guards.npz", np.zeros((1 << real.bits, COLUMNS)), dense,
                      np.array([20.0] + [0.0] * (COLUMNS - 1)), real.bits, real.orders)
    results = classify_many(list(GUARDED.values()), model_path=str(path))
    assert not any(r.complaint for r in results)
    for guard, text in GUARDED.items():
        flags = dict(zip(GUARD_FEATURES, guard_flags(read_evidence(text, load_lexicon())), strict=True))
        assert flags[f"guard:{guard}"], (text, flags)
        assert sum(flags.values()) == 1  # each text stands for one guard: the others are not what held
    # ...while a post no guard holds for is the detector's to call
    (wordless,) = classify_many(["晚上吃了火锅"], model_path=str(path))
    assert wordless.complaint and any("文本模型 1.00" in r for r in wordless.reasons)


def test_a_guard_the_detector_outweighs_is_still_shown(tmp_path: Path) -> None:
    # the same detector without the guard weights says "complaint" to everything: the reasons show the
    # rubric's doubt next to the verdict, so a support agent sees why it is a close call
    real = load_complaint_model()
    assert real is not None
    path = save_model(tmp_path / "always.npz", np.zeros((1 << real.bits, COLUMNS)),
                      np.zeros((len(DENSE_NAMES), COLUMNS)),
                      np.array([20.0] + [0.0] * (COLUMNS - 1)), real.bits, real.orders)
    for result in classify_many(list(GUARDED.values()), model_path=str(path)):
        assert result.complaint and any("但文本模型 1.00 → 投诉" in r for r in result.reasons), result.reasons


def test_the_model_reads_which_kind_of_text_a_post_is() -> None:
    # the model's own reader (trained on the shared sentiment sets) gives the kind of text as features, so a
    # Weibo post's outburst weighs differently from a review's; texts written here
    model = load_complaint_model()
    assert model is not None
    texts = {"weibo": "//@小明: 今天加班到十点，地铁上人挤人，累死了，转发微博",
             "waimai": "送餐太慢了，米饭都凉了，菜也洒了一半",
             "chnsenticorp_hotel": "酒店前台办理入住很慢，房间隔音差，早餐种类少",
             "online_shopping": "手机收到了，屏幕有划痕，电池也不耐用，退货",
             "smp2020_emotion": "今天又被老板骂了一顿，心里好委屈，回家路上一直在哭"}
    logits = linear_scores(featurise(list(texts.values()), model.bits, model.orders), model.hashed)
    features = reader_features(logits[:, COLUMNS:] + model.reader_bias)
    kinds = features[:, -len(TEXT_KINDS):]
    assert np.allclose(kinds.sum(axis=1), 1.0)
    assert [TEXT_KINDS[i] for i in kinds.argmax(axis=1)] == list(texts)
