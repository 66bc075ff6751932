"""Language identification per mention: script rules for CJK, lingua for the rest."""

from __future__ import annotations

import pytest

from monitor.enrich.language import detect_languages

CASES = [
    ("快递三天了还没到，客服也不回消息", "zh"),
    ("iPhone 太卡了，电池也不行", "zh"),  # Latin brand names inside Chinese text
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
