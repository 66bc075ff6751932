"""Multi-pattern matching for the complaint lexicon, built for thousands of posts per second.

A lexicon entry is an alternation of words ('漏水|渗水|漏油'). Python's `re` tries every alternative at every
position, so one 30-word entry costs as much as 30 searches, and ~200 entries per post made classification
cost well over 100 µs. Instead, each entry is split into its top-level alternatives once, at load time:

- a plain word (most of them) is found with `str.find`, which runs in C;
- a real regex alternative ('退款.{0,8}(没到|未到)', '(?<!系统)坏了') is compiled on its own.

Every alternative is keyed on the rarest character all its matches contain (a frequent one like 不 would
filter nothing), so a post only tries the alternatives whose key characters it contains: `probe_keys(post) &
keys` is one C-level intersection. English words are made of frequent letters, so they are keyed on their
first three letters instead and found where a word of the post starts with them ("refund" in "refunded").
"""

from __future__ import annotations

import re
import re._parser as _sre_parser
from typing import NamedTuple

# Characters frequent in posts: keying on them filters nothing. Cost 10 each; any other character costs 1.
_COMMON = frozenset(
    "etaonrisdlchmpguywfkbv 了的一不我说没个到投诉天是电家费就退有要还问用人好上时多都在题机后快三服会员款小开来"
    "月店收也手两里车扣金元卡十价下对次发递点修额这水客被子求大象半出号地换前货全看很买动现分年坏打已道行单涉送"
    "块面百过业心账"
)
_ZERO_WIDTH = ("ASSERT", "ASSERT_NOT", "AT")
_WORD = re.compile(r"[a-z]{3,}")
_PREFIX = 3  # letters of an English word a key is made of


def probe_keys(text: str) -> set[str]:
    """What a post offers the key index: its characters and the first letters of its English words."""
    keys = set(text)
    words = _WORD.findall(text)
    if words:
        keys.update([w[:_PREFIX] for w in words])
    return keys


def _word_key(word: str) -> set[str]:
    head = word[:_PREFIX]
    if len(head) == _PREFIX and head.isascii() and head.isalpha():
        return {head}
    return {min(word, key=lambda c: c in _COMMON)}  # the rarest character


def _regex_word_key(pattern: re.Pattern[str]) -> set[str] | None:
    """An English regex alternative ('lost (my )?package', '(nobody|no one) picks up') is keyed on the
    leading letters of the words it can start with."""
    try:
        items = list(_sre_parser.parse(pattern.pattern))
    except re.error:
        return None
    return _lead_words(items)


def _lead_words(items: list) -> set[str] | None:
    items = [(str(op), av) for op, av in items if str(op) not in _ZERO_WIDTH]
    if not items:
        return None
    op, av = items[0]
    if op == "LITERAL":
        head = "".join(chr(v) for o, v in items[:_PREFIX] if o == "LITERAL")
        if len(head) == _PREFIX and head.isascii() and head.isalpha():
            return {head}
        return None
    if op == "SUBPATTERN":
        inner = list(av[-1])
        return _lead_words(inner + [(o, v) for o, v in items[1:]]) if len(inner) < _PREFIX else _lead_words(inner)
    if op == "BRANCH":
        keys: set[str] = set()
        for branch in av[1]:
            found = _lead_words(list(branch) + items[1:])
            if found is None:
                return None
            keys |= found
        return keys
    return None


Found = tuple[int, int, int, int, str]  # entry (which pattern), start, order of the alternative, end, text


class _Alt(NamedTuple):
    entry: int
    order: int  # position of the alternative inside its entry: the first listed wins at equal start
    word: str | None  # a plain word, found with str.find ...
    regex: re.Pattern[str] | None  # ... or a regex alternative


