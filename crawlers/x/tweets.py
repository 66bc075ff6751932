"""X API v2 tweets (with their `includes`) as Mention-shaped dicts.

What X sends that a plain reading of `text` gets wrong:

- a post longer than 280 characters comes with `text` cut short; its whole text is `note_tweet.text`,
  sent only when `tweet.fields` asks for `note_tweet`;
- a retweet's `text` is "RT @someone: " and the original cut short, and its `public_metrics` are the
  original's; the original itself (whole, with its own metrics) is in `includes.tweets` when the
  `referenced_tweets.id` expansion is asked for;
- an edited post is a new tweet id; `edit_history_tweet_ids` lists every version, the first one first;
- `verified` is true for a paid subscription's blue check too; `verified_type` says which check it is.
"""

from __future__ import annotations

from typing import Any

from crawlers.normalize import follower_count, parse_time
from crisiswatch.mention import mention_id

# note_tweet: a post longer than 280 characters comes with `text` cut short and its whole text there
TWEET_FIELDS = ["created_at", "author_id", "lang", "public_metrics", "conversation_id", "referenced_tweets",
                "entities", "note_tweet", "edit_history_tweet_ids", "withheld"]
USER_FIELDS = ["username", "name", "verified", "verified_type", "public_metrics"]
# the retweeted or quoted original, whole, and its author (a retweet's own text is cut short)
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
# checks X gives organisations it has verified; "blue" is a paid subscription and says nothing about whether
# the media picks the account up, so it earns no influence bonus
VERIFIED_TYPES = ("business", "government")
QUOTED_TEXT = 500  # characters of a quoted or retweeted original kept with the post (the original is indexed whole)


def raw(obj: Any) -> dict:
    """tweepy's Tweet/User keep the API's JSON in `.data`; plain dicts pass through."""
    return getattr(obj, "data", obj) or {}


def users_by_id(includes: dict | None) -> dict[str, dict]:
    return {str(raw(u).get("id")): raw(u) for u in (includes or {}).get("users", [])}


def tweets_by_id(includes: dict | None) -> dict[str, dict]:
    """The referenced tweets X expanded, by every id they had (an edited original may be referenced by any)."""
    out: dict[str, dict] = {}
    for tweet in (includes or {}).get("tweets", []):
        t = raw(tweet)
        for tid in [*(t.get("edit_history_tweet_ids") or []), t.get("id")]:
            if tid:
                out[str(tid)] = t
    return out


def full_text(tweet: dict) -> str | None:
    """The whole text: a long post's note_tweet, else `text` (None when the tweet has neither)."""
    note = tweet.get("note_tweet") or {}
    return note.get("text") or tweet.get("text")


def first_id(tweet: dict) -> str:
    """The id of a post's first version: an edit is a new tweet id, and must replace the post, not add one."""
    history = tweet.get("edit_history_tweet_ids") or []
    return str(history[0] if history else tweet.get("id") or "")


def earlier_keys(tweet: dict) -> list[str]:
    """The mention ids an edited post may already be stored under: before edits were keyed by their first id,
    each version read was stored under its own tweet id. Writing the post removes them (Mention.replaces), so a
    post read again after that change is one row, not two."""
    first = first_id(tweet)
    return [mention_id("x", str(tid)) for tid in tweet.get("edit_history_tweet_ids") or [] if str(tid) != first]


def page_items(tweets: list, includes: dict | None, *, query: str = "", brands: list[str] | None = None,
               rules: list[str] | None = None) -> list[dict[str, Any]]:
    """A page's (or a stream line's) tweets as items, each retweeted or quoted original after its post as a
    mention of its own (the dedup pipeline and the index upsert keep one copy of an original many spread)."""
    users, referenced = users_by_id(includes), tweets_by_id(includes)
    items: list[dict[str, Any]] = []
    for tweet in tweets:
        t = raw(tweet)
        items.append(tweet_item(t, users, query=query, brands=brands, rules=rules, referenced=referenced))
        for kind, original in spread(t, referenced):
            copy = tweet_item(original, users, query=query, brands=brands, referenced=referenced)
            copy["extra"].update(via_repost=str(t.get("id") or ""), via=kind)  # as Weibo's reposted originals
            items.append(copy)
    return items


def spread(tweet: dict, referenced: dict[str, dict]) -> list[tuple[str, dict]]:
    """("retweet" | "quote", original) for the originals a tweet spreads that X expanded."""
    kinds = {"retweeted": "retweet", "quoted": "quote"}
    return [(kinds[r.get("type")], referenced[str(r.get("id"))]) for r in tweet.get("referenced_tweets") or []
            if r.get("type") in kinds and str(r.get("id")) in referenced]


