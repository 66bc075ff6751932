"""Building blocks for the complaint classifier: the compiled lexicon, clause/negation helpers, amounts.

Kept apart from `complaint.py` so the decision logic there stays readable. Everything is compiled once at
import (or at `load_lexicon(path)`), because the classifier must handle thousands of posts per second.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import yaml

from monitor.enrich.complaint_matcher import Found, Matcher, Prefilter, probe_keys
from monitor.enrich.hanzi import simplified

LEXICON_PATH = Path(__file__).with_name("complaint_lexicon.yaml")
GRADES = ("一般", "重要", "紧急", "重大")
CATEGORY_KEYS = (
    "product_quality", "logistics", "after_sales", "service_attitude", "payment_billing",
    "fraud_security_privacy", "price", "false_advertising", "other",
)

# A negation right before a word cancels it ("没有异味", "一点都不卡", "not working" is a term itself).
# Only a few filler words may sit between the negation and the word, so "没过几天就坏了" stays negative.
_NEGATION = re.compile(
    r"(没有|没|不|无|未|毫无|从没有?|从来没有?|并没有?|一点都?(?:不|没有?)|完全没有?|不会|没什么|绝对不|"
    r"\bno|\bnot|\bnever|n't|\bzero|\bwithout)"
    r"\s*(?:任何|什么|出现|发现|遇到|过|一点|半点|啥|太|再|被|会|有|一滴)?\s*$"
)
# "异味都没有", "质量问题完全没有": the negation may also follow the word.
_POST_NEGATION = re.compile(r"\s*(?:都|也|完全|一点也|根本|从来)(?:没有|没|不存在)")
# "完全没有网上说的质量问题": a negation owning a short phrase that ends in 的.
_NEGATED_PHRASE = re.compile(r"(?:没有|没|无)[^，。,！!？?]{0,6}的\s*$")
_MENTION = re.compile(r"@[\w\-\u4e00-\u9fff]+")
_CLAUSE_BREAK = re.compile(r"[，,。！!？?；;\n…~～]+|\.(?:\s|$)")


Entry = tuple[re.Pattern[str], str, float, str]


text_keys = probe_keys  # what the matchers are probed with; compute once per text and pass it along


class Hit(NamedTuple):
    """One lexicon match: where, what text, and which entry produced it (a tuple: thousands are made per second)."""

    start: int
    text: str
    end: int
    kind: str  # category key, "generic", "praise", or a grade
    weight: float
    label: str  # category label or grade reason
    entry: int = 0  # which lexicon entry matched, to count each entry once


@dataclass
class Lexicon:
    """The compiled lexicon. Each entry is (regex, kind, weight, label)."""

    category_labels: dict[str, str]
    evidence: list[Entry] = field(default_factory=list)
    severity: list[Entry] = field(default_factory=list)
    cues: dict[str, re.Pattern[str]] = field(default_factory=dict)
    evidence_matcher: Matcher | None = None
    severity_matcher: Matcher | None = None
    cue_matchers: dict[str, Matcher] = field(default_factory=dict)
    all_cues: Matcher | None = None
    everything: Matcher | None = None  # evidence, then severity, then cue patterns: one pass per post

    def index(self) -> None:
        """Build the matchers (after the entries are final)."""
        self.evidence_matcher = Matcher([e[0].pattern for e in self.evidence])
        self.severity_matcher = Matcher([e[0].pattern for e in self.severity])
        self.cue_matchers = {name: Matcher([regex.pattern]) for name, regex in self.cues.items()}
        self.all_cues = Matcher([regex.pattern for regex in self.cues.values()])
        self.everything = Matcher([e[0].pattern for e in self.evidence + self.severity]
                                  + [regex.pattern for regex in self.cues.values()])

    def cue(self, name: str, text: str, chars: set[str]) -> str | None:
        """The leftmost match of cue `name` in `text` (`chars`: its `text_keys`), or None."""
        matcher = self.cue_matchers.get(name)
        return matcher.first(text, chars) if matcher is not None else None

    def read(self, text: str, chars: set[str]) -> tuple[list[Hit], list[Hit], dict[str, str]]:
        """The evidence words, the grade cues and the cues of `text` in one pass: what `find_hits` with each
        matcher and `cues_in` give, read together."""
        assert self.everything is not None
        evidence, graded = len(self.evidence), len(self.evidence) + len(self.severity)
        found, first = self.everything.read(text, chars, graded)
        split = bisect_left(found, (evidence,))
        names = list(self.cues)
        return (to_hits(found[:split], self.evidence), to_hits(found[split:], self.severity, evidence),
                {names[i - graded]: match for i, match in first.items()})

    def cues_in(self, text: str, chars: set[str]) -> dict[str, str]:
        """Every cue that occurs in `text`, with its leftmost match: one pass instead of one per cue."""
        if self.all_cues is None:
            return {}
        names = list(self.cues)
        return {names[i]: found for i, found in self.all_cues.first_each(text, chars).items()}


def normalise(text: str) -> str:
    """NFKC folds full-width letters/digits/punctuation; lower-casing makes English terms case-free; Traditional
    characters read as the Simplified ones the lexicon is written in (燒焦 is 烧焦)."""
    return simplified(unicodedata.normalize("NFKC", text or "")).lower()


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    """Read and compile the YAML lexicon (cached: compiling ~150 regexes per call would be wasteful)."""
    raw = yaml.safe_load(Path(path or LEXICON_PATH).read_text(encoding="utf-8"))
    cats = raw["categories"]
    lex = Lexicon(category_labels={key: cats[key]["label"] for key in cats})
    for key, spec in cats.items():
        for pattern, weight in spec["terms"].items():
            lex.evidence.append((re.compile(pattern), key, float(weight), spec["label"]))
    for pattern, weight in raw.get("generic_complaint", {}).items():
        lex.evidence.append((re.compile(pattern), "generic", float(weight), "投诉用语"))
    for pattern, weight in raw.get("praise", {}).items():
        lex.evidence.append((re.compile(pattern), "praise", float(weight), "夸奖/满意"))
    for grade, entries in raw.get("severity", {}).items():
        if grade not in GRADES:
            raise ValueError(f"{path or LEXICON_PATH}: unknown grade {grade!r}")
        for pattern, reason in entries.items():
            lex.severity.append((re.compile(pattern), grade, float(GRADES.index(grade)), str(reason)))
    lex.cues = {name: re.compile(pattern) for name, pattern in raw.get("cues", {}).items()}
    lex.index()
    return lex


def clause_starts(text: str) -> list[int]:
    """Start offsets of the clauses; negation and expectation only reach within a clause."""
    return [0] + [m.end() for m in _CLAUSE_BREAK.finditer(text)]


def clause_start_of(starts: list[int], pos: int) -> int:
    return starts[bisect_right(starts, pos) - 1]


# Every negation above contains one of these; most words have none before them, so two searches are saved.
_NEGATION_CHARS = re.compile(r"[没不无未毫从并一完绝]|n[o']|\bzero|\bwithout")


def is_negated(text: str, start: int, clause_start: int, end: int | None = None) -> bool:
    before = text[max(clause_start, start - 10):start]
    if _NEGATION_CHARS.search(before) and (_NEGATION.search(before) or _NEGATED_PHRASE.search(before)):
        return True
    return end is not None and bool(_POST_NEGATION.match(text, end))


_QUOTED = re.compile(r'[“「『"]([^“”「」『』"]{1,40})[”」』"]')


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans inside quotation marks: "师傅都说“正常现象”" quotes the company, it is not the author's praise."""
    if not any(q in text for q in '“「『"'):
        return []
    return [m.span(1) for m in _QUOTED.finditer(text)]


