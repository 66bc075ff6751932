"""Multi-pattern matching for the complaint lexicon, built for thousands of posts per second.

A lexicon entry is an alternation of words ('漏水|渗水|漏油'). Python's `re` tries every alternative at every
position, so one 30-word entry costs as much as 30 searches, and ~200 entries per post made classification
cost well over 100 µs. Instead, each entry is split into its top-level alternatives once, at load time:

- the plain words (most of them) go into one Aho-Corasick automaton (`ahocorasick_rs`, a DFA), which finds
  every occurrence of all of them in one pass over the post, in native code;
- a real regex alternative ('退款.{0,8}(没到|未到)', '(?<!系统)坏了') is compiled on its own.

English words are made of frequent letters, so they are keyed on their first three letters and count only
in posts where a word starts with them: `probe_keys(post)` gives those first letters, and a word the
automaton finds counts only when the post offers its key. (A Chinese word is keyed on a character it
contains, so it needs no such check.) An English word, or a match of an English regex, also counts only
as words of the post, whole or inflected (`english_word_at`: "refund" in "refunded", "stop" in "stopped"),
not inside another word ("fee" in "feels" or "coffee", "new app" in "new apple").

A regex alternative lists the strings one of which each of its matches contains (`required_strings`:
'(加|收|扣)了…' needs 加了, 收了 or 扣了, else the rarest characters it needs, `key_chars`); the automaton
looks for them too, and the regex runs only where one occurs. That is a necessary condition of a match, so it
changes no result; only an English regex keyed on the words it starts with ('lost (my )?package') also needs
the post to offer one of those keys, as a word would.
"""

from __future__ import annotations

import functools
import re
import re._parser as _sre_parser
from typing import NamedTuple

import ahocorasick_rs

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
    """What a post offers the word keys: the first letters of its English words. (The key characters of
    Chinese words need no probing: a word contains its key, and the automaton sees the word itself.)"""
    return {w[:_PREFIX] for w in _WORD.findall(text)}


# What may follow an English word or stem of the lexicon inside one word of the post: inflections, and the
# endings the lexicon's stems are written for ("overcharg" -> overcharge, "injur" -> injury, "impersonat" ->
# impersonation, "fraud" -> fraudulent). Not any letters: "fee" must not match "feels", nor "app" "apple".
_INFLECTIONS = frozenset(("", "s", "es", "e", "d", "ed", "ing", "er", "ers", "or", "ors", "ly", "y", "ies", "ied",
                          "n", "en", "ion", "ions", "ation", "ations", "ment", "ments", "ity", "able", "ulent"))