def tweet_item(tweet: Any, users: dict[str, dict], *, query: str = "", brands: list[str] | None = None,
               rules: list[str] | None = None, referenced: dict[str, dict] | None = None) -> dict[str, Any]:
    """A Mention-shaped dict; a missing field stays missing so validation names it."""
    t = raw(tweet)
    referenced = referenced or {}
    author_id = str(t.get("author_id") or "")
    user = users.get(author_id, {})
    metrics = t.get("public_metrics") or {}
    username = user.get("username") or ""
    note = t.get("note_tweet") or {}  # a long post: its whole text and entities
    entities = note.get("entities") or t.get("entities") or {}
    refs = [r for r in t.get("referenced_tweets") or [] if isinstance(r, dict)]
    retweeted = next((r for r in refs if r.get("type") == "retweeted"), None)
    verified_type = user.get("verified_type")
    item: dict[str, Any] = {
        "source": "x",
        "native_id": first_id(t),
        "url": f"https://x.com/{username or 'i/web'}/status/{t.get('id')}",
        "author": {"id": author_id, "name": user.get("name") or username,
                   # unknown (None) for an author X left out of includes.users, not 0
                   "followers": follower_count((user.get("public_metrics") or {}).get("followers_count")),
                   # a blue check is bought (verified is true for it too): only X's own verification counts
                   "verified": verified_type in VERIFIED_TYPES if verified_type else False},
        "engagement": {"reposts": int(metrics.get("retweet_count") or 0) + int(metrics.get("quote_count") or 0),
                       "comments": int(metrics.get("reply_count") or 0),
                       "likes": int(metrics.get("like_count") or 0)},
        "query": query,
        "brands": list(brands or []),
        "replaces": earlier_keys(t),
        "extra": {k: v for k, v in {
            "username": username, "lang": t.get("lang"), "conversation_id": t.get("conversation_id"),
            "referenced": [{"type": r.get("type"), "id": r.get("id")} for r in refs],
            "hashtags": [h.get("tag") for h in entities.get("hashtags", [])],
            "rules": rules or [], "long_post": bool(note.get("text")),
            "verified_type": verified_type if verified_type and verified_type != "none" else None,
            "tweet_id": str(t.get("id")) if first_id(t) != str(t.get("id") or "") else None,  # the edited version
            "edits": len(t.get("edit_history_tweet_ids") or []) - 1 or None,
            "withheld_in": list((t.get("withheld") or {}).get("country_codes") or []) or None,
        }.items() if v},
    }
    if text := full_text(t):
        item["text"] = text
    elif "text" in t:
        item["text"] = t["text"]
    parent = retweeted or next((r for r in refs if r.get("type") == "quoted"), None) or next(
        (r for r in refs if r.get("type") == "replied_to"), None)
    if parent and parent.get("id"):
        original = referenced.get(str(parent["id"]))
        item["parent_id"] = mention_id("x", first_id(original) if original else str(parent["id"]))
        if parent is not retweeted and original:
            item["extra"]["quoted" if parent.get("type") == "quoted" else "replied_to"] = _summary(original, users)
    if retweeted:
        # a retweet's metrics are the original's: the original carries them, once
        item["engagement"] = {"reposts": 0, "comments": 0, "likes": 0}
        original = referenced.get(str(retweeted.get("id")))
        if original and full_text(original):
            handle = users.get(str(original.get("author_id") or ""), {}).get("username")
            item["text"] = f"RT @{handle}: {full_text(original)}" if handle else full_text(original)
            item["extra"]["retweet_of"] = _summary(original, users)
        else:  # the original was deleted or is protected: the retweet's own, cut-short text is all there is
            item["extra"]["retweet_of"] = {"id": str(retweeted.get("id")), "text_cut": True}
    if t.get("created_at"):
        try:
            item["created_at"] = parse_time(t["created_at"])
        except ValueError:
            item["created_at"] = t["created_at"]
    return item


def _summary(original: dict, users: dict[str, dict]) -> dict[str, Any]:
    """What a post keeps of the original it quotes, replies to or retweets (as Weibo's `retweet_of`)."""
    author = users.get(str(original.get("author_id") or ""), {})
    return {"id": first_id(original),
            "author": {"id": str(original.get("author_id") or ""), "name": author.get("name") or author.get("username", "")},
            "text": (full_text(original) or "")[:QUOTED_TEXT]}