class Matcher:
    """Finds the matches of a list of patterns in a text, trying only alternatives that can occur there."""

    def __init__(self, patterns: list[str]) -> None:
        alts: list[_Alt] = []
        by_key: dict[str, set[int]] = {}
        always: set[int] = set()
        for entry, pattern in enumerate(patterns):
            re.compile(pattern)  # a broken pattern fails here, naming itself
            for order, branch in enumerate(split_alternatives(pattern)):
                word = literal_text(branch)
                alt = _Alt(entry, order, word, None if word is not None else re.compile(branch))
                if word is not None:
                    keys: set[str] | frozenset[str] | None = _word_key(word)
                else:
                    keys = _regex_word_key(alt.regex) or key_chars(alt.regex)
                index = len(alts)
                alts.append(alt)
                if not keys:
                    always.add(index)
                for key in keys or ():
                    by_key.setdefault(key, set()).add(index)
        self._alts = tuple(alts)
        # the hot loop reads plain tuples: (word, entry, order, len(word)) for words, (regex, entry, order) else
        self._plan = tuple(
            (a.word, a.entry, a.order, len(a.word)) if a.word is not None else (a.regex, a.entry, a.order)
            for a in alts
        )
        self._by_key = {k: frozenset(v) for k, v in by_key.items()}
        self._keys = frozenset(by_key)
        self._always = frozenset(always)
        # A word has exactly one key, so find_all walks words key by key with no de-duplication; regexes may
        # have several keys and are collected as a set.
        words: dict[str, list[tuple[str, int, int, int]]] = {}
        regexes: dict[str, set[int]] = {}
        for key, ids in by_key.items():
            for i in sorted(ids):
                if alts[i].word is not None:
                    words.setdefault(key, []).append(self._plan[i])  # type: ignore[arg-type]
                else:
                    regexes.setdefault(key, set()).add(i)
        self._words = {k: tuple(v) for k, v in words.items()}
        self._word_keys = frozenset(words)
        self._regexes = {k: frozenset(v) for k, v in regexes.items()}
        self._regex_keys = frozenset(regexes)
        self._always_regexes = frozenset(i for i in always if alts[i].word is None)

    def _candidate_ids(self, chars: set[str] | frozenset[str]) -> frozenset[int]:
        by_key = self._by_key
        return self._always.union(*[by_key[k] for k in self._keys & chars])

    def _candidates(self, chars: set[str] | frozenset[str]) -> list[_Alt]:
        alts = self._alts
        return [alts[i] for i in self._candidate_ids(chars)]

    def find_all(self, text: str, chars: set[str] | frozenset[str] | None = None) -> list[Found]:
        """All matches as (entry, start, order, end, text), sorted: by entry, then position, then the order
        of the alternatives (tuples, not objects: this runs for every post).
        `chars` is probe_keys(text), when the caller already has it."""
        found: list[Found] = []
        append, find = found.append, text.find
        chars = probe_keys(text) if chars is None else chars
        words = self._words
        for key in self._word_keys & chars:
            for word, entry, order, size in words[key]:
                j = find(word)
                while j >= 0:
                    append((entry, j, order, j + size, word))
                    j = find(word, j + size)
        regexes, alts = self._regexes, self._alts
        for i in self._always_regexes.union(*[regexes[k] for k in self._regex_keys & chars]):
            alt = alts[i]
            for m in alt.regex.finditer(text):  # type: ignore[union-attr]
                start, end = m.span()
                if end > start:
                    append((alt.entry, start, alt.order, end, m.group(0)))
        found.sort()
        return found

    def first_each(self, text: str, chars: set[str] | frozenset[str]) -> dict[int, str]:
        """The leftmost match of every pattern that matches (ties: the first listed alternative)."""
        best: dict[int, tuple[int, int, str]] = {}
        find, words = text.find, self._words
        for key in self._word_keys & chars:
            for word, entry, order, _size in words[key]:
                i = find(word)
                if i >= 0 and (entry not in best or (i, order) < best[entry][:2]):
                    best[entry] = (i, order, word)
        regexes, alts = self._regexes, self._alts
        for j in self._always_regexes.union(*[regexes[k] for k in self._regex_keys & chars]):
            alt = alts[j]
            m = alt.regex.search(text)  # type: ignore[union-attr]
            if m is not None and (alt.entry not in best or (m.start(), alt.order) < best[alt.entry][:2]):
                best[alt.entry] = (m.start(), alt.order, m.group(0))
        return {entry: hit[2] for entry, hit in best.items()}

    def first(self, text: str, chars: set[str] | frozenset[str]) -> str | None:
        """The leftmost match of any pattern (ties: the first listed alternative), or None."""
        best: tuple[int, int, int, str] | None = None
        for alt in self._candidates(chars):
            if alt.word is not None:
                i = text.find(alt.word)
                hit = (i, alt.entry, alt.order, alt.word) if i >= 0 else None
            else:
                m = alt.regex.search(text)
                hit = (m.start(), alt.entry, alt.order, m.group(0)) if m else None
            if hit is not None and (best is None or hit < best):
                best = hit
        return best[3] if best else None


def split_alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern ('a|b(c|d)|e' -> ['a', 'b(c|d)', 'e'])."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":  # '[]...]': a leading ] is a member
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def literal_text(branch: str) -> str | None:
    """The plain text a regex alternative stands for, or None when it uses any regex feature."""
    if not branch:
        return None
    try:
        items = list(_sre_parser.parse(branch))
    except re.error:
        return None
    if all(str(op) == "LITERAL" for op, _av in items):
        return "".join(chr(av) for _op, av in items)
    return None


def _cost(chars: set[str]) -> int:
    """Single frequent characters cost 10, other characters and word prefixes 1."""
    return sum(10 if c in _COMMON else 1 for c in chars)


def key_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """A set of characters at least one of which occurs in every match, or None when there is none to find
    cheaply (the pattern then runs on every post)."""
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        tree = list(_sre_parser.parse(pattern.pattern, pattern.flags))
    except re.error:
        return None
    found = _required(tree)
    return frozenset(found) if found else None


def _required(items: list, word_start: bool = True) -> set[str] | None:
    """The cheapest key set one of which every match of this sequence contains: characters, or the first
    three letters of an English word that must start at a word boundary (`word_start`: this sequence does)."""
    best: set[str] | None = None
    items = list(items)
    for k, (op, av) in enumerate(items):
        name = str(op)
        if name in _ZERO_WIDTH:
            continue
        here = word_start if k == 0 else _boundary_before(items[k - 1])
        chars: set[str] | None = None
        if name == "LITERAL":
            run = "".join(chr(v) for o, v in items[k:k + _PREFIX] if str(o) == "LITERAL")
            if here and len(run) == _PREFIX and run.isascii() and run.isalpha():
                chars = {run}
            else:
                chars = {chr(av)}
        elif name == "IN":
            chars = _class_chars(av)
        elif name == "BRANCH":
            parts = [_required(list(branch), here) for branch in av[1]]
            chars = None if any(not p for p in parts) else set().union(*parts)
        elif name == "SUBPATTERN":
            chars = _required(list(av[-1]), here)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] >= 1:
            chars = _required(list(av[2]), here)
        if chars and (best is None or _cost(chars) < _cost(best)):
            best = chars
    return best


def _boundary_before(item: tuple) -> bool:
    """Whether a word can only start right after this item: a space, punctuation or a \\b."""
    op, av = str(item[0]), item[1]
    return (op == "LITERAL" and not chr(av).isalnum()) or op == "AT"


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
