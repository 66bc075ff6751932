"""Chinese-aware tokens for full-text search and topics: jieba's search-mode segmentation, shared by backends."""

from __future__ import annotations

import logging
import re

import jieba

jieba.setLogLevel(logging.WARNING)
_WORD = re.compile(r"\w", re.UNICODE)
# Weibo's emoticons ([哈哈], [允悲], [doge]) stay in a post's text, where they tell its tone, but they are no
# topic: a sarcastic [哈哈] under every complaint would otherwise lead the hot words and surge as a new term.
# Its placeholders ([图片], [组图共9张], [网页链接]) are no topic either.
EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z0-9]{1,8}\]")
# Links and @names are no topic either: a short link's code (t.cn/A6xYz12), "t.co", "status" and a handle
# (//@某人: reposted under every post of a wave) would surge with the posts that carry them.
LINK = re.compile(r"(?:https?://|www\.)[^\s\u4e00-\u9fff]*|\b(?:t\.cn|t\.co)/[A-Za-z0-9]+", re.IGNORECASE)
HANDLE = re.compile(r"@[\w\u4e00-\u9fff\-]{1,30}")
# A hashtag is one topic: Weibo's #极光优选退款难# (between two #) and X's #AuroraFail (a # before a word). Split
# into words it would surge as 极光, 优选, 退款 and never as itself.
HASHTAG = re.compile(r"#([^#\s]{1,40})#|(?<![\w&])#(\w{2,40})")
# Shopping festivals and 3·15 (consumer rights day, CCTV's exposé night) are topics a PR team watches rise, but
# jieba cuts them into numbers the term rules drop (双11 -> 双, 11; 3·15 -> 3, ·, 15) or into nonsense (双十一 ->
# 双十, 一). Each is one token in one spelling. 618 and 3·15 next to other digits, a decimal point or a unit (618元,
# 3.15米) are numbers, not festivals.
FESTIVALS = {"双11": r"双\s?(?:11|十一)(?![0-9])", "双12": r"双\s?(?:12|十二)(?![0-9])",
             "618": r"(?<![0-9.A-Za-z¥￥$])6[·・•.]?18(?![0-9.%％]|\s?(?:元|块|毛|角|分|米|克|号|个|件|人|次|天|万|亿|k|ml|g|kg|cm|mm))",
             "3·15": r"(?<![0-9.A-Za-z¥￥$])3[·・•.]?15(?![0-9.%％]|\s?(?:元|块|毛|角|分|米|克|号|个|件|人|次|天|万|亿|k|ml|g|kg|cm|mm))"}
FESTIVAL = re.compile("|".join(f"(?P<f{i}>{pattern})" for i, pattern in enumerate(FESTIVALS.values())), re.IGNORECASE)
_FESTIVAL_NAMES = tuple(FESTIVALS)


def tokens(text: str) -> list[str]:
    return [t.lower() for t in jieba.cut_for_search(text) if _WORD.search(t)]


def without_emoticons(text: str) -> str:
    return EMOTICON.sub(" ", text)


def plain_number(token: str) -> bool:
    """A number that is no topic (15, 2024); the festivals spelled in digits (618) are topics."""
    return token.isdigit() and token not in FESTIVALS


def topic_tokens(text: str) -> list[str]:
    """The tokens a post's topic is read from (hot words, emerging terms, repeat complaints): no emoticons,
    links or @names; a hashtag is one token (`#极光优选退款难#`, `#aurorafail`), so is a festival (`双11` for
    双十一 too, `618`, `3·15`). Search mode, as the index: its overlapping pieces (食品安全 -> 食品, 安全, 食品安全)
    keep each word's baseline whole (precise mode's 下午茶 hid 下午 from its baseline, and a real Weibo afternoon
    then surged 下午); the emerging-terms rule says a phrase once (`EmergingTermsRule`)."""
    text = HANDLE.sub(" ", LINK.sub(" ", without_emoticons(text)))
    tags: list[str] = []

    def tag(match: re.Match) -> str:
        weibo, x = match.group(1), match.group(2)
        body = (weibo or x or "").strip()
        if _WORD.search(body):
            tags.append(f"#{body.lower()}#" if weibo is not None else f"#{body.lower()}")
        return " "

    def festival(match: re.Match) -> str:
        tags.append(_FESTIVAL_NAMES[int(match.lastgroup[1:])])
        return " "

    text = FESTIVAL.sub(festival, HASHTAG.sub(tag, text))
    # a 618 left after the festivals were taken is a number (618元): it must not count as the festival
    return tags + [t for t in tokens(text) if t not in FESTIVALS]


def segment(text: str) -> str:
    """Space-joined tokens, the form an FTS5 unicode61 column indexes word by word."""
    return " ".join(tokens(text))


def fts_query(query: str) -> str:
    """Every token of the query must appear; each is quoted so user text cannot inject FTS syntax."""
    words = [t for t in jieba.cut(query) if _WORD.search(t)]
    return " AND ".join('"' + w.lower().replace('"', '""') + '"' for w in words)
