"""Which language each post is written in (ISO 639-1 codes; "und" when there is nothing to tell).

Most mentions are Chinese and say so in their script alone, so one vectorised pass over the
batch's codepoints settles them (and Japanese kana, Korean hangul) without a per-post call.
Everything else (Latin, Cyrillic, Arabic, Thai, mixed text) goes to lingua, restricted to the
languages a Chinese brand meets on X, in high-accuracy mode: tweets are short, and its
low-accuracy mode calls about one English tweet in fifty German or French, which would leave it
unscored.
"""

from __future__ import annotations

import functools
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
# A Han character carries about as much as a short Latin word, so "iPhone 太卡了" is Chinese
# while "Just got my 小米 phone" is English.
HAN_PER_LATIN_LETTER = 1 / 3
_RANGES = {  # inclusive codepoint ranges per script
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F)),
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)),
    "hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)),
}


@functools.cache
def detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).build()


def script_counts(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Per text, how many codepoints fall in each script of _RANGES (one pass for the batch)."""
    joined = SEP.join(t.replace(SEP, " ") for t in texts)
    cp = np.frombuffer(joined.encode("utf-32-le", errors="replace"), dtype=np.uint32)
    doc = np.cumsum(cp == 0)
    out = {}
    for script, ranges in _RANGES.items():
        mask = np.zeros(cp.shape, dtype=bool)
        for lo, hi in ranges:
            mask |= (cp >= lo) & (cp <= hi)
        out[script] = np.bincount(doc[mask], minlength=len(texts))
    return out


def _by_script(han: int, kana: int, hangul: int, latin: int) -> str | None:
    """The language when the script settles it, else None (ask lingua)."""
    if kana >= 2 and kana * 10 >= han:
        return "ja"
    if hangul > 0 and hangul >= han and hangul * 3 >= latin:
        return "ko"
    if han > 0 and kana == 0 and han >= latin * HAN_PER_LATIN_LETTER:
        return "zh"
    return None


def detect_languages(texts: Sequence[str]) -> list[str]:
    counts = script_counts(texts)
    langs: list[str | None] = [
        _by_script(int(h), int(k), int(g), int(la))
        for h, k, g, la in zip(counts["han"], counts["kana"], counts["hangul"], counts["latin"], strict=True)
    ]
    rest = [i for i, lang in enumerate(langs) if lang is None]
    if rest:
        found = detector().detect_languages_in_parallel_of([texts[i] for i in rest])
        for i, language in zip(rest, found, strict=True):
            langs[i] = iso_code(language) if language is not None else UNDETERMINED
    return [lang or UNDETERMINED for lang in langs]


def iso_code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()

