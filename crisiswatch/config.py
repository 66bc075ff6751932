"""One YAML file configures crisiswatch; a bad file stops at start with the file, key and problem."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


class VolumeSpikeSettings(_Strict):
    """All mentions per bucket vs a baseline that knows hour-of-day and day-of-week (negative binomial tail).

    Stricter than negative_spike by default: a volume surge can be good news (a sale, a launch)."""

    enabled: bool = True
    dimensions: list[Literal["brand", "category", "source"]] = Field(
        default_factory=lambda: ["brand", "category", "source"], description="split volume by brand, brand x ...")
    baseline_halflife_minutes: float = Field(default=1440, gt=0, description="longer than a day, or the level "
                                             "would chase the daily rhythm instead of the hour factors learning it")
    season_halflife_days: float = Field(default=3, gt=0, description="memory of the hour-of-day/weekday shape")
    prior_rate_per_minute: float = Field(default=1.0, gt=0, description="per brand; split keys get a share")
    dispersion: float = Field(default=10.0, gt=0, description="negative-binomial size: lower = burstier")
    min_count: int = Field(default=10, ge=1)
    p_value: float = Field(default=1e-6, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-10, gt=0, lt=1)


class NegativeShareSettings(_Strict):
    """The share of negative posts over a sliding window vs its baseline share (binomial tail)."""

    enabled: bool = True
    window_minutes: int = Field(default=15, ge=1)
    baseline_halflife_minutes: float = Field(default=720, gt=0)
    prior_share: float = Field(default=0.15, gt=0, lt=1)
    prior_weight: float = Field(default=50, gt=0, description="posts' worth of confidence in the prior share")
    min_total: int = Field(default=20, ge=1)
    min_negative: int = Field(default=8, ge=1)
    p_value: float = Field(default=1e-5, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-9, gt=0, lt=1)


class EmergingTermsSettings(_Strict):
    """Per brand: the share of posts using a term over a sliding window vs that term's baseline share.

    A share, not a count, so a term that just follows the brand's volume (its name) never fires."""

    enabled: bool = True
    window_minutes: int = Field(default=30, ge=1)
    baseline_halflife_minutes: float = Field(default=1440, gt=0)
    prior_share: float = Field(default=0.01, gt=0, lt=1, description="a term never seen: in 1 % of posts")
    prior_posts: float = Field(default=20, gt=0, description="posts' worth of confidence in the prior share")
    min_count: int = Field(default=6, ge=2, description="posts using the term in the window")
    warmup_posts: int = Field(default=200, ge=0, description="a brand's vocabulary is learned before judged")
    min_length: int = Field(default=2, ge=1, description="shorter tokens are not terms")
    p_value: float = Field(default=1e-6, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-12, gt=0, lt=1)
    stop_terms: list[str] = Field(default_factory=list, description="extra terms never reported")
    max_terms: int = Field(default=5000, ge=10, description="baselines kept per brand (rarest dropped)")


class FlatlineSettings(_Strict):
    """A source that goes silent against its usual volume: usually a broken crawler (operator, not PR)."""

    enabled: bool = True
    window_minutes: int = Field(default=60, ge=1)
    baseline_halflife_minutes: float = Field(default=1440, gt=0)
    min_expected: float = Field(default=20, gt=0, description="only sources this busy per window can flatline")
    silence_ratio: float = Field(default=0.2, ge=0, lt=1, description="fires at most this share of expected posts")
    p_value: float = Field(default=1e-6, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-12, gt=0, lt=1)


class DetectionSettings(_Strict):
    negative_spike: NegativeSpikeSettings = Field(default_factory=NegativeSpikeSettings)
    volume_spike: VolumeSpikeSettings = Field(default_factory=VolumeSpikeSettings)
    negative_share: NegativeShareSettings = Field(default_factory=NegativeShareSettings)
    emerging_terms: EmergingTermsSettings = Field(default_factory=EmergingTermsSettings)
    flatline: FlatlineSettings = Field(default_factory=FlatlineSettings)
    primary_rule: str = Field(
        default="negative_spike", description="its incidents carry the response playbooks; never joins another")
    join_window_minutes: int = Field(
        default=120, ge=0, description="other rules' signals join a brand's open incident that fired this recently")
    cooldown_minutes: int = Field(
        default=60, ge=0, description="a key firing again this soon after its resolve reopens the same incident")


