"""How a crawl reports that its source refused it: one health event, one log line, the crawl's stats."""

from __future__ import annotations

import logging
from typing import Any

from crawlers.blocks import Block
from crawlers.state import CrawlState
from crawlers.wiring import state_connection

logger = logging.getLogger(__name__)


def record_block(crawler: Any, block: Block, url: str, status: str = "blocked", http_status: int = 0) -> bool:
    """Marks the crawler's source blocked (once per crawl); False when it already was.

    `status` is what `crisiswatch sources check` and `crisiswatch status` show for it:
    blocked, needs-cookie or cookie-expired.
    """
    spider = crawler.spider
    if getattr(spider, "blocked", False):
        return False
    source = getattr(spider, "name", "unknown")
    spider.blocked = block.reason
    CrawlState(state_connection(crawler)).record(source, "source_blocked", reason=block.reason, url=url,
                                                 status=status, kind=block.kind, http_status=http_status)
    logger.error("%s is blocked: %s (%s); pausing this source", source, block.reason, url.split("?", 1)[0])
    crawler.stats.set_value("crisiswatch/blocked", block.reason)
    crawler.stats.set_value("crisiswatch/block_status", status)
    return True
