"""PII masking for post text before storage, in alerts and in dead letters.

Kinds (keys of ``MaskResult.found``) and how they are masked:

* ``email``       ``alice@qq.com``            -> ``a***@qq.com``
* ``tracking_no`` ``运单号：SF1234567890``      -> ``运单号：[运单号]`` (keyword kept, code replaced); also
                  快递单号/物流单号/单号/tracking no., and the couriers' own shapes (SF…, YT…, JT…, UPS 1Z…)
* ``id_card``     18-character resident ID  -> ``110***********123X``
* ``bank_card``   16-19 digits passing Luhn -> ``6222*********1234``
* ``phone``       mainland mobile 1[3-9]x, 3-4-4/4-3-4 with spaces/dashes/dots, +86/0086 -> ``138****5678``;
                  one digit at a time (``1 3 8 …``) or in words (``一三八…``, ``幺三八``); North American
                  numbers as written, (415) 555-0133, 415-555-0133, +1 415 555 0133 -> ``(415) ***-0133``;
                  UK and Irish numbers as written, the area code kept and the local number starred but its
                  last four digits (three of six): 07700 900123 -> ``07700 ***123``, (020) 7946 0018 ->
                  ``(020) **** 0018``, +44 (0)…, 0044 …, 0161 496 0000, 087 123 4567, +353 86 …
* ``qq``          after QQ/QQ号/扣扣/企鹅       -> ``QQ号：28****30`` (a QQ群 is no person's)
* ``wechat``      an id after 微信/vx/v信/wx/wechat -> ``微信：z***z`` (a number there is a phone)
* ``plate``       licence plates ``浙A·8K29D``, ``京AD12345`` -> ``浙A·*****``
* ``name``        a name after 收件人/收货人/联系人/户名/姓名 -> ``收件人：王**`` (surname kept;
                  ``联系人李女士`` names nobody and stays)
* ``address``     street part after a 市/区/县 (…路12号3栋2单元501室, …小区…) -> ``[地址]``;
                  province/city/district stay visible so alerts keep their geography.
                  Building/unit/room details without a street (``3栋2单元501室``, ``312号楼2单元1501``) are masked too.
                  English: a house number and street (``221B Baker Street``, ``Flat 3, 45 High Road``) ->
                  ``[address]``; a UK postcode keeps its outward code, as a district: ``NW1 6XE`` -> ``NW1 ***``

Order numbers (订单号, 订单编号, 售后单号, order no. …) are kept, by what a support agent needs: the number
is how the agent finds the order, and it names a person only inside the merchant's own system, which is
where the agent looks it up anyway; masked, every complaint had to be asked for it again and two complaints
about one order were never linked. While the other patterns run, an order number is held out of their
reach, so a 16-digit one that passes Luhn is not taken for a card. A tracking number is the opposite case:
anyone can enter it on the courier's site and see the recipient's city, deliveries and part of their name
and phone, and the agent gets it from the order.

ID cards: an 18-character string whose region, birth date and length look like an ID is
masked even when its checksum fails, because a mistyped ID is still nearly identifying.
The checksum decides only the ambiguous case of an ID-shaped 18-digit number that also
passes Luhn: checksum valid -> ``id_card``, else -> ``bank_card`` (both get masked anyway).
Old 15-digit IDs, Chinese landlines and 400/800 hotlines are deliberately not masked, nor UK and Irish
freephone, non-geographic and premium numbers (0800, 03…, 084…, 087…, 09…, 1800): those are businesses. A
UK number is read without its country code only in the groupings UK posts write, so a Chinese landline
written the Chinese way (020-87654321, 0755-12345678) stays; one written 021 6123 4567 reads as a London-style
number and is masked.

Ordinary numbers survive: digit patterns require digit boundaries and exact shapes, so
prices (2999元, £1,299.99), dates (2025-06-14), times, model names (iPhone 15, SU7, RTX 4090, M2 8GB), counts
(1.2万), hotlines (400-820-8820, 1-800-…, 0800 …) and long numbers that fail Luhn and do not look like an ID
are left alone.

Ways of writing that do not change what a number is are seen through. Matching runs on a folded
view of the text: full-width and other compatibility forms that NFKC turns into one ASCII digit,
letter, ``@ + - .`` or space (``１３８``, ``Ｘ``, ``＠``, the ideographic space, 𝟏𝟑𝟖) are read as
that character, and each match is masked at the same place in the text as written (the fold keeps
every character's position, so the rest of the text is untouched). Separators between digit groups
are read in the groupings people write: phones 3-4-4 and 4-3-4 with a space, dash or dot
(``138.1234.5678``, ``1381 234 5678``), IDs 6-8-4 and 6-4-4-4 (``110105 19491231 002X``), cards
4-4-4-4. Separators are not dropped wholesale: that would read a date and a phone written side by
side as one long number, and a date range (2025.06.14-2025.06.20) as a 16-digit card. A Latin letter
glued to a number still keeps it from being masked (``编号A13812345678`` is a code; ``SF1381234567890``
is masked as a tracking number, not as a phone), except a phone keyword (``Tel13812345678``, ``phone``, ``mobile``, ``wx``, ``vx`` …) and
``ID`` before an ID number. Telephone digits written in words are read as digits only in a run of seven
or more numerals (``零〇一二三四五六七八九幺``), which ordinary prose never is; a numeral starting the word
after a number (``13712345678一直``) stays a word.
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
_CODE_SEP = r"(?P<sep>[\s:：#＃]*(?:是|为|為)?[\s:：#＃]*)"
# A code needs six digits; a date right after 订单 ("订单2025-06-14下的") is not a code.
_CODE = r"(?P<code>(?!\d{4}-\d{1,2}-\d{1,2}(?![\dA-Za-z]))(?=(?:[A-Za-z-]*\d){6})[A-Za-z0-9][A-Za-z0-9-]{5,39})" + _E
# Order numbers are kept, and kept away from the passes that would read one as a card, an ID or a phone: the
# agent needs the number to find the order, and it names a person only inside the merchant's own system,
# which is where the agent looks it up. A tracking number is masked: anyone can look it up on the courier's
# site and see the recipient's city, delivery and (partly) name and phone, and the agent gets it from the order.
_KEYWORD_CODE_RE = re.compile(
    # the lookahead of first characters lets the scan skip ahead (twice as fast on posts with 单 or 号)
    # 退货单号 is the return parcel's waybill, 售后单号 and 退款单号 the merchant's own records
    r"(?=[订交流售退维工运快物单])(?:(?P<order>订单编号|订单号|订单|交易号|流水号|(?:售后|退款|维修|工)单号)"
    r"|(?P<track>(?:退货)?运单号|(?:快递|物流|退货)单?号|单号))" + _CODE_SEP + _CODE
)
_LATIN_KEYWORD_CODE_RE = re.compile(
    r"(?<![A-Za-z])(?:(?P<order>order\s*(?:no\.?|number|id|#)?)"
    r"|(?P<track>(?:tracking|waybill)\s*(?:no\.?|number|id|#)?))" + _CODE_SEP + _CODE,
    re.IGNORECASE,
)
# the couriers' own shapes need no keyword: 顺丰 SF, 圆通 YT, 极兔 JT, UPS 1Z
_COURIER_CODE_RE = re.compile(r"(?<![0-9A-Za-z])(?:SF\d{12,13}|YT\d{13}|JT\d{13}|1Z[0-9A-Z]{16})(?![0-9A-Za-z])")
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
    r"(?:\s*" + _CJK_NO_ADMIN + r"{0,10}?[\dA-Za-z]{1,5}(?:号楼|栋|幢|座)(?:\d{3,5}(?![\d单室房]))?)?"  # B座2608
    # after 单元 the room is a number with or without 室 ("3单元602"); alone it needs its 室/房
    r"(?:\s*[\dA-Za-z]{1,3}单元(?:\s*\d{2,5}(?:室|房|号房)?(?!\d))?|\s*[\dA-Za-z]{2,6}(?:室|房|号房))?"
)
_NAME_CH = r"(?:" + _CJK_NO_ADMIN + r"|[\dA-Za-z])"
_STREET = _NAME_CH + r"{1,20}?(?:大道|大街|路|街|巷|弄|胡同)\s*[\dA-Za-z-]{1,6}\s*号(?:院)?" + _ADDR_DETAIL
_COMPOUND = _CJK_NO_ADMIN + r"{2,15}?(?:小区|花园|家园|公寓|新村|大厦)(?:小区)?" + _ADDR_DETAIL
# The head (last admin-level character) is kept so "杭州市西湖区" stays readable in alerts.
_ADDR_RE = re.compile(r"(?P<head>[市区县旗镇])(?P<street>" + _STREET + "|" + _COMPOUND + ")")
_UNIT_RE = re.compile(
    _B + r"[\dA-Za-z]{1,5}(?:号楼|栋|幢|座)\s*(?:[\dA-Za-z]{1,3}单元)?\s*[\dA-Za-z]{2,6}(?:室|房|号房)"
    r"|" + _B + r"[\dA-Za-z]{1,5}(?:号楼|栋|幢|座)\s*[\dA-Za-z]{1,3}单元\s*\d{2,5}(?!\d)"  # 312号楼2单元1501
    r"|" + _B + r"\d{1,3}单元\s*\d{2,5}(?:室|房|号房)"
)
# Mainland mobiles written one digit at a time ("1 3 8 0 0 1 3 4 5 2 7"): the same separator between all eleven.
_SPACED_PHONE_RE = re.compile(_B + r"(?P<num>1(?P<s>[ \-])[3-9](?:(?P=s)\d){9})" + _E)
# North American numbers as people write them: (415) 555-0133, 415-555-0133, 415.555.0133, +1 415 555 0133,
# +14155550133. Ten bare digits are not read as one (an order or a timestamp); toll-free 8xx/400 are businesses.
_NANP_AREA = r"(?!800|888|877|866|855|844|833|400)[2-9]\d{2}"
_NANP_RE = re.compile(
    r"(?=[+(\d])(?<![0-9A-Za-z#+\-])(?:(?:(?:\+?1[ .\-]?)?\((?P<a1>" + _NANP_AREA + r")\)[ ]?(?P<x1>[2-9]\d{2})[ .\-]"
    r"|(?:\+?1(?P<c>[.\-]))?(?P<a2>" + _NANP_AREA + r")(?P<s>[.\-])(?P<x2>[2-9]\d{2})(?P=s)"
    # spaces alone only after +1: "300 500 1000" is a list of prices
    r"|\+1[ ](?P<a4>" + _NANP_AREA + r")[ ](?P<x4>[2-9]\d{2})[ ])\d{4}"
    r"|\+1[ ]?(?P<a3>" + _NANP_AREA + r")(?P<x3>[2-9]\d{2})\d{4})(?![0-9A-Za-z]|-\d)"
)
# UK and Irish numbers. After the country code (+44, 0044, +353, 00353, with or without "(0)") any grouping is a
# phone. Without it, only the groupings the two countries write, so a Chinese landline written the Chinese way
# (020-87654321, (020)87654321, 0755-1234567, 010-…) stays, as landlines do: UK mobiles 07700 900123,
# 07700 900 123, 0770 090 0123 (or unbroken), 02x xxxx xxxx and (02x) xxxx xxxx, 01x1/011x xxx xxxx,
# 01xxx xxxxxx; Irish mobiles 08[3-9] xxx xxxx, Dublin (01) xxx xxxx. Freephone, non-geographic and premium
# numbers (0800, 03…, 084…, 087…, 09…, 1800) are businesses.
_GB_NATIONAL = (
    r"7\d{3}(?(p)\))(?:[ \-.]?\d{6}|[ \-.]\d{3}[ \-.]\d{3})"
    r"|7\d{2}[ \-.]\d{3}[ \-.]\d{4}"
    r"|2\d(?(p)\)[ ]?|[ \-.])\d{4}[ \-.]\d{4}"
    r"|1(?:1\d|[2-9]1)(?(p)\))[ \-.]?\d{3}[ \-.]?\d{4}"
    # five-digit local numbers only set apart: ten digits in a row from 01 are too often a sequence
    r"|1[2-9]\d{2}(?(p)\))(?:[ \-.]\d{5,6}|\d{6}|[ \-.]\d{3}[ \-.]\d{3})"
)
_IE_NATIONAL = r"8[3-9](?(p)\))(?:[ \-.]?\d{3}[ \-.]?\d{4}|[ \-.]\d{7})|1(?(p)\)[ ]?|[ ])\d{3}[ \-.]\d{4}"
_GB_IE_PHONE_RE = re.compile(
    r"(?=[+0(])(?<![0-9A-Za-z+#/\-.])(?:"
    r"(?P<cc>(?:\+|00)44[ \-]?(?:\(0\)[ \-]?)?)[127]\d(?:[ \-.]?\d){7,8}"
    r"|(?P<ie>(?:\+|00)353[ \-]?(?:\(0\)[ \-]?)?)[1-9](?:[ \-.]?\d){6,8}"
    r"|(?P<p>\()?0(?:" + _GB_NATIONAL + "|" + _IE_NATIONAL + r"))(?![0-9A-Za-z]|[.\-]\d)"
)
_GB_IE_HINT = re.compile(r"\+44|0044|\+353|00353|(?<!\d)\(?0[1278][\d) ]")
# UK postcodes: the outward code (area and district: SW1A, M1, B33) stays, as a city does; the inward code
# (sector and unit, down to a few houses) is masked: "NW1 6XE" -> "NW1 ***". In capitals or all in lower case,
# with the space people put in it (written together, NE808PA and A380ER are model names). Storage after a
# model (M2 8GB, PS5 2TB) and "p1 2nd" are no postcodes (the unit's letters never include C I K M O V, so
# 2PM and 4K are none either).
_POSTCODE_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:(?P<out>[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?) (?!\d(?:GB|TB))\d[ABD-HJLNP-UW-Z]{2}"
    r"|(?P<lower>[a-pr-uwyz][a-hk-y]?\d[a-z\d]?) (?!\d(?:gb|tb|st|nd|rd|th))\d[abd-hjlnp-uw-z]{2})(?![0-9A-Za-z])"
)
_POSTCODE_HINT = re.compile(r"\d[A-Za-z]{2}(?![A-Za-z])")
# English street addresses: a house number (221B, 12-14, after an optional "Flat 3,"; a 3D or a 4K is none, nor a
# year range), one to three words of the street's name and its kind (Baker Street, Acacia Ave). Capitalised
# names, or in lower case only the unmistakable kinds; words that make it a sentence rather than a name (the,
# on, hours, more …) never are part of one, so "3 Hours On The Road" and "2 dogs on the street" stay. Kinds
# that are as often something else (Court, Row, Walk, Green, View) are left out: "5 Supreme Court rulings".
_STREET_KINDS = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Crescent|Cres|Place|Pl|Gardens|Gdns|Terrace|Grove|Way"
    "|Square|Sq|Mews|Parade|Boulevard|Blvd|Hill|Park|Quay|Wharf"
)
_NOT_A_NAME = (
    r"(?!(?i:the|on|in|at|of|to|for|and|or|no|my|your|our|his|her|their|down|up|from|by|with|a|an|this|that"
    r"|hours?|days?|weeks?|months?|years?|minutes?|mins?|miles?|times?|more|other|same|lane)(?![A-Za-z]))"
)
_HOUSE = (
    r"(?<![0-9A-Za-z£$€¥#.,:/\-])(?:(?i:flat|apartment|apt|unit|suite)\.? ?\d{1,4}[A-Za-z]?,? )?"
    r"(?:\d{1,4}|\d{1,3}[-–]\d{1,3})[ABCabc]? "
)
_STREET_RE = re.compile(
    _HOUSE + r"(?:(?:" + _NOT_A_NAME + r"[A-Z][A-Za-z'’.\-]* ){1,3}?(?:" + _STREET_KINDS + r")"
    r"|(?:" + _NOT_A_NAME + r"[a-z][a-z'’\-]* ){1,2}?(?:street|road|avenue|crescent|terrace|boulevard))(?![A-Za-z])"
)
_STREET_HINT = re.compile(r"\d[A-Za-z]? [A-Za-z]")
# QQ numbers after their keyword (QQ号, 扣扣, 企鹅); a QQ group (QQ群) is not a person's.
_QQ_RE = re.compile(
    r"(?=[Qq扣企])(?P<kw>(?<![A-Za-z])[Qq][Qq](?:号码|号)?|扣扣(?:号码|号)?|企鹅(?:号码|号)?)(?P<sep>\s*(?:[:：]|是|为)?\s*)"
    r"(?P<num>[1-9]\d{4,10})(?!\d)"
)
# WeChat ids (6-20 characters, a letter first) after 微信/vx/v信/wx/wechat; after a bare space the id must
# hold a digit, _ or - ("微信 WeChat" is the app's name, "微信 zw_2024hz" an id). A number there is a phone.
_WECHAT_RE = re.compile(
    r"(?=[微威薇卫VvWw])(?P<kw>(?:微信|威信|薇信|卫星|[Vv]信|(?<![A-Za-z])(?:vx|VX|Vx|wx|WX|Wx|weixin|wechat|WeChat)|(?<![A-Za-z])[Vv](?=[:：]))"
    r"(?:号|id|ID)?)(?P<sep>\s*(?:[:：]|是|为)\s*|\s*(?=[A-Za-z][A-Za-z0-9_\-]*[\d_\-]))"
    r"(?P<id>[A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])"
)
# Licence plates: province, city letter, five (six for new energy) letters and digits, at least one digit;
# 新 after 全/最/崭 is "new", not Xinjiang ("全新M1234芯片").
_PLATE_RE = re.compile(
    r"(?P<head>(?:[京津沪渝冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]|(?<![全最崭])新)[A-HJ-NP-Z])"
    r"(?P<sep>[·•・. ]?)(?P<tail>(?=[A-Z]*\d)[A-HJ-NP-Z0-9]{5,6})(?![0-9A-Za-z])"
)
# Names after 收件人/收货人/联系人/户名/姓名: a common surname and one or two characters, ending where the name
# does (punctuation, a space, 电话/手机/地址); "联系人李女士" names nobody and stays.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢"
             "姜崔钟谭陆汪范金石廖贾夏韦付傅邹孟熊秦邱尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴莫孔汤")
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "慕容", "东方", "皇甫", "令狐", "公孙")
_NAME_RE = re.compile(
    r"(?=[收联寄取开户姓])(?P<kw>收件人|收货人|联系人|寄件人|取件人|开户名|户名|姓名)(?P<sep>\s*(?:[:：]|是|为|叫)?\s*)"
    r"(?P<name>(?:" + "|".join(_COMPOUND_SURNAMES) + r"|[" + _SURNAMES + r"])"
    r"(?![\u4e00-\u9fff]?(?:女士|先生|小姐|同学|老师|师傅|阿姨|大爷|经理|总))[\u4e00-\u9fff]{1,2}?)"
    r"(?=$|[^\u4e00-\u9fff]|电话|手机|号码|地址|联系|收|寄)"
)
# The reading of telephone digits in words: 一三八零零一三四五二七, 幺三八 零零一三 四五二七.
_CN_NUMERALS = "零〇一二三四五六七八九幺壹贰叁肆伍陆柒捌玖"  # the financial forms too: 壹叁捌…
_CN_TO_DIGIT = str.maketrans(_CN_NUMERALS, "001234567891123456789")
_CN_NUMERAL = re.compile(f"[{_CN_NUMERALS}]")
# runs of seven numerals or more ("13712345678一直" is a phone and then a word, not a 12-digit number)
_CN_RUN = re.compile(f"[{_CN_NUMERALS}](?:[ \\-]?[{_CN_NUMERALS}]){{6,}}")


# Maskers get the match on the folded view and the text as written (same positions): what they keep
# (an order keyword, a district) is copied as written; what they mask is built from the folded view.
def _written(m: re.Match[str], text: str, group: str) -> str:
    return text[m.start(group):m.end(group)]


def _mask_email(m: re.Match[str], text: str) -> tuple[str, str]:
    return "email", f"{m.group(1)[0]}***@{m.group(2)}"


_NON_DIGIT = re.compile(r"\D")


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


def _mask_spaced_phone(m: re.Match[str], text: str) -> tuple[str, str]:
    digits = _digits(m.group("num"))
    return "phone", f"{digits[:3]}****{digits[7:]}"


def _mask_nanp(m: re.Match[str], text: str) -> tuple[str, str]:
    """The exchange (the middle three digits) starred, the rest as written: (415) ***-0133."""
    x = next(g for g in ("x1", "x2", "x3", "x4") if m.group(g) is not None)
    return "phone", text[m.start():m.start(x)] + "***" + text[m.end(x):m.end()]


def _gb_ie_area(nsn: str, irish: bool) -> int:
    """How many leading digits of a national number are its area code (or mobile prefix), which stays."""
    if irish:
        return 1 if nsn[0] == "1" else 2  # Dublin 1; mobiles 8x; elsewhere about two
    if nsn[0] == "7":
        return 4  # 07700 900123
    if nsn[0] == "2":
        return 2  # (020) 7946 0018
    return 3 if nsn[1] == "1" or nsn[2] == "1" else 4  # 0161 / 0113 496 0000; 01632 960123


def _mask_gb_ie(m: re.Match[str], text: str) -> tuple[str, str]:
    """The area code kept, the local number starred but its last four digits (three of a six-digit one), as
    written: 07700 ***123, (020) **** 0018, +353 87 *** 4567."""
    start = m.end("cc") if m.group("cc") else m.end("ie") if m.group("ie") else m.group(0).index("0") + m.start() + 1
    nsn = _NON_DIGIT.sub("", m.string[start:m.end()])
    irish = m.group("ie") is not None or (m.group("cc") is None and (nsn[0] == "8" or len(nsn) == 8))
    area = _gb_ie_area(nsn, irish)
    starred = range(area, len(nsn) - (4 if len(nsn) - area >= 7 else 3))
    out, n = [text[m.start():start]], 0
    for i in range(start, m.end()):
        if m.string[i].isdigit():
            out.append("*" if n in starred else text[i])
            n += 1
        else:
            out.append(text[i])
    return "phone", "".join(out)


def _mask_postcode(m: re.Match[str], text: str) -> tuple[str, str]:
    out = "out" if m.group("out") is not None else "lower"
    return "address", text[m.start():m.end(out)] + " ***"


def _mask_street(m: re.Match[str], text: str) -> tuple[str, str]:
    return "address", "[address]"


def _mask_qq(m: re.Match[str], text: str) -> tuple[str, str]:
    num = m.group("num")
    return "qq", f"{_written(m, text, 'kw')}{_written(m, text, 'sep')}{num[:2]}****{num[-2:]}"


def _mask_wechat(m: re.Match[str], text: str) -> tuple[str, str]:
    wid = m.group("id")
    return "wechat", f"{_written(m, text, 'kw')}{_written(m, text, 'sep')}{wid[0]}***{wid[-1]}"


def _mask_plate(m: re.Match[str], text: str) -> tuple[str, str]:
    return "plate", f"{_written(m, text, 'head')}{_written(m, text, 'sep')}{'*' * len(m.group('tail'))}"


def _mask_name(m: re.Match[str], text: str) -> tuple[str, str]:
    name = m.group("name")
    surname = 2 if len(name) == 4 or name[:2] in _COMPOUND_SURNAMES else 1
    return "name", f"{_written(m, text, 'kw')}{_written(m, text, 'sep')}{name[:surname]}{'*' * (len(name) - surname)}"


def _mask_address(m: re.Match[str], text: str) -> tuple[str, str]:
    return "address", f"{_written(m, text, 'head')}[地址]"


def _mask_unit(m: re.Match[str], text: str) -> tuple[str, str]:
    return "address", "[地址]"


_Masker = Callable[[re.Match[str], str], "tuple[str, str] | None"]

# (cheap gate, regex, masker).  Order matters: e-mails may contain digits, tracking numbers
# may look like phones or cards, IDs are tried before the generic 16-19 digit card pattern, phones before
# the QQ and WeChat numbers written after the same keywords.
_DIGITS4 = re.compile(r"\d{4}")
_LATIN_CODE_HINTS = ("rder", "RDER", "racking", "RACKING", "aybill", "AYBILL")
_WECHAT_HINTS = ("信", "卫星", "x", "X", "hat", "HAT", "eixin", "EIXIN", "v:", "V:", "v：", "V：")
_NANP_HINT = re.compile(r"\d{3}[.\-]\d{3}[.\-]\d{4}")
_PLATE_HINT = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼新][A-HJ-NP-Z]")
_ADDR_HINTS = ("号", "小区", "花园", "家园", "公寓", "新村", "大厦")
# (needs four digits in a row, cheap gate or None, regex, masker): whether a text has four digits in a row is
# asked once, not once per pass (masking only ever takes digits away)
_PASSES: tuple[tuple[bool, Callable[[str], bool] | None, re.Pattern[str], _Masker], ...] = (
    (False, lambda t: "@" in t, _EMAIL_RE, _mask_email),
    (True, None, _ID_RE, _mask_id),
    (True, None, _BANK_RE, _mask_bank),
    (True, None, _PHONE_RE, _mask_phone),
    (False, lambda t: "1 " in t or "1-" in t, _SPACED_PHONE_RE, _mask_spaced_phone),
    (True, lambda t: "+1" in t or ")" in t or _NANP_HINT.search(t) is not None, _NANP_RE, _mask_nanp),
    (True, lambda t: _GB_IE_HINT.search(t) is not None, _GB_IE_PHONE_RE, _mask_gb_ie),
    (False, lambda t: "Q" in t or "q" in t or "扣扣" in t or "企鹅" in t, _QQ_RE, _mask_qq),
    (False, lambda t: any(h in t for h in _WECHAT_HINTS), _WECHAT_RE, _mask_wechat),
    (False, lambda t: any(h in t for h in _ADDR_HINTS), _ADDR_RE, _mask_address),
    (False, lambda t: _STREET_HINT.search(t) is not None, _STREET_RE, _mask_street),
    (False, lambda t: _POSTCODE_HINT.search(t) is not None, _POSTCODE_RE, _mask_postcode),
    (False, lambda t: "室" in t or "房" in t or "单元" in t, _UNIT_RE, _mask_unit),
    (False, lambda t: _PLATE_HINT.search(t) is not None, _PLATE_RE, _mask_plate),
    (False, lambda t: "人" in t or "名" in t, _NAME_RE, _mask_name),
)
# Order numbers are held out of the passes while they run (each replaced by one private-use character,
# put back at the end), so a 16-digit order number that passes Luhn is not read as a card.
_HELD = 0xE000
_HELD_OR_PUA = re.compile("[\ue000-\uf8ff]")


def _view(text: str) -> str:
    """What the patterns read: `_fold`, and telephone digits written in words read as digits."""
    folded = _fold(text)
    if _CN_NUMERAL.search(folded) is None:
        return folded
    return _CN_RUN.sub(lambda m: m.group(0).translate(_CN_TO_DIGIT), folded)


# (gate, regex) of the numbers after a keyword or in a courier's shape: an order number is held, a tracking
# number masked, before any other pass reads them
_CODE_PASSES: tuple[tuple[Callable[[str], bool], re.Pattern[str]], ...] = (
    (lambda t: "单" in t or "号" in t, _KEYWORD_CODE_RE),
    (lambda t: any(h in t for h in _LATIN_CODE_HINTS), _LATIN_KEYWORD_CODE_RE),
    (lambda t: "SF" in t or "YT" in t or "JT" in t or "1Z" in t, _COURIER_CODE_RE),
)


def _hold_codes(text: str, folded: str, held: list[str], found: dict[str, int]) -> str:
    """Order numbers replaced by one private-use character each (`_release` puts them back), tracking
    numbers masked; `text` is returned as it changed (the caller folds it again)."""
    can_hold = _HELD_OR_PUA.search(text) is None  # a private-use character already there: nothing held
    for gate, regex in _CODE_PASSES:
        if not gate(folded):
            continue
        out: list[str] = []
        last = 0
        for m in regex.finditer(folded):
            if regex is not _COURIER_CODE_RE and m.group("order") is not None:
                if not can_hold or len(held) >= 0x1900:  # the private-use block's size
                    continue
                out += (text[last:m.start("code")], chr(_HELD + len(held)))
                held.append(text[m.start("code"):m.end("code")])
                last = m.end("code")
            else:
                found["tracking_no"] = found.get("tracking_no", 0) + 1
                start = m.start("code") if regex is not _COURIER_CODE_RE else m.start()
                out += (text[last:start], "[运单号]")
                last = m.end()
        if out:
            text = "".join(out) + text[last:]
            folded = _view(text)
    return text


def _release(text: str, held: list[str]) -> str:
    for i, code in enumerate(held):
        text = text.replace(chr(_HELD + i), code)
    return text


def mask(text: str) -> MaskResult:
    """Mask every recognised PII occurrence in ``text``; ``found`` counts them per kind."""
    found: dict[str, int] = {}
    folded = _view(text)
    plain = folded is text  # nothing to fold, and the masks add nothing foldable
    held: list[str] = []
    changed = _hold_codes(text, folded, held, found)
    if changed is not text:
        text = changed
        folded = text if plain else _view(text)
    digits = _DIGITS4.search(folded) is not None
    for needs_digits, gate, regex, masker in _PASSES:
        if (needs_digits and not digits) or (gate is not None and not gate(folded)):
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
            folded = text if plain else _view(text)
    return MaskResult(_release(text, held) if held else text, found)


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
