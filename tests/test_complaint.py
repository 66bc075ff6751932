"""Complaint understanding: categories, grades with readable reasons, hard non-complaints, amounts, CLI.

Fixtures are written here on purpose (not read from benchmarks/data), so the tests never depend on the
evaluation set and the evaluation set never shapes the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.enrich.complaint import ComplaintResult, classify, classify_many
from monitor.enrich.complaint_evidence import read_evidence
from monitor.enrich.complaint_rules import extract_amounts, load_lexicon, normalise, parse_number

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("新买的吹风机用了三天就不转了，质量太差，差评", "product_quality"),
        ("快递在中转站一动不动五天了，@风驰快递 还没到", "logistics"),
        ("申请七天无理由退货，商家说包装拆了不给退，凭什么", "after_sales"),
        ("客服态度太差了，问两句就不耐烦，直接把我电话挂断", "service_attitude"),
        ("没开过会员却每个月被自动续费扣款，@悦听App 退钱", "payment_billing"),
        ("游戏账号被盗了，绑定的卡被刷走了两百", "fraud_security_privacy"),
        ("刚买三天就降价一百，申请价保被拒，客服说活动商品不保价", "price"),
        ("详情页写的纯羊毛，实物摸着就是化纤，与描述严重不符", "false_advertising"),
        ("健身房突然关门跑路了，年卡还有大半年没用", "other"),
    ],
)
def test_clear_complaint_gets_its_category(text: str, category: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert category in result.categories, (result.categories, result.reasons)
    assert result.severity in ("一般", "重要", "紧急", "重大")


def test_rude_courier_is_logistics_not_service_attitude() -> None:
    result = classify("快递员态度恶劣，让他送上楼他骂我事多，东西直接扔楼下")
    assert result.complaint
    assert result.categories[0] == "logistics"
    assert "service_attitude" not in result.categories


# The venue boundary as three annotators who saw only the rubric read it (benchmarks/data/venue_readings.jsonl,
# the main problem first): a service stopped or disrupted is other, like a cancelled flight; broken equipment
# the customer uses at a venue is product_quality, as the conventions have it for a hotel's.
@pytest.mark.parametrize(
    ("text", "outage"),
    [
        ("写字楼的闸机坏了一整天，刷卡进不去，保安只让排队登记", "闸机"),  # other 3 of 3
        ("早上轻轨又故障停了半小时，车厢闷得不行", "故障停"),  # other 3 of 3; outage words are `other` on their own
    ],
)
def test_service_outages_are_other(text: str, outage: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert result.categories[0] == "other", result.reasons
    assert result.categories[1:] in ([], ["product_quality"]), result.reasons
    assert any(outage in reason for reason in result.reasons), result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "@银河影城 5号厅空调坏了，放映到一半热得坐不住",  # product_quality 2 of 3 (one reader: other)
        "the gym's treadmills are broken again and the showers have no hot water",  # product_quality 2 of 3
        "健身房的跑步机坏了三台，一个月了还没修，年卡白办了",  # product_quality 2 of 3
    ],
)
def test_broken_equipment_at_a_venue_is_product_quality(text: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert result.categories[0] == "product_quality", result.reasons
    assert result.categories[1:] in ([], ["other"]), result.reasons


# Noise is `other` in the rubric; three annotators who saw only the rubric put a hotel's noise there whatever
# its source, and a defective fixture that lets the noise in under product_quality
# (benchmarks/data/noise_readings.jsonl): so does the classifier, and a product's own noise stays a defect.
@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("酒店隔音太差，隔壁说话听得一清二楚", "other"),  # other 3 of 3
        pytest.param("住的这家酒店临街，大货车整夜轰鸣，窗户关上也没用", "other",  # other 3 of 3 (the probe's post)
                     marks=pytest.mark.xfail(strict=True, reason="a known miss: the model reads a hotel's road noise "
                                             "as product quality (P 0.78; other second), lexicon or not")),
        ("房间的门关不严，走廊的声音全传进来", "product_quality"),  # product_quality first 3 of 3
        ("新买的风扇噪音很大，开最低档都吵", "product_quality"),  # the author's own product
    ],
)
def test_noise_where_the_author_stays_is_other_and_a_defect_is_quality(text: str, first: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert result.categories[0] == first, result.reasons


def test_the_lexicon_reads_the_wait_an_outage_causes_as_the_outage_and_rude_staff_as_staff() -> None:
    lex = load_lexicon()
    queued = read_evidence("写字楼的闸机坏了一整天，刷卡进不去，保安只让排队登记", lex)
    assert "service_attitude" not in queued.scores and queued.scores["other"] > 0, queued.scores
    rude = read_evidence("地铁故障停了半小时，工作人员态度恶劣", lex)
    assert rude.scores.get("service_attitude", 0) > 0, rude.scores


def test_the_lexicon_reads_noise_at_a_hotel_as_other_and_a_products_noise_as_a_defect() -> None:
    lex = load_lexicon()
    hotel = read_evidence("这家酒店空调外机就在窗外，噪音大得像拖拉机", lex)
    assert "product_quality" not in hotel.scores and hotel.scores["other"] > 0, hotel.scores
    assert any("噪音" in reason for reason in hotel.boundary), hotel.boundary
    road = read_evidence("酒店临街，大货车整夜轰鸣", lex)
    assert "轰鸣" in road.words.get("other", []), road.words
    fan = read_evidence("新买的风扇噪音很大", lex)
    assert fan.scores.get("product_quality", 0) > 0 and not fan.boundary, (fan.scores, fan.boundary)


def test_own_purchase_at_a_venue_stays_product_quality() -> None:
    result = classify("在商场新买的电饭煲用了两天就坏了")
    assert result.categories[0] == "product_quality", result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "结账时才发现每人加了8块茶位费，点菜页面一个字都没提",
        "下单页面显示59，结算时莫名其妙变成了71",
        "退款显示已退回，银行说查无此款，钱到底去哪了",
        "会员到期后又被免密支付扣了一年的钱",
    ],
)
def test_hidden_fees_and_missing_refunds_are_billing(text: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert result.categories[0] == "payment_billing", result.reasons
    assert "price" not in result.categories and "after_sales" not in result.categories


@pytest.mark.parametrize(
    "text",
    [
        "商品页标着原价1299，查了半年的价格记录从来没卖过这个价",
        "宣称“三天美白”的面膜，敷完两盒一点变化都没有",
        "listing said genuine leather, it is obviously plastic. misleading",
    ],
)
def test_false_advertising_claims(text: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert result.categories[0] == "false_advertising", result.reasons


def test_stated_remedy_does_not_add_after_sales() -> None:
    result = classify("蓝牙音箱用了三天就没声音了，准备退货")
    assert result.categories == ["product_quality"], result.reasons
    # ...while a refused return is still after-sales (rubric)
    assert "after_sales" in classify("蓝牙音箱用了三天就没声音了，申请退货被商家拒绝了").categories


def test_negated_neutral_word_is_not_praise() -> None:
    # "没揽件" is the problem itself, not a reassurance like "没有异味"
    result = classify("寄件下单两天了，快递员一直没揽件")
    assert result.complaint and result.categories[0] == "logistics", result.reasons


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("小区的充电桩坏了一个月，报修三次都没人来", "重要"),  # "三次都没人来": a count, not a negation
        ("my earbuds died after 2 weeks of use", "一般"),  # product life, not a delay
        ("游乐园的摩天轮停了，我们被困在上面四十分钟", "紧急"),
    ],
)
def test_grade_cues_for_delays_and_entrapment(text: str, grade: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert result.severity == grade, result.reasons


def test_a_month_of_waiting_is_a_delay_cue_and_half_a_month_is_not() -> None:
    # The cue is what the rubric's "refund refused for weeks" reads as; the grade of such a post is the
    # model's, which weighs the cue with the rest (a bare month-old refund is a close call between 一般 and 重要).
    lex = load_lexicon()
    assert [h.label for h in read_evidence("退款申请通过已经一个多月了还没到账", lex).grade_hits][:1] == ["拖延数周"]
    assert read_evidence("退款申请通过半个月了还没到账", lex).grade_hits == []


@pytest.mark.parametrize(
    "text",
    [
        "本来担心会被自动续费，结果到期前一周就收到提醒了，挺人性化",
        "新开的地铁线路太方便了，通勤只要二十分钟，开心",
        "got charged twice but it was my own mistake, they refunded in an hour",
        "同事说她的网盘账号被盗了，让我帮忙转发提醒一下大家改密码",
        "快递柜新增了冷藏格，生鲜放进去不怕化了",
    ],
)
def test_more_hard_non_complaints(text: str) -> None:
    result = classify(text)
    assert not result.complaint, (result.categories, result.reasons)


@pytest.mark.parametrize(
    ("text", "grade", "cue"),
    [
        ("耳机左边没声音了，有点失望", "一般", "一般"),
        ("洗衣机保修期内坏了，售后推来推去，拖了一个月还没修好", "重要", "久拖未决"),
        ("买的净水器花了一千八，用一个月就漏水", "重要", "金额 1800 元"),
        ("屏幕碎了商家不认，我已经打了12315", "重要", "外部投诉渠道"),
        ("电热水壶烧水时底座冒烟，有焦糊味", "紧急", "安全风险"),
        ("面霜用了两天脸上红肿过敏", "紧急", "健康伤害"),
        ("刚注册就接到骚扰电话，对方准确说出我的订单号，信息肯定泄露了", "紧急", "隐私泄露"),
        ("同一批次的奶粉很多人都喝出问题，宝宝拉肚子，我们准备集体维权", "重大", "批次问题"),
        ("电动车充电时起火，整个楼道都烧黑了，@某某电动 必须给说法", "重大", "爆炸/起火"),
        ("维修三次都没修好，已经委托律师准备起诉商家", "重大", "律师/诉讼"),
    ],
)
def test_each_grade_is_reachable_with_a_readable_reason(text: str, grade: str, cue: str) -> None:
    result = classify(text)
    assert result.complaint, result.reasons
    assert result.severity == grade, result.reasons
    assert any(cue in reason and grade in reason for reason in result.reasons), result.reasons


def test_reason_names_the_deciding_word() -> None:
    result = classify("充电宝放在包里突然冒烟了，吓死我了 @米粒充电")
    assert result.severity == "紧急"
    assert "“冒烟” → 安全风险 → 紧急" in result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "本以为物流会很慢，结果第二天一早就送到了，好评",  # praise built on complaint vocabulary
        "原来担心会漏水，用了两个月一点没漏，很满意",
        "价格炸裂，姐妹们冲！",  # figurative
        "请问价保在哪里申请？",  # neutral question
        "【市场监管局通报】抽检发现三批次饮料不合格，已责令下架",  # news
        "转发本条并关注，抽五位送空气炸锅一台",  # lottery
        "之前反映的退款问题已经解决了，今天到账了，谢谢客服",  # solved case
        "看到热搜说某品牌充电宝冒烟了，大家出门注意安全",  # bystander
        "考试又没考好，心态崩了，好累",  # negative, about no company
    ],
)
def test_hard_non_complaints(text: str) -> None:
    result = classify(text)
    assert not result.complaint, result.reasons
    assert result.categories == []
    assert result.severity is None
    assert result.reasons  # even a "no" says why


def test_sarcasm_is_still_a_complaint() -> None:
    assert classify("真是谢谢你们了，等了半个月终于到了，打开是个空盒子，包裹还被拆过").complaint


def test_empty_text_is_not_a_complaint() -> None:
    result = classify("   ")
    assert result == ComplaintResult(False, [], None, result.reasons)


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("花了三千多块买的", [3000.0]),
        ("被扣了1,288元", [1288.0]),
        ("¥3,200 each", [3200.0]),
        ("一共一千二", [1200.0]),
        ("两千八的表", [2800.0]),
        ("装修花了1.5万元", [15000.0]),
        ("二十几万的装修", [200000.0]),
        ("二十多万的车就这么忽悠人", [200000.0]),
        ("钱转过去人直接拉黑，一千三没了", [1300.0]),
        ("银行卡被刷了两笔共1600", [2.0, 1600.0]),  # "两笔" is a count; the grade reads the largest amount
        ("【涉诉金额】4580元", [4580.0]),
        ("多付了15块，运费12块", [15.0, 12.0]),
        ("618买的，用了三天", []),  # a shopping festival, not a price
        ("等了三天，问了五次", []),  # counts and durations are not money
    ],
)
def test_amount_extraction(text: str, amounts: list[float]) -> None:
    assert extract_amounts(normalise(text)) == amounts


def test_parse_chinese_numerals() -> None:
    assert [parse_number(t) for t in ("三千", "一千二", "两千八", "六百", "十五", "一万二", "4,500")] == [
        3000, 1200, 2800, 600, 15, 12000, 4500,
    ]


def test_to_dict_and_classify_many_keep_order() -> None:
    texts = ["客服态度太差", "", "物流超快，好评"]
    results = classify_many(texts)
    assert [r.complaint for r in results] == [True, False, False]
    d = results[0].to_dict()
    assert set(d) == {"complaint", "categories", "severity", "reasons"}
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d


# ---- CLI contract ------------------------------------------------------------------------------------
POSTS = ["电饭煲内胆涂层掉进饭里，吃下去了很担心", "", "请问这款空气炸锅有黑色的吗？", "扣了我两次款，一共398元，至今没退"]


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crisiswatch.cli", "classify", *args],
        input=stdin, capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60,
    )


def _check_lines(stdout: str) -> list[dict]:
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert len(rows) == len(POSTS)
    for row in rows:
        assert list(row) == ["complaint", "categories", "severity", "reasons"]
        assert isinstance(row["reasons"], list) and all(isinstance(r, str) for r in row["reasons"])
        if row["complaint"]:
            assert row["categories"] and row["severity"] in ("一般", "重要", "紧急", "重大")
        else:
            assert row["categories"] == [] and row["severity"] is None
    assert [r["complaint"] for r in rows] == [True, False, False, True]  # order preserved
    assert rows[3]["categories"][0] == "payment_billing" and rows[3]["severity"] == "重要"
    return rows


def test_cli_stdin() -> None:
    proc = _cli(stdin="\n".join(POSTS) + "\n")
    assert proc.returncode == 0, proc.stderr
    _check_lines(proc.stdout)
    assert "\\u" not in proc.stdout  # ensure_ascii=False: Chinese stays readable


def test_cli_file(tmp_path: Path) -> None:
    path = tmp_path / "posts.txt"
    path.write_text("\n".join(POSTS) + "\n", encoding="utf-8")
    proc = _cli(str(path))
    assert proc.returncode == 0, proc.stderr
    _check_lines(proc.stdout)


def test_cli_missing_file_is_one_readable_line(tmp_path: Path) -> None:
    proc = _cli(str(tmp_path / "nope.txt"))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("crisiswatch: ") and "nope.txt" in proc.stderr


def test_english_posts_without_the_lexicons_verdict_need_the_english_models_negative() -> None:
    launch = "The Apple Watch may just change the way we travel."  # the n-gram model says 0.5: read in Chinese
    broken = "Worst phone I ever owned, it died after two days"  # the lexicon's English words call it one
    first, second, chinese = classify_many([launch, broken, "快递五天没到，物流一直不更新"])
    assert not first.complaint and "英文情感模型读为正面" in first.reasons[-1]
    assert second.complaint and "product_quality" in second.categories
    assert chinese.complaint and chinese.categories == ["logistics"]
    # the language given wins over detection: read as Chinese, the learned detector decides alone
    assert classify_many([launch], languages=["zh"])[0].complaint
    assert not classify_many([launch], languages=["en"])[0].complaint
    # the pipeline's own sentiment band is used when it has one, read here when it has none
    assert classify_many([launch], languages=["en"], sentiments=["negative"])[0].complaint
    assert not classify_many([launch], languages=["en"], sentiments=["unknown"])[0].complaint


def test_english_media_exposure_is_going_to_the_media_not_the_word() -> None:
    """重大 for exposure by the media (the rubric); "Media Player" or "social media" is no such thing."""
    player, press = classify_many([
        "Acme's update broke my Windows Media Player and the app keeps crashing, useless",
        "Acme refused my refund for the broken TV three times, so I contacted the media"])
    assert player.complaint and player.severity != "重大"
    assert press.complaint and press.severity == "重大" and any("媒体曝光" in r for r in press.reasons)
