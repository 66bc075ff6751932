"""The enrichment steps, each a callable over a batch of mentions, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from crisiswatch.brand_names import BrandNames
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.mention import SEVERITIES, Mention, severity_rank
from crisiswatch.pii import EXTRA_IDENTIFIER_KEYS, mask, mask_values
from monitor.enrich.brands import BrandMatcher, BrandRule
from monitor.enrich.complaint import classify_many
from monitor.enrich.influence import influence
from monitor.enrich.language import detect_languages
from monitor.enrich.neardup import NearDupIndex
from monitor.enrich.sentiment import anger, load_model, score_by_language


class EnrichStep(Protocol):
    name: str

    def __call__(self, mentions: list[Mention]) -> None: ...


def mask_mention(m: Mention, keep_raw: bool = False) -> None:
    """Mask a mention in place: its text, its title and every free-text value of `extra`.

    Safe to run again on a stored mention (what `mentions remask` does after the masking changed): masked
    text has nothing left to mask, the `pii` counts add what this pass found to what earlier ones did, and a
    raw text kept next to it (`keep_raw`) is masked afresh, so the stored text is what today's masking makes
    of the original rather than of an earlier mask."""
    # the raw text is kept next to the masked one only when configured; anything else in `extra`
    # (a repost's original, shop replies, appended reviews, a complaint's timeline) is masked
    keep = EXTRA_IDENTIFIER_KEYS | {"raw_text"} if keep_raw else EXTRA_IDENTIFIER_KEYS
    raw = m.extra.get("raw_text") if keep_raw else None
    if m.extra:
        m.extra = mask_values(m.extra, keep)
    if isinstance(raw, str) and raw:
        result = mask(raw)
        m.text = result.text
        if result.found:
            m.extra["pii"] = result.found
    else:
        result = mask(m.text)
        if result.found:
            if keep_raw:
                m.extra["raw_text"] = m.text
            m.text = result.text
            earlier = m.extra.get("pii")
            found = dict(earlier) if isinstance(earlier, dict) else {}
            for kind, n in result.found.items():
                found[kind] = found.get(kind, 0) + n
            m.extra["pii"] = found
    if m.title:
        m.title = mask(m.title).text


class PiiStep:
    """Masks phone, ID, card, order numbers, e-mails and addresses before anything is stored: in the
    text, the title and every free-text value of `extra` (see `crisiswatch.pii.EXTRA_IDENTIFIER_KEYS`)."""

    name = "pii"

    def __init__(self, config: Config, state: StateConnection | None = None) -> None:
        self.keep_raw = config.enrichment.keep_raw_text

    def __call__(self, mentions: list[Mention]) -> None:
        for m in mentions:
            mask_mention(m, self.keep_raw)


# Sources whose posts the spider already ties to a brand by where it read them, not by their words. A
# followed account's own timeline is not among them: it may be a critic's, whose other posts are not ours.
PINNED_SOURCES = ("jd", "tmall", "tousu_sina", "weibo_comment")


class BrandStep:
    """Which configured brands a mention is really about (小米手机 yes, 小米粥 no)."""

    name = "brands"

    def __init__(self, config: Config, state: StateConnection | None = None) -> None:
        self.matcher = BrandMatcher([
            BrandRule(brand=b.key, names=tuple(b.names), rules=tuple(b.rules), exclusions=tuple(b.exclusions))
            for b in config.brands
        ])
        self.enabled = bool(config.brands)
        if state is not None and config.brands:  # so the dashboard can name brands without the config
            BrandNames(state).remember({b.key: b.display_name for b in config.brands})

    def __call__(self, mentions: list[Mention]) -> None:
        if not self.enabled:
            return
        for m in mentions:
            matches = self.matcher.match(f"{m.title} {m.text}")
            # a review or complaint filed against the brand's own product page or company, or a comment
            # under a post the brand follows ("再也不买了"), is about the brand even when its text never names it
            pinned = m.brands if m.source in PINNED_SOURCES else []
            m.brands = sorted({*pinned, *(x.brand for x in matches)})
            m.keywords = sorted({k for x in matches for k in x.keywords})


class NearDupStep:
    """Clusters copies of the same post so a story shared a thousand times is one story.

    Assignments persist in the state database, so a copy crawled tomorrow (or by the next
    crawl process) joins today's cluster; only the recent window is loaded at start.
    """

    name = "neardup"
    WINDOW = timedelta(days=3)

    def __init__(self, config: Config, state: StateConnection | None = None) -> None:
        self.index = NearDupIndex()
        self.state = state
        if state is not None:
            since = (datetime.now(UTC) - self.WINDOW).isoformat()
            rows = state.execute("SELECT key, simhash, cluster_id FROM neardup WHERE at >= ? ORDER BY at, key",
                                 (since,))
            self.index.load((k, h & 0xFFFFFFFFFFFFFFFF, c) for k, h, c in rows)

    def __call__(self, mentions: list[Mention]) -> None:
        rows = []
        known = [self.index.entry(m.id) is not None for m in mentions]
        clusters = self.index.assign_many([(m.id, m.text) for m in mentions])
        for m, cluster_id, was_known in zip(mentions, clusters, known, strict=True):
            m.cluster_id = cluster_id
            m.extra["cluster_size"] = self.index.cluster_size(cluster_id)
            if not was_known:
                h, cluster = self.index.entry(m.id)
                signed = h - (1 << 64) if h >= 1 << 63 else h  # SQLite integers are signed 64-bit
                rows.append((m.id, signed, cluster, datetime.now(UTC).isoformat()))
        if self.state is not None and rows:
            self.state.executemany("INSERT INTO neardup(key, simhash, cluster_id, at) VALUES (?,?,?,?)"
                                   " ON CONFLICT DO NOTHING",
                                   rows)


class LanguageStep:
    """The language each mention is written in, so every later step reads it in its own language."""

    name = "language"

    def __init__(self, config: Config | None = None, state: StateConnection | None = None) -> None:
        pass

    def __call__(self, mentions: list[Mention]) -> None:
        for m, lang in zip(mentions, detect_languages([m.text for m in mentions]), strict=True):
            m.lang = lang


class SentimentStep:
    """Sentiment by the model of each mention's language; other languages stay unscored (None)."""

    name = "sentiment"

    def __init__(self, config: Config, state: StateConnection | None = None) -> None:
        self.model = load_model(config.enrichment.sentiment_model)

    def __call__(self, mentions: list[Mention]) -> None:
        LanguageStep()([m for m in mentions if m.lang is None])  # a step list without "language"
        scored = score_by_language([m.text for m in mentions], [m.lang or "" for m in mentions], self.model)
        chinese = [i for i, m in enumerate(mentions) if m.lang == "zh"]  # the anger model read only Weibo
        angers = dict(zip(chinese, anger([mentions[i].text for i in chinese]), strict=True))
        for i, (m, result) in enumerate(zip(mentions, scored, strict=True)):
            m.sentiment = None if result.score is None else float(min(max(result.score, 0.0), 1.0))
            m.anger = float(min(max(angers[i], 0.0), 1.0)) if i in angers else None


