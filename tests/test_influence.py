import itertools

import pytest

from monitor.enrich.influence import influence, reach_band

GRID = {
    "followers": [0, 1, 50, 1_000, 100_000, 5_000_000, 10**8, 10**10],
    "verified": [False, True],
    "reposts": [0, 3, 1_000, 10**7],
    "comments": [0, 10, 10**6],
    "likes": [0, 100, 10**8],
    "cluster_size": [1, 2, 50, 10**5],
}


def all_points():
    keys = list(GRID)
    for values in itertools.product(*GRID.values()):
        yield dict(zip(keys, values, strict=True))


def test_bounded():
    scores = [influence(**p) for p in all_points()]
    assert min(scores) == 0.0
    assert max(scores) == 100.0
    assert all(0.0 <= s <= 100.0 for s in scores)


@pytest.mark.parametrize("name", list(GRID))
def test_monotone_in_every_input(name):
    for point in all_points():
        values = GRID[name]
        if point[name] != values[0]:
            continue
        scores = [influence(**{**point, name: v}) for v in values]
        assert scores == sorted(scores), (name, point, scores)


@pytest.mark.parametrize("name", list(GRID))
def test_every_input_matters_below_saturation(name):
    base = {k: v[0] for k, v in GRID.items()}
    assert influence(**{**base, name: GRID[name][-1]}) > influence(**base)


def test_engagement_weights_reposts_over_comments_over_likes():
    base = dict(followers=1000, verified=False, reposts=0, comments=0, likes=0)
    r = influence(**{**base, "reposts": 100})
    c = influence(**{**base, "comments": 100})
    lk = influence(**{**base, "likes": 100})
    assert r > c > lk


def test_log_scaling_gives_diminishing_returns():
    steps = [influence(f, False, 0, 0, 0) for f in (100, 1_000, 10_000, 100_000)]
    gains = [b - a for a, b in itertools.pairwise(steps)]
    # Each tenfold increase adds about the same amount.
    assert gains[0] == pytest.approx(gains[1], rel=0.01)
    assert gains[1] == pytest.approx(gains[2], rel=0.01)
    assert influence(10**6, False, 0, 0, 0) - influence(10**5, False, 0, 0, 0) < 10


def test_single_post_cluster_adds_nothing_and_negative_inputs_clamped():
    assert influence(1000, False, 1, 1, 1, cluster_size=1) == influence(1000, False, 1, 1, 1, cluster_size=0)
    assert influence(-5, False, -1, -1, -1) == 0.0


def test_typical_accounts_fall_into_sensible_bands():
    assert reach_band(influence(200, False, 0, 1, 5)) == "低"
    assert reach_band(influence(50_000, False, 30, 20, 200)) == "中"
    assert reach_band(influence(1_000_000, True, 1_000, 500, 5_000)) == "高"
    assert reach_band(influence(50_000_000, True, 100_000, 50_000, 1_000_000, cluster_size=300)) == "极高"


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "低"),
        (24.99, "低"),
        (25, "中"),
        (49.9, "中"),
        (50, "高"),
        (74.9, "高"),
        (75, "极高"),
        (100, "极高"),
    ],
)
def test_reach_band_edges(score, band):
    assert reach_band(score) == band


def test_an_unknown_follower_count_is_scored_from_what_is_known_not_as_zero():
    # s.weibo.com's results show no follower count: a verified account's post with 1,000 reposts scored as
    # an account with 0 followers (30, 中); from its verified flag and engagement it is 高
    assert reach_band(influence(0, True, 1_000, 0, 0)) == "中"
    assert reach_band(influence(None, True, 1_000, 0, 0)) == "高"
    for p in all_points():
        known = {k: v for k, v in p.items() if k != "followers"}
        unknown = influence(None, **known)
        assert influence(0, **known) <= unknown <= 100.0, p
        # nothing known beyond the post itself: nothing to scale up
        if not (p["verified"] or p["reposts"] or p["comments"] or p["likes"] or p["cluster_size"] > 1):
            assert unknown == 0.0
