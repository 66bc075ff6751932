"""What the dashboard shows, computed only through `Backend` queries and the incident/ticket services.

The same code answers for SQLite and Elasticsearch; routes call these methods and nothing lower.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jieba

from crisiswatch.mention import Mention
from index.base import Backend, MentionFilter
from index.tokenize import tokens, without_emoticons
from monitor.dashboard.filters import View
from monitor.dashboard.i18n import LANGS, Translator
from monitor.dashboard.narrative import describe
from monitor.explain import _STOP
from monitor.incidents.service import IncidentService
from playbooks.tickets.service import TicketService

_WORD = re.compile(r"\w")
TERM_SAMPLE = 400  # the newest posts of the view feed the trending terms
PAGE = 10  # posts per page in the overview's lists
OPEN_SHOWN = 20  # open incidents listed on the overview (the KPI counts them all)


@lru_cache(maxsize=50_000)
def post_words(text: str) -> frozenset[str]:
    """A post's distinct words, lower-cased. Cached: every live update of a view re-reads mostly the same
    posts, and segmenting them again was most of the overview's time."""
    # precise segmentation: search mode's overlapping pieces (羽绒/羽绒服) would each count
    return frozenset(w.lower() for w in jieba.cut(without_emoticons(text)) if _WORD.search(w))


