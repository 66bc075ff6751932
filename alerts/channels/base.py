"""What every channel implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from alerts.message import AlertMessage


@dataclass(frozen=True)
class Delivery:
    external_id: str | None = None  # e.g. Slack message ts, used to update instead of re-posting
    thread_id: str | None = None    # where follow-ups of the same incident go


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(ABC):
    name: str

    @abstractmethod
    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None) -> Delivery:
        """Deliver, or raise DeliveryError. `existing_id` means a previous attempt already posted."""
