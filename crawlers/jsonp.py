"""JSON and JSONP reply bodies in whatever encoding the site used (JD's club API answers in GBK)."""

from __future__ import annotations

import json
from typing import Any

from w3lib.encoding import http_content_type_encoding


def response_text(response: Any) -> str:
    """The body as text: the declared charset, else UTF-8, else GB18030 (a superset of GBK).

    Scrapy guesses cp1252 for an undeclared non-UTF-8 body, which turns Chinese into mojibake
    that still parses as JSON: the text would be silently wrong, so decode it ourselves.
    """
    body: bytes = response.body
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    declared = http_content_type_encoding(content_type)
    if declared:
        try:
            return body.decode(declared, errors="replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("gb18030", errors="replace")


def loads_jsonp(text: str) -> Any:
    """`callback({...});` or plain JSON; ValueError when it is neither.

    rate.tmall.com called without a callback answers the object's members without their braces
    (`"rateDetail":{...}`): they are read as the object they are.
    """
    text = text.strip().lstrip("\ufeff").strip()
    if text[:1] in ("{", "[") or not text:
        return json.loads(text)
    if text.startswith('"'):
        return json.loads("{" + text + "}")
    start, end = text.find("("), text.rfind(")")
    if start <= 0 or end <= start:
        raise ValueError(f"not JSON or JSONP: {text[:60]!r}")
    return json.loads(text[start + 1:end])


def response_json(response: Any) -> Any:
    return loads_jsonp(response_text(response))
