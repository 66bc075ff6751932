"""Brand display names kept with the data, so a dashboard served without the brand config still says
极光优选 and not "aurora". Whatever enriches with the config (crawls, the run loop, the demo) records them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from crisiswatch.db import StateConnection


class BrandNames:
    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    def remember(self, names: Mapping[str, str]) -> None:
        """Store each brand's display name (the newest config wins)."""
        now = datetime.now(UTC).isoformat()
        self.conn.executemany(
            "INSERT INTO brand_names(key, display_name, updated_at) VALUES (?,?,?) ON CONFLICT(key) DO UPDATE"
            " SET display_name=excluded.display_name, updated_at=excluded.updated_at"
            " WHERE brand_names.display_name != excluded.display_name",
            [(key, name, now) for key, name in names.items()])

    def all(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT key, display_name FROM brand_names")}
