"""What every channel implements."""

from __future__ import annotations

import json
import logging
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from alerts.message import AlertMessage
from crisiswatch.config.alerts import ROBOT_NAMES, robot_url_problem

CONNECT_TIMEOUT = 5.0


def http_session() -> requests.Session:
    """The one HTTP client of the webhook channels. It retries only failures to connect, where the
    request never left (a POST retried after it was sent could post the alert twice); everything else
    is the outbox's to retry, with its backoff and attempt count."""
    session = requests.Session()
    retry = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.5,
                  allowed_methods=None, raise_on_status=False)
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


_SESSION = http_session()


class HiddenTargets(logging.Filter):
    """urllib3 logs the request target it sends to: a retried connection at WARNING (so in the run loop's
    log), every request at DEBUG. A robot's target is its access token (WeCom `?key=`, DingTalk
    `?access_token=`, Feishu's and Slack's hook paths): those of the URLs this process read are cut."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def hide(self, url: str) -> None:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(target) > 1 and target not in self.targets:
            self.targets.add(target)
            # the target and whatever follows it up to a space or quote (DingTalk's timestamp and sign)
            self.pattern = re.compile("|".join(re.escape(t) + r"[^\s'\"]*" for t in sorted(self.targets)))

    def filter(self, record: logging.LogRecord) -> bool:
        if self.pattern is not None:
            text = record.getMessage()
            hidden = self.pattern.sub("/*** (a webhook's token)", text)
            if hidden != text:
                record.msg, record.args = hidden, ()
        return True


HIDDEN_TARGETS = HiddenTargets()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection"):
    logging.getLogger(_name).addFilter(HIDDEN_TARGETS)


@dataclass(frozen=True)
class Delivery:
    external_id: str | None = None  # e.g. Slack message ts, used to update instead of re-posting
    thread_id: str | None = None    # where follow-ups of the same incident go
    posted: bool = True             # False when an earlier post was updated instead


# why a send failed, and so what the outbox does with the row (alerts/dispatch.py)
TRANSIENT = "transient"        # network down, 5xx, timeouts: retried with back-off (at most 5 min) until it goes
RATE_LIMITED = "rate_limited"  # 429 / a robot's rate limit: not taken; retried after Retry-After, not an attempt
NEEDS_FIX = "needs_fix"        # a token or channel someone must fix: retried every 10 min until fixed, operator told
UNKNOWN = "unknown"            # a refusal crisiswatch does not know: retried up to alerts.max_attempts, then failed
PERMANENT = "permanent"        # this message can never be sent as it is (too long, malformed): failed, with why


class DeliveryError(Exception):
    """A send that did not go. `kind` says what happens next (above); `retryable=False` alone means
    permanent. `scope` is what a NEEDS_FIX problem covers: the route's target, or the whole channel
    (a refused token stops every target)."""

    def __init__(self, message: str, retryable: bool = True, retry_after: float | None = None, *,
                 kind: str | None = None, scope: str = "target") -> None:
        super().__init__(message)
        self.kind = kind or (TRANSIENT if retryable else PERMANENT)
        self.retryable = self.kind != PERMANENT
        self.retry_after = retry_after
        self.scope = scope


class LookupRefused(Exception):
    """find_existing could not look (Slack: no history scope, no channel id); says what is missing."""


class Channel(ABC):
    name: str
    # a send this channel cannot look up afterwards (no id comes back: robot webhooks, SMTP) keeps its claim on
    # the outbox row while it is in flight (alerts/dispatch.py), so no second deliverer sends it again
    keeps_claim: bool = False

    @abstractmethod
    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        """Deliver, or raise DeliveryError. `existing_id` means a previous attempt already posted;
        `key` is the outbox idempotency key, for channels that can tag what they post with it."""

    def prepare(self, message: AlertMessage, target: str) -> None:
        """The slow lookups a send needs (Slack: the channel's id), done before the deliverer renews its
        lease on the row, so nothing slow stands between that renewal and the send. May raise DeliveryError."""
        return None

    def find_existing(self, message: AlertMessage, target: str, key: str, thread_id: str | None,
                      since: datetime | None = None) -> str | None:
        """After a failed or crashed send whose outcome is unknown: the id of what an earlier attempt
        posted with this key (enqueued at `since`), if it landed. None: nothing found, or this channel
        cannot look (webhooks, e-mail: at-least-once after a crash). With several copies, the earliest.
        Raises DeliveryError when the send must wait too, LookupRefused when only the lookup is refused."""
        return None

    def withdraw(self, target: str, external_id: str) -> bool:
        """Takes back a second copy of an alert this channel posted (found with find_existing); False when
        it cannot (webhooks and e-mail cannot take anything back)."""
        return False

    def after_delivery(self, message: AlertMessage, target: str, delivery: Delivery) -> None:
        """Extras once the alert is safely recorded (a chart upload, the thread's top message refreshed)."""
        return None


def env_value(name: str | None, what: str) -> str:
    """A secret named in config, read from the environment. Unset, the alert waits for someone to set it
    (a deliverer started without it, a secret rotated away): held, never failed for good."""
    value = os.environ.get(name or "")
    if not value:
        raise DeliveryError(f"{what}: environment variable {name!r} is not set: set it where the deliverer runs",
                            kind=NEEDS_FIX)
    if "://" in value:
        HIDDEN_TARGETS.hide(value)
    return value


def robot_url(channel: str, env: str, relay_hosts: list[str] | tuple[str, ...] = ()) -> str:
    """The robot webhook URL named by `env`, when it points where `channel`'s robots live or at a relay named in
    alerts.webhook_relay_hosts (crisiswatch.config.robot_url_problem). Anywhere else nothing is sent (the key
    would go with it): the alert waits for someone to fix the URL, the error naming the variable, not the URL."""
    url = env_value(env, ROBOT_NAMES[channel])
    problem = robot_url_problem(channel, url, relay_hosts)
    if problem:
        raise DeliveryError(f"{ROBOT_NAMES[channel]}: ${env}: {problem}", kind=NEEDS_FIX)
    return url


def post_json(url: str, payload: dict[str, Any], timeout: float = 10, what: str = "webhook",
              headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST JSON; 429/5xx/network problems are retryable, other HTTP errors are not. The URL never
    appears in errors (robot webhook URLs carry their access token)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        response = _SESSION.post(url, data=body, timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                                 headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                                 allow_redirects=False)
    except (requests.RequestException, ValueError) as exc:
        raise DeliveryError(f"{what} unreachable: {exc.__class__.__name__}") from None
    if response.status_code >= 300:
        retry_after = response.headers.get("Retry-After")
        status = response.status_code
        raise DeliveryError(f"{what} answered HTTP {status}", retryable=status == 429 or status >= 500,
                            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                            kind=RATE_LIMITED if status == 429 else None)
    try:
        return json.loads(response.content or b"{}")
    except ValueError:
        return {"raw": response.content.decode("utf-8", "replace")}
