"""Brand matching with boolean keyword rules.

Rule syntax (parsed by a tiny recursive-descent parser, never ``eval``)::

    expr  := or
    or    := and ("OR" and)*
    and   := not (["AND"] not)*          # adjacent operands are implicitly ANDed
    not   := "NOT" not | atom
    atom  := "(" expr ")" | '"' phrase '"' | term

Operators must be written in upper case so that lower-case "and"/"or" can still be
searched for as ordinary words.  A bare ``term`` is any run of characters other than
whitespace, parentheses and double quotes.  ``小米 汽车`` means 小米 AND 汽车 anywhere in the
text, whereas the phrase ``"小米 汽车"`` requires the parts to be adjacent; between two CJK
parts whitespace is optional (Chinese is written without spaces), between two Latin parts
at least one whitespace character is required.

Matching is case-insensitive.  Terms whose edges are Latin letters or digits only match
at token boundaries: a letter edge must not touch another Latin letter and a digit edge
must not touch another digit, so ``MI`` does not fire inside ``MIUI`` or ``xiaomi`` while
``iPhone`` still matches ``iPhone15``.

Exclusions: an exclusion that is a single term or phrase *masks* its occurrences (any
brand keyword occurrence overlapping it is ignored), so "喝着小米粥刷小米手机" still matches
xiaomi through the second 小米.  An exclusion that is a boolean expression vetoes the
brand for the whole text whenever it is true.  A rule only produces a match through a
keyword that is present (``NOT 华为`` alone never matches); ``BrandMatch.keywords`` lists the
present names and positive rule keywords in order of first occurrence.

The text is read as a person reads it: full-width letters and digits (``ＸＩＡＯＭＩ``) are folded and
Traditional characters (``monitor.enrich.hanzi``) are read as Simplified, so a post from Taiwan that
writes 極光優選 is about 极光优选. A CamelCase hashtag is read as its words too (#XiaomiSU7 names
Xiaomi). What only looks like words names nothing: a link (``t.cn/xiaomi8`` is a short link's code,
``https://www.apple.com/cn`` a page; a bare domain such as mi.com is left to be read), an e-mail address and an @handle are blanked before matching, except a
handle that is one of a brand's names, alone or with an official account's suffix (@小米客服,
@AuroraSelectHelp): a post addressed to the brand is about it, while @苹果妹妹 is a person. To count
another of the brand's accounts, add its handle to the brand's names.

An exclusion written as plain words (``apple pie``) is a phrase, as a name is; only one with
operators, parentheses or quotes is a boolean expression.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.enrich.hanzi import simplified

__all__ = ["BrandMatch", "BrandMatcher", "BrandRule"]

# What looks like words but names nothing: links (to the next space or Han character: Weibo glues them
# to the text), e-mail addresses, @handles.
_NOT_NAMING = re.compile(
    r"(?:https?://|www\.|\bt\.cn/)[^\s\u4e00-\u9fff]*"
    r"|(?<![\w.+-])[a-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+|@(?P<handle>[\w\u4e00-\u9fff\-]{1,30})",
    re.IGNORECASE,
)
# A handle that is the brand's name with one of these after it is one of the brand's own accounts.
OFFICIAL_SUFFIXES = ("", "客服", "官方", "官微", "售后", "服务", "旗舰店", "help", "support", "care", "cares",
                     "service", "official", "cn", "china", "global")
# Full-width letters and digits (ＸＩＡＯＭＩ, ｉＰｈｏｎｅ１５) as their ASCII forms; the rest of NFKC (full-width
# punctuation, in most Chinese posts) changes no name and would cost more than the matching.
_FULL_WIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_TO_HALF_WIDTH = {c: c - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
                  for c in range(r[0], r[1] + 1)}
_CAMEL_HASHTAG = re.compile(r"#([A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])")


@dataclass(frozen=True)
class BrandRule:
    brand: str
    names: tuple[str, ...]
    rules: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrandMatch:
    brand: str
    keywords: tuple[str, ...]


# --- AST -------------------------------------------------------------------------------
# Nodes are plain tuples to keep evaluation cheap:
#   ("atom", atom_id) | ("not", node) | ("and", (nodes...)) | ("or", (nodes...))
Node = tuple


class _RuleSyntaxError(ValueError):
    pass


_TOKEN_RE = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|"(?P<phrase>[^"]*)(?P<closed>")?|(?P<word>[^\s()"]+))')
_OPERATORS = {"AND", "OR", "NOT"}
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        assert m is not None  # the word alternative accepts any non-space character
        start = pos + len(m.group(0)) - len(m.group(0).lstrip())
        if m.group("lp"):
            tokens.append(("(", "(", start))
        elif m.group("rp"):
            tokens.append((")", ")", start))
        elif m.group("phrase") is not None:
            if m.group("closed") is None:
                raise _RuleSyntaxError(f"unterminated quote at position {start}")
            if not m.group("phrase").strip():
                raise _RuleSyntaxError(f"empty phrase at position {start}")
            tokens.append(("phrase", m.group("phrase"), start))
        else:
            word = m.group("word")
            tokens.append((word if word in _OPERATORS else "term", word, start))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, intern_atom) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.intern_atom = intern_atom

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _where(self) -> int:
        tok = self._peek()
        return tok[2] if tok else len(self.text)

    def parse(self) -> Node:
        if not self.tokens:
            raise _RuleSyntaxError("empty rule at position 0")
        node = self._or()
        tok = self._peek()
        if tok is not None:
            raise _RuleSyntaxError(f"unexpected {tok[1]!r} at position {tok[2]}")
        return node

    def _or(self) -> Node:
        parts = [self._and()]
        while (tok := self._peek()) and tok[0] == "OR":
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def _and(self) -> Node:
        parts = [self._not()]
        while (tok := self._peek()) and tok[0] in ("AND", "NOT", "(", "phrase", "term"):
            if tok[0] == "AND":
                self.i += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def _not(self) -> Node:
        tok = self._peek()
        if tok and tok[0] == "NOT":
            self.i += 1
            return ("not", self._not())
        return self._atom()

    def _atom(self) -> Node:
        tok = self._peek()
        if tok is None:
            raise _RuleSyntaxError(f"expected a term at end of rule (position {len(self.text)})")
        kind, value, pos = tok
        if kind == "(":
            self.i += 1
            node = self._or()
            close = self._peek()
            if close is None or close[0] != ")":
                raise _RuleSyntaxError(f"missing ')' for '(' at position {pos}")
            self.i += 1
            return node
        if kind in ("phrase", "term"):
            self.i += 1
            return ("atom", self.intern_atom(value.split() if kind == "phrase" else [value]))
        raise _RuleSyntaxError(f"expected a term but found {value!r} at position {pos}")


# --- atom compilation ---------------------------------------------------------------------
def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _edge_guard(ch: str, before: bool) -> str:
    if _is_latin(ch):
        cls = "[A-Za-z]"
    elif ch.isascii() and ch.isdigit():
        cls = "[0-9]"
    else:
        return ""
    return f"(?<!{cls})" if before else f"(?!{cls})"


def _atom_body(parts: Sequence[str]) -> str:
    body = re.escape(parts[0])
    for prev, nxt in zip(parts, parts[1:], strict=False):
        both_latin = prev[-1].isascii() and prev[-1].isalnum() and nxt[0].isascii() and nxt[0].isalnum()
        body += (r"\s+" if both_latin else r"\s*") + re.escape(nxt)
    return body


def _eval(node: Node, present: set[int] | frozenset[int]) -> bool:
    kind = node[0]
    if kind == "atom":
        return node[1] in present
    if kind == "not":
        return not _eval(node[1], present)
    if kind == "and":
        return all(_eval(n, present) for n in node[1])
    return any(_eval(n, present) for n in node[1])


def _positive_atoms(node: Node, negated: bool = False) -> set[int]:
    kind = node[0]
    if kind == "atom":
        return set() if negated else {node[1]}
    if kind == "not":
        return _positive_atoms(node[1], not negated)
    out: set[int] = set()
    for child in node[1]:
        out |= _positive_atoms(child, negated)
    return out


@dataclass
class _CompiledBrand:
    brand: str
    name_atoms: tuple[int, ...]
    rules: tuple[Node, ...]
    rule_keywords: tuple[frozenset[int], ...]
    mask_atoms: frozenset[int]
    veto_rules: tuple[Node, ...]
    relevant: frozenset[int]


class BrandMatcher:
    """Compiles all brand rules once; ``match`` does one combined regex scan per text."""

    def __init__(self, rules: Sequence[BrandRule]) -> None:
        self._atom_ids: dict[tuple[str, ...], int] = {}
        self._atom_text: list[str] = []
        self._brands: list[_CompiledBrand] = []
        self._handles: dict[str, str] = {}  # the brands' own accounts, to the name each is (module docstring)
        for rule in rules:
            self._brands.append(self._compile_brand(rule))
        self._build_scanner()

    def _intern(self, parts: Sequence[str]) -> int:
        key = tuple(simplified(p).lower() for p in parts)  # a name written in Traditional matches either way
        if key not in self._atom_ids:
            self._atom_ids[key] = len(self._atom_text)
            self._atom_text.append(" ".join(parts))
        return self._atom_ids[key]

    def _parse(self, brand: str, text: str) -> Node:
        try:
            return _Parser(text, self._intern).parse()
        except _RuleSyntaxError as exc:
            raise ValueError(f"brand {brand!r}: bad rule {text!r}: {exc}") from None

    def _compile_brand(self, rule: BrandRule) -> _CompiledBrand:
        names = []
        for name in rule.names:
            if not name.split():
                raise ValueError(f"brand {rule.brand!r}: empty name")
            names.append(self._intern(name.split()))
        trees = tuple(self._parse(rule.brand, r) for r in rule.rules)
        masks: set[int] = set()
        vetoes: list[Node] = []
        for excl in rule.exclusions:
            # plain words are a phrase ("apple pie"), as a name is: not apple AND pie anywhere in the text
            plain = not re.search(r'[()"]', excl) and not _OPERATORS & set(excl.split())
            tree = ("atom", self._intern(excl.split())) if plain and excl.split() else self._parse(rule.brand, excl)
            if tree[0] == "atom":
                masks.add(tree[1])
            else:
                vetoes.append(tree)
        rule_keywords = tuple(frozenset(_positive_atoms(t)) for t in trees)
        # A brand can only match through a name or a rule's positive keyword, so only those
        # atoms make it worth evaluating the brand for a text.
        relevant = frozenset(names).union(*rule_keywords)
        self._handles.update({("".join(simplified(n).lower().split()) + suffix).replace("_", "").replace("-", ""): n
                              for n in rule.names for suffix in OFFICIAL_SUFFIXES})
        return _CompiledBrand(
            brand=rule.brand,
            name_atoms=tuple(dict.fromkeys(names)),
            rules=trees,
            rule_keywords=rule_keywords,
            mask_atoms=frozenset(masks),
            veto_rules=tuple(vetoes),
            relevant=relevant,
        )

    def _build_scanner(self) -> None:
        # The combined regex only locates candidate start positions; because Python's re
        # cannot report overlapping matches, every atom sharing the first character is then
        # confirmed with its own anchored regex.  Hits are rare, so this stays cheap.
        self._atom_re: list[re.Pattern[str]] = []
        self._by_first: dict[str, list[int]] = {}
        bodies = []
        for atom_id, key in sorted(((i, k) for k, i in self._atom_ids.items())):
            body = _atom_body(key)
            guarded = _edge_guard(key[0][0], True) + body + _edge_guard(key[-1][-1], False)
            self._atom_re.append(re.compile(guarded))
            self._by_first.setdefault(key[0][0], []).append(atom_id)
            bodies.append(body)
        bodies.sort(key=len, reverse=True)
        # No re.IGNORECASE: it defeats sre's first-character skip and makes the scan ~7x
        # slower, so the text is lower-cased instead (atoms are interned lower-case).
        self._scanner = re.compile("|".join(bodies)) if bodies else None
        self._atom_brands: list[list[int]] = [[] for _ in self._atom_text]
        for brand_idx, cb in enumerate(self._brands):
            for atom_id in cb.relevant:
                self._atom_brands[atom_id].append(brand_idx)

    def _occurrences(self, text: str) -> dict[int, list[tuple[int, int]]]:
        found: dict[int, list[tuple[int, int]]] = {}
        if self._scanner is None:
            return found
        lowered = text.lower()
        if len(lowered) != len(text):  # e.g. "İ" lower-cases to two code points; keep offsets
            lowered = text.translate(_ASCII_LOWER)
        text = lowered
        search = self._scanner.search
        pos = 0
        while (m := search(text, pos)) is not None:
            start = m.start()
            for atom_id in self._by_first.get(text[start], ()):
                am = self._atom_re[atom_id].match(text, start)
                if am is not None:
                    found.setdefault(atom_id, []).append((start, am.end()))
            pos = start + 1
        return found

    def _unnamed(self, m: re.Match[str]) -> str:
        handle = m.group("handle")
        name = self._handles.get(handle.lower().replace("_", "").replace("-", "")) if handle is not None else None
        return f" {name} " if name is not None else " " * len(m.group(0))  # @AuroraSelect names Aurora Select

    def readable(self, text: str) -> str:
        """`text` as matching reads it: half-width letters, Simplified, links/e-mails/other handles blanked, hashtags' words."""
        if _FULL_WIDTH.search(text):
            text = text.translate(_TO_HALF_WIDTH)
        text = simplified(text)  # 極光優選 is 极光优选: one character for one
        if "@" in text or "//" in text or "www." in text or "t.cn/" in text:
            text = _NOT_NAMING.sub(self._unnamed, text)
        if "#" in text:
            words = [_CAMEL.sub(" ", h) for h in _CAMEL_HASHTAG.findall(text)]
            if words:
                text = f"{text} {' '.join(words)}"
        return text

    def match(self, text: str) -> list[BrandMatch]:
        occ = self._occurrences(self.readable(text))
        if not occ:
            return []
        raw_present = occ.keys()
        results: list[BrandMatch] = []
        candidates = {b for a in raw_present for b in self._atom_brands[a]}
        for brand_idx in sorted(candidates):
            cb = self._brands[brand_idx]
            if any(_eval(v, raw_present) for v in cb.veto_rules):
                continue
            present = self._mask(occ, cb) if cb.mask_atoms else set(raw_present)
            keywords = {a for a in cb.name_atoms if a in present}
            for tree, kws in zip(cb.rules, cb.rule_keywords, strict=True):
                if _eval(tree, present):
                    keywords |= kws & present
            if keywords:
                ordered = sorted(keywords, key=lambda a: occ[a][0][0])
                results.append(BrandMatch(cb.brand, tuple(self._atom_text[a] for a in ordered)))
        return results

    @staticmethod
    def _mask(occ: dict[int, list[tuple[int, int]]], cb: _CompiledBrand) -> set[int]:
        spans = [s for a in cb.mask_atoms for s in occ.get(a, ())]
        if not spans:
            return set(occ)
        present = set()
        for atom_id, hits in occ.items():
            if atom_id in cb.mask_atoms:
                continue
            if any(all(e <= ms or s >= me for ms, me in spans) for s, e in hits):
                present.add(atom_id)
        return present
