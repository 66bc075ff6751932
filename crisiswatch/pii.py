"""PII masking for post text before storage, in alerts and in dead letters.

Kinds (keys of ``MaskResult.found``) and how they are masked:

* ``email``     ``alice@qq.com``            -> ``a***@qq.com``
* ``order_no``  ``订单号：SF1234567890``      -> ``订单号：[订单号]`` (keyword kept, code replaced)
* ``id_card``   18-character resident ID  -> ``110***********123X``
* ``bank_card`` 16-19 digits passing Luhn -> ``6222*********1234``
* ``phone``     mainland mobile 1[3-9]x, 3-4-4/4-3-4 with spaces/dashes/dots, +86/0086 -> ``138****5678``
* ``address``   street part after a 市/区/县 (…路12号3栋2单元501室, …小区…) -> ``[地址]``;
                province/city/district stay visible so alerts keep their geography.
                Building/unit/room details without a street (``3栋2单元501室``) are masked too.

ID cards: an 18-character string whose region, birth date and length look like an ID is
masked even when its checksum fails, because a mistyped ID is still nearly identifying.
The checksum decides only the ambiguous case of an ID-shaped 18-digit number that also
passes Luhn: checksum valid -> ``id_card``, else -> ``bank_card`` (both get masked anyway).
Old 15-digit IDs, landlines and 400/800 hotlines are deliberately not masked.

Ordinary numbers survive: digit patterns require digit boundaries and exact shapes, so
prices (2999元), dates (2025-06-14), times, model names (iPhone 15, SU7), counts (1.2万) and
long numbers that fail Luhn and do not look like an ID are left alone.

Ways of writing that do not change what a number is are seen through. Matching runs on a folded
view of the text: full-width and other compatibility forms that NFKC turns into one ASCII digit,
letter, ``@ + - .`` or space (``１３８``, ``Ｘ``, ``＠``, the ideographic space, 𝟏𝟑𝟖) are read as
that character, and each match is masked at the same place in the text as written (the fold keeps
every character's position, so the rest of the text is untouched). Separators between digit groups
are read in the groupings people write: phones 3-4-4 and 4-3-4 with a space, dash or dot
(``138.1234.5678``, ``1381 234 5678``), IDs 6-8-4 and 6-4-4-4 (``110105 19491231 002X``), cards
4-4-4-4. Separators are not dropped wholesale: that would read a date and a phone written side by
side as one long number, and a date range (2025.06.14-2025.06.20) as a 16-digit card. A Latin letter
glued to a number still keeps it from being masked (``SF1381234567890``, ``编号A13812345678`` are
codes), except a phone keyword (``Tel13812345678``, ``phone``, ``mobile``, ``wx``, ``vx`` …) and
``ID`` before an ID number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EXTRA_IDENTIFIER_KEYS", "IDENTIFIER_KEYS", "MaskResult", "id_checksum_ok", "luhn_ok", "mask", "mask_values"]


@dataclass(frozen=True)
class MaskResult:
    text: str
    found: dict[str, int] = field(default_factory=dict)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(value: str) -> bool:
    """GB 11643 checksum of an 18-character resident ID number."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _fold_table() -> dict[int, str]:
    """Characters NFKC reads as one ASCII character the patterns care about, mapped to it."""
    wanted = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@+-. ")
    blocks = ((0xA0, 0x100), (0x2000, 0x2100), (0x2460, 0x2500), (0x3000, 0x3001), (0xFE50, 0xFE70),
              (0xFF00, 0xFF60), (0x1D400, 0x1D800), (0x1F100, 0x1F1A0))
    table = {}
    for start, end in blocks:
        for cp in range(start, end):
            folded = unicodedata.normalize("NFKC", chr(cp))
            if len(folded) == 1 and folded in wanted and folded != chr(cp):
                table[cp] = folded
    table.update(dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-"))  # dashes
    return table


_FOLD = _fold_table()


def _char_class(cps: list[int]) -> str:
    """A regex class of these code points, consecutive ones as ranges."""
    runs: list[list[int]] = []
    for cp in sorted(cps):
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in runs) + "]"


# the characters outside the BMP (mathematical letters and digits, enclosed letters) as whole blocks: a
# class with ranges past U+FFFF is tested range by range, one inside it as a fast bitmap
_FOLDABLE = re.compile(_char_class([cp for cp in _FOLD if cp < 0x10000])[:-1] + "\U0001d400-\U0001d7ff\U0001f100-\U0001f19f]")


def _fold(text: str) -> str:
    """The text as the patterns read it, character for character (same length, same positions)."""
    return text.translate(_FOLD) if _FOLDABLE.search(text) else text


