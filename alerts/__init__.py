"""Alerts: written to the outbox first, delivered per channel, marked sent only after delivery."""
