"""Items made safe to store: valid Unicode, and no field so large it stalls its source.

Limits (characters, after the HTML of a post body is stripped):
- `text` keeps its first MAX_TEXT characters (20,000: a Weibo long post is at most 5,000 Chinese
  characters, a JD or Tmall review 500, a 黑猫 complaint a few thousand, so only a broken or
  hostile reply reaches it);
- `title`, the author's name and every string inside `extra` keep their first MAX_FIELD (2,000).
A cut item is kept, flagged in `extra["truncated"]` with each field's original length, and counted
in the crawl's stats (`crisiswatch/truncated`). Text that is not valid Unicode (a lone surrogate
from a `\\ud83d` escape, NUL and other control characters) has those characters replaced by U+FFFD
(controls are dropped), flagged in `extra["sanitized"]` and counted (`crisiswatch/sanitized`).
"""

from __future__ import annotations

import re
from typing import Any

from crisiswatch.mention import Mention

MAX_TEXT = 20_000
MAX_FIELD = 2_000
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Valid Unicode without control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", value))


def _clean(value: Any, found: list[bool]) -> Any:
    if isinstance(value, str):
        cleaned = clean_text(value)
        if cleaned != value:
            found[0] = True
        return cleaned
    if isinstance(value, dict):
        return {_clean(k, found): _clean(v, found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, found) for v in value]
    return value


def sanitize_item(item: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The item with every string valid Unicode; True when something had to be replaced."""
    found = [False]
    cleaned = _clean(item, found)
    if found[0]:
        cleaned["extra"] = {**(cleaned.get("extra") or {}), "sanitized": True}
    return cleaned, found[0]


def _cut_strings(value: Any, limit: int) -> tuple[Any, bool]:
    if isinstance(value, str):
        return (value[:limit], True) if len(value) > limit else (value, False)
    if isinstance(value, dict):
        pairs = [(k, _cut_strings(v, limit)) for k, v in value.items()]
        return {k: v for k, (v, _) in pairs}, any(cut for _, (_, cut) in pairs)
    if isinstance(value, list):
        parts = [_cut_strings(v, limit) for v in value]
        return [v for v, _ in parts], any(cut for _, cut in parts)
    return value, False


def truncate(mention: Mention) -> dict[str, int]:
    """Cuts an oversized mention in place to the documented limits; returns {field: original length}."""
    cut: dict[str, int] = {}
    if len(mention.text) > MAX_TEXT:
        cut["text"] = len(mention.text)
        mention.text = mention.text[:MAX_TEXT]
    if len(mention.title) > MAX_FIELD:
        cut["title"] = len(mention.title)
        mention.title = mention.title[:MAX_FIELD]
    if len(mention.author.name) > MAX_FIELD:
        cut["author.name"] = len(mention.author.name)
        mention.author.name = mention.author.name[:MAX_FIELD]
    extra, extra_cut = _cut_strings(mention.extra, MAX_FIELD)
    if extra_cut:
        cut["extra"] = len(str(mention.extra))
        mention.extra = extra
    if cut:
        mention.extra = {**mention.extra, "truncated": cut}
    return cut
