"""Why an incident fired, in facts a person can check: top posts, terms, sources, authors, sentiment mix.

Narrowed to what fired: a category or source split explains that category's or source's posts; an
emerging term explains the posts that use the term (and how they spread across sources).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from index.base import Backend, MentionFilter
from index.tokenize import tokens, topic_tokens
from monitor.detectors.emerging_terms import STOP_TERMS

_STOP = STOP_TERMS  # the dashboard imports this name


def explain(backend: Backend, brand: str, since: datetime, until: datetime, top: int = 3,
            category: str | None = None, source: str | None = None, term: str | None = None,
            names: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Facts about the posts of `brand` in [since, until); `names` (the brand's names) are not top terms."""
    window = MentionFilter(brand=brand, since=since, until=until, category=category, source=source)
    posts = backend.latest(window, limit=500)
    if term:
        posts = [m for m in posts if term in topic_tokens(m.text)]
    # a term surge is about every post using the term, whatever its tone; otherwise the negative ones
    focus = posts if term else [m for m in posts if m.sentiment_band == "negative"]
    ranked = sorted(focus, key=lambda m: (-(m.influence or 0), -m.author.followers, m.id))
    copies = Counter(m.cluster_id or m.id for m in posts)
    terms = Counter(t for m in focus for t in set(topic_tokens(m.text)) if len(t) > 1 and t not in STOP_TERMS)
    for name in (brand, *names):
        for word in {name.lower(), *tokens(name)}:
            terms.pop(word, None)
    facts: dict[str, Any] = {
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "mentions": len(posts),
        "sentiment_mix": dict(Counter(m.sentiment_band for m in posts)),
        "categories": dict(Counter(m.category for m in focus if m.category).most_common(5)),
        "sources": dict(Counter(m.source for m in focus).most_common(5)),
        "top_terms": [t for t, _ in terms.most_common(8)],
        "top_authors": [
            {"name": m.author.name, "followers": m.author.followers, "verified": m.author.verified}
            for m in sorted({m.author.id: m for m in focus}.values(),
                            key=lambda m: (-m.author.followers, m.author.id))[:top]
        ],
        "max_cluster_size": max(copies.values(), default=0),
        "top_posts": [
            {"id": m.id, "url": m.url, "text": m.text[:280], "author": m.author.name,
             "followers": m.author.followers, "verified": m.author.verified, "source": m.source,
             "created_at": m.created_at.isoformat(), "severity": m.severity, "category": m.category,
             # copies of this story in the window (or known when it was enriched, if more)
             "cluster_size": max(copies[m.cluster_id or m.id], int(m.extra.get("cluster_size", 1)))}
            for m in ranked[:top]
        ],
    }
    scope = {k: v for k, v in (("category", category), ("source", source), ("term", term)) if v}
    if scope:
        facts["scope"] = scope
    return facts
