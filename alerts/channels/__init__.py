"""Delivery channels, one module each, behind `Channel.send`."""

from alerts.channels.base import Channel, Delivery, DeliveryError

__all__ = ["Channel", "Delivery", "DeliveryError"]