# Boundaries: no digit/Latin letter glued on either side, so parts of longer codes, model
# numbers and hashes are not picked up.
_B = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
# ...except a keyword that says what follows: "Tel13812345678", "ID110105…"
_PHONE_WORDS = ("tel", "phone", "mobile", "mob", "cell", "call", "contact", "whatsapp", "wechat", "wx", "vx")
_AFTER_PHONE_WORD = "|".join(f"(?<=(?i:{w}))" for w in _PHONE_WORDS)
_SEP = r"[ .\-]"  # one space, dash or dot between digit groups

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_ORDER_RE = re.compile(
    r"(?P<kw>(?:快递|物流|售后|退款|退货|工单)?(?:订单编号|订单号|运单号|单号|订单|交易号|流水号)"
    r"|order\s*(?:no\.?|number|id|#)|tracking\s*(?:no\.?|number))"
    r"(?P<sep>[\s:：#＃]*(?:是|为|為)?[\s:：#＃]*)"
    # A code needs six digits; a date right after 订单 ("订单2025-06-14下的") is not a code.
    r"(?P<code>(?!\d{4}-\d{1,2}-\d{1,2}(?![\dA-Za-z]))(?=(?:[A-Za-z-]*\d){6})[A-Za-z0-9][A-Za-z0-9-]{5,39})"
    + _E,
    re.IGNORECASE,
)
_ID_RE = re.compile(
    r"(?=[1-9])(?:" + _B + r"|(?<=(?i:id)))[1-9]\d{5}"
    r"(?:(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"  # 18 in a row, or
    r"|(?P<s>" + _SEP + r")(?:18|19|20)\d{2}(?P=s)?(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?P=s)\d{3})"  # 6-8-4, 6-4-4-4
    r"[\dXx]" + _E
)
_BANK_RE = re.compile(_B + r"(?:\d{16,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)" + _E)
_PHONE_RE = re.compile(
    r"(?=[+018])(?:(?<![0-9A-Za-z+])|" + _AFTER_PHONE_WORD + r")(?P<cc>(?:\+|00)86[\s-]?|(?<!\d)86-)?"
    r"(?P<num>1[3-9]\d(?:[\s.\-]?\d{4}){2}|1[3-9]\d{2}(?P<s>" + _SEP + r")\d{3}(?P=s)\d{4})" + _E  # 3-4-4, 4-3-4
)

_CJK_NO_ADMIN = r"(?:(?![省市区县])[\u4e00-\u9fff])"
_ADDR_DETAIL = (
    r"(?:\s*" + _CJK_NO_ADMIN + r"{0,10}?[\dA-Za-z]{1,5}(?:号楼|栋|幢|座))?"
    r"(?:\s*[\dA-Za-z]{1,3}单元)?(?:\s*[\dA-Za-z]{2,6}(?:室|房|号房))?"
)
_NAME_CH = r"(?:" + _CJK_NO_ADMIN + r"|[\dA-Za-z])"
_STREET = _NAME_CH + r"{1,20}?(?:大道|大街|路|街|巷|弄|胡同)\s*[\dA-Za-z-]{1,6}\s*号(?:院)?" + _ADDR_DETAIL
_COMPOUND = _CJK_NO_ADMIN + r"{2,15}?(?:小区|花园|家园|公寓|新村|大厦)(?:小区)?" + _ADDR_DETAIL
# The head (last admin-level character) is kept so "杭州市西湖区" stays readable in alerts.
_ADDR_RE = re.compile(r"(?P<head>[市区县旗镇])(?P<street>" + _STREET + "|" + _COMPOUND + ")")
_UNIT_RE = re.compile(
    _B + r"[\dA-Za-z]{1,5}(?:号楼|栋|幢|座)\s*(?:[\dA-Za-z]{1,3}单元)?\s*[\dA-Za-z]{2,6}(?:室|房|号房)"
    r"|" + _B + r"\d{1,3}单元\s*\d{2,5}(?:室|房|号房)"
)


# Maskers get the match on the folded view and the text as written (same positions): what they keep
# (an order keyword, a district) is copied as written; what they mask is built from the folded view.
def _written(m: re.Match[str], text: str, group: str) -> str:
    return text[m.start(group):m.end(group)]


def _mask_email(m: re.Match[str], text: str) -> tuple[str, str]:
    return "email", f"{m.group(1)[0]}***@{m.group(2)}"


def _mask_order(m: re.Match[str], text: str) -> tuple[str, str]:
    return "order_no", f"{_written(m, text, 'kw')}{_written(m, text, 'sep')}[订单号]"


def _digits(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value)


def _mask_id(m: re.Match[str], text: str) -> tuple[str, str]:
    value = _digits(m.group(0))
    if not id_checksum_ok(value) and luhn_ok(value):
        return "bank_card", value[:4] + "*" * (len(value) - 8) + value[-4:]
    return "id_card", value[:3] + "*" * 11 + value[-4:]


