"""Incidents: one surge is one incident, opened, updated while it lasts, and resolved."""
