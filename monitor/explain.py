"""Why an incident fired, in facts a person can check: top posts, terms, sources, authors, sentiment mix.

Narrowed to what fired: a category or source split explains that category's or source's posts; an
emerging term explains the posts that use the term (and how they spread across sources).

The counts (mentions, sentiment mix, categories, sources, the largest story's copies) are the index's
own, over the whole window:
a crisis is exactly when a window holds more posts than anyone reads, and counted over the newest 500
they said "500 mentions, all neutral" of 2,000 whose angry first 1,500 had been pushed out. What must be
read post by post (terms, authors, top posts) comes from the newest SAMPLE posts, and says so
(`sampled`) when the window holds more. A term's posts are found by reading, so its counts are the
sample's too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from index.base import Backend, MentionFilter, reach_key
from index.tokenize import tokens, topic_tokens
from monitor.detectors.emerging_terms import STOP_TERMS

_STOP = STOP_TERMS  # the dashboard imports this name
SAMPLE = 500  # posts read one by one for terms, authors, top posts and copies
LEAD = timedelta(minutes=30)  # an incident's posts are counted from this long before it opened (its page's window)


def incident_counts(backend: Backend, brand: str, opened_at: datetime, until: datetime) -> dict[str, Any]:
    """The counts of an incident's whole window, as its page counts them: all its posts, their sentiment, and
    where the negative ones came from and what about (the onset's facts count only its first minutes)."""
    window = MentionFilter(brand=brand, since=opened_at - LEAD, until=until)
    negative = replace(window, sentiment_band="negative")
    return {"window": {"since": window.since.isoformat(), "until": until.isoformat()},
            "mentions": backend.count(window), "sentiment_mix": dict(backend.counts_by(window, "sentiment_band", limit=10)),
            "categories": dict(backend.counts_by(negative, "category", limit=5)),
            "sources": dict(backend.counts_by(negative, "source", limit=5))}


def explain(backend: Backend, brand: str, since: datetime, until: datetime, top: int = 3,
            category: str | None = None, source: str | None = None, term: str | None = None,
            names: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Facts about the posts of `brand` in [since, until); `names` (the brand's names) are not top terms."""
    window = MentionFilter(brand=brand, since=since, until=until, category=category, source=source)
    posts = backend.latest(window, limit=SAMPLE)
    sampled = len(posts) == SAMPLE
    if term:
        posts = [m for m in posts if term in topic_tokens(m.text)]
    # a term surge is about every post using the term, whatever its tone; otherwise the negative ones
    focus = posts if term else [m for m in posts if m.sentiment_band == "negative"]
    ranked = sorted(focus, key=lambda m: (-(m.influence or 0), -reach_key(m.author.followers), m.id))
    copies = Counter(m.cluster_id or m.id for m in posts)
    terms = Counter(t for m in focus for t in set(topic_tokens(m.text)) if len(t) > 1 and t not in STOP_TERMS)
    for name in (brand, *names):
        for word in {name.lower(), *tokens(name)}:
            terms.pop(word, None)
    if term:  # found by reading: the sample's counts
        mentions, mix = len(posts), dict(Counter(m.sentiment_band for m in posts))
        categories = dict(Counter(m.category for m in focus if m.category).most_common(5))
        sources = dict(Counter(m.source for m in focus).most_common(5))
    else:
        negative = replace(window, sentiment_band="negative")
        mentions, mix = backend.count(window), dict(backend.counts_by(window, "sentiment_band", limit=10))
        categories = dict(backend.counts_by(negative, "category", limit=5))
        sources = dict(backend.counts_by(negative, "source", limit=5))
    # copies of the most copied story: counted by the index over the window (a term's, in the sample)
    counted = [] if term else backend.counts_by(window, "cluster_id", limit=1)
    largest = max([*copies.values(), *(n for _, n in counted)], default=0)
    facts: dict[str, Any] = {
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "mentions": mentions,
        "sentiment_mix": mix,
        "categories": categories,
        "sources": sources,
        "top_terms": [t for t, _ in terms.most_common(8)],
        "top_authors": [
            # each author's post with the highest known count (None, unknown, when none of them gave one)
            {"name": m.author.name, "followers": m.author.followers, "verified": m.author.verified}
            for m in sorted({m.author.id: m for m in sorted(focus, key=lambda m: reach_key(m.author.followers))
                             }.values(), key=lambda m: (-reach_key(m.author.followers), m.author.id))[:top]
        ],
        "max_cluster_size": largest,
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
    if sampled:  # terms, authors and top posts were read from the newest SAMPLE posts of more
        facts["sampled"] = SAMPLE
    return facts
