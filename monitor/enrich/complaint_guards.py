"""The rubric's categorical non-complaints, read from the lexicon's evidence.

Lotteries and marketing, solved cases, an author who says they are unaffected, news or bystander posts
without the author's own experience, pure praise, praise only quoted from the company, and neutral
questions are no complaints by the rubric, unless the lexicon itself finds a clear complaint. The lexicon
reads them imperfectly ("米皮远不如以前的魏家凉皮好吃" is a complaint, not praise), so the learned decider
reads each guard as a feature and weighs it against the rest of the post instead of obeying it: on the
randomly drawn real training posts an overriding guard turned away 89 complaints for 27 non-complaints
(5-fold cross-validation). The first guard that holds is still shown among the reasons.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.enrich.complaint_evidence import DOUBT_CUES, NEUTRAL_WEIGHT, Evidence, lexicon_verdict, quote

_DOUBT_LABELS = {name: label for name, label, _ in DOUBT_CUES}


def not_about_the_author(ev: Evidence) -> str | None:
    for name in ("marketing", "solved", "unaffected"):
        if name in ev.cues:
            return f"{quote(ev.cues[name])} → {_DOUBT_LABELS[name]}"
    if not ev.first_person:  # news or a bystander's warning without the author's own experience
        for name in ("news", "bystander"):
            if name in ev.cues:
                return f"{quote(ev.cues[name])} → 新闻/旁观，作者本人未受影响"
    return None


def pure_praise(ev: Evidence) -> str | None:
    if ev.praise and not ev.counted:
        return "只有夸奖，没有投诉用词"
    return None


def quoted_praise(ev: Evidence) -> str | None:
    """"店员说这款“性价比很高”": the company's words reported, and no problem word of the author's own."""
    if ev.quoted_praise and not ev.praise and not any(h.weight >= NEUTRAL_WEIGHT for h in ev.counted):
        return "只有转述的夸奖（引号里），没有投诉用词"
    return None


def neutral_question(ev: Evidence) -> str | None:
    """"请问快递到哪了？": a question with no problem word (context words like 快递 or 价格 are none)."""
    if "ask" in ev.cues and "question" in ev.cues and not any(h.weight >= NEUTRAL_WEIGHT for h in ev.counted):
        return f"{quote(ev.cues['ask'])} → 中性提问，没有投诉用词"
    return None


RUBRIC_GUARDS: tuple[Callable[[Evidence], str | None], ...] = (
    not_about_the_author, pure_praise, quoted_praise, neutral_question)
GUARD_FEATURES = tuple(f"guard:{guard.__name__}" for guard in RUBRIC_GUARDS)


def guard_flags(ev: Evidence) -> list[bool]:
    """Per guard of RUBRIC_GUARDS: does it hold (and the lexicon find no clear complaint)?"""
    if not ev.text or lexicon_verdict(ev):
        return [False] * len(RUBRIC_GUARDS)
    return [guard(ev) is not None for guard in RUBRIC_GUARDS]


def rubric_guard(ev: Evidence) -> str | None:
    """Why the rubric says this is no complaint, or None. The lexicon's clear verdict ("听说…我家的也冒烟了，
    必须给说法") outranks the guards."""
    if lexicon_verdict(ev):
        return None
    return next((why for guard in RUBRIC_GUARDS if (why := guard(ev)) is not None), None)
