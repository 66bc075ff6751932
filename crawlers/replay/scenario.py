"""Scenario files: posts over time (a quiet day, then a crisis), generated deterministically.

A scenario names text pools (templates with {slots}), vocabularies for the slots, phases with
a rate per hour (constant or a linear ramp) and a mix of pools, and one-off events such as a
verified account with many followers joining. Times are offsets from an anchor (default: now),
so the demo's crisis is always "happening now" on the dashboard.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from crisiswatch.config.base import parse_duration
from crisiswatch.errors import CrisiswatchError

SCENARIO_DIR = Path(__file__).parent / "scenarios"


def seconds(text: str | int | float) -> float:
    """'24h40m' -> 88800.0 (plain numbers are seconds)."""
    if isinstance(text, int | float):
        return float(text)
    return parse_duration(text).total_seconds()


@dataclass(frozen=True)
class Author:
    id: str
    name: str
    followers: int
    verified: bool


@dataclass(frozen=True)
class Post:
    """One public post as the scenario defines it; site handlers render it in their shapes."""

    id: str
    source: str
    created_at: datetime
    text: str
    pool: str
    author: Author
    reposts: int = 0
    comments: int = 0
    likes: int = 0
    rating: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Scenario:
    name: str
    description: str
    brand: dict[str, Any]
    posts: list[Post]
    start: datetime
    end: datetime
    surge_start: datetime | None = None
    # per-site ids the posts live under, e.g. {jd: sku, tmall: itemId, tousu_sina: couid}
    ids: dict[str, str] = field(default_factory=dict)

    def visible(self, now: datetime | None = None) -> list[Post]:
        """Posts published by `now` (the replay clock), newest first like the sites list them."""
        now = now or datetime.now(UTC)
        return sorted((p for p in self.posts if p.created_at <= now), key=lambda p: (p.created_at, p.id),
                      reverse=True)


def _native_id(seed: str, source: str) -> str:
    digest = hashlib.sha1(f"{source}:{seed}".encode()).hexdigest()
    return str(4_900_000_000_000_000 + int(digest[:13], 16) % 99_999_999_999_999)


def _fill(template: str, vocab: dict[str, list[Any]], rng: random.Random, brand_name: str) -> str:
    def pick(match: re.Match) -> str:
        name = match.group(1)
        if name == "brand":
            return brand_name
        choices = vocab.get(name)
        if not choices:
            raise CrisiswatchError(f"scenario template uses {{{name}}} but vocab has no {name!r}")
        return str(rng.choice(choices))

    return re.sub(r"\{(\w+)\}", pick, template)


def build(raw: dict[str, Any], anchor: datetime | None = None, name: str = "") -> Scenario:
    anchor = (anchor or datetime.now(UTC)).replace(second=0, microsecond=0)
    rng = random.Random(raw.get("seed", 1))
    duration = seconds(raw["duration"])
    start = anchor - timedelta(seconds=duration)
    brand = raw["brand"]
    brand_name = brand["names"][0]
    pools: dict[str, list[str]] = raw["pools"]
    vocab: dict[str, list[Any]] = raw.get("vocab", {})
    sources: dict[str, float] = raw.get("sources", {"weibo": 1.0})
    crowd = [Author(id=str(5_000_000_000 + i * 7919), name=f"{rng.choice(vocab.get('nick', ['用户']))}{i:04d}",
                    followers=int(rng.lognormvariate(5.5, 1.6)), verified=False)
             for i in range(int(raw.get("crowd", 400)))]
    posts: list[Post] = []
    for phase in raw["phases"]:
        t0, t1 = seconds(phase["start"]), seconds(phase["end"])
        rate = phase["rate_per_hour"]
        r0, r1 = (rate, rate) if isinstance(rate, int | float) else rate
        mix = phase["mix"]
        t = t0
        while True:
            # thinning keeps a linear ramp an honest inhomogeneous Poisson process
            t += rng.expovariate(max(r0, r1) / 3600)
            if t >= t1:
                break
            current = r0 + (r1 - r0) * (t - t0) / max(t1 - t0, 1)
            if rng.random() > current / max(r0, r1):
                continue
            pool = rng.choices(list(mix), weights=list(mix.values()))[0]
            source = rng.choices(list(sources), weights=list(sources.values()))[0]
            author = rng.choice(crowd)
            seq = len(posts)
            posts.append(Post(
                id=_native_id(f"{name}:{seq}", source), source=source,
                created_at=start + timedelta(seconds=round(t)), pool=pool,
                text=_fill(rng.choice(pools[pool]), vocab, rng, brand_name), author=author,
                reposts=int(rng.expovariate(1 / 3)), comments=int(rng.expovariate(1 / 4)),
                likes=int(rng.expovariate(1 / 12)),
                rating=(rng.choice([1, 2]) if pool in raw.get("negative_pools", []) else rng.choice([4, 5]))
                if source in ("jd", "tmall") else None,
            ))
    for i, event in enumerate(raw.get("events", [])):
        a = event["author"]
        author = Author(id=str(a.get("id", 1_900_000_000 + i)), name=a["name"], followers=int(a["followers"]),
                        verified=bool(a.get("verified", False)))
        text = event.get("text") or rng.choice(pools[event["pool"]])
        posts.append(Post(
            id=_native_id(f"{name}:event:{i}", event.get("source", "weibo")), source=event.get("source", "weibo"),
            created_at=start + timedelta(seconds=seconds(event["at"])), pool=event.get("pool", "event"),
            text=_fill(text, vocab, rng, brand_name), author=author, reposts=int(event.get("reposts", 0)),
            comments=int(event.get("comments", 0)), likes=int(event.get("likes", 0)),
            # optional per-site details, e.g. Weibo's {long: true, pinned: true, comment_texts: [...]}
            extra=dict(event.get("extra") or {}),
        ))
    posts.sort(key=lambda p: (p.created_at, p.id))
    surge = raw.get("surge_start")
    return Scenario(name=name or raw.get("name", ""), description=raw.get("description", ""), brand=brand,
                    posts=posts, start=start, end=anchor,
                    surge_start=start + timedelta(seconds=seconds(surge)) if surge else None,
                    ids={str(k): str(v) for k, v in (raw.get("ids") or {}).items()})


def scenario_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    shipped = SCENARIO_DIR / f"{name_or_path}.yaml"
    if shipped.exists():
        return shipped
    known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
    raise CrisiswatchError(f"no scenario {name_or_path!r} (shipped: {known})")


def load_scenario(name_or_path: str, anchor: datetime | None = None) -> Scenario:
    path = scenario_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if raw.get("base"):  # a variant reuses its base's brand, pools and vocabulary
            base = yaml.safe_load(scenario_path(raw["base"]).read_text(encoding="utf-8"))
            raw = {**base, **{k: v for k, v in raw.items() if k != "base"}}
        return build(raw, anchor=anchor, name=raw.get("name", path.stem))
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise CrisiswatchError(f"scenario {path}: {exc.__class__.__name__}: {exc}") from None
