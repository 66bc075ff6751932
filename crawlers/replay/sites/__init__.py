"""Site handlers: `handle(server, path, query, layout_changed, cookies) -> Reply | None`."""

from crawlers.replay.sites import jd, jutousu, tmall, tousu, weibo

SITE_HANDLERS = [weibo.handle, jd.handle, tmall.handle, tousu.handle, jutousu.handle]
