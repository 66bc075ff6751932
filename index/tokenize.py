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


def tokens(text: str) -> list[str]:
    return [t.lower() for t in jieba.cut_for_search(text) if _WORD.search(t)]


def without_emoticons(text: str) -> str:
    return EMOTICON.sub(" ", text)


def topic_tokens(text: str) -> list[str]:
    """The tokens a post's topic is read from (hot words, emerging terms, repeat complaints): no emoticons."""
    return tokens(without_emoticons(text))


def segment(text: str) -> str:
    """Space-joined tokens, the form an FTS5 unicode61 column indexes word by word."""
    return " ".join(tokens(text))


def fts_query(query: str) -> str:
    """Every token of the query must appear; each is quoted so user text cannot inject FTS syntax."""
    words = [t for t in jieba.cut(query) if _WORD.search(t)]
    return " AND ".join('"' + w.lower().replace('"', '""') + '"' for w in words)
