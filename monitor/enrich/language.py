"""Which language each post is written in (ISO 639-1 codes; "und" when there is nothing to tell).

Most mentions are Chinese and say so in their script alone, so one vectorised pass over the
batch's codepoints settles them (and Japanese kana, Korean hangul) without a per-post call.
Everything else (Latin, Cyrillic, Arabic, Thai, mixed text) goes to lingua, restricted to the
languages a Chinese brand meets on X, in high-accuracy mode: tweets are short, and its
low-accuracy mode calls about one English tweet in fifty German or French, which would leave it
unscored.

Only words tell a language, so both read the post without what is not written in one: links, e-mail
addresses, @handles and the `//@某人:` of a Weibo repost chain, `[表情]` codes and HTML entities. A
Latin hashtag is read as its words (#NationalFastFoodDay as National Fast Food Day). A post left with
nothing (a bare link, a chain of handles, emoji) is "und", and so is one left with a word or two of Latin
letters too short to tell ("ok", "C"): no model reads a language it was not written in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from monitor.enrich.textfeatures import SEP

UNDETERMINED = "und"
LANGUAGES = (
    Language.CHINESE, Language.ENGLISH, Language.JAPANESE, Language.KOREAN, Language.SPANISH,
    Language.PORTUGUESE, Language.FRENCH, Language.GERMAN, Language.ITALIAN, Language.RUSSIAN,
    Language.INDONESIAN, Language.MALAY, Language.TAGALOG, Language.VIETNAMESE, Language.THAI,
    Language.ARABIC, Language.TURKISH, Language.HINDI,
)
# A Latin word in a Chinese post is a brand or a name, and so is a Chinese word in an English one: a
# post is Chinese by script when it has a Han character per Latin word, so "买了MacBook Pro和AirPods
# Pro，MacBook屏幕坏了" is Chinese while "Just got my 小米 phone" is English; or a Han character per
# three Latin letters, for the codes Chinese posts spell in capitals (支持TF卡 DVMP3, 很H很BL).
HAN_PER_LATIN_WORD = 1.0
HAN_PER_LATIN_LETTER = 1 / 3
# A Japanese post has about as much kana as kanji, and at least half as much even in a kanji-heavy
# one; a Chinese post borrows an の (京东の客服), a kaomoji's づ, a line of Japanese greeting at most.
HAN_PER_KANA = 2
# Fewer letters than this in words of two or more is a guess whatever lingua answers ("ok" as
# Turkish, "C" as Vietnamese, the o of ⊙o⊙ as Portuguese).
MIN_LETTERS = 3
_RANGES = {  # inclusive codepoint ranges per script
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F)),
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)),
    "hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)),
}
# What no language is written in. A link runs to the next space or Han character (Weibo glues links to
# the text); a handle may hold Han characters (//@某人:), a Weibo emoticon code is a bracketed word.
_NOT_WORDS = re.compile(
    r"(?:https?://|www\.)[^\s\x00\u4e00-\u9fff]*|\bt\.cn/[A-Za-z0-9]+"
    r"|(?<![\w.+-])[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    r"|//@[^\s:：/\x00]{1,30}[:：]|@[\w\u4e00-\u9fff\-]{1,30}[:：]?|\[[^\[\]\s\x00]{1,8}\]|&[a-z]+;|&#\d+;|\bRT\b|回复|回覆"
)
_LATIN_HASHTAG = re.compile(r"#([A-Za-z][A-Za-z0-9]*)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])")
_WORD = re.compile(r"[^\W\d_]{2,}")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+")


@functools.cache
def detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).build()


def _hashtag_words(m: re.Match[str]) -> str:
    return _CAMEL.sub(" ", m.group(1))


def words_only(texts: Sequence[str]) -> list[str]:
    """Each text without what is not written in a language (see the module docstring), for the batch at once."""
    if not texts:
        return []
    joined = _NOT_WORDS.sub(" ", SEP.join(t.replace(SEP, " ") for t in texts))
    if "#" in joined:
        joined = _LATIN_HASHTAG.sub(_hashtag_words, joined)
    return joined.split(SEP)


def script_counts(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Per text, how many codepoints fall in each script of _RANGES, and how many Latin words ("latin_words",
    runs of Latin letters) it has (one pass for the batch)."""
    joined = SEP.join(t.replace(SEP, " ") for t in texts)
    cp = np.frombuffer(joined.encode("utf-32-le", errors="replace"), dtype=np.uint32)
    doc = np.cumsum(cp == 0)
    out = {}
    for script, ranges in _RANGES.items():
        mask = np.zeros(cp.shape, dtype=bool)
        for lo, hi in ranges:
            mask |= (cp >= lo) & (cp <= hi)
        out[script] = np.bincount(doc[mask], minlength=len(texts))
        if script == "latin":
            starts = mask.copy()
            starts[1:] &= ~mask[:-1]
            out["latin_words"] = np.bincount(doc[starts], minlength=len(texts))
    return out


def _by_script(han: int, kana: int, hangul: int, latin: int, latin_words: int) -> str | None:
    """The language when the script settles it, else None (ask lingua)."""
    if kana >= 2 and kana * HAN_PER_KANA >= han:
        return "ja"
    if hangul > 0 and hangul >= han and hangul * 3 >= latin:
        return "ko"
    if han > 0 and han * HAN_PER_KANA > kana and (han >= latin_words * HAN_PER_LATIN_WORD
                                                   or han >= latin * HAN_PER_LATIN_LETTER):
        return "zh"
    return None


def detect_languages(texts: Sequence[str]) -> list[str]:
    words = words_only(texts)
    counts = script_counts(words)
    langs: list[str | None] = [
        _by_script(int(h), int(k), int(g), int(la), int(lw))
        for h, k, g, la, lw in zip(counts["han"], counts["kana"], counts["hangul"], counts["latin"],
                                   counts["latin_words"], strict=True)
    ]
    ask: dict[int, str] = {}
    for i, lang in enumerate(langs):
        if lang is not None:
            continue
        # Han characters here are a name in a post of another language ("I love 小米"): lingua reads the rest
        text = _HAN.sub(" ", words[i]) if counts["han"][i] else words[i]
        if sum(map(len, _WORD.findall(text))) < MIN_LETTERS:
            langs[i] = UNDETERMINED
        else:
            ask[i] = text
    if ask:
        found = detector().detect_languages_in_parallel_of(list(ask.values()))
        for i, language in zip(ask, found, strict=True):
            langs[i] = iso_code(language) if language is not None else UNDETERMINED
    return [lang or UNDETERMINED for lang in langs]


def iso_code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()

