"""X (Twitter) through tweepy: recent search with a since_id high-water mark, and the filtered stream.

Not a Scrapy spider (tweepy owns the HTTP, paging, rate-limit waits and stream reconnects); the
tweets go through the same pipelines as crawled items via `crawlers.feed.PipelineFeed`.
"""
