import time

import pytest

from monitor.enrich.brands import BrandMatch, BrandMatcher, BrandRule

XIAOMI = BrandRule(
    brand="xiaomi",
    names=("小米", "Xiaomi", "MI", "雷军"),
    rules=('"红米 手机"', "米家 AND NOT (粥 OR 辣椒)"),
    exclusions=("小米粥", "小米椒", "小米辣"),
)
HUAWEI = BrandRule(brand="huawei", names=("华为", "HUAWEI"), rules=("鸿蒙 AND (手机 OR 系统)",))


@pytest.fixture(scope="module")
def matcher() -> BrandMatcher:
    return BrandMatcher([XIAOMI, HUAWEI])


def brands(matcher: BrandMatcher, text: str) -> list[str]:
    return [m.brand for m in matcher.match(text)]


def test_plain_name_match_returns_keywords(matcher):
    assert matcher.match("小米SU7 今天交付了") == [BrandMatch("xiaomi", ("小米",))]


def test_exclusion_phrase_vetoes_covered_occurrence(matcher):
    assert brands(matcher, "我今天喝了小米粥") == []
    assert brands(matcher, "小米椒炒肉，加点小米辣") == []


def test_exclusion_only_masks_the_occurrence_it_covers(matcher):
    assert matcher.match("喝着小米粥刷小米手机") == [BrandMatch("xiaomi", ("小米",))]


def test_case_insensitive_latin(matcher):
    assert brands(matcher, "XIAOMI fans unite") == ["xiaomi"]
    assert brands(matcher, "huawei mate 70") == ["huawei"]


def test_short_latin_alias_needs_word_boundaries(matcher):
    assert brands(matcher, "MIUI 又更新了") == []
    assert brands(matcher, "minimal design") == []
    assert brands(matcher, "新的MI手机") == ["xiaomi"]
    assert brands(matcher, "I like mi phones") == ["xiaomi"]


def test_phrase_requires_adjacency_but_terms_do_not():
    phrase = BrandMatcher([BrandRule("car", ("某车企",), rules=('"小米 汽车"',))])
    terms = BrandMatcher([BrandRule("car", ("某车企",), rules=("小米 汽车",))])
    text = "小米发布会上聊到了汽车"
    assert phrase.match(text) == []
    assert [m.brand for m in terms.match(text)] == ["car"]
    # CJK phrase parts may be written with or without a space between them.
    assert phrase.match("小米汽车很火")[0].keywords == ("小米 汽车",)
    assert [m.brand for m in phrase.match("小米 汽车很火")] == ["car"]


def test_latin_phrase_needs_whitespace_between_words():
    m = BrandMatcher([BrandRule("x", ("zz",), rules=('"model y"',))])
    assert [b.brand for b in m.match("the Model  Y is here")] == ["x"]
    assert m.match("modely") == []


def test_not_operator(matcher):
    assert brands(matcher, "米家电饭煲很好用") == ["xiaomi"]
    assert brands(matcher, "米家 辣椒酱") == []


def test_nested_parentheses_and_or():
    rule = "(小米 OR 雷军) AND ((SU7 AND NOT (试驾 OR 展车)) OR 召回)"
    m = BrandMatcher([BrandRule("xiaomi_car", ("小米汽车公司",), rules=(rule,))])
    assert [b.brand for b in m.match("小米SU7 高速失控")] == ["xiaomi_car"]
    assert m.match("小米SU7 试驾体验") == []
    assert [b.brand for b in m.match("雷军宣布试驾车召回")] == ["xiaomi_car"]
    assert m.match("SU7 召回") == []


def test_keywords_only_positive_and_ordered_by_position(matcher):
    assert matcher.match("鸿蒙系统更新后 华为手机卡顿") == [
        BrandMatch("huawei", ("鸿蒙", "系统", "华为", "手机"))
    ]


