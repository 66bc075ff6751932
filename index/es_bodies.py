"""Request bodies shared by the Elasticsearch and OpenSearch backends: mappings, lifecycle, queries.

Pure functions over plain dicts, so the shapes are tested without a cluster and both clients
send the same JSON. Full-text search uses `search_tokens`, the same jieba segmentation the
SQLite backend indexes, so every backend answers a query with the same mentions; the `text`
field is analysed as well (smartcn/ik when the cluster has it) for Kibana's own searches.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import jieba

from crisiswatch.mention import Mention
from index.base import MentionFilter
from index.tokenize import _WORD, tokens

ALIAS = "crisiswatch-mentions"
# FTS5's unicode61 tokenizer keeps letters and digits and splits on everything else (underscore too)
_PART = re.compile(r"[^\W_]+", re.UNICODE)
# the cluster plugin -> (index analyzer, search analyzer) for `text`
CHINESE_ANALYZERS = {"analysis-smartcn": ("smartcn", "smartcn"), "analysis-ik": ("ik_max_word", "ik_smart")}
_FIELD = {"brand": "brand_keys", "source": "source", "category": "category",
          "sentiment_band": "sentiment_band", "severity": "severity", "cluster_id": "cluster_id"}
COMPOSITE_PAGE = 1000


def chinese_analyzer(plugins: set[str]) -> tuple[str, str] | None:
    return next((pair for plugin, pair in CHINESE_ANALYZERS.items() if plugin in plugins), None)


def field_of(group: str) -> str:
    return _FIELD[group]


# -- documents --------------------------------------------------------------------------------
def search_tokens(text: str) -> list[str]:
    """The words FTS5 sees in the SQLite index, as a keyword array."""
    return sorted({p for t in tokens(text) for p in _PART.findall(t)})


def query_terms(query: str) -> list[str]:
    """Every term a document must contain, from the query words `index.tokenize.fts_query` uses."""
    words = [w.lower() for w in jieba.cut(query) if _WORD.search(w)]
    return list(dict.fromkeys(p for w in words for p in _PART.findall(w)))


def to_doc(mention: Mention) -> dict[str, Any]:
    doc = mention.to_record()
    doc["brand_keys"] = list(dict.fromkeys(mention.brands)) or [""]  # "" like SQLite's brandless row
    doc["sentiment_band"] = mention.sentiment_band
    doc["search_tokens"] = search_tokens(f"{mention.title} {mention.text}")
    return doc


def from_doc(source: dict[str, Any]) -> Mention:
    return Mention.from_stored(source)  # derived fields are ignored by the model


# -- index template and lifecycle -------------------------------------------------------------
def mappings(text_analyzer: tuple[str, str] | None = None) -> dict[str, Any]:
    keyword = {"type": "keyword"}
    text: dict[str, Any] = {"type": "text"}
    if text_analyzer:
        text.update(analyzer=text_analyzer[0], search_analyzer=text_analyzer[1])
    count = {"type": "long"}
    score = {"type": "float"}
    return {
        # unknown fields are kept in _source but not indexed: a newer Mention never breaks writes
        "dynamic": False,
        "properties": {
            "id": keyword, "source": keyword, "native_id": keyword, "url": {"type": "keyword", "index": False},
            "text": text, "title": text,
            "author": {"properties": {"id": keyword, "name": keyword, "followers": count,
                                      "verified": {"type": "boolean"}}},
            "created_at": {"type": "date"}, "collected_at": {"type": "date"},
            "engagement": {"properties": {"reposts": count, "comments": count, "likes": count}},
            "rating": score, "parent_id": keyword, "query": keyword, "brands": keyword, "keywords": keyword,
            "lang": keyword, "sentiment": score, "anger": score, "complaint": {"type": "boolean"}, "category": keyword,
            "categories": keyword, "severity": keyword, "severity_reasons": keyword, "influence": score,
            "cluster_id": keyword, "extra": {"type": "object", "enabled": False},
            "brand_keys": keyword, "sentiment_band": keyword, "search_tokens": keyword,
        },
    }


def index_template(alias: str, *, shards: int, replicas: int, text_analyzer: tuple[str, str] | None,
                   lifecycle: dict[str, Any]) -> dict[str, Any]:
    """Composable template for `<alias>-NNNNNN`; `lifecycle` is the ILM/ISM setting or {}."""
    settings = {"number_of_shards": shards, "number_of_replicas": replicas, "refresh_interval": "1s", **lifecycle}
    return {"index_patterns": [f"{alias}-*"], "priority": 200,
            "template": {"settings": settings, "mappings": mappings(text_analyzer)},
            "_meta": {"managed_by": "crisiswatch"}}


def first_index(alias: str) -> tuple[str, dict[str, Any]]:
    """The bootstrap index behind the write alias (rollover names the next ones -000002, ...)."""
    return f"{alias}-000001", {"aliases": {alias: {"is_write_index": True}}}


def ilm_policy(max_size: str, max_age: str, delete_after: str | None) -> dict[str, Any]:
    phases: dict[str, Any] = {"hot": {"actions": {"rollover": {"max_primary_shard_size": max_size,
                                                               "max_age": max_age}}}}
    if delete_after:
        phases["delete"] = {"min_age": delete_after, "actions": {"delete": {}}}
    return {"policy": {"phases": phases, "_meta": {"managed_by": "crisiswatch"}}}


def ism_policy(alias: str, max_size: str, max_age: str, delete_after: str | None) -> dict[str, Any]:
    hot: dict[str, Any] = {"name": "hot", "actions": [{"rollover": {"min_primary_shard_size": max_size,
                                                                     "min_index_age": max_age}}],
                           "transitions": []}
    states = [hot]
    if delete_after:
        hot["transitions"] = [{"state_name": "delete", "conditions": {"min_index_age": delete_after}}]
        states.append({"name": "delete", "actions": [{"delete": {}}], "transitions": []})
    return {"policy": {"description": "crisiswatch mentions: roll over, then expire", "default_state": "hot",
                       "states": states, "ism_template": [{"index_patterns": [f"{alias}-*"], "priority": 100}]}}


# -- queries ----------------------------------------------------------------------------------
def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def filter_clauses(flt: MentionFilter) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    for name, target in _FIELD.items():
        value = getattr(flt, name)
        if value is not None:
            clauses.append({"term": {target: value}})
    span: dict[str, Any] = {}
    if flt.since is not None:
        span["gte"] = _ms(flt.since)
    if flt.until is not None:
        span["lt"] = _ms(flt.until)
    if span:
        clauses.append({"range": {"created_at": {**span, "format": "epoch_millis"}}})
    return clauses


def query(flt: MentionFilter, *extra: dict[str, Any]) -> dict[str, Any]:
    clauses = filter_clauses(flt) + list(extra)
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


def composite(sources: list[dict[str, Any]], after: dict | None, aggs: dict | None = None,
              size: int = COMPOSITE_PAGE) -> dict[str, Any]:
    body: dict[str, Any] = {"composite": {"size": size, "sources": sources}}
    if after:
        body["composite"]["after"] = after
    if aggs:
        body["aggs"] = aggs
    return body


def time_sources(interval_seconds: int, group_by: str | None) -> list[dict[str, Any]]:
    # fixed intervals are aligned to the epoch, like SQLite's CAST(ts / interval) * interval
    sources = [{"t": {"date_histogram": {"field": "created_at", "fixed_interval": f"{interval_seconds}s"}}}]
    if group_by:
        sources.append({"k": {"terms": {"field": field_of(group_by), "missing_bucket": True}}})
    return sources


AUTHOR_AGGS = {
    "followers": {"max": {"field": "author.followers"}},
    "verified": {"max": {"field": "author.verified"}},
    "name": {"terms": {"field": "author.name", "size": 1, "order": {"_key": "desc"}}},  # MAX(name)
    "negative": {"filter": {"term": {"sentiment_band": "negative"}}},
}

NEWEST_FIRST = [{"created_at": "desc"}, {"id": "desc"}]
WIDEST_FIRST = [{"author.followers": "desc"}, {"created_at": "desc"}, {"id": "desc"}]
OLDEST_FIRST = [{"created_at": "asc"}, {"id": "asc"}]


def search_clause(query_text: str) -> dict[str, Any] | None:
    terms = query_terms(query_text)
    if not terms:
        return None
    return {"bool": {"filter": [{"term": {"search_tokens": t}} for t in terms]}}
