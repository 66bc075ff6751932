"""Building blocks for the complaint classifier: the compiled lexicon, clause/negation helpers, amounts.

Kept apart from `complaint.py` so the decision logic there stays readable. Everything is compiled once at
import (or at `load_lexicon(path)`), because the classifier must handle thousands of posts per second.
"""

from __future__ import annotations

import re
import re._parser as _sre_parser
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

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


_START_INDEX: dict[int, tuple[int, dict[str, list[int]], list[int]]] = {}


def _start_index(entries: list) -> tuple[dict[str, list[int]], list[int]]:
    """char -> entries that can start with it, plus entries that must always run (built once per list)."""
    cached = _START_INDEX.get(id(entries))
    if cached is not None and cached[0] == len(entries):
        return cached[1], cached[2]
    by_char: dict[str, list[int]] = {}
    always: list[int] = []
    for i, (regex, *_rest) in enumerate(entries):
        starts = start_keys(regex)
        if starts is None:
            always.append(i)
            continue
        for key in starts:
            by_char.setdefault(key, []).append(i)
    _START_INDEX[id(entries)] = (len(entries), by_char, always)
    return by_char, always


@dataclass(frozen=True)
class Hit:
    """One lexicon match: where, what text, and which entry produced it."""

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
    evidence: list[tuple[re.Pattern[str], str, float, str]] = field(default_factory=list)
    severity: list[tuple[re.Pattern[str], str, float, str]] = field(default_factory=list)
    cues: dict[str, re.Pattern[str]] = field(default_factory=dict)


def normalise(text: str) -> str:
    """NFKC folds full-width letters/digits/punctuation; lower-casing makes English terms case-free."""
    return unicodedata.normalize("NFKC", text or "").lower()


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
    return lex


def clause_starts(text: str) -> list[int]:
    """Start offsets of the clauses; negation and expectation only reach within a clause."""
    return [0] + [m.end() for m in _CLAUSE_BREAK.finditer(text)]


def clause_start_of(starts: list[int], pos: int) -> int:
    best = 0
    for s in starts:
        if s > pos:
            break
        best = s
    return best


def is_negated(text: str, start: int, clause_start: int, end: int | None = None) -> bool:
    before = text[max(clause_start, start - 10):start]
    if _NEGATION.search(before) or _NEGATED_PHRASE.search(before):
        return True
    return end is not None and bool(_POST_NEGATION.match(text, end))


def strip_mentions(text: str) -> str:
    """Brand handles like @饿了吗 must not look like a question or a keyword to the cue detectors."""
    return _MENTION.sub(" @ ", text)


def find_hits(
    text: str, entries: list[tuple[re.Pattern[str], str, float, str]]
) -> list[Hit]:
    """All matches of all entries. An entry counts once per post (its first usable match is decided by the
    caller), so repeating a word ("快递……快递……") does not inflate the evidence."""
    hits = []
    by_char, always = _start_index(entries)
    candidates = set(always)
    # keys are one or two characters: a pattern that must start with "快递" is not even tried on a
    # post that has 快 but not 快递 (single characters like 不/没 start dozens of entries)
    for key in {*text, *(text[i:i + 2] for i in range(len(text) - 1))}:
        found = by_char.get(key)
        if found:
            candidates.update(found)
    for i in sorted(candidates):
        regex, kind, weight, label = entries[i]
        for m in regex.finditer(text):
            if m.group(0):
                hits.append(Hit(m.start(), m.group(0), m.end(), kind, weight, label, id(regex)))
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
    re.compile(
        r"(?:花了|损失了?|价值|值|扣了我?|付了|充了|充值了?|交了|赔|退还|多扣了?|骗了我?|被骗了?|转了|涨到|降了|"
        r"降价|贵了|补贴|返现|押金|定金|学费|会员费|房费|涉诉金额】|一共|共计|年费|费用|低|高出|总共|总计|收费|要收|收了|多了|扣|扣我|损失好)\s*" + _NUM + r"\s*(万|千)?"
    ),
    re.compile(_NUM + r"\s*(万|千)?\s*(?:多|余)?\s*(?:买的|买了|的东西|的装修|的表|的电视|的床垫)"),
    # "一千多的羽绒服", "……，一千多", "损失好几百": a bare number with 百/千/万 in a money-ish position
    re.compile(r"([一二两三四五六七八九几]+[百千万][一二两三四五六七八九]?)\s*(?:多|余)?\s*(?=的|呢|就|块|[，。！!]|$)"),
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


def extract_amounts(text: str) -> list[float]:
    """Money amounts in yuan mentioned in a normalised post, in order of appearance, de-duplicated."""
    found: dict[int, float] = {}
    taken: list[tuple[int, int]] = []  # spans already read, so "二十几万" is not also read as "几万"
    for regex in _AMOUNT_PATTERNS:
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


# ---- a prefilter: skip regexes whose first character cannot occur in the text -----------------
# ~150 lexicon regexes per post made classification cost ~250 µs; most cannot start anywhere in a
# given post, and the set of characters a pattern can start with is known from its syntax tree.

def first_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Characters any match must start with, or None when that cannot be bounded cheaply."""
    try:
        tree = _sre_parser.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - an unusual pattern just loses the prefilter
        return None
    if pattern.flags & re.IGNORECASE:
        return None
    found = _first_of(list(tree))
    return frozenset(found) if found is not None else None


def start_keys(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Like `first_chars`, but two-character prefixes where a branch starts with two literals."""
    try:
        tree = list(_sre_parser.parse(pattern.pattern, pattern.flags))
    except Exception:  # noqa: BLE001
        return None
    if pattern.flags & re.IGNORECASE:
        return None
    branches = [tree]
    if len(tree) == 1 and str(tree[0][0]) == "BRANCH":
        branches = [list(b) for b in tree[0][1][1]]
    keys: set[str] = set()
    for branch in branches:
        items = [(op, av) for op, av in branch if str(op) not in ("ASSERT", "ASSERT_NOT", "AT")]
        if len(items) >= 2 and str(items[0][0]) == "LITERAL" and str(items[1][0]) == "LITERAL":
            keys.add(chr(items[0][1]) + chr(items[1][1]))
            continue
        first = _first_of(branch)
        if first is None:
            return None
        keys |= first
    return frozenset(keys)


def _first_of(items: list) -> set[str] | None:
    out: set[str] = set()
    for index, (op, av) in enumerate(items):
        name = str(op)
        if name in ("ASSERT", "ASSERT_NOT", "AT"):
            continue  # zero-width: the match starts at the next item
        if name == "LITERAL":
            return out | {chr(av)}
        if name == "IN":
            chars = _class_chars(av)
            return None if chars is None else out | chars
        if name == "BRANCH":
            parts = [_first_of(list(branch)) for branch in av[1]]
            if any(p is None for p in parts):
                return None
            return out.union(*parts)
        if name == "SUBPATTERN":
            inner = _first_of(list(av[-1]))
            return None if inner is None else out | inner
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, item = av
            inner = _first_of(list(item))
            if inner is None:
                return None
            if low >= 1:
                return out | inner
            out |= inner  # optional: the match may also start with what follows
            rest = _first_of(items[index + 1:])
            return None if rest is None else out | rest
        return None
    return None  # everything was optional: the pattern may match the empty string


def _class_chars(av: list) -> set[str] | None:
    chars: set[str] = set()
    for op, value in av:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(value))
        elif name == "RANGE" and value[1] - value[0] <= 256:
            chars.update(chr(c) for c in range(value[0], value[1] + 1))
        else:
            return None
    return chars