def mention_card(m: Mention) -> dict[str, Any]:
    """The fields the browser shows for a post; text stays plain text (the page sets textContent)."""
    return {
        "id": m.id, "source": m.source, "url": m.url, "text": m.text[:400], "title": m.title[:200],
        "author": m.author.name, "followers": m.author.followers, "verified": m.author.verified,
        "author_id": m.author.id, "created_at": m.created_at.isoformat(), "sentiment": m.sentiment,
        "band": m.sentiment_band,
        "category": m.category, "severity": m.severity, "brands": m.brands, "lang": m.lang,
        "engagement": m.engagement.model_dump(),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class DashboardService:
    def __init__(self, backend: Backend, incidents: IncidentService, tickets: TicketService,
                 brand_names: dict[str, list[str]] | None = None, stored_names: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.incidents = incidents
        self.tickets = tickets
        # the config's names first; names stored with the data cover brands it does not list
        self.brand_names = {**{k: [v] for k, v in (stored_names or {}).items()}, **(brand_names or {})}
        # brand names and their pieces are not news on a brand's own dashboard
        self.stop = set(_STOP) | {t for names in self.brand_names.values() for name in names
                                  for t in [name.lower(), *tokens(name)]}

    def brands(self, view: View) -> list[str]:
        """Brands with mentions in the view's window, for when the config names none."""
        flt = replace(view.mention_filter(), brand=None)
        return [k for k, _ in self.backend.counts_by(flt, "brand", limit=50)]

    def fingerprint(self, view: View, now: datetime | None = None) -> tuple:
        """Cheap to compute; changes whenever anything the overview shows may have changed."""
        flt = view.mention_filter(now)
        newest = self.backend.latest(flt, limit=1)
        incidents = tuple((i.id, i.version) for i in self.incidents.list(status="open", limit=50))
        tickets = tuple((t.id, t.version) for t in self.tickets.list(limit=50))
        # the minute: SLA breaches and the window's edge move with the clock even when no data does
        minute = int((now or datetime.now(UTC)).timestamp() // 60)
        return (self.backend.count(flt), newest[0].id if newest else "", incidents, tickets, minute)

    def display_name(self, brand: str) -> str:
        names = self.brand_names.get(brand)
        return names[0] if names else brand

    def overview(self, view: View, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        flt = view.mention_filter(now)
        negative = view.mention_filter(now, sentiment_band="negative")
        sentiment = self.backend.counts_by(flt, "sentiment_band", limit=10)
        total = sum(n for _, n in sentiment)
        bands = dict(sentiment)
        # the window before, as long and on the same bucket edges (so it is counted as cheaply)
        span = flt.until - flt.since
        before = replace(flt, since=flt.since - span, until=flt.since)
        return {
            "generated_at": now.isoformat(),
            "brand_names": {key: names[0] for key, names in self.brand_names.items() if names},
            "view": {"brand": view.brand, "source": view.source, "category": view.category, "range": view.range},
            "window": {"since": flt.since.isoformat(), "until": flt.until.isoformat(),
                       "interval": view.interval_seconds},
            "total": total,
            "negative": bands.get("negative", 0),
            "previous": {"total": self.backend.count(before),
                         "negative": self.backend.count(replace(before, sentiment_band="negative"))},
            "timeline": self.timeline(view, flt, negative, now),
            "sentiment": sentiment,
            "categories": self.backend.counts_by(flt, "category", limit=10),
            "sources": self.backend.counts_by(flt, "source", limit=10),
            "authors": [a.__dict__ for a in self.backend.top_authors(flt, limit=10)],
            "terms": self.trending_terms(flt),
            "negative_posts": self.negative_posts(view, now),
            "incidents": self.open_incidents(view, now),  # the newest OPEN_SHOWN
            "open_incidents_total": self.incidents.count(status="open", brand=view.brand),
            "breached_tickets": self.tickets.count_overdue(now, brand=view.brand),
        }

    def negative_posts(self, view: View, now: datetime | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """A page of the view's negative posts, widest reach first."""
        negative = view.mention_filter(now, sentiment_band="negative")
        return [mention_card(m) for m in self.backend.by_reach(negative, limit=PAGE, offset=offset)]

    def timeline(self, view: View, flt: MentionFilter, negative: MentionFilter,
                 now: datetime | None = None) -> dict[str, Any]:
        step = view.interval_seconds
        start = int(flt.since.timestamp()) // step * step
        slots = list(range(start, int(flt.until.timestamp()), step))
        index = {ts: i for i, ts in enumerate(slots)}
        series: dict[str, list[int]] = {}
        for bucket in self.backend.counts_over_time(flt, step, group_by="brand"):
            i = index.get(int(bucket.start.timestamp()))
            if i is not None:
                series.setdefault(bucket.key or "—", [0] * len(slots))[i] += bucket.count
        neg = [0] * len(slots)
        for bucket in self.backend.counts_over_time(negative, step):
            i = index.get(int(bucket.start.timestamp()))
            if i is not None:
                neg[i] += bucket.count
        markers = [
            {"id": i.id, "label": i.label, "brand": i.brand, "level": i.level, "at": i.opened_at.isoformat(),
             "status": i.status, "dismissed": bool(i.dismissed)}
            for i in self.incidents.opened_between(flt.since, flt.until, brand=view.brand)
        ]
        # the newest bucket is still filling: the page draws it as partial, not as a drop
        clock = (now or datetime.now(UTC)).timestamp()
        partial = next((i for i, ts in enumerate(slots) if ts <= clock < ts + step), None)
        return {"slots": [datetime.fromtimestamp(ts, UTC).isoformat() for ts in slots],
                "series": [{"brand": k, "data": v} for k, v in sorted(series.items())],
                "negative": neg, "incidents": markers, "partial": partial, "interval": step}

    def trending_terms(self, flt: MentionFilter, top: int = 15) -> list[tuple[str, int]]:
        """Words most posts of the view use, counted once per post.

        Brand names and stop words are left out, and so is any word nearly every post has: that is
        the tracked query itself (e.g. the brand's name when the config does not list it), not news.
        """
        counts: Counter[str] = Counter()
        posts = 0
        for m in self.backend.latest(flt, limit=TERM_SAMPLE):
            posts += 1
            counts.update(t for t in post_words(m.text) if len(t) > 1 and t not in self.stop)
        ubiquitous = 0.8 * posts if posts >= 20 else posts + 1
        return [(t, n) for t, n in counts.most_common(top + 10) if n < ubiquitous][:top]

    def open_incidents(self, view: View, now: datetime) -> list[dict[str, Any]]:
        out = []
        for incident in self.incidents.list(status="open", brand=view.brand, limit=OPEN_SHOWN):
            ticket = self.tickets.for_incident(incident.id)
            out.append({
                "id": incident.id, "label": incident.label, "brand": incident.brand, "level": incident.level,
                "why": {lang: describe(incident, Translator(lang))[0] for lang in LANGS},
                "opened_at": incident.opened_at.isoformat(),
                "acked_by": incident.acked_by, "signals": incident.signals,
                "ticket": None if ticket is None else {
                    "number": ticket.number, "status": ticket.status, "severity": ticket.severity,
                    "ack_due": _iso(ticket.ack_due), "resolve_due": _iso(ticket.resolve_due),
                    "acknowledged": ticket.status != "新建", "breached": ticket.overdue(now),
                },
            })
        return out
