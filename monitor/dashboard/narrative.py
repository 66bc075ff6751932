"""An incident's numbers said in the interface's language: level against the usual, how rare, since when.

The detectors write their summary in English with a p-value for logs and Slack fallbacks; the
dashboard tells the same facts in plain Chinese (or English) sentences a PR lead can read at a glance.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitor.dashboard.i18n import Translator
from monitor.incidents.models import Incident


def rarity(p: float | None, lang: str) -> str:
    """How rare a count this high is by chance, in words (no scientific notation)."""
    if p is None:
        return ""
    steps = [(1e-6, "不到百万分之一", "under one in a million"), (1e-4, "不到万分之一", "under one in ten thousand"),
             (1e-3, "不到千分之一", "under one in a thousand"), (1e-2, "不到百分之一", "under one in a hundred")]
    for bound, zh, en in steps:
        if p < bound:
            return zh if lang == "zh" else en
    return f"约 {p:.0%}" if lang == "zh" else f"about {p:.0%}"


def duration(span: timedelta, lang: str) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if lang == "zh":
        parts = [f"{days} 天" if days else "", f"{hours} 小时" if hours else "", f"{mins} 分钟" if mins or not
                 (days or hours) else ""]
    else:
        parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins or not
                 (days or hours) else ""]
    return " ".join(p for p in parts if p)


def _num(value: Any, digits: int = 1) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "?"
    return f"{number:.0f}" if number >= 10 or number == int(number) else f"{number:.{digits}f}"


def _share(value: Any) -> str:
    try:
        return f"{float(value):.0%}" if float(value) >= 0.01 else f"{float(value):.1%}"
    except (TypeError, ValueError):
        return "?"


def describe_signal(rule: str, facts: dict[str, Any], t: Translator, source_name=None) -> str:
    """One sentence for one detector's facts; rules it does not know get the generic peak-vs-usual one. A usual
    level that left out hours when a source was not collected (`baseline_gaps`) says so."""
    return _what_fired(rule, facts, t, source_name) + _gaps(facts.get("baseline_gaps"), t, source_name)


def _gaps(gaps: dict[str, Any] | None, t: Translator, source_name=None) -> str:
    if not gaps:
        return ""
    names = "、".join if t.lang == "zh" else ", ".join
    return t("why_baseline_gaps", hours=_num(gaps.get("hours")),
             sources=names(source_name(s) if source_name else s for s in gaps.get("sources", ())))


def _what_fired(rule: str, facts: dict[str, Any], t: Translator, source_name=None) -> str:
    f = {k: facts.get(k) for k in ("negative", "total", "expected", "ratio", "minutes", "share", "baseline_share",
                                   "term", "posts_with_term", "seen", "source", "split")}
    times = "" if not f["ratio"] else f"（{_num(f['ratio'])} 倍）" if t.lang == "zh" else f" ({_num(f['ratio'])}×)"
    if rule == "negative_spike" and f["negative"] is not None:
        return t("why_negative_spike", minutes=f["minutes"], n=f["negative"], usual=_num(f["expected"]), times=times)
    if rule == "volume_spike" and f["total"] is not None:
        scope = f" · {f['split']}" if f["split"] else ""
        return t("why_volume_spike", minutes=f["minutes"], n=f["total"], usual=_num(f["expected"]), times=times,
                 scope=scope)
    if rule == "negative_share" and f["share"] is not None:
        return t("why_negative_share", minutes=f["minutes"], n=f["negative"], total=f["total"],
                 share=_share(f["share"]), usual=_share(f["baseline_share"]))
    if rule == "emerging_terms" and f["term"]:
        return t("why_emerging_term", term=f["term"], minutes=f["minutes"], k=f["posts_with_term"], n=f["total"],
                 share=_share(f["share"]), usual=_share(f["baseline_share"]))
    if rule == "flatline" and f["seen"] is not None:
        name = source_name(f["source"]) if source_name else f["source"]
        return t("why_flatline", source=name, minutes=f["minutes"], n=f["seen"], usual=_num(f["expected"]))
    return t("why_generic")


def describe(incident: Incident, t: Translator) -> list[str]:
    """The incident's explanation: what fired (level against the usual, how rare) and what joined it."""
    p = incident.facts.get("p_value")
    first = describe_signal(incident.rule, incident.facts, t, t.source)
    if p is not None:
        first += t("why_rarity", rarity=rarity(p, t.lang))
    lines = [first]
    if incident.rule not in ("negative_spike", "volume_spike", "negative_share", "emerging_terms", "flatline"):
        lines[0] = t("why_peak", peak=_num(incident.peak_value), usual=_num(incident.baseline))
    for related in incident.facts.get("related", [])[:5]:
        lines.append(describe_signal(related.get("rule", ""), related.get("facts", {}), t, t.source))
    return lines
