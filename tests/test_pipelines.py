"""Validation, de-duplication and batched indexing as Scrapy components built from settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.exceptions import DropItem

from crawlers.pipelines import DedupPipeline, IndexPipeline, ValidationPipeline
from crawlers.spiders.weibo_search import WeiboSearchSpider
from crawlers.wiring import state_connection
from crisiswatch.deadletter import DeadLetters
from index import open_backend


def item(native_id: str = "1", **extra):
    base = {"source": "weibo", "native_id": native_id, "text": "极光优选的快递三天没到",
            "created_at": datetime(2025, 6, 14, 4, tzinfo=UTC), "brands": ["aurora"], "query": "极光优选"}
    return {**base, **extra}


def test_same_post_crawled_twice_is_stored_once(crawler_for, config):
    crawler = crawler_for(WeiboSearchSpider)
    validate, dedup = ValidationPipeline.from_crawler(crawler), DedupPipeline.from_crawler(crawler)
    index = IndexPipeline.from_crawler(crawler)
    index.process_item(dedup.process_item(validate.process_item(item())))
    with pytest.raises(DropItem, match="duplicate"):
        dedup.process_item(validate.process_item(item()))
    index.close_spider()
    # a second crawl (new pipelines) sees the same post again: the index keeps one copy
    crawler2 = crawler_for(WeiboSearchSpider)
    index2 = IndexPipeline.from_crawler(crawler2)
    index2.process_item(DedupPipeline.from_crawler(crawler2).process_item(
        ValidationPipeline.from_crawler(crawler2).process_item(item())))
    index2.close_spider()
    assert open_backend(config.index.url).count() == 1


@pytest.mark.parametrize(("bad", "reason"), [
    ({"text": ""}, "text"),
    ({"created_at": datetime(2025, 6, 14, 4)}, "time zone"),
    ({"source": "myspace"}, "unknown source"),
    ({"native_id": ""}, "native_id"),
    ({"author": {"followers": -5}}, "author.followers"),
])
def test_malformed_item_lands_in_dead_letters(crawler_for, bad, reason):
    crawler = crawler_for(WeiboSearchSpider)
    with pytest.raises(DropItem, match=reason):
        ValidationPipeline.from_crawler(crawler).process_item(item(**bad))
    letters = DeadLetters(state_connection(crawler)).recent()
    assert len(letters) == 1 and reason in letters[0].reason
    assert crawler.stats.get_value("crisiswatch/invalid") == 1


def test_index_pipeline_writes_in_batches(crawler_for, config):
    crawler = crawler_for(WeiboSearchSpider)
    validate, index = ValidationPipeline.from_crawler(crawler), IndexPipeline.from_crawler(crawler)
    backend = open_backend(config.index.url)
    for n in range(config.index.batch_size - 1):
        index.process_item(validate.process_item(item(str(n))))
    assert backend.count() == 0  # still buffered
    index.process_item(validate.process_item(item("last")))
    assert backend.count() == config.index.batch_size
