"""Why an incident fired, in facts a person can check: top posts, terms, sources, authors, sentiment mix."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from index.base import Backend, MentionFilter
from index.tokenize import tokens

_STOP = set("的 了 是 我 你 他 她 它 们 在 和 就 都 也 还 又 很 吗 呢 吧 啊 这 那 有 没 不 一个 什么 怎么 自己 已经 现在 今天 真的 而且 但是 因为 所以 可以 一下 这个 那个 http https com cn".split())


def explain(backend: Backend, brand: str, since: datetime, until: datetime, top: int = 3) -> dict[str, Any]:
    window = MentionFilter(brand=brand, since=since, until=until)
    posts = backend.latest(window, limit=500)
    negative = [m for m in posts if m.sentiment_band == "negative"]
    ranked = sorted(negative, key=lambda m: (-(m.influence or 0), -m.author.followers, m.id))
    terms = Counter(t for m in negative for t in set(tokens(m.text)) if len(t) > 1 and t not in _STOP)
    for name in brand.split():
        terms.pop(name.lower(), None)
    return {
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "mentions": len(posts),
        "sentiment_mix": dict(Counter(m.sentiment_band for m in posts)),
        "categories": dict(Counter(m.category for m in negative if m.category).most_common(5)),
        "sources": dict(Counter(m.source for m in negative).most_common(5)),
        "top_terms": [t for t, _ in terms.most_common(8)],
        "top_authors": [
            {"name": m.author.name, "followers": m.author.followers, "verified": m.author.verified}
            for m in sorted({m.author.id: m for m in negative}.values(),
                            key=lambda m: (-m.author.followers, m.author.id))[:top]
        ],
        "top_posts": [
            {"id": m.id, "url": m.url, "text": m.text[:280], "author": m.author.name,
             "followers": m.author.followers, "verified": m.author.verified, "source": m.source,
             "created_at": m.created_at.isoformat(), "severity": m.severity, "category": m.category}
            for m in ranked[:top]
        ],
    }
