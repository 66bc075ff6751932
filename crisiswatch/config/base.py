"""What every config section shares: strict models and readable durations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

from crisiswatch.indexurl import redact_url


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[dhms])+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_duration(text: str) -> timedelta:
    """'4h', '90m', '1d12h', '30s' -> timedelta; the unit keeps SLA tables and scenarios readable."""
    value = str(text).replace(" ", "")
    if not _DURATION.match(value):
        raise ValueError(f"bad duration {text!r} (use e.g. 30m, 4h, 3d, 1h30m)")
    unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(float(n) * unit[u] for n, u in _DURATION_PART.findall(value)))


def _time_zone(name: str) -> str:
    """An IANA zone (Asia/Shanghai): checked at load, not when the first deadline is printed."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai or UTC)") from None
    return name


def _http_url(value: str) -> str:
    """An http(s) URL with a host and, if given, a numeric port; never with credentials in it."""
    shown = redact_url(value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise ValueError(f"bad URL {shown!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bad URL {shown!r}: use http://host[:port]/... or https://...")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"URL {shown!r} carries credentials: name an environment variable instead")
    return value


def _proxy_url(value: str) -> str:
    if "$" in value:  # expanded from the environment when the crawl starts (a proxy URL carries a password)
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018
    except ValueError as exc:
        raise ValueError(f"bad proxy URL {redact_url(value)!r}: {exc}") from None
    if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
        raise ValueError(f"bad proxy URL {redact_url(value)!r}: use http://host:port")
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    """The name of the environment variable holding a secret. Anything else is most likely the secret
    pasted in its place, which would then be shown wherever the name is (errors, `status`, the outbox):
    refused, without repeating it."""
    # a long run of letters and digits without an underscore is a key (a signing secret is 32 hex digits)
    key_like = len(value) >= 24 and "_" not in value and any(c.isdigit() for c in value)
    if not _ENV_NAME.fullmatch(value) or key_like:
        raise ValueError("not an environment variable name (letters, digits and _): put the secret in the "
                         "environment and name its variable here, never the secret itself")
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
EnvName = Annotated[str, AfterValidator(_env_name)]
HttpURL = Annotated[str, AfterValidator(_http_url)]
ProxyURL = Annotated[str, AfterValidator(_proxy_url)]
CLOCK_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"  # 00:00 .. 23:59
