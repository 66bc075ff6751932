"""Language identification per mention: script rules for CJK, lingua for the rest."""

from __future__ import annotations

import pytest

from monitor.enrich.language import detect_languages

CASES = [
    ("快递三天了还没到，客服也不回消息", "zh"),
    ("iPhone 太卡了，电池也不行", "zh"),  # Latin brand names inside Chinese text
    ("支持TF卡（128G）MP3和WMA格式", "zh"),  # codes in capitals, many short Latin words
    ("這家店的服務態度很差", "zh"),  # traditional characters
    ("Just got my 小米 phone and the screen is already cracked", "en"),
    ("The delivery was late again and nobody answers the support chat", "en"),
    ("配送が遅すぎて、もう二度と使いません", "ja"),
    ("배송이 너무 늦어서 실망했어요", "ko"),
    ("Le colis est arrivé cassé et le service client ne répond pas", "fr"),
    ("El pedido llegó tarde y la batería no carga", "es"),
    ("Телефон сломался через неделю", "ru"),
    ("😡😡😡", "und"),
    ("12345 !!!", "und"),
    ("", "und"),
]


def test_each_post_gets_its_own_language() -> None:
    texts = [t for t, _ in CASES]
    assert detect_languages(texts) == [lang for _, lang in CASES]


def test_batch_equals_one_by_one_and_keeps_order() -> None:
    texts = [t for t, _ in CASES] + ["a\x00b 快递"]
    batch = detect_languages(texts)
    assert batch == [detect_languages([t])[0] for t in texts]
    assert detect_languages(list(reversed(texts))) == list(reversed(batch))
    assert detect_languages([]) == []


@pytest.mark.parametrize("text", ["I love this 手机", "Worst 客服 ever, they hung up on me twice"])
def test_english_sentences_with_a_chinese_word_are_english(text: str) -> None:
    assert detect_languages([text]) == ["en"]


# Shapes that real posts take and the script rule or lingua misread (texts written for these tests)
@pytest.mark.parametrize(("text", "lang"), [
    # what is not written in any language tells nothing: a bare repost chain, handles, a link
    ("//@小王同学: //@Lily_W:", "und"),
    ("@AuroraSupport", "und"),
    ("回复@kevin_99:", "und"),
    ("看这里 http://t.cn/A6bQxyZk", "zh"),
    # a word or two of Latin letters is a guess whatever lingua says
    ("ok", "und"),
    ("⊙o⊙…⊙o⊙…⊙o⊙", "und"),
    # Chinese that borrows kana: an の, a kaomoji, a line of Japanese greeting
    ("买完就降价，京东の客服根本不管，以后不会再买了", "zh"),
    ("送货上门方便多了(づ￣3￣)づ，下次活动还来囤货", "zh"),
    ("皆さん、おはようございます！今天下了一整天的雨，快递又延误了，大家出门注意安全，多喝热水", "zh"),
    ("晒单 我在:http://t.cn/Rz8Kq1Lm", "zh"),
    # English whose hashtags and glued links lingua read as Tagalog or Indonesian
    ("Happy #NationalCoffeeDay ☕😃😂", "en"),
    ("@user #NationalCoffeeDay give me coffee plz!!!", "en"),
    ("funny storyhttps://t.co/Zx98Yu76Ab", "en"),
])
def test_language_is_read_from_words_not_links_handles_or_borrowed_kana(text: str, lang: str) -> None:
    assert detect_languages([text]) == [lang]
