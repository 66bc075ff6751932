"""X API v2 tweets (with their `includes.users`) as Mention-shaped dicts."""

from __future__ import annotations

from typing import Any

from crawlers.normalize import parse_time

# note_tweet: a post longer than 280 characters comes with `text` cut short and its whole text there
TWEET_FIELDS = ["created_at", "author_id", "lang", "public_metrics", "conversation_id", "referenced_tweets",
                "entities", "note_tweet"]
USER_FIELDS = ["username", "name", "verified", "public_metrics"]
EXPANSIONS = ["author_id"]


def raw(obj: Any) -> dict:
    """tweepy's Tweet/User keep the API's JSON in `.data`; plain dicts pass through."""
    return getattr(obj, "data", obj) or {}


def users_by_id(includes: dict | None) -> dict[str, dict]:
    return {str(raw(u).get("id")): raw(u) for u in (includes or {}).get("users", [])}


def tweet_item(tweet: Any, users: dict[str, dict], *, query: str = "", brands: list[str] | None = None,
               rules: list[str] | None = None) -> dict[str, Any]:
    """A Mention-shaped dict; a missing field stays missing so validation names it."""
    t = raw(tweet)
    author_id = str(t.get("author_id") or "")
    user = users.get(author_id, {})
    metrics = t.get("public_metrics") or {}
    username = user.get("username") or ""
    note = t.get("note_tweet") or {}  # a long post: its whole text and entities
    entities = note.get("entities") or t.get("entities") or {}
    item: dict[str, Any] = {
        "source": "x",
        "native_id": str(t.get("id") or ""),
        "url": f"https://x.com/{username or 'i/web'}/status/{t.get('id')}",
        "author": {"id": author_id, "name": user.get("name") or username,
                   "followers": int((user.get("public_metrics") or {}).get("followers_count") or 0),
                   "verified": bool(user.get("verified"))},
        "engagement": {"reposts": int(metrics.get("retweet_count") or 0) + int(metrics.get("quote_count") or 0),
                       "comments": int(metrics.get("reply_count") or 0),
                       "likes": int(metrics.get("like_count") or 0)},
        "query": query,
        "brands": list(brands or []),
        "extra": {k: v for k, v in {
            "username": username, "lang": t.get("lang"), "conversation_id": t.get("conversation_id"),
            "referenced": [{"type": r.get("type"), "id": r.get("id")} for r in t.get("referenced_tweets") or []],
            "hashtags": [h.get("tag") for h in entities.get("hashtags", [])],
            "rules": rules or [], "long_post": bool(note.get("text")),
        }.items() if v},
    }
    if note.get("text") or "text" in t:
        item["text"] = note.get("text") or t["text"]
    if t.get("created_at"):
        try:
            item["created_at"] = parse_time(t["created_at"])
        except ValueError:
            item["created_at"] = t["created_at"]
    return item
