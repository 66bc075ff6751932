-- Detection asks every pass when each source's last clean crawl began (`CrawlState.collected_until`);
-- one row a crawl, tens of thousands a month, so the question needs its index.

CREATE INDEX IF NOT EXISTS crawl_runs_source ON crawl_runs(source, reason, started_at);
