"""Chinese-aware tokens for full-text search: jieba's search-mode segmentation, shared by backends."""

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


def tokens(text: str) -> list[str]:
    return [t.lower() for t in jieba.cut_for_search(text) if _WORD.search(t)]


def without_emoticons(text: str) -> str:
    return EMOTICON.sub(" ", text)


def topic_tokens(text: str) -> list[str]:
    """The tokens a post's topic is read from (hot words, emerging terms, repeat complaints): no emoticons,
    links or @names; a hashtag is one token (`#极光优选退款难#`, `#aurorafail`)."""
    text = HANDLE.sub(" ", LINK.sub(" ", without_emoticons(text)))
    tags: list[str] = []

    def tag(match: re.Match) -> str:
        weibo, x = match.group(1), match.group(2)
        body = (weibo or x or "").strip()
        if _WORD.search(body):
            tags.append(f"#{body.lower()}#" if weibo is not None else f"#{body.lower()}")
        return " "

    return tags + tokens(HASHTAG.sub(tag, text))


def segment(text: str) -> str:
    """Space-joined tokens, the form an FTS5 unicode61 column indexes word by word."""
    return " ".join(tokens(text))


def fts_query(query: str) -> str:
    """Every token of the query must appear; each is quoted so user text cannot inject FTS syntax."""
    words = [t for t in jieba.cut(query) if _WORD.search(t)]
    return " AND ".join('"' + w.lower().replace('"', '""') + '"' for w in words)
