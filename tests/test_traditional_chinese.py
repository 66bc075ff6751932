"""Posts written in Traditional characters (Hong Kong, Taiwan, overseas) are read as their Simplified form: by
the brand matcher, the complaint classifier and the sentiment model. The post itself is kept as written."""

from __future__ import annotations

from monitor.enrich.brands import BrandMatcher, BrandRule
from monitor.enrich.complaint import classify_many
from monitor.enrich.hanzi import simplified
from monitor.enrich.sentiment import score_by_language

PAIRS = [  # (Traditional, Simplified): the same post
    ("極光優選的快遞五天沒到，客服也不理人，太差了", "极光优选的快递五天没到，客服也不理人，太差了"),
    ("在極光優選買的吹風機用了三天就壞了，還有燒焦的味道", "在极光优选买的吹风机用了三天就坏了，还有烧焦的味道"),
    ("極光優選的衣服質量很好，物流也快，會回購", "极光优选的衣服质量很好，物流也快，会回购"),
]


def test_traditional_characters_read_as_simplified_and_simplified_text_stays_as_it_is():
    for traditional, plain in PAIRS:
        assert simplified(traditional) == plain and simplified(plain) == plain
    # characters Simplified text uses too stay as written: 著名, 覆盖, 剩余, 乾坤
    assert simplified("著名品牌覆盖全国，剩余库存不多，乾坤未定") == "著名品牌覆盖全国，剩余库存不多，乾坤未定"


def test_a_brand_written_in_traditional_is_the_brand():
    matcher = BrandMatcher([BrandRule(brand="aurora", names=("极光优选", "极光"), exclusions=("北极光",))])
    # the brand step dropped these posts from the brand: out of its counts and pages without a word
    assert [m.brand for m in matcher.match(PAIRS[0][0])] == ["aurora"]
    assert matcher.match("今晚去漠河看北極光") == []  # the exclusion holds in Traditional too
    traditional_config = BrandMatcher([BrandRule(brand="aurora", names=("極光優選",))])
    assert [m.brand for m in traditional_config.match(PAIRS[0][1])] == ["aurora"]


def test_the_classifier_and_the_sentiment_model_read_both_alike():
    traditional, plain = [t for t, _ in PAIRS], [p for _, p in PAIRS]
    for a, b in zip(classify_many(traditional), classify_many(plain), strict=True):
        assert (a.complaint, a.categories, a.severity) == (b.complaint, b.categories, b.severity)
    for a, b in zip(score_by_language(traditional, ["zh"] * 3), score_by_language(plain, ["zh"] * 3), strict=True):
        assert a.positive == b.positive