def english_word_at(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] (an English word, stem or phrase of the lexicon) begins a word of `text` and the
    word goes on by at most one of `_INFLECTIONS`, the last letter doubled before one ("stopped") included."""
    if start > 0 and text[start - 1].isascii() and text[start - 1].isalpha():
        return False
    stop = end
    while stop < len(text) and text[stop].isascii() and text[stop].isalpha():
        stop += 1
    rest = text[end:stop]
    return rest in _INFLECTIONS or (len(rest) > 1 and rest[0] == text[end - 1] and rest[1:] in _INFLECTIONS)


def _word_key(word: str) -> set[str]:
    head = word[:_PREFIX]
    if len(head) == _PREFIX and head.isascii() and head.isalpha():
        return {head}
    return {min(word, key=lambda c: c in _COMMON)}  # the rarest character


def regex_lead_words(pattern: re.Pattern[str]) -> set[str] | None:
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
    """A regex alternative."""

    entry: int
    order: int  # position of the alternative inside its entry: the first listed wins at equal start
    regex: re.Pattern[str]


class Matcher:
    """Finds the matches of a list of patterns in a text, trying only alternatives that can occur there."""

    def __init__(self, patterns: list[str]) -> None:
        words: dict[str, tuple[str, list[tuple[int, int]]]] = {}  # word -> (its gate, [(entry, order)])
        needed: dict[str, set[int]] = {}  # string -> the regexes that need it
        alts: list[_Alt] = []
        gates: dict[int, frozenset[str]] = {}  # regex -> the lead-word keys it only runs with
        always: set[int] = set()  # regexes without any string they need: they run on every post (gates apply)
        for entry, pattern in enumerate(patterns):
            re.compile(pattern)  # a broken pattern fails here, naming itself
            for order, branch in enumerate(split_alternatives(pattern)):
                word = literal_text(branch)
                if word is not None:
                    (key,) = _word_key(word)
                    gate = key if len(key) == _PREFIX else ""  # a key character is in the word: no gate
                    words.setdefault(word, (gate, []))[1].append((entry, order))
                    continue
                index, regex = len(alts), re.compile(branch)
                alts.append(_Alt(entry, order, regex))
                lead = regex_lead_words(regex)
                if lead:  # not a necessary condition but the pattern's meaning: 'lost …' where a word starts
                    gates[index] = frozenset(lead)
                # the key characters (or letters) are a weaker necessary condition, where there is no better
                strings = required_strings(regex) or (None if lead else key_chars(regex))
                for string in strings or ():
                    needed.setdefault(string, set()).add(index)
                if not strings:
                    always.add(index)
        self._entries = len(patterns)
        self._alts = tuple(alts)
        self._gates = gates
        self._always = frozenset(always)
        strings = sorted(words.keys() | needed.keys())
        # per string, plain tuples read in the hot loop: (word, gate, overlaps itself, alternatives, regexes)
        self._strings: list[tuple[str, str, bool, tuple[tuple[int, int], ...], frozenset[int]]] = []
        for string in strings:
            gate, where = words.get(string, ("", []))
            self._strings.append((string, gate, _overlaps_itself(string), tuple(where), frozenset(needed.get(string, ()))))
        # a DFA: a few µs per post where a trie walk took ~10 (every character tried at a root of ~1,000 children)
        self._automaton = ahocorasick_rs.AhoCorasick(strings, implementation=ahocorasick_rs.Implementation.DFA) \
            if strings else None

    def _scan(self, text: str, chars: set[str] | frozenset[str]) -> tuple[list[tuple], set[int]]:
        """One pass of the automaton: (start, end, word, alternatives) of every counting word occurrence, by
        end position, and the regexes worth running. A word that overlaps itself ("哈哈" in "哈哈哈") is read
        as successive str.find calls read it: each occurrence after the previous one. `chars`: the post's
        `probe_keys`, for the gates on English words."""
        hits: list[tuple] = []
        regexes: set[int] = set()
        if self._automaton is not None:
            after: dict[str, int] = {}
            strings = self._strings
            for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
                word, gate, overlaps, where, needers = strings[index]
                if needers:
                    regexes |= needers
                if not where or (gate and gate not in chars):
                    continue
                if overlaps:
                    if start < after.get(word, 0):
                        continue
                    after[word] = end
                if gate and not english_word_at(text, start, end):
                    continue
                hits.append((start, end, word, where))
        regexes |= self._always
        if regexes and self._gates:
            regexes = {i for i in regexes if i not in self._gates or not self._gates[i].isdisjoint(chars)}
        return hits, regexes

    def read(self, text: str, chars: set[str] | frozenset[str],
             first_from: int) -> tuple[list[Found], dict[int, str]]:
        """One pass for patterns read two ways: entries below `first_from` as `find_all` reads them, the others
        as `first_each` does. The lexicon keeps its evidence, grade and cue patterns in one matcher, so a post
        is scanned once for all three."""
        hits, regexes = self._scan(text, chars)
        found: list[Found] = []
        best: dict[int, tuple[int, int, str]] = {}
        for start, end, word, where in hits:
            for entry, order in where:
                if entry < first_from:
                    found.append((entry, start, order, end, word))
                elif entry not in best or (start, order) < best[entry][:2]:
                    best[entry] = (start, order, word)
        alts, english = self._alts, self._gates
        for i in regexes:
            alt = alts[i]
            if alt.entry < first_from:
                for m in alt.regex.finditer(text):
                    start, end = m.span()
                    if end > start and (i not in english or english_word_at(text, start, end)):
                        found.append((alt.entry, start, alt.order, end, m.group(0)))
            else:
                m = alt.regex.search(text) if i not in english else next(
                    (m for m in alt.regex.finditer(text) if english_word_at(text, m.start(), m.end())), None)
                if m is not None and (alt.entry not in best or (m.start(), alt.order) < best[alt.entry][:2]):
                    best[alt.entry] = (m.start(), alt.order, m.group(0))
        found.sort()
        return found, {entry: hit[2] for entry, hit in best.items()}

    def find_all(self, text: str, chars: set[str] | frozenset[str] | None = None) -> list[Found]:
        """All matches as (entry, start, order, end, text), sorted: by entry, then position, then the order
        of the alternatives (tuples, not objects: this runs for every post).
        `chars` is probe_keys(text), when the caller already has it."""
        return self.read(text, probe_keys(text) if chars is None else chars, self._entries)[0]

    def first_each(self, text: str, chars: set[str] | frozenset[str]) -> dict[int, str]:
        """The leftmost match of every pattern that matches (ties: the first listed alternative)."""
        return self.read(text, chars, 0)[1]

    def first(self, text: str, chars: set[str] | frozenset[str]) -> str | None:
        """The leftmost match of any pattern (ties: the first listed alternative), or None."""
        hits, regexes = self._scan(text, chars)
        found = [(start, entry, order, word) for start, _end, word, where in hits for entry, order in where]
        for i in regexes:
            alt = self._alts[i]
            m = alt.regex.search(text)
            if m is not None:
                found.append((m.start(), alt.entry, alt.order, m.group(0)))
        return min(found)[3] if found else None


class Prefilter:
    """Which of a few regexes can match a text: those one of whose `required_strings` occurs (found in one
    pass of an automaton) and those without any."""

    def __init__(self, patterns: list[re.Pattern[str]]) -> None:
        needs = [required_strings(p) for p in patterns]
        self._always = frozenset(i for i, need in enumerate(needs) if not need)
        strings = sorted({s for need in needs for s in need or ()})
        self._users = [frozenset(i for i, need in enumerate(needs) if need and s in need) for s in strings]
        self._automaton = ahocorasick_rs.AhoCorasick(strings, implementation=ahocorasick_rs.Implementation.DFA) \
            if strings else None

    def candidates(self, text: str) -> set[int]:
        found = set(self._always)
        if self._automaton is not None:
            for index, _start, _end in self._automaton.find_matches_as_indexes(text, overlapping=True):
                found |= self._users[index]
        return found


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


@functools.cache  # the lexicon's matchers share most of their alternatives
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


# ---- strings a regex cannot match without ---------------------------------------------------------
_MAX_EXPANSIONS = 16  # a run of items spelling more strings than this is not worth listing


def required_strings(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings one of which every match of `pattern` contains ('(加|收|扣)了[^，]{0,6}钱' -> 加了, 收了, 扣了),
    the rarest such set found, or None when there is none (case-insensitive patterns have none)."""
    return _required_strings_of(pattern.pattern, pattern.flags)


