"""`crisiswatch crawl SOURCE`: one crawl of a source with progress on the terminal."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from crisiswatch.config import BrandSources, load_config
from crisiswatch.errors import CrisiswatchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crawl", help="crawl one source now (Scrapy spider name, e.g. weibo_search)")
    p.add_argument("source", help="spider name: weibo_search, weibo_timeline, weibo_comments, jd_reviews, "
                                  "tmall_reviews, tousu_sina or jutousu")
    p.add_argument("--query", help="one query instead of every configured brand's")
    p.add_argument("--brand", help="only this brand's queries (or the brand the --query belongs to)")
    p.add_argument("--since", help="ISO time: do not page back past it")
    p.add_argument("--until", help="ISO time: ignore newer posts (sources that support slicing)")
    p.add_argument("--max-pages", type=int)
    p.add_argument("-a", dest="spider_args", action="append", default=[], metavar="NAME=VALUE",
                   help="spider argument, as with `scrapy crawl -a` (e.g. -a mode=html for weibo_search)")
    p.add_argument("--index-url", help="index backend URL (default: the config's)")
    p.add_argument("--join", action="store_true",
                   help="with crawl.frontier: take part in this source's shared crawl under way (docs/scaling.md)")
    p.set_defaults(func=run)


def _check_time(name: str, value: str) -> None:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise CrisiswatchError(f"--{name} {value!r} is not a time: use ISO 8601 (2025-06-14 or 2025-06-14T08:00, "
                               "China time unless it says otherwise)") from None


def run(args: argparse.Namespace) -> int:
    from crawlers.runner import run_crawls

    config = load_config(args.config)
    if args.index_url:
        config = config.with_overrides(index__url=args.index_url)
    spider_args = {k: v for k, v in {"query": args.query, "brand": args.brand, "since": args.since,
                                      "until": args.until, "max_pages": args.max_pages}.items() if v}
    for pair in args.spider_args:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CrisiswatchError(f"bad spider argument {pair!r}: use -a NAME=VALUE")
        spider_args[name] = value
    for name in ("since", "until"):  # checked here: inside Scrapy a bad one was two tracebacks
        if spider_args.get(name):
            _check_time(name, str(spider_args[name]))
    if not (args.query or args.join or args.spider_args) and args.source in BrandSources.model_fields and not any(
            getattr(b.sources, args.source) for b in config.brands if not args.brand or b.key == args.brand):
        # it crawled nothing and said "finished · 0 pages · 0 mentions", exit 0: a config that lists no targets
        where = config.path or "the built-in defaults (no ./crisiswatch.yaml, --config FILE or $CRISISWATCH_CONFIG)"
        raise CrisiswatchError(f"{args.source} has nothing to crawl: no brand{f' {args.brand}' if args.brand else ''}"
                               f" in {where} lists targets under brands[].sources.{args.source} (or give --query Q)")
    try:
        stats = run_crawls(config, [(args.source, spider_args)], progress=sys.stderr.isatty(), join=args.join,
                           overrides={"LOG_LEVEL": "WARNING", **config.source(args.source).scrapy_overrides()})
    except KeyError:  # the spiders by name: `scrapy list` works only from the repository
        from scrapy.spiderloader import get_spider_loader

        from crawlers.runner import crawl_settings

        names = ", ".join(sorted(get_spider_loader(crawl_settings(config)).list()))
        raise CrisiswatchError(f"no spider named {args.source!r} (spiders: {names})") from None
    s = stats[args.source]
    print(summary_line(args.source, s))
    return 0 if s.get("finish_reason", "?") == "finished" and not s.get("crisiswatch/failed") else 1


def summary_line(source: str, s: dict) -> str:
    """'weibo_comments: finished · 9 pages · 70 mentions · 0 invalid · 30 replies read · 6 replies not read
    (6 past the page cap)'."""
    reason = s.get("finish_reason", "?")
    failed = s.get("crisiswatch/failed")
    return (f"{source}: {'failed' if failed and reason == 'finished' else reason} · "
            f"{s.get('response_received_count', 0)} pages · "
            f"{s.get('item_scraped_count', 0)} mentions · {s.get('crisiswatch/invalid', 0)} invalid"
            # Weibo comments: replies beyond the ones hotflow shows inline, read from hotFlowChild or not
            + (f" · {s['crisiswatch/replies_read']} replies read" if s.get("crisiswatch/replies_read") else "")
            + (f" · {s['crisiswatch/replies_unread']} replies not read"
               + (f" ({s['crisiswatch/replies_unread_why']})" if s.get("crisiswatch/replies_unread_why") else "")
               if s.get("crisiswatch/replies_unread") else "")
            # queries with more pages than max_pages: said here, not only in the log
            + (f" · {_queries(s['crisiswatch/pages_capped'])} stopped at max_pages {s.get('crisiswatch/max_pages')}"
               + _cap_outcomes(s) if s.get("crisiswatch/pages_capped") else "")
            # lists taken to be newest first that showed otherwise: no stop at the mark for them
            + (f" · {_queries(s['crisiswatch/not_newest_first'])} not listed newest first (read on, not stopped at"
               " the mark)" if s.get("crisiswatch/not_newest_first") else "")
            # JD lists 100 pages of a product's reviews: older ones are out of any crawl's reach
            + (f" · {_queries(s['crisiswatch/site_page_limit'])} past the site's page limit (older posts out of"
               " reach)" if s.get("crisiswatch/site_page_limit") else "")
            + (f" · BLOCKED: {s['crisiswatch/blocked']}" if s.get("crisiswatch/blocked") else "")
            + (f" · FAILED: {failed}" if failed else ""))


# what the next crawl does about a capped query, by the kind of list (crawlers.spiders.base.CAP_OUTCOMES)
_NEXT_CRAWL = {"marked": "newest first: the next crawl reads down to its mark again",
               "ranked": "ranked by relevance or likes: the next crawl starts at page 1 again, posts past the cap"
                         " out of reach until they rank higher",
               "first": "first crawl: older posts not read"}


def _cap_outcomes(s: dict) -> str:
    parts = [f"{s[f'crisiswatch/capped_{kind}']} {text}" for kind, text in _NEXT_CRAWL.items()
             if s.get(f"crisiswatch/capped_{kind}")]
    return f" ({'; '.join(parts)})" if parts else ""


def _queries(n: int) -> str:
    return f"{n} quer{'y' if n == 1 else 'ies'}"
