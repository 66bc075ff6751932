"""Which spiders, with which targets, read a scenario's posts back from the replay server.

A demo or test that replays a multi-source scenario (e.g. `all_sources`) configures its brand
with these targets and runs these spiders.
"""

from __future__ import annotations

from crawlers.replay.scenario import Scenario

# Post.source -> (spider, where its target comes from: the brand's name or the scenario's ids)
SPIDER_FOR_SOURCE = {
    "weibo": ("weibo_search", "name"),
    "jd": ("jd_reviews", "ids"),
    "tmall": ("tmall_reviews", "ids"),
    "tousu_sina": ("tousu_sina", "ids"),
    "jutousu": ("jutousu", "name"),
}


def spider_targets(scenario: Scenario) -> dict[str, list[str]]:
    """`brands[].sources` entries (spider name -> targets) for every source the scenario posts on."""
    present = {p.source for p in scenario.posts}
    out: dict[str, list[str]] = {}
    for source, (spider, kind) in SPIDER_FOR_SOURCE.items():
        if source not in present:
            continue
        target = scenario.brand["names"][0] if kind == "name" else scenario.ids.get(source)
        if target:
            out[spider] = [target]
    return out