@functools.cache  # the lexicon's matchers share most of their patterns
def _required_strings_of(pattern: str, flags: int) -> tuple[str, ...] | None:
    if flags & re.IGNORECASE:
        return None
    try:
        tree = list(_sre_parser.parse(pattern, flags))
    except re.error:
        return None
    found = _required_strings(tree)
    return tuple(sorted(found, key=len, reverse=True)) if found else None


def _string_cost(strings: set[str]) -> float:
    """What a filter costs per post: an `in` test per string, plus a regex run (~10 tests) as often as it
    lets a post through. A frequent character is in nearly every post, a rare one in few, and each further
    character of a string makes it rarer still (a rough guess: it only has to rank the candidates)."""
    passes = 0.0
    for string in strings:
        share = 0.3 ** (len(string) - 1)
        for char in string:
            share *= 0.9 if char in _COMMON else 0.1
        passes += share
    return len(strings) + 10 * passes


def _minimal(strings: set[str]) -> set[str]:
    """Drop the strings that contain another one: '吗' already covers '吗？'."""
    return {s for s in strings if not any(t != s and t in s for t in strings)}


def _required_strings(items: list) -> set[str] | None:
    """The cheapest set of strings one of which every match of this sequence contains. Candidates: every
    run of consecutive items that spell only a few strings (all their concatenations), and every branch or
    repeated group whose parts all have such a set."""
    best: set[str] | None = None

    def consider(candidate: set[str] | None) -> None:
        nonlocal best
        if candidate and "" not in candidate:
            candidate = _minimal(candidate)
            if best is None or _string_cost(candidate) < _string_cost(best):
                best = candidate

    spelled = [_spellings(str(op), av) for op, av in items]
    for i in range(len(items)):
        run: set[str] = {""}
        for part in spelled[i:]:
            if part is None or len(run) * len(part) > _MAX_EXPANSIONS:
                break
            run = {a + b for a in run for b in part}
            consider(run)
    for op, av in items:
        name = str(op)
        if name == "BRANCH":
            parts = [_required_strings(list(branch)) for branch in av[1]]
            consider(None if any(not p for p in parts) else set().union(*parts))  # type: ignore[arg-type]
        elif name == "SUBPATTERN":
            consider(_required_strings(list(av[-1])))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] >= 1:
            consider(_required_strings(list(av[2])))
    return best


def _spellings(name: str, av) -> set[str] | None:
    """Every string this one item can match, when they are few (zero-width items match ""), or None."""
    if name == "LITERAL":
        return {chr(av)}
    if name in _ZERO_WIDTH:
        return {""}
    if name == "IN":
        chars = _class_chars(av)
        return chars if chars is not None and len(chars) <= _MAX_EXPANSIONS else None
    if name == "SUBPATTERN":
        return _sequence_spellings(list(av[-1]))
    if name == "BRANCH":
        spelled: set[str] = set()
        for branch in av[1]:
            part = _sequence_spellings(list(branch))
            if part is None or len(spelled | part) > _MAX_EXPANSIONS:
                return None
            spelled |= part
        return spelled
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] == 0 and av[1] == 1:
        inner = _sequence_spellings(list(av[2]))
        return None if inner is None else inner | {""}
    return None


def _sequence_spellings(items: list) -> set[str] | None:
    spelled: set[str] = {""}
    for op, av in items:
        part = _spellings(str(op), av)
        if part is None or len(spelled) * len(part) > _MAX_EXPANSIONS:
            return None
        spelled = {a + b for a in spelled for b in part}
    return spelled


def _overlaps_itself(word: str) -> bool:
    return any(word[:k] == word[-k:] for k in range(1, len(word)))
