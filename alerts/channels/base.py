"""What every channel implements."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.message import AlertMessage


@dataclass(frozen=True)
class Delivery:
    external_id: str | None = None  # e.g. Slack message ts, used to update instead of re-posting
    thread_id: str | None = None    # where follow-ups of the same incident go
    posted: bool = True             # False when an earlier post was updated instead


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(ABC):
    name: str

    @abstractmethod
    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        """Deliver, or raise DeliveryError. `existing_id` means a previous attempt already posted;
        `key` is the outbox idempotency key, for channels that can tag what they post with it."""

    def find_existing(self, message: AlertMessage, target: str, key: str, thread_id: str | None,
                      since: datetime | None = None) -> str | None:
        """After a failed or crashed send whose outcome is unknown: the id of what an earlier attempt
        posted with this key (enqueued at `since`), if it landed. None: nothing found, or this channel
        cannot look (webhooks, e-mail: at-least-once after a crash)."""
        return None

    def after_delivery(self, message: AlertMessage, target: str, delivery: Delivery) -> None:
        """Extras once the alert is safely recorded (a chart upload, the thread's top message refreshed)."""
        return None


def env_value(name: str | None, what: str) -> str:
    """A secret named in config, read from the environment; a clear, non-retryable error if unset."""
    value = os.environ.get(name or "")
    if not value:
        raise DeliveryError(f"{what}: environment variable {name!r} is not set", retryable=False)
    return value


def post_json(url: str, payload: dict[str, Any], timeout: float = 10, what: str = "webhook") -> dict[str, Any]:
    """POST JSON; 429/5xx/network problems are retryable, other HTTP errors are not. The URL never
    appears in errors (robot webhook URLs carry their access token)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            raw = response.read()
    except urllib.error.HTTPError as exc:
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        raise DeliveryError(f"{what} answered HTTP {exc.code}", retryable=exc.code == 429 or exc.code >= 500,
                            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None
                            ) from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"{what} unreachable: {exc.__class__.__name__}") from None
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")}
