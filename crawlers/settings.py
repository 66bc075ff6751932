"""Scrapy settings for crisiswatch's crawlers.

Sources override politeness in their own `custom_settings`; `crisiswatch crawl` and the run
loop pass the configured index and state database through the CRISISWATCH_* settings.
"""

BOT_NAME = "crisiswatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# The JSON endpoints we read are not pages robots.txt speaks for; politeness comes from the
# per-source delays, concurrency 1 and AutoThrottle below.
ROBOTSTXT_OBEY = False
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1
DOWNLOAD_DELAY_JITTER = 0.5  # ±50% around DOWNLOAD_DELAY
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2
AUTOTHROTTLE_MAX_DELAY = 60
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 3
COOKIES_ENABLED = False  # cookies are sent as a raw header from config, as the sites expect
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
# log lines name an item (source, native id), never print its unmasked text
LOG_FORMATTER = "crawlers.logformatter.MaskedItemLogFormatter"
USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.CredentialsMiddleware": 540,
    "crawlers.middlewares.ProxyMiddleware": 545,
    # after RetryMiddleware (550) in the response direction, so a block is seen before a retry
    "crawlers.middlewares.BlockDetectionMiddleware": 560,
    # below RetryMiddleware (550): sees what is left once retries gave up
    "crawlers.middlewares.LostPageMiddleware": 500,
}
ITEM_PIPELINES = {
    "crawlers.pipelines.ValidationPipeline": 100,
    "crawlers.pipelines.DedupPipeline": 200,
    "monitor.enrich.pipeline.EnrichPipeline": 300,  # monitor's, composed here by name (crawlers never import it)
    "crawlers.pipelines.IndexPipeline": 800,
}
EXTENSIONS = {
    # off unless crawl.frontier names a Redis: then several hosts share one crawl (crawlers/frontier.py)
    "crawlers.frontier.FrontierExtension": 100,
    "crawlers.extensions.CrawlProgress": 500,
    "crawlers.extensions.CrawlOutcome": 510,
}
SPIDER_MIDDLEWARES = {"crawlers.frontier.FrontierStartMiddleware": 10}

# crisiswatch wiring (set by `crisiswatch crawl` from the config file)
CRISISWATCH_CONFIG_FILE = None
CRISISWATCH_STATE_DB = "crisiswatch.db"
CRISISWATCH_INDEX_URL = "sqlite:///crisiswatch.db"
CRISISWATCH_BATCH_SIZE = 200
CRISISWATCH_PROGRESS = False
