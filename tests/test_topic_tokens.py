"""The words a post's topic is read from: Weibo's emoticons are tone, not topic, wherever terms are counted."""

from __future__ import annotations

from index.tokenize import tokens, topic_tokens
from monitor.dashboard.service import post_words
from playbooks.tickets.linking import similar_topic


def test_emoticons_leave_the_topic_but_not_the_text() -> None:
    text = "快递三天没到[怒][哈哈][doge]，客服【官方】也不回"
    assert {"哈哈", "doge"} <= set(tokens(text))  # the text keeps them (they tell the sentiment model its tone)
    words = set(topic_tokens(text))
    assert not {"怒", "哈哈", "doge"} & words and {"快递", "客服", "官方"} <= words
    assert not {"哈哈", "doge"} & post_words(text) and "快递" in post_words(text)  # the dashboard's hot words
    assert set(topic_tokens("[iPhone 15] 屏幕碎了")) >= {"iphone", "15", "屏幕"}  # a bracket with a space is text
    assert set(topic_tokens("屏幕碎了[组图共9张][网页链接]")) == set(topic_tokens("屏幕碎了"))  # Weibo's placeholders


def test_shared_emoticons_do_not_make_two_complaints_one_grievance() -> None:
    a, b = "耳机坏了[哈哈][允悲][doge][二哈]", "发票没开[哈哈][允悲][doge][二哈]"
    assert not similar_topic(a, b)
    assert similar_topic("极光优选快递十天没到，物流一直不更新[怒]", "极光优选快递十天没到，物流信息一直不更新")


def test_links_and_handles_are_no_topic_and_a_hashtag_is_one() -> None:
    words = topic_tokens("//@小王吐槽: #极光优选退款难# 三周没到账 http://t.cn/A6xYz12 @AuroraHelp #RefundNow")
    assert "#极光优选退款难#" in words and "#refundnow" in words and "三周" in words
    assert not {"小王", "吐槽", "t", "cn", "a6xyz12", "aurorahelp", "refundnow", "退款"} & set(words), words
    assert set(topic_tokens("看 www.aurora.cn/p/1?x=2 和 https://t.co/Ab1")) == {"看", "和"}
    assert not [t for t in topic_tokens("C#语言 第#3楼") if t.startswith("#")]  # a # inside a word is no hashtag
