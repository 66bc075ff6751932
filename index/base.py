"""The `Backend` interface every mention store answers (SQLite, Elasticsearch, OpenSearch).

Detection, the dashboard and reports only call these methods, so they work on any backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from crisiswatch.mention import Mention

# cluster_id: how many copies a story has in a window, counted by the index rather than read post by post
GROUP_FIELDS = ("brand", "source", "category", "sentiment_band", "severity", "cluster_id")


@dataclass(frozen=True)
class MentionFilter:
    """Which mentions a query covers; None means any. `until` is exclusive."""

    brand: str | None = None
    source: str | None = None
    category: str | None = None
    sentiment_band: str | None = None
    severity: str | None = None
    cluster_id: str | None = None  # the copies of one story (its first post's id)
    since: datetime | None = None
    until: datetime | None = None


ANY = MentionFilter()  # frozen, so safe as a shared default

# an unknown follower count (None) ranks below every known one, 0 included, on every backend: Elasticsearch
# sorts a missing value last, SQLite stores this in its followers column
UNKNOWN_REACH = -1


def reach_key(followers: int | None) -> int:
    """Followers as the reach rankings sort them: an unknown count below every known one."""
    return UNKNOWN_REACH if followers is None else followers


@dataclass(frozen=True)
class Bucket:
    start: datetime
    key: str
    count: int


@dataclass(frozen=True)
class AuthorStat:
    author_id: str
    name: str
    followers: int | None  # the highest count of the author's posts; None when none of them gave one
    verified: bool
    mentions: int
    negative: int


@dataclass
class IndexResult:
    written: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (mention id, reason)


def keep_known_followers(mentions: Sequence[Mention], stored: dict[str, int]) -> list[Mention]:
    """The mentions to write, each whose follower count is unknown but was known when it was stored given that
    count back: a post read again from a source that gives none (s.weibo.com) keeps what another one gave.
    `stored`: the known counts of the stored copies, by mention id."""
    return [
        m.model_copy(update={"author": m.author.model_copy(update={"followers": stored[m.id]})})
        if m.author.followers is None and m.id in stored
        else m
        for m in mentions
    ]


def retired_ids(mentions: Sequence[Mention]) -> list[str]:
    """The ids the mentions replace that none of them is stored under (see `Mention.replaces`)."""
    own = {m.id for m in mentions}
    return list(dict.fromkeys(r for m in mentions for r in m.replaces if r not in own))


class BackendUnavailable(Exception):
    """The store cannot be reached; callers spool and retry instead of losing data."""


class Backend(ABC):
    name: str = "backend"

    @abstractmethod
    def upsert(self, mentions: Sequence[Mention]) -> IndexResult:
        """Insert or replace by mention id: writing the same mention twice stores it once. The ids a mention
        `replaces` (the same post stored under an older id) are removed, so the post is counted once; an unknown
        follower count (None) does not overwrite the known one of the stored copy."""

    @abstractmethod
    def get(self, mention_id: str) -> Mention | None: ...

    @abstractmethod
    def count(self, flt: MentionFilter = ANY) -> int: ...

    @abstractmethod
    def counts_over_time(
        self, flt: MentionFilter, interval_seconds: int, group_by: str | None = None
    ) -> list[Bucket]:
        """Mentions per time bucket (aligned to the epoch), optionally split by a GROUP_FIELDS field.

        Ungrouped buckets use key "". Empty buckets are omitted. Sorted by (start, key).
        """

    @abstractmethod
    def counts_by(self, flt: MentionFilter, field_name: str, limit: int = 20) -> list[tuple[str, int]]:
        """Top values of a GROUP_FIELDS field by mention count, ties broken by key."""

    @abstractmethod
    def top_authors(self, flt: MentionFilter, limit: int = 10) -> list[AuthorStat]:
        """Authors ranked by followers (reach), then mention count, then id; an unknown count ranks below 0."""

    @abstractmethod
    def latest(self, flt: MentionFilter, limit: int = 20) -> list[Mention]:
        """Newest first by created_at, then id."""

    @abstractmethod
    def by_reach(self, flt: MentionFilter, limit: int = 10, offset: int = 0) -> list[Mention]:
        """The widest-reaching posts first: author's followers (unknown below 0), then newest, then id (pages by
        offset)."""

    @abstractmethod
    def search(self, query: str, flt: MentionFilter = ANY, limit: int = 20) -> list[Mention]:
        """Full-text search (Chinese-aware); newest first."""

    @abstractmethod
    def scan(self, flt: MentionFilter, batch_size: int = 1000) -> Iterator[Mention]:
        """Every matching mention in (created_at, id) order, for detection replays and backtests."""

    def ensure_ready(self) -> list[str]:
        """Create indices/tables idempotently; returns warnings worth showing the operator."""
        return []

    def close(self) -> None:
        return None
