"""Settings for running past one machine: where state lives, and the shared crawl frontier."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from crisiswatch.config.base import StrictModel
from crisiswatch.indexurl import redact_url

__all__ = ["StateSettings", "CrawlSettings"]


class StateSettings(StrictModel):
    # sqlite:///FILE or postgresql://USER@HOST:5432/DBNAME (password from $PGPASSWORD or ~/.pgpass);
    # empty: the SQLite file `state_db`
    url: str = ""

    @field_validator("url")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value and not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError(f"{redact_url(value)!r} is not a state store: use sqlite:///FILE or "
                             "postgresql://USER@HOST/DBNAME")
        if value.startswith("postgres") and redact_url(value) != _without_user(value):
            # the URL is shown in errors, logs and status: a password in it would travel with them
            raise ValueError(f"{redact_url(value)!r} holds a password: leave it out of the URL and set "
                             "PGPASSWORD or ~/.pgpass")
        return value


def _without_user(url: str) -> str:
    """The URL as `redact_url` shows it when it holds no password: a bare `user@` is masked too."""
    return re.sub(r"(?<=//)[^@/?#:]*@", "***@", url)


class CrawlSettings(StrictModel):
    # redis://HOST:6379/0: crawler hosts share one scheduler queue and duplicate filter; empty: each crawl alone
    frontier: str = ""
    # how long a crawler host holds a pool cookie before another host may use it (renewed while crawling)
    cookie_lease_seconds: int = Field(default=900, ge=60)
    # a host of a shared crawl silent this long (killed, cut off) is dropped and its taken pages queued again
    frontier_heartbeat_seconds: float = Field(default=30.0, gt=0)
    # a crawl still running after this long is stopped and counts as failed: a hung crawl (a site that never
    # answers, an API client sleeping on a rate limit) would otherwise hold its lease and its source for ever
    timeout_minutes: float = Field(default=60.0, gt=0)

    @field_validator("frontier")
    @classmethod
    def _redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{redact_url(value)!r} is not a Redis URL: use redis://HOST:6379/0")
        return value