def strip_mentions(text: str) -> str:
    """Brand handles like @饿了吗 must not look like a question or a keyword to the cue detectors."""
    return _MENTION.sub(" @ ", text)


def find_hits(text: str, entries: list[Entry], matcher: Matcher, chars: set[str] | None = None) -> list[Hit]:
    """All matches of all entries (`chars`: its `text_keys`). An entry counts once per post (its first
    usable match is decided by the caller), so repeating a word ("快递……快递……") does not inflate the evidence."""
    return to_hits(matcher.find_all(text, chars), entries)


def to_hits(found: list[Found], entries: list[Entry], offset: int = 0) -> list[Hit]:
    """Matches of `entries` (numbered from `offset` in the matcher that found them) as Hits."""
    hits = []
    for entry, start, _order, end, text in found:
        _regex, kind, weight, label = entries[entry - offset]
        hits.append(Hit(start, text, end, kind, weight, label, entry - offset))
    return hits


# ---- money amounts -------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
              "几": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000, "亿": 100000000}
_NUM = r"(\d[\d,]*(?:\.\d+)?|[零一二两三四五六七八九十百千万几]+)"
_SALE_DAYS = {618.0, 1111.0, 1212.0, 315.0, 520.0}
_AMOUNT_PATTERNS = [
    re.compile(r"[¥$]\s*" + _NUM + r"\s*(万|千|k)?"),
    re.compile(_NUM + r"\s*(万|千|k)?\s*(?:多|余|来)?\s*(万|千)?\s*(?:元|块|rmb|yuan|刀|块钱)"),
    re.compile(r"(?:一笔|两笔|共|加起来|被刷了?|刷了|少了)\s*" + _NUM + r"\s*(万|千)?"),
    re.compile(
        r"(?:花了|损失了?|价值|值|扣了我?|付了|充了|充值了?|交了|赔|退还|多扣了?|骗了我?|被骗了?|转了|涨到|降了|"
        r"降价|贵了|补贴|返现|押金|定金|学费|会员费|房费|涉诉金额】|一共|共计|年费|费用|低|高出|总共|总计|收费|要收|收了|多了|扣|扣我|损失好)\s*" + _NUM + r"\s*(万|千)?"
    ),
    re.compile(_NUM + r"\s*(万|千)?\s*(?:多|余)?\s*(?:买的|买了|的东西|的装修|的表|的电视|的床垫)"),
    # "一千多的羽绒服", "……，一千多", "损失好几百": a bare number with 百/千/万 in a money-ish position
    re.compile(r"([一二两三四五六七八九几]+[百千万][一二两三四五六七八九]?)\s*(?:多|余)?\s*(?=的|呢|就|块|没了|[，。！!]|$)"),
    # "二十多万的车", "三十几万": tens of 万 with 多/几 between the number and its unit
    re.compile(r"([一二两三四五六七八九]?十[一二三四五六七八九]?)\s*(?:多|几)\s*(万|千)(?=的|块|元|没了|[，。！!]|$)"),
]


