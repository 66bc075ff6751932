"""Terms (爆炸, 致癌, 维权, 退款难 ...) suddenly used by far more of a brand's posts than usual.

Per brand, each term's share of posts over a sliding window is tested against its own baseline
share (binomial tail). A share, not a count: the brand's name follows its volume and never fires,
while 物流 going from 2 % to 40 % of posts does. Baselines are decayed counts with a prior, so a term
never seen before starts at `prior_share`; `min_count` posts must use it, so one post never fires;
and nothing fires before the brand's usual vocabulary is learned (`warmup_posts`).
Each term is its own incident key (brand=...|term=...), so the playbooks and explanation see it.
Once a brand has a day of history, the surge detector on its series of "the most surprising term of
the bucket" (-log10 of that term's binomial p) decides when (`gate.py`): terms fire at the onset of a
bucket whose best term is rare even for this brand's usual churn of words, and a term already
signalled keeps its incident alive while it stays significant.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from crisiswatch.config import EmergingTermsSettings
from index.tokenize import plain_number
from monitor.detectors.base import Level, Observation, Rule, Signal
from monitor.detectors.calibration import surprise
from monitor.detectors.gate import SurgeGateByKey, surge_facts
from monitor.detectors.stats import binom_sf
from monitor.detectors.surge import Reading, describe

# Function words and web noise: frequent everywhere, never news.
STOP_TERMS = frozenset(
    "的 了 是 我 你 他 她 它 们 在 和 就 都 也 还 又 很 吗 呢 吧 啊 这 那 有 没 不 一个 什么 怎么 自己 已经 现在 今天"
    " 真的 而且 但是 因为 所以 可以 一下 这个 那个 我们 你们 他们 没有 就是 还是 不是 知道 觉得 一直 然后 如果 这么"
    " 那么 这样 怎么办 为什么 不会 不能 不了 出来 起来 还有 一次 两次 三次 可能 应该 需要 一样 之后 时候 为了 这些"
    " 那些 再也 一点 直接 只能 只会 到底 根本 http https www com cn".split()
    # English function words (X posts, mixed text): "my", "not", "still" surged with every English complaint
    + (" about after again all am an and any are as at be been before but by can could did do does dont for"
       " from get got had has have he her here his how if im in is it its just me my no not of on or our out"
       " rt she so still than that the their them then there these they this those to too up us very was we"
       " were what when where who why will with would you your amp").split()
)


RESIGNAL_MINUTES = 10  # a term still surging re-signals this often (keeps its incident alive), not every bucket


PIECE_SLACK = 1.25  # a piece in at most a quarter more posts than its phrase is the phrase's


class EmergingTermsRule(Rule):
    name = "emerging_terms"
    needs_terms = True

    def __init__(self, settings: EmergingTermsSettings) -> None:
        self.settings = settings
        self.stop = STOP_TERMS | {t.lower() for t in settings.stop_terms}
        self.windows: dict[str, deque[tuple[int, dict[str, int]]]] = {}  # per brand: (posts, term posts)
        # Decayed sums are kept inflated by 2^((minute - ref) / halflife) instead of decaying every term
        # every bucket; dividing by that scale gives the decayed value.
        self.posts: dict[str, float] = {}  # per brand: posts
        self.terms: dict[str, dict[str, float]] = {}  # per brand: term -> posts using it
        self.ref: dict[str, int] = {}  # per brand: reference minute (epoch) of the inflation
        self.scale: dict[str, float] = {}
        self.signalled: dict[str, tuple[int, str]] = {}  # incident key -> (minute, level) of the last signal
        self.surge = SurgeGateByKey(settings, sides="up")

    def _rescale(self, key: str, minute: int) -> float:
        ref = self.ref.setdefault(key, minute)
        scale = 2.0 ** ((minute - ref) / self.settings.baseline_halflife_minutes)
        if scale > 1e30:  # keep the numbers small: fold the scale into the sums
            self.posts[key] = self.posts.get(key, 0.0) / scale
            terms = self.terms.get(key, {})
            for term in terms:
                terms[term] /= scale
            self.ref[key], scale = minute, 1.0
        self.scale[key] = scale
        return scale

    def share(self, key: str, term: str) -> float:
        s = self.settings
        scale = self.scale.get(key, 1.0)
        used = self.terms.get(key, {}).get(term, 0.0) / scale
        return (used + s.prior_share * s.prior_posts) / (self.posts.get(key, 0.0) / scale + s.prior_posts)

    def observe(self, obs: Observation) -> Signal | None:
        signals = self.observe_all(obs)
        return signals[0] if signals else None

    def observe_all(self, obs: Observation) -> list[Signal]:
        s = self.settings
        counts = {t: c for t, c in (obs.terms or {}).items()
                  if len(t) >= s.min_length and t not in self.stop and not plain_number(t)}
        size = max(1, s.window_minutes // obs.minutes)
        window = self.windows.get(obs.key)
        if window is None or window.maxlen != size:
            window = self.windows[obs.key] = deque(window or (), maxlen=size)
        posts = obs.total if obs.term_posts is None else obs.term_posts
        window.append((posts, counts))
        scale = self._rescale(obs.key, int(obs.start.timestamp()) // 60)
        n = sum(total for total, _ in window)
        signals: list[Signal] = []
        warm = self.posts.get(obs.key, 0.0) / scale >= s.warmup_posts
        scored = []
        for term in counts if warm else ():
            k = sum(c.get(term, 0) for _, c in window)
            if k >= s.min_count:
                base = self.share(obs.key, term)
                scored.append((term, k, base, binom_sf(k, n, base)))
        best = min((p for *_, p in scored), default=1.0)
        verdict = self.surge.decide(obs.key, obs.start, surprise(best), best, s.p_value, s.critical_p_value)
        rising = {term: k for term, k, _, p in scored
                  if (verdict.fired and p < (s.noise_p_value if verdict.warm else s.p_value))
                  or (f"{obs.key}|term={term}" in self.signalled and p < s.p_value)}
        fired = set(rising)
        for term, k, base, p in scored:
            if term not in rising or _inside_a_longer(term, rising):
                continue
            onset = verdict.fired and p < (s.noise_p_value if verdict.warm else s.p_value)
            level: Level = verdict.level if onset and verdict.warm else (
                "critical" if p < s.critical_p_value else "warning")
            signal = self._signal(obs, term, k, n, base, p, len(window) * obs.minutes, level,
                                  verdict.reading if onset else None)
            minute = int(obs.start.timestamp()) // 60
            last = self.signalled.get(signal.key)
            if last is None or minute - last[0] >= RESIGNAL_MINUTES or (signal.level, last[1]) == ("critical", "warning"):
                self.signalled[signal.key] = (minute, signal.level)
                signals.append(signal)
        # learn from this bucket; a term that fired is learned at its baseline share instead, so the
        # surge does not become normal (and its share baseline does not sink under the new posts)
        terms = self.terms.setdefault(obs.key, {})
        for term, c in counts.items():
            learned = self.share(obs.key, term) * posts if term in fired else c
            terms[term] = terms.get(term, 0.0) + learned * scale
        self.posts[obs.key] = self.posts.get(obs.key, 0.0) + posts * scale
        if len(terms) > s.max_terms:
            for term in sorted(terms, key=terms.__getitem__)[: len(terms) - s.max_terms]:
                del terms[term]
        if len(self.signalled) > s.max_terms:  # forget terms that stopped surging long ago
            minute = int(obs.start.timestamp()) // 60
            self.signalled = {k: v for k, v in self.signalled.items() if minute - v[0] < 1440}
        return sorted(signals, key=lambda sig: sig.p_value)

    def _signal(self, obs: Observation, term: str, k: int, n: int, base: float, p: float, minutes: int,
                level: Level, reading: Reading | None) -> Signal:
        summary = f"「{term}」 in {k} of {n} mentions in {minutes} min ({k / n:.0%}) vs a usual {base:.1%} (p={p:.1e})"
        if reading is not None:
            summary += "; the brand's most surprising term: " + describe(reading, "(-log10 p)", self.zone)
        return Signal(
            rule=self.name, key=f"{obs.key}|term={term}", brand=obs.brand, level=level, at=obs.start,
            value=float(k), baseline=base * n, p_value=p, summary=summary,
            facts={"term": term, "posts_with_term": k, "total": n, "share": round(k / n, 3),
                   "baseline_share": round(base, 4), "p_value": p, "minutes": minutes, **surge_facts(reading)},
        )

    def state(self) -> dict[str, Any]:
        return {"windows": {k: [[t, c] for t, c in v] for k, v in self.windows.items()},
                "posts": dict(self.posts), "terms": {k: dict(v) for k, v in self.terms.items()},
                "ref": dict(self.ref), "scale": dict(self.scale),
                "signalled": {k: list(v) for k, v in self.signalled.items()}, "surge": self.surge.state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.windows = {k: deque((int(t), {str(a): int(b) for a, b in c.items()}) for t, c in v)
                        for k, v in state.get("windows", {}).items()}
        self.posts = {k: float(v) for k, v in state.get("posts", {}).items()}
        self.terms = {k: {t: float(c) for t, c in v.items()} for k, v in state.get("terms", {}).items()}
        self.ref = {k: int(v) for k, v in state.get("ref", {}).items()}
        self.scale = {k: float(v) for k, v in state.get("scale", {}).items()}
        self.signalled = {k: (int(v[0]), str(v[1])) for k, v in state.get("signalled", {}).items()}
        self.surge.restore(state.get("surge", {}))


def _inside_a_longer(term: str, rising: dict[str, int]) -> bool:
    """A term rising only as a piece of a longer one rising beside it (食品 in 食品安全: search-mode tokens
    overlap) is that phrase's story, said once by the phrase. A piece found in clearly more posts than the
    phrase (a quarter more) is a story of its own and is said too."""
    k = rising[term]
    return any(term != longer and term in longer and k <= PIECE_SLACK * count for longer, count in rising.items())
