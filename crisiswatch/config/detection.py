"""Detection rules' settings: typed, validated at start, never mutated at run time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crisiswatch.config.base import StrictModel


class NegativeSpikeSettings(StrictModel):
    bucket_minutes: int = Field(default=1, ge=1)
    baseline_halflife_minutes: float = Field(default=180, gt=0)
    prior_rate_per_minute: float = Field(default=0.2, gt=0)
    min_count: int = Field(default=4, ge=1)
    p_value: float = Field(default=1e-4, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-8, gt=0, lt=1)
    resolve_after_minutes: int = Field(default=30, ge=1)


class SurgeGate(StrictModel):
    """The surge detector (`monitor/detectors/surge.py`, the one `benchmarks/nab_score.py` measures) on a
    rule's series, per key. Until a key has `quiet_hours` and a calibrated history (about a day), the
    rule decides by its own count tail alone; afterwards the surge detector decides when (the onset of
    an episode rare for this key) and the count tail only has to be beyond noise (`noise_p_value`)."""

    alert_surprise: float = Field(default=1.57, gt=0, description="S = -log10 p at which the detector "
                                  "alerts: NAB's choice on the 53 shared series (1.57-1.59 held out)")
    critical_surprise: float = Field(default=4.0, gt=0, description="S of a critical signal")
    noise_p_value: float = Field(default=1e-3, gt=0, lt=1, description="count tail a warm key must still beat")


class VolumeSpikeSettings(SurgeGate):
    """All mentions per bucket vs a baseline that knows hour-of-day and day-of-week (negative binomial tail).

    Stricter than negative_spike by default: a volume surge can be good news (a sale, a launch)."""

    enabled: bool = True
    dimensions: list[Literal["brand", "category", "source"]] = Field(
        default_factory=lambda: ["brand", "category", "source"], description="split volume by brand, brand x ...")
    baseline_halflife_minutes: float = Field(default=1440, gt=0, description="longer than a day, or the level "
                                             "would chase the daily rhythm instead of the hour factors learning it")
    season_halflife_days: float = Field(default=3, gt=0, description="memory of the hour-of-day/weekday shape")
    prior_rate_per_minute: float = Field(default=1.0, gt=0, description="per brand; split keys get a share")
    dispersion: float = Field(default=10.0, gt=0, description="negative-binomial size: lower = burstier")
    min_count: int = Field(default=10, ge=1)
    p_value: float = Field(default=1e-6, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-10, gt=0, lt=1)


class NegativeShareSettings(SurgeGate):
    """The share of negative posts over a sliding window vs its baseline share (binomial tail)."""

    enabled: bool = True
    window_minutes: int = Field(default=15, ge=1)
    baseline_halflife_minutes: float = Field(default=720, gt=0)
    prior_share: float = Field(default=0.15, gt=0, lt=1)
    prior_weight: float = Field(default=50, gt=0, description="posts' worth of confidence in the prior share")
    min_total: int = Field(default=20, ge=1)
    min_negative: int = Field(default=8, ge=1)
    p_value: float = Field(default=1e-5, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-9, gt=0, lt=1)


class EmergingTermsSettings(SurgeGate):
    """Per brand: the share of posts using a term over a sliding window vs that term's baseline share.

    A share, not a count, so a term that just follows the brand's volume (its name) never fires."""

    enabled: bool = True
    window_minutes: int = Field(default=30, ge=1)
    baseline_halflife_minutes: float = Field(default=1440, gt=0)
    prior_share: float = Field(default=0.01, gt=0, lt=1, description="a term never seen: in 1 % of posts")
    prior_posts: float = Field(default=20, gt=0, description="posts' worth of confidence in the prior share")
    min_count: int = Field(default=6, ge=2, description="posts using the term in the window")
    warmup_posts: int = Field(default=200, ge=0, description="a brand's vocabulary is learned before judged")
    min_length: int = Field(default=2, ge=1, description="shorter tokens are not terms")
    p_value: float = Field(default=1e-6, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-12, gt=0, lt=1)
    stop_terms: list[str] = Field(default_factory=list, description="extra terms never reported")
    max_terms: int = Field(default=5000, ge=10, description="baselines kept per brand (rarest dropped)")


class FlatlineSettings(StrictModel):
    """A source that goes silent against its usual volume: usually a broken crawler (operator, not PR)."""

    enabled: bool = True
    window_minutes: int = Field(default=60, ge=1)
    baseline_halflife_minutes: float = Field(default=1440, gt=0)
    min_expected: float = Field(default=20, gt=0, description="only sources this busy per window can flatline")
    silence_ratio: float = Field(default=0.2, ge=0, lt=1, description="fires at most this share of expected posts")
    p_value: float = Field(default=1e-6, gt=0, lt=1)
    critical_p_value: float = Field(default=1e-12, gt=0, lt=1)


class DetectionSettings(StrictModel):
    negative_spike: NegativeSpikeSettings = Field(default_factory=NegativeSpikeSettings)
    volume_spike: VolumeSpikeSettings = Field(default_factory=VolumeSpikeSettings)
    negative_share: NegativeShareSettings = Field(default_factory=NegativeShareSettings)
    emerging_terms: EmergingTermsSettings = Field(default_factory=EmergingTermsSettings)
    flatline: FlatlineSettings = Field(default_factory=FlatlineSettings)
    primary_rule: str = Field(
        default="negative_spike", description="its incidents carry the response playbooks; never joins another")
    join_window_minutes: int = Field(
        default=120, ge=0, description="other rules' signals join a brand's open incident that fired this recently")
    cooldown_minutes: int = Field(
        default=60, ge=0, description="a key firing again this soon after its resolve reopens the same incident")
    max_wait_minutes: int = Field(
        default=20, ge=0, description="the run loop decides a minute once every source has been crawled past it, or "
        "this long after it, whichever is first; a post collected later is stored and shown, not counted, and the "
        "log and `status` say how many")