class SlackSettings(_Strict):
    token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    base_url: str | None = None
    channel: str = "#crisis-response"
    upload_charts: bool = Field(default=False, description="upload a PNG chart into the incident thread")


CHANNEL_TYPES = ("slack", "console", "slack_webhook", "wecom", "dingtalk", "feishu", "email")
WEBHOOK_CHANNELS = ("slack_webhook", "wecom", "dingtalk", "feishu")


class Route(_Strict):
    name: str
    channel: Literal["slack", "console", "slack_webhook", "wecom", "dingtalk", "feishu", "email"] = "slack"
    target: str | None = Field(default=None, description="Slack channel, or e-mail recipients (comma-separated)")
    url_env: str | None = Field(default=None, description="env var holding a webhook URL (it carries a token)")
    secret_env: str | None = Field(default=None, description="env var holding a DingTalk/Feishu signing secret")
    brands: list[str] = Field(default_factory=list, description="empty = every brand")
    min_severity: str = "一般"

    @field_validator("min_severity")
    @classmethod
    def _grade(cls, value: str) -> str:
        if value not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return value

    @model_validator(mode="after")
    def _needs_url(self) -> Route:
        if self.channel in WEBHOOK_CHANNELS and not self.url_env:
            raise ValueError(f"channel {self.channel} needs url_env (the env var holding the webhook URL)")
        if self.channel == "email" and not self.target:
            raise ValueError("channel email needs target (recipient addresses)")
        return self

    @property
    def address(self) -> str:
        """What the outbox stores as the target: a channel name, recipients, or a URL's env var name."""
        return self.url_env if self.channel in WEBHOOK_CHANNELS else (self.target or "")


class EscalationStep(_Strict):
    after_minutes: float = Field(default=0, ge=0, description="delay after the previous step")
    notify: str = Field(description="'#channel', 'channel:target' or a mention such as <!subteam^S123>")
    label: str = ""


class EscalationPolicy(_Strict):
    steps: list[EscalationStep] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, description="times to run the whole chain again while unacknowledged")
    stale_ack_minutes: float | None = Field(default=None, gt=0,
                                            description="an ack without resolution re-notifies after this")

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, value: Any) -> Any:
        return {"steps": value} if isinstance(value, list) else value


class EmailSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "crisiswatch@localhost"
    username_env: str | None = None
    password_env: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = Field(default=10, gt=0)


class DigestSettings(_Strict):
    enabled: bool = False
    max_severity: str = Field(default="一般", description="alerts at or below this grade wait for the digest")
    every_minutes: int = Field(default=60, ge=1)

    _grade = field_validator("max_severity")(Route._grade.__func__)


class QuietHours(_Strict):
    start: str = Field(default="22:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(default="08:00", pattern=r"^\d{2}:\d{2}$")
    max_severity: str = Field(default="一般", description="alerts at or below this grade wait until the end")

    _grade = field_validator("max_severity")(Route._grade.__func__)


class AlertSettings(_Strict):
    timezone: str = "Asia/Shanghai"
    dashboard_url: str = "http://127.0.0.1:8470"
    slack: SlackSettings = Field(default_factory=SlackSettings)
    routes: list[Route] = Field(default_factory=lambda: [Route(name="response", channel="slack")])
    operator_route: Route | None = Field(default=None, description="source health, dead-man and delivery failures")
    max_attempts: int = Field(default=8, ge=1)
    operator_after_failures: int = Field(default=3, ge=1, description="failed sends before the operator hears")
    deadman_minutes: int = Field(default=15, ge=1)
    chart_hours: int = Field(default=6, ge=1, le=72)
    email: EmailSettings = Field(default_factory=EmailSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    quiet_hours: QuietHours | None = None
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=dict)


class PlaybookSettings(_Strict):
    dir: str | None = Field(default=None, description="default: the playbooks shipped with crisiswatch")


_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[dhm])+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhm])")