def test_multiple_brands(matcher):
    assert brands(matcher, "华为和小米谁更强") == ["xiaomi", "huawei"]


def test_boolean_exclusion_vetoes_whole_text():
    m = BrandMatcher([BrandRule("apple", ("苹果",), exclusions=("(吃 OR 削) AND 苹果",))])
    assert m.match("削了个苹果") == []
    assert [b.brand for b in m.match("苹果手机发热")] == ["apple"]


@pytest.mark.parametrize(
    ("rule", "position"),
    [
        ("小米 AND", 6),
        ("(小米 OR 华为", 0),
        ("小米 OR OR 华为", 6),
        ('小米 AND "汽车', 7),
        ("小米)", 2),
        ('""', 0),
    ],
)
def test_syntax_error_names_rule_and_position(rule, position):
    with pytest.raises(ValueError) as exc:
        BrandMatcher([BrandRule("bad", ("x",), rules=(rule,))])
    msg = str(exc.value)
    assert repr(rule) in msg
    assert f"position {position}" in msg


def test_throughput_is_high():
    rules = [XIAOMI, HUAWEI] + [BrandRule(f"b{i}", (f"品牌{i}号", f"Brand{i}")) for i in range(8)]
    m = BrandMatcher(rules)
    texts = ["今天去门店看了下新款手机，价格还行，就是续航一般般，售后态度也不太好，排队两个小时" * 1] * 2000
    texts += ["喝着小米粥刷小米手机，华为的鸿蒙系统也不错"] * 500
    start = time.perf_counter()
    for t in texts:
        m.match(t)
    rate = len(texts) / (time.perf_counter() - start)
    # Generous floor for slow CI machines; the benchmark reports the real figure.
    assert rate > 10_000


APPLE = BrandRule(brand="apple", names=("苹果", "Apple", "iPhone"), exclusions=("apple pie", "苹果汁"))
AURORA = BrandRule(brand="aurora", names=("极光优选", "Aurora Select"))


@pytest.mark.parametrize("text", [
    "这个链接 http://t.cn/XiaoMi8q 点进去看看",  # a short link's code
    "详情见 https://www.apple.com/cn/shop 这里",
    "简历发到 hr@xiaomi-fans.org 就行",
    "@苹果妹妹 周末一起去爬山吗",  # a person whose handle holds a brand's name
    "@MI_lover2008 哈哈哈",
])
def test_links_emails_and_other_peoples_handles_name_no_brand(text):
    assert BrandMatcher([XIAOMI, APPLE]).match(text) == []


@pytest.mark.parametrize(("text", "brand"), [
    ("@小米客服 我的订单三天没发货", "xiaomi"),  # a post addressed to the brand's own account
    ("@AuroraSelect 退款什么时候到账", "aurora"),
    ("@Aurora_Select_Help my refund never arrived", "aurora"),
])
def test_a_handle_that_is_the_brands_own_account_names_it(text, brand):
    assert [m.brand for m in BrandMatcher([XIAOMI, APPLE, AURORA]).match(text)] == [brand]


@pytest.mark.parametrize(("text", "brand"), [
    ("ＸＩＡＯＭＩ的售后太慢了", "xiaomi"),  # full-width Latin
    ("Recall now! #XiaomiSU7 brakes failed on the highway", "xiaomi"),  # a CamelCase hashtag
    ("#AuroraSelect lost my parcel again", "aurora"),
])
def test_full_width_and_camel_case_hashtags_name_the_brand(text, brand):
    assert [m.brand for m in BrandMatcher([XIAOMI, AURORA]).match(text)] == [brand]


def test_an_exclusion_of_plain_words_is_a_phrase():
    m = BrandMatcher([APPLE])
    assert m.match("Baked an apple pie tonight") == []
    # the pie on the table does not veto the Apple Watch on the wrist
    assert [b.brand for b in m.match("apple pie for dessert, then my Apple Watch died")] == ["apple"]
