"""Influence score of a post in [0, 100].

    score = 45 * min(1, log10(1 + followers) / 8)                     # reach: 100M followers saturates
          + 10 * verified                                             # verified accounts get picked up by media
          + 35 * min(1, log10(1 + 3*reposts + 2*comments + likes) / 6)  # engagement: 1M weighted saturates
          + 10 * min(1, log10(cluster_size) / 3)                       # copies: 1000 near-duplicates saturate

Everything is log-scaled because attention is heavy-tailed: going from 100 to 1,000 followers
matters about as much as going from 1M to 10M.  Reposts weigh most because they push the
post to new audiences, comments next (they keep it in feeds), likes least.  The cluster
size is how many near-duplicate copies exist (see ``neardup``): copy-paste campaigns amplify
reach beyond any single account.  Every term is non-decreasing in its input, so the score is
monotone in every argument; negative inputs are treated as 0.

An unknown follower count (None: s.weibo.com's result cards show none) is not 0 followers: scored as 0, a
2.3M-follower account read from the HTML search ranked with a fresh account.  Its score comes from what
is known instead: the verified, engagement and copies terms, scaled from their 55 points to the whole
100, as if the account's reach were as high as those put it.  A verified account with 1,000 reposts then
scores 55 (高) where 0 followers gave it 30, and the same post by a known 2.3M-follower account 66.
"""

from __future__ import annotations

import math

__all__ = ["BANDS", "influence", "reach_band"]

_W_REACH, _W_VERIFIED, _W_ENGAGE, _W_CLUSTER = 45.0, 10.0, 35.0, 10.0
_FOLLOWER_DECADES = 8.0  # log10(100M)
_ENGAGE_DECADES = 6.0  # log10(1M weighted interactions)
_CLUSTER_DECADES = 3.0  # log10(1000 copies)

# Lower bounds of each display band, highest first.
BANDS: tuple[tuple[float, str], ...] = ((75.0, "极高"), (50.0, "高"), (25.0, "中"), (0.0, "低"))


def _sat(value: float, decades: float) -> float:
    return min(1.0, math.log10(1.0 + value) / decades)


def influence(
    followers: int | None,
    verified: bool,
    reposts: int,
    comments: int,
    likes: int,
    cluster_size: int = 1,
) -> float:
    """Log-scaled influence in [0, 100]; see the module docstring for the formula. `followers` None: the
    count is unknown, and the score comes from the other terms alone (see the module docstring)."""
    reposts, comments, likes = (max(0, int(x or 0)) for x in (reposts, comments, likes))
    cluster_size = max(1, int(cluster_size or 1))
    engagement = 3 * reposts + 2 * comments + likes
    known = (
        (_W_VERIFIED if verified else 0.0)
        + _W_ENGAGE * _sat(engagement, _ENGAGE_DECADES)
        # log10(1 + (n - 1)) so a single post (n = 1) contributes nothing.
        + _W_CLUSTER * _sat(cluster_size - 1, _CLUSTER_DECADES)
    )
    if followers is None:
        score = known * 100.0 / (100.0 - _W_REACH)
    else:
        score = _W_REACH * _sat(max(0, int(followers)), _FOLLOWER_DECADES) + known
    return max(0.0, min(100.0, score))


def reach_band(score: float) -> str:
    """Display band: 低 < 25 <= 中 < 50 <= 高 < 75 <= 极高."""
    for lower, label in BANDS:
        if score >= lower:
            return label
    return BANDS[-1][1]
