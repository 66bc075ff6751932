"""Complaint understanding: is a post a complaint, about what, how serious, and why we think so.

Rule-based on purpose: every decision comes with readable reasons a complaint desk can check, and a user
can tune the words in `complaint_lexicon.yaml` without retraining anything. The steps:

1. Match the weighted lexicon (categories, complaint words, praise) clause by clause. A negated word
   ("没有异味") counts as mild praise instead; a word in an expectation clause ("本以为会很慢") is
   dropped, which is what makes "本以为…结果第二天就到了" praise.
2. Decide complaint or not from evidence minus praise, with extra doubt for questions, news,
   marketing, bystanders and solved cases unless the author speaks of their own loss.
3. Categories: the strongest category plus a close second; rubric boundaries (rude courier = logistics).
4. Grade: the strongest of the grade cues (safety, privacy, fraud, batch, media...) and the money amount.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from monitor.enrich.complaint_rules import (
    CATEGORY_KEYS,
    GRADES,
    Hit,
    Lexicon,
    clause_start_of,
    clause_starts,
    extract_amounts,
    find_hits,
    is_negated,
    load_lexicon,
    normalise,
    strip_mentions,
)

THRESHOLD = 1.2  # evidence - praise needed to call a post a complaint
SECOND_CATEGORY = 0.75  # a second category must reach this share of the first one's score
MIN_CATEGORY = 1.2  # ...and this absolute score
IMPORTANT_AMOUNT = 100.0
CONTRAST_BOOST = 1.5  # weight of words after the last 但/结果/but  # yuan: "hundreds to a few thousand" is 重要, tens of yuan stays 一般

_DEMAND_FIELD = re.compile(r"【投诉要求】[^【]*")
_COURIER_WORDS = ("快递员", "快递小哥", "骑手", "配送员", "送货员", "外卖小哥", "courier", "driver")


@dataclass(frozen=True)
class ComplaintResult:
    complaint: bool
    categories: list[str]  # empty when not a complaint
    severity: str | None  # None when not a complaint
    reasons: list[str]  # the words and facts that decided it, e.g. "“冒烟” → 安全风险 → 紧急"

    def to_dict(self) -> dict:
        return asdict(self)


def _q(word: str) -> str:
    return f"“{word}”"


def _cue(lex: Lexicon, name: str, text: str) -> str | None:
    regex = lex.cues.get(name)
    m = regex.search(text) if regex else None
    return m.group(0) if m else None


def _collect(lex: Lexicon, text: str) -> tuple[list[Hit], list[Hit], list[str]]:
    """Evidence hits that count, praise hits (incl. negated complaint words), and notes on dropped words."""
    starts = clause_starts(text)
    expectation = lex.cues.get("expectation")
    counted: list[Hit] = []
    praise: list[Hit] = []
    notes: list[str] = []
    contrast = lex.cues.get("contrast")
    pivot = max((m.end() for m in contrast.finditer(text)), default=-1) if contrast else -1
    seen: set[int] = set()
    for hit in find_hits(text, lex.evidence):
        if pivot >= 0 and hit.start >= pivot:
            # "物流慢了一天但能理解" / "本以为很快，结果等了一周": the part after the turn is the verdict.
            hit = Hit(hit.start, hit.text, hit.end, hit.kind, hit.weight * CONTRAST_BOOST, hit.label, hit.entry)
        if hit.entry in seen:
            continue
        cstart = clause_start_of(starts, hit.start)
        before = text[cstart:hit.start]
        negated = is_negated(text, hit.start, cstart, hit.end)
        if hit.kind == "praise":
            if negated:  # "不满意", "不推荐" are complaints
                counted.append(Hit(hit.start, hit.text, hit.end, "generic", 1.2, "否定夸奖"))
            else:
                praise.append(hit)
        elif negated:
            # "没有异味" is mild praise; English "no reply" / "still no technician" is not, so skip ASCII.
            if not hit.text.isascii():
                praise.append(Hit(hit.start, hit.text, hit.end, "praise", 0.4 * hit.weight, "否定的问题词"))
            notes.append(f"{_q(hit.text)} 被否定，不计")
        elif expectation is not None and expectation.search(before):
            notes.append(f"{_q(hit.text)} 在预期句中（{_q(expectation.search(before).group(0))}），不计")
        else:
            counted.append(hit)
            seen.add(hit.entry)
    return counted, praise, notes


def _category_scores(counted: list[Hit], text: str) -> tuple[dict[str, float], dict[str, list[str]]]:
    scores: dict[str, float] = {}
    words: dict[str, list[str]] = {}
    for hit in counted:
        if hit.kind in CATEGORY_KEYS:
            scores[hit.kind] = scores.get(hit.kind, 0.0) + hit.weight
            words.setdefault(hit.kind, [])
            if hit.text not in words[hit.kind]:
                words[hit.kind].append(hit.text)
    # Rubric: a rude courier is a logistics problem, not customer-service attitude.
    if "service_attitude" in scores and "logistics" in scores and "客服" not in text:
        if any(w in text for w in _COURIER_WORDS):
            scores["logistics"] += scores.pop("service_attitude")
            words["logistics"] += words.pop("service_attitude")
    return scores, words


def _choose_categories(scores: dict[str, float]) -> list[str]:
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], CATEGORY_KEYS.index(kv[0])))
    if not ranked or ranked[0][1] < 0.6:
        return ["other"]
    chosen = [ranked[0][0]]
    if len(ranked) > 1:
        key, score = ranked[1]
        if score >= MIN_CATEGORY and score >= SECOND_CATEGORY * ranked[0][1]:
            chosen.append(key)
    return chosen


def _severity_hits(lex: Lexicon, text: str) -> list[Hit]:
    """Grade cues that are really stated (not negated, not merely feared in an expectation clause)."""
    starts = clause_starts(text)
    expectation = lex.cues.get("expectation")
    kept = []
    for hit in find_hits(text, lex.severity):
        cstart = clause_start_of(starts, hit.start)
        if is_negated(text, hit.start, cstart, hit.end):
            continue
        if expectation is not None and expectation.search(text[cstart:hit.start]):
            continue
        kept.append(hit)
    return kept


def _grade(sev_hits: list[Hit], categories: list[str], amounts: list[float]) -> tuple[str, list[str]]:
    level, reasons = 0, []
    for hit in sorted(sev_hits, key=lambda h: (-h.weight, h.start)):
        grade_index = int(hit.weight)
        if grade_index < level:
            continue
        level = grade_index
        reason = f"{_q(hit.text)} → {hit.label} → {GRADES[grade_index]}"
        if reason not in reasons and len(reasons) < 3:
            reasons.append(reason)
    top = max(amounts) if amounts else 0.0
    if "fraud_security_privacy" in categories and top > 0 and level < 2:
        level, reasons = 2, [f"欺诈/盗刷损失 {top:g} 元 → 紧急"]
    elif top >= IMPORTANT_AMOUNT and level <= 1:
        if level < 1:
            reasons = []
        level = 1
        reasons.append(f"金额 {top:g} 元 → 重要")
    if level == 0:
        reasons = ["单个顾客的一般问题，无金额/安全/扩散信号 → 一般"]
    return GRADES[level], reasons


def classify(text: str, lexicon_path: str | None = None) -> ComplaintResult:
    """Classify one post. `lexicon_path` overrides the bundled `complaint_lexicon.yaml`."""
    lex = load_lexicon(lexicon_path)
    norm = normalise(text).strip()
    if not norm:
        return ComplaintResult(False, [], None, ["空文本"])
    # On complaint sites the 【投诉要求】 field says what the author wants (退货, 更换, 退款), not what went
    # wrong, so it must not vote for a category.
    counted, praise, notes = _collect(lex, _DEMAND_FIELD.sub(" ", norm))
    scores, words = _category_scores(counted, norm)
    sev_hits = _severity_hits(lex, norm)
    # Harm, loss and escalation words are complaint evidence too ("全家拉肚子"), a little each.
    evidence = (
        sum(scores.values())
        + sum(h.weight for h in counted if h.kind == "generic")
        + min(1.5, 0.5 * len({h.text for h in sev_hits}))
    )
    praise_score = sum(h.weight for h in praise)
    cue_text = strip_mentions(norm)
    first_person = _cue(lex, "first_person", cue_text) is not None
    site = _cue(lex, "complaint_site", cue_text)
    reasons: list[str] = []
    doubt = 0.0
    for name, label, weight in (
        ("marketing", "营销/抽奖口吻", 3.0), ("news", "新闻/通报口吻", 2.5), ("bystander", "旁观/转述他人", 2.5),
        ("solved", "已解决", 3.0), ("unaffected", "作者本人未受影响", 3.0), ("ask", "咨询/提问", 2.0),
        ("question", "问句", 1.0),
        ("figurative", "比喻/夸张说法", 1.0),
    ):
        cue = _cue(lex, name, cue_text)
        if cue is not None:
            # The author's own loss outweighs a news-like or bystander-like phrase, so halve the doubt then;
            # without any first-person cue, news and warnings about others are very unlikely complaints.
            if name in ("news", "bystander"):
                weight *= 0.5 if first_person else 1.5
            elif name == "ask" and any(h.kind == "generic" for h in counted):
                weight *= 0.5  # "请问你们到底管不管？" asks, but angrily
            elif name == "question" and (first_person or max((h.weight for h in counted), default=0) >= 1.5):
                weight *= 0.5  # a rhetorical question around a clear problem word is still a complaint
            doubt += weight
            reasons.append(f"{_q(cue)} → {label}")
    score = evidence - praise_score - doubt
    generic = sum(h.weight for h in counted if h.kind == "generic")
    # Without any category word, only a strong complaint phrase ("差评", "给个说法") makes a complaint, so that
    # "气死我了" about a cat or an exam stays out.
    targeted = max(scores.values(), default=0.0) >= 0.6 or generic >= 2.4
    is_complaint = bool(site) or (score >= THRESHOLD and targeted)
    if not is_complaint:
        why = [f"{_q(h.text)} → 夸奖/满意" for h in praise[:3]] + reasons + notes[:2]
        why.append(f"投诉证据 {evidence:.1f} − 夸奖 {praise_score:.1f} − 疑点 {doubt:.1f} 不足 → 非投诉")
        return ComplaintResult(False, [], None, why)
    categories = _choose_categories(scores)
    cat_reasons = []
    for key in categories:
        label = lex.category_labels.get(key, key)
        shown = "、".join(_q(w) for w in words.get(key, [])[:3]) or "无明确类别词"
        cat_reasons.append(f"{shown} → {label}")
    if site:
        cat_reasons.insert(0, f"{_q(site)} → 投诉平台格式")
    grade, grade_reasons = _grade(sev_hits, categories, extract_amounts(norm))
    return ComplaintResult(True, categories, grade, cat_reasons + grade_reasons)


def classify_many(texts: Sequence[str], lexicon_path: str | None = None) -> list[ComplaintResult]:
    return [classify(t, lexicon_path) for t in texts]
