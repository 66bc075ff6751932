"""Brands, the sources crawled for them, the index and enrichment settings."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from crisiswatch.config.base import EnvName, HttpURL, ProxyURL, StrictModel
from crisiswatch.indexurl import parse_index_url

logger = logging.getLogger(__name__)


class BrandSources(StrictModel):
    """Per-brand crawl targets: search queries, product ids, company ids, accounts."""

    weibo_search: list[str] = Field(default_factory=list, description="search keywords")
    weibo_timeline: list[str] = Field(default_factory=list, description="official account uids")
    weibo_comments: list[str] = Field(default_factory=list, description="post ids to follow")
    jd_reviews: list[str] = Field(default_factory=list, description="JD sku / productId")
    tmall_reviews: list[str] = Field(default_factory=list, description="Tmall itemId[:sellerId]")
    tousu_sina: list[str] = Field(default_factory=list, description="黑猫 couid or keyword")
    jutousu: list[str] = Field(default_factory=list, description="聚投诉 keywords")
    x: list[str] = Field(default_factory=list, description="X recent-search queries")


class Brand(StrictModel):
    key: str = Field(pattern=r"^[a-z0-9_\-]+$")
    names: list[str] = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    sources: BrandSources = Field(default_factory=BrandSources)

    @property
    def display_name(self) -> str:
        return self.names[0]


class SourceSettings(StrictModel):
    """Site-wide crawl settings; credentials are named by environment variable, never stored."""

    enabled: bool = True
    base_url: HttpURL | None = None
    cookie_env: EnvName | None = None
    # more accounts for the pool: env variables, and browser exports (cookies.txt or JSON; see crawlers/sessions.py)
    cookie_envs: list[EnvName] = Field(default_factory=list)
    cookie_files: list[str] = Field(default_factory=list)
    token_env: EnvName | None = None
    proxy: ProxyURL | None = Field(default=None, description="may name env vars: http://$PROXY_USER:$PROXY_PASS@gw:8000")
    schedule_minutes: int = Field(default=15, ge=1)
    max_pages: int = Field(default=50, ge=1)
    reply_pages: int = Field(default=100, ge=0, description="Weibo comments: hotFlowChild pages one crawl reads at"
                             " most over all comments (about 10 s each at Weibo's delay), so a post with"
                             " thousands of replies cannot hold the crawl past crawl.timeout_minutes")
    download_delay: float | None = Field(default=None, ge=0, description="seconds; overrides the spider's")
    concurrency: int | None = Field(default=None, ge=1)

    def scrapy_overrides(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.download_delay is not None:
            out.update(DOWNLOAD_DELAY=self.download_delay, AUTOTHROTTLE_ENABLED=self.download_delay > 0)
        if self.concurrency is not None:
            out["CONCURRENT_REQUESTS_PER_DOMAIN"] = self.concurrency
        return out


class IndexSettings(StrictModel):
    url: str = "sqlite:///crisiswatch.db"
    batch_size: int = Field(default=200, ge=1, le=10_000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parse_index_url(value)  # IndexURLError is a ValueError: one line naming index.url
        return value


class EnrichmentSettings(StrictModel):
    # the Chinese model's name, checked at load (the names of monitor/enrich/sentiment.py's models): a typo
    # otherwise surfaced only when the first crawl began to enrich, in that crawl's own process
    sentiment_model: Literal["crisiswatch", "snownlp"] = "crisiswatch"
    keep_raw_text: bool = False

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        # negative_below was accepted and never read: the bands are one rule for every language, the
        # dashboard and the negative-share rule (crisiswatch.mention.sentiment_band). Said, not refused, so
        # a config that set it still loads
        if isinstance(data, dict) and "negative_below" in data:
            data = {k: v for k, v in data.items() if k != "negative_below"}
            logger.warning("enrichment.negative_below is not used (a post is negative below 0.4, positive above"
                           " 0.6, whatever the model); remove it from the config")
        return data
