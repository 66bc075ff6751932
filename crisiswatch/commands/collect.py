"""`crisiswatch collect x`: sources read through an API client rather than crawled (X via tweepy)."""

from __future__ import annotations

import argparse
import sys

from crisiswatch.config import Config, load_config
from crisiswatch.errors import CrisiswatchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="collect from an API source now (x: recent search or the filtered stream)")
    p.add_argument("source", choices=["x"], help="API source")
    p.add_argument("--query", help="one query instead of every configured brand's sources.x")
    p.add_argument("--brand", help="only this brand's queries (or the brand the --query belongs to)")
    p.add_argument("--stream", action="store_true", help="follow the filtered stream (rules from the config)")
    p.add_argument("--max", type=int, dest="max_tweets", help="stop after this many tweets (per query)")
    p.add_argument("--index-url", help="index backend URL (default: the config's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crawlers.x import collector

    config = load_config(args.config)
    if args.index_url:
        config = config.with_overrides(index__url=args.index_url)
    token = collector.bearer_token(config)  # a missing token stops here, before any request
    if args.stream:
        return _stream(config, token, args)
    jobs = collector.targets(config, args.query, args.brand)
    if not jobs:
        raise CrisiswatchError("no X queries: give --query or set brands[].sources.x in the config")
    client = collector.make_client(config)
    lost, failed = 0, []
    for brand, query in jobs:
        try:
            r = collector.search(client, config, query, brand=brand, max_tweets=args.max_tweets)
        except collector.SearchFailed as exc:  # this query alone: its health is recorded, the next one is read
            print(f"x: {query!r} failed: {exc}", file=sys.stderr)
            failed.append(exc)
            continue
        moved = ("kept (capped by --max: the older unread tweets come first next run)" if r.backlog
                 else f"kept ({r.lost} tweets lost to a pipeline, in the dead letters)" if r.lost
                 else f"-> {r.newest_id or r.since_id or '-'}")
        # authors or originals X did not send (suspended, protected, deleted): the log names them
        left = f" · {r.left_out} left out by X" if r.left_out else ""
        print(f"x: {query!r} · {r.pages} pages · {r.tweets} tweets · {r.indexed} indexed{left}"
              f" · since_id {r.since_id or '-'} {moved}")
        lost += r.lost
    if failed and len(jobs) > 1:  # one query's own failed run is the last already
        collector.record_failed_queries(config, failed, len(jobs))
    return 1 if lost or failed else 0


def _stream(config: Config, token: str, args: argparse.Namespace) -> int:
    import requests
    import tweepy

    from crawlers.feed import PipelineFeed
    from crawlers.state import CrawlState
    from crawlers.wiring import state_connection
    from crawlers.x import collector
    from crawlers.x.stream import MentionStream, configured_rules

    rules = configured_rules(config, args.brand)
    if args.query:
        rules = [tweepy.StreamRule(value=args.query, tag=args.brand or None)]
    if not rules:
        raise CrisiswatchError("no X stream rules: give --query or set brands[].sources.x in the config")
    with PipelineFeed(config, "x") as feed:
        stream = MentionStream(token, feed, max_tweets=args.max_tweets)
        try:
            added, deleted = stream.sync_rules(rules)
        except (tweepy.HTTPException, requests.RequestException) as exc:  # one line, kept for `status`
            stream.refused = collector.refusal(exc, "the filtered stream")
        else:
            print(f"x stream: {len(rules)} rules ({added} added, {deleted} removed); Ctrl-C stops")
            try:
                stream.run()
            except KeyboardInterrupt:
                stream.disconnect()
            finally:
                stream.write()
            print(f"x stream: {stream.received} tweets · {feed.stats.get('item_scraped_count', 0)} indexed")
        if stream.refused:
            status, reason = stream.refused
            CrawlState(state_connection(feed.crawler)).record("x", "crawl_failed", reason=f"X: {reason}",
                                                              status=status)
            feed.close("failed")
            print(f"x stream: X: {reason}", file=sys.stderr)
            return 1
    failed = feed.stats.get("crisiswatch/failed")  # set as the feed closed: posts a pipeline raised on
    if failed:
        print(f"x stream: {failed}", file=sys.stderr)
        return 1
    return 0