def _mask_bank(m: re.Match[str], text: str) -> tuple[str, str] | None:
    digits = m.group(0).replace(" ", "").replace("-", "")
    if not 16 <= len(digits) <= 19 or not luhn_ok(digits):
        return None
    return "bank_card", digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def _mask_phone(m: re.Match[str], text: str) -> tuple[str, str]:
    digits = _digits(m.group("num"))
    cc = m.group("cc") or ""
    return "phone", f"{cc}{digits[:3]}****{digits[7:]}"


def _mask_address(m: re.Match[str], text: str) -> tuple[str, str]:
    return "address", f"{_written(m, text, 'head')}[地址]"


def _mask_unit(m: re.Match[str], text: str) -> tuple[str, str]:
    return "address", "[地址]"


_Masker = Callable[[re.Match[str], str], "tuple[str, str] | None"]

# (cheap gate, regex, masker).  Order matters: e-mails may contain digits, order numbers
# may look like phones or cards, IDs are tried before the generic 16-19 digit card pattern.
_DIGITS4 = re.compile(r"\d{4}")
_LATIN_ORDER_HINT = re.compile(r"order|tracking", re.IGNORECASE)
_ADDR_HINTS = ("号", "小区", "花园", "家园", "公寓", "新村", "大厦")
_PASSES: tuple[tuple[Callable[[str], bool], re.Pattern[str], _Masker], ...] = (
    (lambda t: "@" in t, _EMAIL_RE, _mask_email),
    (lambda t: "单" in t or "号" in t or _LATIN_ORDER_HINT.search(t) is not None, _ORDER_RE, _mask_order),
    (lambda t: _DIGITS4.search(t) is not None, _ID_RE, _mask_id),
    (lambda t: _DIGITS4.search(t) is not None, _BANK_RE, _mask_bank),
    (lambda t: _DIGITS4.search(t) is not None, _PHONE_RE, _mask_phone),
    (lambda t: any(h in t for h in _ADDR_HINTS), _ADDR_RE, _mask_address),
    (lambda t: "室" in t or "房" in t, _UNIT_RE, _mask_unit),
)


def mask(text: str) -> MaskResult:
    """Mask every recognised PII occurrence in ``text``; ``found`` counts them per kind."""
    found: dict[str, int] = {}
    folded = _fold(text)
    plain = folded is text  # nothing to fold, and the masks add nothing foldable
    for gate, regex, masker in _PASSES:
        if not gate(folded):
            continue
        out: list[str] = []
        last = 0
        for m in regex.finditer(folded):
            res = masker(m, text)
            if res is None:
                continue
            kind, replacement = res
            found[kind] = found.get(kind, 0) + 1
            out += (text[last:m.start()], replacement)
            last = m.end()
        if out:
            text = "".join(out) + text[last:]
            folded = text if plain else _fold(text)
    return MaskResult(text, found)


# Fields that identify a post rather than say something: a tweet id is 19 digits and may pass Luhn,
# yet masking it would make the dead letter impossible to trace back to its post.
IDENTIFIER_KEYS = frozenset({"id", "native_id", "source", "url", "query", "created_at", "fetched_at",
                             "parent_id", "root_id", "conversation_id", "mid", "uid"})


# Keys of a mention's `extra` whose strings name or date something rather than say something: ids
# (a Weibo bid, a JD sku or a Tmall item id, a complaint's sn, the post a comment or a repost belongs to,
# an X username), urls and dates. They stay as written so a post can be traced and ordered. Every other
# string in `extra`, however deep, is free text someone wrote and is masked like the post's text: a
# repost's original (`retweet_of.text`), a shop's replies (`replies[].content`, `reply`), appended reviews
# (`after_comment`, `append_comment`), a complaint's timeline (`timeline[].content`), its appeal and
# summary. Numbers and booleans (counts, flags) are never masked. A key missing here is masked, which
# errs the safe way: a new crawler field is free text until someone lists it as an identifier.
EXTRA_IDENTIFIER_KEYS = IDENTIFIER_KEYS | frozenset({
    "bid", "sku", "item_id", "post_id", "reply_to", "via_repost", "sn", "username", "via",
    "lang", "date", "created", "timestamp", "date_precision", "verified_type", "tweet_id",
})


def mask_values(value: Any, keep: frozenset[str] = IDENTIFIER_KEYS) -> Any:
    """A copy of a JSON-like value with every free-text string masked (identifier fields in `keep`
    stay as they are). Dead letters keep what went wrong and which post it was, not whose data."""
    if isinstance(value, str):
        return mask(value).text
    if isinstance(value, dict):
        return {k: v if k in keep and isinstance(v, str | int) else mask_values(v, keep)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [mask_values(v, keep) for v in value]
    return value
