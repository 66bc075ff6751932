"""Site handlers: `handle(server, path, query, layout_changed, cookies) -> Reply | None`."""

from crawlers.replay.sites import jd, jutousu, tmall, tousu, weibo, weibo_html

SITE_HANDLERS = [weibo.handle, weibo_html.handle, jd.handle, tmall.handle, tousu.handle, jutousu.handle]
