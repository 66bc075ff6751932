"""Site handlers: `handle(server, path, query, layout_changed) -> Reply | None`."""

from crawlers.replay.sites import weibo

SITE_HANDLERS = [weibo.handle]
