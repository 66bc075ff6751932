"""Enrichment as a Scrapy item pipeline: the crawl's ITEM_PIPELINES names it by its dotted path
(crawlers/settings.py), so the crawlers compose enrichment by settings and never import monitor."""

from __future__ import annotations

from typing import Any

from crisiswatch.components import crawler_config, state_connection
from crisiswatch.mention import Mention
from monitor.enrich import Enricher


class EnrichPipeline:
    """Runs the configured enrichment steps (brands, PII, sentiment, complaint, severity, influence)."""

    def __init__(self, crawler: Any) -> None:
        self.enricher = Enricher.from_config(crawler_config(crawler), state=state_connection(crawler))

    @classmethod
    def from_crawler(cls, crawler: Any) -> EnrichPipeline:
        return cls(crawler)

    def process_item(self, item: Mention) -> Mention:
        self.enricher.enrich([item])
        return item