class ComplaintStep:
    """Complaint or not, categories and a grade with readable reasons (the rubric's labels)."""

    name = "complaint"

    def __init__(self, config: Config, state: StateConnection | None = None) -> None:
        pass

    def __call__(self, mentions: list[Mention]) -> None:
        # what the language and sentiment steps found, when they ran: an English post is read in English
        langs = [m.lang for m in mentions if m.lang is not None]
        known = langs if len(langs) == len(mentions) else None
        bands = [m.sentiment_band for m in mentions] if known is not None else None
        for m, result in zip(mentions, classify_many([m.text for m in mentions], languages=known, sentiments=bands),
                             strict=True):
            m.complaint = result.complaint
            m.categories = list(result.categories)
            m.category = result.categories[0] if result.categories else None
            m.severity = result.severity
            m.severity_reasons = list(result.reasons)


class InfluenceStep:
    """Reach from followers, verification, engagement and cluster size; very wide reach raises the grade."""

    name = "influence"
    VIRAL = 80.0  # a post this far-reaching is at least 重要, whatever its words

    def __init__(self, config: Config, state: StateConnection | None = None) -> None:
        pass

    def __call__(self, mentions: list[Mention]) -> None:
        for m in mentions:
            m.influence = influence(
                m.author.followers, m.author.verified, m.engagement.reposts, m.engagement.comments,
                m.engagement.likes, int(m.extra.get("cluster_size", 1)),
            )
            if m.complaint and m.influence >= self.VIRAL and severity_rank(m.severity) < 2:
                m.severity = SEVERITIES[1]
                # an unknown follower count is said: the grade then rests on the verified flag and engagement
                basis = "，粉丝数未知，按认证与互动估算" if m.author.followers is None else ""
                m.severity_reasons.append(f"影响力 {m.influence:.0f}/100（大V或广泛传播{basis}）→ 重要")


STEPS: dict[str, Callable[[Config, StateConnection | None], EnrichStep]] = {
    cls.name: cls for cls in (PiiStep, BrandStep, NearDupStep, LanguageStep, SentimentStep, ComplaintStep,
                               InfluenceStep)
}
