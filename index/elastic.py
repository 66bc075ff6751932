"""Elasticsearch and OpenSearch backends: the same queries and bodies, two official clients.

Mentions are written through the alias `crisiswatch-mentions` to time-based indices that roll
over (ILM on Elasticsearch, ISM on OpenSearch). Bulk writes retry 429/5xx with bounded backoff
and report each rejected document with the server's reason; an unreachable cluster raises
`BackendUnavailable`, so the `IndexWriter` spools the batch instead of losing it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import parse_index_url
from crisiswatch.mention import Mention
from index import es_bodies as bodies
from index.base import (
    ANY,
    GROUP_FIELDS,
    AuthorStat,
    Backend,
    BackendUnavailable,
    Bucket,
    IndexResult,
    MentionFilter,
    keep_known_followers,
    reach_key,
    retired_ids,
)

logger = logging.getLogger(__name__)
RETRY_STATUS = {429, 500, 502, 503, 504}


class ClusterUnavailable(BackendUnavailable, CrisiswatchError):
    """Unreachable after the retries: the writer spools; a command prints one line instead of a traceback."""


class _Retryable(Exception):
    """A 429/5xx reply: worth another try after a pause."""


def _short(exc: Exception) -> str:
    text = str(exc)
    return text.split(" caused by:", 1)[0][:160]


def _contains(stored: Any, wanted: Any) -> bool:
    """Whether a policy read back holds every value we would write (the server adds ids and times)."""
    if isinstance(wanted, dict):
        return isinstance(stored, dict) and all(_contains(stored.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (isinstance(stored, list) and len(stored) == len(wanted)
                and all(_contains(s, w) for s, w in zip(stored, wanted, strict=True)))
    return stored == wanted


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return str(error)


class SearchBackend(Backend):
    """Everything but the client: subclasses say how to send a request and classify its errors."""

    lifecycle_kind = ""

    def __init__(self, client: Any, *, alias: str = bodies.ALIAS, shards: int = 1, replicas: int = 1,
                 rollover_size: str = "30gb", rollover_age: str = "7d", delete_after: str | None = None,
                 retries: int = 3, backoff: float = 0.5, host: str = "") -> None:
        self.client = client
        self.host = host
        self.alias = alias
        self.shards, self.replicas = shards, replicas
        self.rollover_size, self.rollover_age, self.delete_after = rollover_size, rollover_age, delete_after
        self.retries, self.backoff = retries, backoff
        self._dirty = False

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str) -> SearchBackend:
        """`elasticsearch://host:9200`, `opensearch://host:9200?tls=true`, `https://host:9200?shards=3`.

        Credentials come from the environment: ES_API_KEY, or ES_USERNAME and ES_PASSWORD
        (rename them with `?api_key_env=`, `?username_env=`, `?password_env=`).
        """
        parsed = parse_index_url(url)  # checked when the config was loaded; checked again for direct callers
        opts = dict(parsed.options)
        auth: dict[str, Any] = {}
        api_key = os.environ.get(str(opts.pop("api_key_env", "ES_API_KEY")))
        user = os.environ.get(str(opts.pop("username_env", "ES_USERNAME")))
        password = os.environ.get(str(opts.pop("password_env", "ES_PASSWORD")), "")
        if api_key:
            auth["api_key"] = api_key
        elif user:
            auth["basic_auth"] = (user, password)
        verify = bool(opts.pop("verify_certs", True))
        return cls(cls.make_client(parsed.base, auth, verify), host=parsed.base, **opts)  # type: ignore[arg-type]

    @staticmethod
    def make_client(host: str, auth: dict[str, Any], verify: bool) -> Any:
        raise NotImplementedError

    # -- what differs between the clients --------------------------------------------------------
    def _call(self, fn: Any, **kwargs: Any) -> Any:
        """One client call; connection problems become BackendUnavailable, 429/5xx `_Retryable`."""
        raise NotImplementedError

    def _bulk_request(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError

    def _raw(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        raise NotImplementedError

    def _lifecycle(self) -> tuple[str, Any, dict[str, Any]]:
        """(path, body, index settings) of the rollover policy for this distribution."""
        raise NotImplementedError

    def _status(self, exc: Exception) -> int | None:
        raise NotImplementedError

    def _host(self) -> str:
        return self.host or "the configured address"

    # -- setup -----------------------------------------------------------------------------------
    def ensure_ready(self) -> list[str]:
        warnings: list[str] = []
        plugins = self._plugins()
        analyzer = bodies.chinese_analyzer(plugins)
        if analyzer is None:
            warnings.append("no Chinese analyzer on the cluster (install analysis-smartcn or analysis-ik): "
                            "`text` uses the standard analyzer; crisiswatch search still uses jieba tokens")
        lifecycle = self._ensure_lifecycle(warnings)
        self._call(self.client.indices.put_index_template, name=self.alias, body=bodies.index_template(
            self.alias, shards=self.shards, replicas=self.replicas, text_analyzer=analyzer, lifecycle=lifecycle))
        if not self._call(self.client.indices.exists_alias, name=self.alias):
            if self._call(self.client.indices.exists, index=self.alias):
                raise CrisiswatchError(f"{self.alias} is an index, not an alias: reindex it behind the alias "
                                       f"{self.alias} (indices {self.alias}-NNNNNN)")
            name, body = bodies.first_index(self.alias)
            try:
                self._call(self.client.indices.create, index=name, body=body)
            except CrisiswatchError as exc:  # another worker created it first
                if "already_exists" not in str(exc):
                    raise
        return warnings

    def _plugins(self) -> set[str]:
        try:
            rows = self._raw("GET", "/_cat/plugins", params={"format": "json"}) or []
        except BackendUnavailable:
            raise
        except (CrisiswatchError, _Retryable):
            return set()
        return {row.get("component", "") for row in rows if isinstance(row, dict)}

    def _ensure_lifecycle(self, warnings: list[str]) -> dict[str, Any]:
        """The only place that talks to ILM/ISM; a cluster without it still works, without rollover."""
        path, body, settings = self._lifecycle()
        try:
            self._raw("PUT", path, body)
        except BackendUnavailable:
            raise
        except CrisiswatchError as exc:
            if "version_conflict" in str(exc) or "already exists" in str(exc):
                # ISM refuses to overwrite a policy without its seq_no: keeping the old one would mean a
                # changed rollover_age or delete_after never applies
                self._update_policy(path, body, warnings)
                return settings
            logger.debug("lifecycle policy refused: %s", exc)
            warnings.append(f"no {self.lifecycle_kind} on the cluster: {self.alias} will not roll over "
                            f"(one index grows; see docs/elasticsearch.md)")
            return {}
        return settings

    def _update_policy(self, path: str, body: dict[str, Any], warnings: list[str]) -> None:
        """Replace an existing ISM policy that differs from ours (optimistic concurrency by seq_no), then
        move the managed indices onto the new version, which ISM does not do by itself."""
        for _ in range(2):  # a second read if another worker changed it between our read and write
            current = self._raw("GET", path) or {}
            if _contains(current.get("policy") or {}, body["policy"]):
                return
            try:
                self._raw("PUT", path, body, params={"if_seq_no": current.get("_seq_no"),
                                                     "if_primary_term": current.get("_primary_term")})
            except CrisiswatchError as exc:
                if "version_conflict" in str(exc):
                    continue
                raise
            policy_id = path.rsplit("/", 1)[-1]
            self._raw("POST", f"/_plugins/_ism/change_policy/{self.alias}-*", {"policy_id": policy_id})
            logger.info("%s policy %s updated to the configured rollover and retention", self.lifecycle_kind,
                        policy_id)
            return
        warnings.append(f"{self.lifecycle_kind} policy {path.rsplit('/', 1)[-1]} kept changing while it was "
                        "being updated; run the set-up again")

    # -- writing ---------------------------------------------------------------------------------
    def upsert(self, mentions: Sequence[Mention]) -> IndexResult:
        mentions = list({m.id: m for m in mentions}.values())  # the last copy of an id wins
        mentions = keep_known_followers(mentions, self._known_followers([m.id for m in mentions
                                                                         if m.author.followers is None]))
        result = self.write_docs({m.id: bodies.to_doc(m) for m in mentions})
        # after the writes: a failure between them leaves a copy counted twice until the next write, never none
        self._delete(retired_ids(mentions))
        return result

    def _known_followers(self, ids: list[str]) -> dict[str, int]:
        """The stored follower counts of these mentions, where known."""
        if not ids:
            return {}
        reply = self._search({"size": len(ids), "_source": ["author.followers"], "query": {"ids": {"values": ids}}})
        counts = {hit["_id"]: ((hit.get("_source") or {}).get("author") or {}).get("followers")
                  for hit in reply["hits"]["hits"]}
        return {mid: int(n) for mid, n in counts.items() if n is not None}

    def _delete(self, ids: list[str]) -> None:
        """Stored documents removed from whichever index (rolled over or not) holds them."""
        if not ids:
            return
        reply = self._search({"size": len(ids), "_source": False, "query": {"ids": {"values": ids}}})
        operations = [{"delete": {"_index": hit["_index"], "_id": hit["_id"]}} for hit in reply["hits"]["hits"]]
        if not operations:
            return
        outcomes = [next(iter(item.values())) for item in self._with_retry(self._bulk_request, operations)["items"]]
        self._dirty = True
        if failed := [o.get("_id", "?") for o in outcomes if o.get("status", 500) >= 300 and o.get("status") != 404]:
            logger.warning("%d replaced mentions not removed (counted twice until written again): %s", len(failed),
                           ", ".join(failed[:5]))

    def write_docs(self, docs: dict[str, dict[str, Any]]) -> IndexResult:
        """The bulk path for documents already built by `es_bodies.to_doc`, keyed by mention id."""
        if not docs:
            return IndexResult()
        homes = self._homes(list(docs))
        pending = list(docs)
        result = IndexResult()
        for attempt in range(self.retries + 1):
            operations: list[dict[str, Any]] = []
            for mid in pending:
                operations += [{"index": {"_index": homes.get(mid, self.alias), "_id": mid}}, docs[mid]]
            reply = self._with_retry(self._bulk_request, operations)
            retry = []
            for mid, item in zip(pending, reply["items"], strict=True):
                outcome = next(iter(item.values()))
                status = outcome.get("status", 500)
                if status < 300:
                    result.written += 1
                elif status in RETRY_STATUS:
                    retry.append(mid)
                else:
                    result.rejected.append((mid, _reason(outcome.get("error"))))
            self._dirty = True
            if not retry:
                return result
            pending = retry
            if attempt < self.retries:
                time.sleep(self.backoff * 2 ** attempt)
        raise ClusterUnavailable(f"{len(pending)} documents still refused (429/5xx) after {self.retries} retries")

    def _homes(self, ids: list[str]) -> dict[str, str]:
        """Ids already stored in an older (rolled-over) index are rewritten there, never duplicated."""
        reply = self._with_retry(lambda: self._call(self.client.search, index=self.alias, body={
            "size": len(ids), "_source": False, "query": {"ids": {"values": ids}}}))
        homes = {hit["_id"]: hit["_index"] for hit in reply["hits"]["hits"]}
        if not homes:
            return {}
        write_index = self._with_retry(self._write_index)
        return {mid: index for mid, index in homes.items() if index != write_index}

    def _write_index(self) -> str | None:
        aliases = self._call(self.client.indices.get_alias, name=self.alias)
        for index, entry in aliases.items():
            if entry.get("aliases", {}).get(self.alias, {}).get("is_write_index", len(aliases) == 1):
                return index
        return None

    def _with_retry(self, fn: Any, *args: Any) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return fn(*args)
            except (_Retryable, BackendUnavailable) as exc:
                if attempt == self.retries:
                    raise ClusterUnavailable(str(exc)) from None
                time.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    # -- reading ---------------------------------------------------------------------------------
    def _fresh(self) -> None:
        if self._dirty:  # read-your-writes inside one process without forcing a refresh per bulk
            self._with_retry(lambda: self._call(self.client.indices.refresh, index=self.alias))
            self._dirty = False

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        self._fresh()
        return self._with_retry(lambda: self._call(self.client.search, index=self.alias, body=body))

    def _hits(self, body: dict[str, Any]) -> list[Mention]:
        return [bodies.from_doc(h["_source"]) for h in self._search(body)["hits"]["hits"]]

    def _composite(self, flt: MentionFilter, sources: list[dict], aggs: dict | None = None,
                   *extra: dict[str, Any]) -> Iterator[dict[str, Any]]:
        after = None
        while True:
            reply = self._search({"size": 0, "query": bodies.query(flt, *extra),
                                  "aggs": {"c": bodies.composite(sources, after, aggs)}})
            agg = reply["aggregations"]["c"]
            yield from agg["buckets"]
            after = agg.get("after_key")
            if len(agg["buckets"]) < bodies.COMPOSITE_PAGE or after is None:
                return  # a short page is the last: asking again only brings an empty one

    def get(self, mention_id: str) -> Mention | None:
        hits = self._hits({"size": 1, "query": {"ids": {"values": [mention_id]}}})
        return hits[0] if hits else None

    def count(self, flt: MentionFilter = ANY) -> int:
        self._fresh()
        body = {"query": bodies.query(flt)}
        return int(self._with_retry(lambda: self._call(self.client.count, index=self.alias, body=body))["count"])

    def counts_over_time(self, flt: MentionFilter, interval_seconds: int,
                         group_by: str | None = None) -> list[Bucket]:
        if group_by is not None and group_by not in GROUP_FIELDS:
            raise ValueError(f"cannot group by {group_by!r}")
        totals: dict[tuple[int, str], int] = {}
        for b in self._composite(flt, bodies.time_sources(interval_seconds, group_by)):
            key = (int(b["key"]["t"]), b["key"].get("k") or "")  # missing and "" are one group, as in SQLite
            if group_by == "brand" and flt.brand is not None and key[1] != flt.brand:
                continue  # a filtered brand groups under that brand only, not its co-mentioned ones
            totals[key] = totals.get(key, 0) + b["doc_count"]
        return [Bucket(datetime.fromtimestamp(ms / 1000, UTC), k, n) for (ms, k), n in sorted(totals.items())]

    def counts_by(self, flt: MentionFilter, field_name: str, limit: int = 20) -> list[tuple[str, int]]:
        if field_name not in GROUP_FIELDS:
            raise ValueError(f"cannot group by {field_name!r}")
        # composite pages are exact on any number of shards, unlike a terms aggregation's top-N
        sources = [{"k": {"terms": {"field": bodies.field_of(field_name)}}}]
        rows = [(b["key"]["k"], b["doc_count"]) for b in self._composite(flt, sources) if b["key"]["k"]
                and (field_name != "brand" or flt.brand in (None, b["key"]["k"]))]
        return sorted(rows, key=lambda r: (-r[1], r[0]))[:limit]

    def top_authors(self, flt: MentionFilter, limit: int = 10, budget: int = 1000) -> list[AuthorStat]:
        """Ranked by followers, then posts, then id, exactly as SQLite ranks them, in three searches whatever
        the window holds (walking every author, a thousand a page, took one search per thousand authors on each
        live update): only authors with a post at or above the limit-th author's followers can make the list,
        and the counts are summed for just those. Past `budget` such authors (ties at the line, e.g. a source
        that gives no follower counts) every author is walked, as before."""
        known = {"bool": {"must_not": {"term": {"author.id": ""}}}}
        reply = self._search({"size": 0, "query": bodies.query(flt, known),
                              "aggs": {"a": {"terms": {"field": "author.id", "size": limit,
                                                       "order": [{"followers": "desc"}, {"_key": "asc"}]},
                                             "aggs": {"followers": bodies.AUTHOR_AGGS["followers"]}}}})
        ranked = reply["aggregations"]["a"]["buckets"]
        if not ranked:
            return []
        # a shard's top `limit` by its own highest follower count holds every author of the overall top `limit`;
        # with fewer authors than that, or a limit-th of no known count (null: ranked below 0), any author may
        line = ranked[-1]["followers"]["value"] if len(ranked) == limit else None
        at_line = [{"range": {"author.followers": {"gte": int(line)}}}] if line is not None else []
        candidates: list[str] = []
        for b in self._composite(flt, [{"a": {"terms": {"field": "author.id"}}}], None, known, *at_line):
            candidates.append(b["key"]["a"])
            if len(candidates) > budget:
                return self._all_authors(flt, limit)
        reply = self._search({"size": 0, "query": bodies.query(flt, {"terms": {"author.id": candidates}}),
                              "aggs": {"a": {"terms": {"field": "author.id", "size": len(candidates)},
                                             "aggs": bodies.AUTHOR_AGGS}}})
        return self._ranked(reply["aggregations"]["a"]["buckets"], lambda b: b["key"], limit)

    def _all_authors(self, flt: MentionFilter, limit: int) -> list[AuthorStat]:
        buckets = self._composite(flt, [{"a": {"terms": {"field": "author.id"}}}], bodies.AUTHOR_AGGS)
        return self._ranked((b for b in buckets if b["key"]["a"]), lambda b: b["key"]["a"], limit)

    @staticmethod
    def _ranked(buckets: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str], limit: int) -> list[AuthorStat]:
        stats = []
        for b in buckets:
            names = b["name"]["buckets"]
            followers = b["followers"]["value"]  # null: none of the author's posts gave a count
            stats.append(AuthorStat(key(b), names[0]["key"] if names else "",
                                    int(followers) if followers is not None else None,
                                    bool(b["verified"]["value"]), b["doc_count"], b["negative"]["doc_count"]))
        return sorted(stats, key=lambda a: (-reach_key(a.followers), -a.mentions, a.author_id))[:limit]

    def latest(self, flt: MentionFilter, limit: int = 20) -> list[Mention]:
        return self._hits({"size": limit, "query": bodies.query(flt), "sort": bodies.NEWEST_FIRST})

    def by_reach(self, flt: MentionFilter, limit: int = 10, offset: int = 0) -> list[Mention]:
        return self._hits({"from": offset, "size": limit, "query": bodies.query(flt), "sort": bodies.WIDEST_FIRST})

    def search(self, query: str, flt: MentionFilter = ANY, limit: int = 20) -> list[Mention]:
        clause = bodies.search_clause(query)
        if clause is None:
            return []
        return self._hits({"size": limit, "query": bodies.query(flt, clause), "sort": bodies.NEWEST_FIRST})

    def scan(self, flt: MentionFilter, batch_size: int = 1000) -> Iterator[Mention]:
        after = None
        while True:
            body: dict[str, Any] = {"size": batch_size, "query": bodies.query(flt), "sort": bodies.OLDEST_FIRST}
            if after is not None:
                body["search_after"] = after
            hits = self._search(body)["hits"]["hits"]
            for hit in hits:
                yield bodies.from_doc(hit["_source"])
            if len(hits) < batch_size:
                return
            after = hits[-1]["sort"]

    def close(self) -> None:
        try:
            self._fresh()  # the next process reads what this one wrote
        except (BackendUnavailable, CrisiswatchError, _Retryable):
            pass
        self.client.close()


class ElasticsearchBackend(SearchBackend):
    """The official `elasticsearch` client (8.x and 9.x); rollover by an ILM policy."""

    name = "elasticsearch"
    lifecycle_kind = "ILM"

    @staticmethod
    def make_client(host: str, auth: dict[str, Any], verify: bool) -> Any:
        from elasticsearch import Elasticsearch  # lazy: ~0.3 s; a deployment runs one of the two clients

        return Elasticsearch(host, max_retries=0, retry_on_timeout=False, request_timeout=30,
                             verify_certs=verify, **auth)

    def _status(self, exc: Exception) -> int | None:
        status = getattr(exc, "status_code", None)
        meta = getattr(exc, "meta", None)
        return status if isinstance(status, int) else getattr(meta, "status", None)

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        # lazy: the elasticsearch client only (~0.3 s), not opensearch-py's as well
        import elastic_transport
        from elasticsearch import ApiError

        try:
            reply = fn(**kwargs)
        except (elastic_transport.ConnectionError, elastic_transport.ConnectionTimeout) as exc:
            raise ClusterUnavailable(f"{self.name} unreachable at {self._host()}: {_short(exc)}") from None
        except ApiError as exc:
            status = self._status(exc)
            if status in RETRY_STATUS:
                raise _Retryable(f"HTTP {status}") from None
            raise CrisiswatchError(f"{self.name}: HTTP {status} {exc.message}: {str(exc.body)[:200]}") from None
        return reply.body if hasattr(reply, "body") else reply

    def _bulk_request(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call(self.client.bulk, operations=operations)

    def _raw(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        return self._call(self.client.perform_request, method=method, path=path, headers=headers, body=body,
                          params=params)

    def _lifecycle(self) -> tuple[str, Any, dict[str, Any]]:
        policy = f"{self.alias}-policy"
        return (f"/_ilm/policy/{policy}", bodies.ilm_policy(self.rollover_size, self.rollover_age,
                                                            self.delete_after),
                {"index.lifecycle.name": policy, "index.lifecycle.rollover_alias": self.alias})


class OpenSearchBackend(SearchBackend):
    """`opensearch-py`; rollover by an ISM policy."""

    name = "opensearch"
    lifecycle_kind = "ISM"

    @staticmethod
    def make_client(host: str, auth: dict[str, Any], verify: bool) -> Any:
        from opensearchpy import OpenSearch  # lazy: ~0.25 s; a deployment runs one of the two clients

        if "api_key" in auth:
            return OpenSearch(hosts=[host], headers={"Authorization": f"ApiKey {auth['api_key']}"},
                              max_retries=0, timeout=30, verify_certs=verify)
        return OpenSearch(hosts=[host], http_auth=auth.get("basic_auth"), max_retries=0, timeout=30,
                          verify_certs=verify)

    def _status(self, exc: Exception) -> int | None:
        status = getattr(exc, "status_code", None)
        return status if isinstance(status, int) else None

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        # lazy: opensearch-py only (~0.25 s), not the elasticsearch client as well
        from opensearchpy.exceptions import ConnectionError as OSConnectionError
        from opensearchpy.exceptions import TransportError

        try:
            return fn(**kwargs)
        except OSConnectionError as exc:  # ConnectionTimeout is a subclass
            raise ClusterUnavailable(f"{self.name} unreachable at {self._host()}: {_short(exc)}") from None
        except TransportError as exc:
            status = self._status(exc)
            if status in RETRY_STATUS:
                raise _Retryable(f"HTTP {status}") from None
            raise CrisiswatchError(f"{self.name}: HTTP {status} {exc.error}: {str(exc.info)[:200]}") from None

    def _bulk_request(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call(self.client.bulk, body=operations)

    def _raw(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        return self._call(self.client.transport.perform_request, method=method, url=path, body=body,
                          params=params)

    def _lifecycle(self) -> tuple[str, Any, dict[str, Any]]:
        policy = f"{self.alias}-policy"
        return (f"/_plugins/_ism/policies/{policy}", bodies.ism_policy(
            self.alias, self.rollover_size, self.rollover_age, self.delete_after),
            {"plugins.index_state_management.rollover_alias": self.alias})