def parse_number(token: str) -> float:
    """'1,288' -> 1288, '三千' -> 3000, '一千二' -> 1200, '两千八' -> 2800, '十几' -> 10."""
    token = token.replace(",", "")
    if token and token[0].isdigit():
        try:
            return float(token)
        except ValueError:
            return 0.0
    total, section, digit, last_unit = 0, 0, None, 1
    for ch in token:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch] if not (ch == "几" and last_unit == 10) else 0
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit >= 10000:
                section = (section + (digit or 0)) * unit
                total += section
                section = 0
            else:
                section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    if digit is not None:
        # "一千二" means 1200: a trailing digit counts in the unit below the last one
        section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    return float(total + section)


# Every amount the patterns read has a digit, a currency sign or unit, or a 十/百/千/万 numeral.
_AMOUNT_HINT = re.compile(r"[\d¥$元块十百千万亿]|rmb|yuan")
# ...and each pattern its own words (元 or 块, 花了 or 损失...): it runs only on posts that have one
_AMOUNT_FILTER = Prefilter(_AMOUNT_PATTERNS)


def extract_amounts(text: str) -> list[float]:
    """Money amounts in yuan mentioned in a normalised post, in order of appearance, de-duplicated."""
    if _AMOUNT_HINT.search(text) is None:
        return []
    found: dict[int, float] = {}
    taken: list[tuple[int, int]] = []  # spans already read, so "二十几万" is not also read as "几万"
    candidates = _AMOUNT_FILTER.candidates(text)
    for k, regex in enumerate(_AMOUNT_PATTERNS):
        if k not in candidates:
            continue
        for m in regex.finditer(text):
            start, end = m.span(1)
            if any(start < e and s < end for s, e in taken):
                continue
            value = parse_number(m.group(1))
            for unit in (u for u in m.groups()[1:] if u):
                value *= {"万": 10000, "千": 1000, "k": 1000}.get(unit, 1)
            if value in _SALE_DAYS and not re.search(r"[元块¥$]", m.group(0)):
                continue  # "618买的" is a shopping festival, not a price
            if value > 0:
                found[start] = value
                taken.append((start, end))
    return [found[k] for k in sorted(found)]
