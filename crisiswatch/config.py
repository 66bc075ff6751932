"""One YAML file configures crisiswatch; a bad file stops at start with the file, key and problem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crisiswatch.errors import ConfigError
from crisiswatch.mention import SEVERITIES

DEFAULT_FILES = ("crisiswatch.yaml", "crisiswatch.example.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandSources(_Strict):
    """Per-brand crawl targets: search queries, product ids, company ids, accounts."""

    weibo_search: list[str] = Field(default_factory=list, description="search keywords")
    weibo_timeline: list[str] = Field(default_factory=list, description="official account uids")
    weibo_comments: list[str] = Field(default_factory=list, description="post ids to follow")
    jd_reviews: list[str] = Field(default_factory=list, description="JD sku / productId")
    tmall_reviews: list[str] = Field(default_factory=list, description="Tmall itemId[:sellerId]")
    tousu_sina: list[str] = Field(default_factory=list, description="黑猫 couid or keyword")
    jutousu: list[str] = Field(default_factory=list, description="聚投诉 keywords")
    x: list[str] = Field(default_factory=list, description="X recent-search queries")


class Brand(_Strict):
    key: str = Field(pattern=r"^[a-z0-9_\-]+$")
    names: list[str] = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    sources: BrandSources = Field(default_factory=BrandSources)

    @property
    def display_name(self) -> str:
        return self.names[0]


class SourceSettings(_Strict):
    """Site-wide crawl settings; credentials are named by environment variable, never stored."""

    enabled: bool = True
    base_url: str | None = None
    cookie_env: str | None = None
    token_env: str | None = None
    proxy: str | None = None
    schedule_minutes: int = Field(default=15, ge=1)
    max_pages: int = Field(default=50, ge=1)
    download_delay: float | None = Field(default=None, ge=0, description="seconds; overrides the spider's")
    concurrency: int | None = Field(default=None, ge=1)

    def scrapy_overrides(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.download_delay is not None:
            out.update(DOWNLOAD_DELAY=self.download_delay, AUTOTHROTTLE_ENABLED=self.download_delay > 0)
        if self.concurrency is not None:
            out["CONCURRENT_REQUESTS_PER_DOMAIN"] = self.concurrency
        return out


class IndexSettings(_Strict):
    url: str = "sqlite:///crisiswatch.db"
    batch_size: int = Field(default=200, ge=1, le=10_000)


class EnrichmentSettings(_Strict):
    sentiment_model: str = "crisiswatch"
    negative_below: float = Field(default=0.4, ge=0, le=1)
    keep_raw_text: bool = False


class NegativeSpikeSettings(_Strict):
    bucket_minutes: int = Field(default=1, ge=1)
    baseline_halflife_minutes: float = Field(default=180, gt=0)
    prior_rate_per_minute: float = Field(default=0.2, gt=0)
    min_count: int = Field(default=4, ge=1)
    p_value: float = Field(default=1e-4, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-8, gt=0, lt=1)
    resolve_after_minutes: int = Field(default=30, ge=1)


class DetectionSettings(_Strict):
    negative_spike: NegativeSpikeSettings = Field(default_factory=NegativeSpikeSettings)


class SlackSettings(_Strict):
    token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    base_url: str | None = None
    channel: str = "#crisis-response"


class Route(_Strict):
    name: str
    channel: Literal["slack", "console"] = "slack"
    target: str | None = None
    brands: list[str] = Field(default_factory=list, description="empty = every brand")
    min_severity: str = "一般"

    @field_validator("min_severity")
    @classmethod
    def _grade(cls, value: str) -> str:
        if value not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return value


class AlertSettings(_Strict):
    timezone: str = "Asia/Shanghai"
    dashboard_url: str = "http://127.0.0.1:8470"
    slack: SlackSettings = Field(default_factory=SlackSettings)
    routes: list[Route] = Field(default_factory=lambda: [Route(name="response", channel="slack")])
    max_attempts: int = Field(default=8, ge=1)


class PlaybookSettings(_Strict):
    dir: str | None = Field(default=None, description="default: the playbooks shipped with crisiswatch")


class Config(_Strict):
    path: str = ""
    state_db: str = "crisiswatch.db"
    brands: list[Brand] = Field(default_factory=list)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    index: IndexSettings = Field(default_factory=IndexSettings)
    enrichment: EnrichmentSettings = Field(default_factory=EnrichmentSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    playbooks: PlaybookSettings = Field(default_factory=PlaybookSettings)

    def brand(self, key: str) -> Brand | None:
        return next((b for b in self.brands if b.key == key), None)

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name, SourceSettings())

    def resolve(self, relative: str) -> Path:
        """Paths in the file are relative to the file, as users expect."""
        p = Path(relative)
        if p.is_absolute() or not self.path:
            return p
        return Path(self.path).parent / p

    def with_overrides(self, **changes: Any) -> Config:
        data = self.model_dump()
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return Config.model_validate(data)


def find_config(explicit: str | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("CRISISWATCH_CONFIG")
    if env:
        return Path(env)
    for name in DEFAULT_FILES:
        if Path(name).exists():
            return Path(name)
    return None


def load_config(explicit: str | None = None) -> Config:
    path = find_config(explicit)
    if path is None:
        return Config()
    if not path.exists():
        raise ConfigError(str(path), "", "file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(str(path), where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "", "top level must be a mapping")
    return parse_config(raw, str(path))


def parse_config(raw: dict[str, Any], path: str = "<config>") -> Config:
    try:
        config = Config.model_validate({**raw, "path": path})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(path, key, f"{err['msg']}{more}") from None
    keys = [b.key for b in config.brands]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise ConfigError(path, "brands", f"duplicate brand key {sorted(dupes)[0]!r}")
    for i, route in enumerate(config.alerts.routes):
        unknown = [b for b in route.brands if b not in keys]
        if unknown:
            raise ConfigError(path, f"alerts.routes.{i}.brands", f"unknown brand {unknown[0]!r}")
    return config
