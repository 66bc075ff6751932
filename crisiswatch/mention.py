"""The one `Mention` schema every source produces and every stage consumes."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

SOURCES = (
    "weibo", "weibo_comment", "jd", "tmall", "tousu_sina", "jutousu", "x",
)
CATEGORIES = (
    "product_quality", "logistics", "after_sales", "service_attitude", "payment_billing",
    "fraud_security_privacy", "price", "false_advertising", "other",
)
CATEGORY_LABELS = {
    "product_quality": "产品质量", "logistics": "物流", "after_sales": "售后/退换货",
    "service_attitude": "客服态度", "payment_billing": "支付/计费/退款",
    "fraud_security_privacy": "欺诈/账号安全/隐私泄露", "price": "价格争议",
    "false_advertising": "虚假宣传", "other": "其他",
}
SOURCE_LABELS = {  # what people call each source, per interface language
    "zh": {"weibo": "微博", "weibo_comment": "微博评论", "jd": "京东", "tmall": "天猫",
           "tousu_sina": "黑猫投诉", "jutousu": "聚投诉", "x": "X"},
    "en": {"weibo": "Weibo", "weibo_comment": "Weibo comments", "jd": "JD", "tmall": "Tmall",
           "tousu_sina": "Heimao", "jutousu": "Jutousu", "x": "X"},
}
SENTIMENT_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
SEVERITIES = ("一般", "重要", "紧急", "重大")
STORED = {"stored": True}  # validation context for mentions read back from storage

# a tag starts with a letter (or is a comment): "<不确定耐不耐用>" in a review is the writer's own words
_TAG = re.compile(r"<(?:/?[A-Za-z][^>]*|!--.*?--|![A-Za-z][^>]*)>", re.S)
_IMG_ALT = re.compile(r"""<img[^>]*?\balt=["']?([^"'>\s]+)["']?[^>]*>""", re.I)
_BR = re.compile(r"<br\s*/?>", re.I)
_SPACE = re.compile(r"[ \t\r\f\v]+")


def mention_id(source: str, native_id: str) -> str:
    """Stable id: the same post from the same source always gets the same id."""
    return hashlib.sha1(f"{source}:{native_id}".encode()).hexdigest()[:20]


def strip_html(value: str) -> str:
    """Plain text from the HTML fragments the sites put in post bodies."""
    text = _BR.sub("\n", value)
    text = _IMG_ALT.sub(r"\1", text)  # Weibo emoticons are <img alt=[偷笑]>: keep the words
    text = _TAG.sub("", text)
    text = html.unescape(text)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines()).strip()


def severity_rank(severity: str | None) -> int:
    """0 for none, 1..4 for 一般..重大, so grades compare with < and >."""
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 0


class Author(BaseModel):
    model_config = ConfigDict(frozen=False, extra="ignore")
    id: str = ""
    name: str = ""
    # None: the source gave no count (s.weibo.com's result cards, an X author missing from includes), which
    # is not an author nobody follows: reach is then judged from what is known (monitor.enrich.influence)
    followers: int | None = Field(default=0, ge=0)
    verified: bool = False


class Engagement(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reposts: int = Field(default=0, ge=0)
    comments: int = Field(default=0, ge=0)
    likes: int = Field(default=0, ge=0)


class Mention(BaseModel):
    """A public post, review, comment or complaint about a brand, from any source."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    id: str = ""
    source: str
    native_id: str = Field(min_length=1)
    url: str = ""
    text: str = Field(min_length=1)
    title: str = ""
    author: Author = Field(default_factory=Author)
    created_at: datetime
    collected_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    engagement: Engagement = Field(default_factory=Engagement)
    rating: float | None = None
    parent_id: str | None = None
    # ids this same post may be stored under from before, which the index removes as it writes this one: an X
    # post read in an edited version before edits were keyed by their first id (crawlers/x/tweets.py)
    replaces: list[str] = Field(default_factory=list)
    query: str = ""
    brands: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    # enrichment
    lang: str | None = None  # ISO 639-1 code of the text's language ("und": nothing to tell); None: not yet identified
    sentiment: float | None = Field(default=None, ge=0, le=1)
    anger: float | None = Field(default=None, ge=0, le=1)
    complaint: bool | None = None
    category: str | None = None
    categories: list[str] = Field(default_factory=list)
    severity: str | None = None
    severity_reasons: list[str] = Field(default_factory=list)
    influence: float | None = None
    cluster_id: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCES:
            raise ValueError(f"unknown source {value!r}")
        return value

    @field_validator("text", "title")
    @classmethod
    def _plain_text(cls, value: str, info: ValidationInfo) -> str:
        # Site HTML is stripped once, on the way in. A stored mention's text is already plain: a
        # post that literally says "<script>" or "&amp;" must come back from the index unchanged.
        if info.context and info.context.get("stored"):
            return value
        return strip_html(value) if "<" in value or "&" in value else value.strip()

    @classmethod
    def from_stored(cls, data: str | bytes | dict[str, Any]) -> Mention:
        """A mention read back from an index or spool (already validated and plain)."""
        if isinstance(data, dict):
            return cls.model_validate(data, context=STORED)
        return cls.model_validate_json(data, context=STORED)

    @field_validator("created_at", "collected_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a time zone")
        return value.astimezone(UTC)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}")
        return value

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str | None) -> str | None:
        if value is not None and value not in SEVERITIES:
            raise ValueError(f"unknown severity {value!r}")
        return value

    def model_post_init(self, __context: Any) -> None:
        if not self.id:
            self.id = mention_id(self.source, self.native_id)

    @property
    def sentiment_band(self) -> str:
        return sentiment_band(self.sentiment)

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict (ISO timestamps) for storage and transport."""
        return self.model_dump(mode="json")


def sentiment_band(score: float | None) -> str:
    if score is None:
        return "unknown"
    if score < 0.4:
        return "negative"
    if score > 0.6:
        return "positive"
    return "neutral"


def validation_reason(exc: ValidationError) -> str:
    """One line naming every field that failed, for the dead-letter table and logs."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "item"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