def parse_duration(text: str) -> timedelta:
    """'4h', '90m', '1d12h' -> timedelta; the unit keeps SLA tables readable."""
    value = str(text).replace(" ", "")
    if not _DURATION.match(value):
        raise ValueError(f"bad duration {text!r} (use e.g. 30m, 4h, 3d, 1h30m)")
    unit = {"d": 86400, "h": 3600, "m": 60}
    return timedelta(seconds=sum(float(n) * unit[u] for n, u in _DURATION_PART.findall(value)))


class SlaLimits(_Strict):
    """Time limits for one grade: acknowledge, first response, feedback, completion (durations)."""

    ack: str
    response: str
    feedback: str
    resolve: str

    @field_validator("ack", "response", "feedback", "resolve")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class BusinessHours(_Strict):
    """SLA clocks for these grades only run inside working hours (team time zone)."""

    start: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays, 1 = Monday")
    grades: list[str] = Field(default_factory=lambda: ["一般", "重要"], description="urgent grades run 24x7")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 1 or d > 7 for d in value):
            raise ValueError("days must be ISO weekdays 1..7 (1 = Monday)")
        return value

    @field_validator("grades")
    @classmethod
    def _grades(cls, value: list[str]) -> list[str]:
        bad = [g for g in value if g not in SEVERITIES]
        if bad:
            raise ValueError(f"unknown grade {bad[0]!r} (grades: {', '.join(SEVERITIES)})")
        return value


TICKET_DEPARTMENTS = ("客服", "调查", "技术", "法律", "管理层")
DEFAULT_ROUTING: dict[str, list[str]] = {
    "product_quality": ["调查"], "logistics": ["客服"], "after_sales": ["客服"], "service_attitude": ["客服"],
    "payment_billing": ["技术"], "fraud_security_privacy": ["法律", "技术"], "price": ["客服"],
    "false_advertising": ["法律"], "other": ["客服"],
}


class TicketSettings(_Strict):
    """Complaint tickets: SLA per grade, business hours, routing, joining and repeat windows."""

    timezone: str | None = Field(default=None, description="default: alerts.timezone")
    sla: dict[str, SlaLimits] = Field(default_factory=dict, description="per-grade overrides of DEFAULT_SLA")
    business_hours: BusinessHours | None = None
    remind_at: float = Field(default=0.8, gt=0, lt=1, description="remind when this share of a limit has passed")
    escalate_to: str = "管理层"
    join_window_minutes: int = Field(default=60, ge=0)
    repeat_window_days: int = Field(default=30, ge=0)
    routing: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ROUTING))
    major_adds: str = Field(default="管理层", description="重大 tickets also go to this department")

    @field_validator("sla")
    @classmethod
    def _grades(cls, value: dict[str, SlaLimits]) -> dict[str, SlaLimits]:
        bad = [g for g in value if g not in SEVERITIES]
        if bad:
            raise ValueError(f"unknown grade {bad[0]!r} (grades: {', '.join(SEVERITIES)})")
        return value

    @field_validator("routing")
    @classmethod
    def _routing(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for category, departments in value.items():
            if category not in DEFAULT_ROUTING:
                raise ValueError(f"unknown category {category!r} (categories: {', '.join(DEFAULT_ROUTING)})")
            bad = [d for d in departments if d not in TICKET_DEPARTMENTS] if departments else ["(none)"]
            if bad:
                raise ValueError(f"routing.{category}: unknown department {bad[0]!r} "
                                 f"(departments: {', '.join(TICKET_DEPARTMENTS)})")
        return {**DEFAULT_ROUTING, **value}

    @field_validator("escalate_to", "major_adds")
    @classmethod
    def _department(cls, value: str) -> str:
        if value not in TICKET_DEPARTMENTS:
            raise ValueError(f"unknown department {value!r} (departments: {', '.join(TICKET_DEPARTMENTS)})")
        return value


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
    tickets: TicketSettings = Field(default_factory=TicketSettings)

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
