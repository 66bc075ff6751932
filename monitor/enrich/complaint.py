"""Complaint understanding: is a post a complaint, about what, how serious, and why we think so.

Rules first, on purpose: every decision comes with readable reasons a complaint desk can check, and a user
can tune the words in `complaint_lexicon.yaml` without retraining anything. A small learned model (step 3
and 5) covers what nobody wrote into the lexicon, and the reasons say when it decided. The steps:

1. Match the weighted lexicon (categories, complaint words, praise) clause by clause. A negated word
   ("没有异味") counts as mild praise instead; a word in an expectation clause ("本以为会很慢") is
   dropped, which is what makes "本以为…结果第二天就到了" praise.
2. Decide complaint or not from evidence minus praise, with extra doubt for questions, news,
   marketing, bystanders and solved cases unless the author speaks of their own loss.
   The remedy the author asks for ("想退货", the 【投诉要求】 field) votes for no category.
3. Categories: lexicon scores after the rubric boundaries in BOUNDARY_RULES (rude courier = logistics; a
   breakdown at a venue or public service = other; a fee or changed amount at checkout = billing), plus
   MODEL_WEIGHT x the learned model's probability (`complaint_model`, trained on the dev sets); then the
   strongest category and a close second.
4. Grade: the strongest of the grade cues (safety, privacy, fraud, batch, media...) and the money amount.
5. A post rejected only for lack of words (no praise, no doubt cue) is a complaint after all when the
   model's detector is at least DETECTOR_THRESHOLD sure; the reasons say so.

Speed: the lexicon is matched by `complaint_matcher.Matcher` (plain words with str.find, each alternative
keyed on a rare character), cues are found in one pass, a post without a single complaint word stops
after the lexicon pass, and the learned model scores a whole batch in one vectorised pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from monitor.enrich.complaint_model import load_complaint_model
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
    quoted_spans,
    strip_mentions,
    text_keys,
)

THRESHOLD = 1.2  # evidence - praise needed to call a post a complaint
SECOND_CATEGORY = 0.75  # a second category must reach this share of the first one's score
MIN_CATEGORY = 1.2  # ...and this absolute score
CATEGORY_FLOOR = 0.6  # below this even the best category is a guess: the complaint goes to "other"
IMPORTANT_AMOUNT = 100.0  # yuan: "hundreds to a few thousand" is 重要, tens of yuan stays 一般
CONTRAST_BOOST = 1.5  # weight of words after the last 但/结果/but
GRADE_EVIDENCE_CAP = 1.5  # grade cues ("拉肚子", "12315") add 0.5 each to the complaint evidence, up to this
MODEL_WEIGHT = 3.0  # the learned model's category probability counts like this many lexicon points (see complaint_model)
DETECTOR_THRESHOLD = 0.85  # the learned detector overrules "no complaint words" only when this sure
MODEL_FLOOR = 0.15  # ...and is ignored below this, so nine faint guesses add no noise to the reasons
NEUTRAL_WEIGHT = 1.0  # below this a lexicon word is context ("续费", "揽件"), not a problem: negating it is no praise

_DEMAND_FIELD = re.compile(r"【投诉要求】[^【]*")
_COURIER_WORDS = ("快递员", "快递小哥", "骑手", "配送员", "送货员", "外卖小哥", "courier", "driver")


# Cues that a post is something other than a complaint: (cue name in the lexicon, reason label, doubt).
DOUBT_CUES = (
    ("marketing", "营销/抽奖口吻", 3.0), ("news", "新闻/通报口吻", 2.5), ("bystander", "旁观/转述他人", 2.5),
    ("solved", "已解决", 3.0), ("unaffected", "作者本人未受影响", 3.0), ("ask", "咨询/提问", 2.0),
    ("question", "问句", 1.0), ("figurative", "比喻/夸张说法", 1.0),
)


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


def _collect(
    lex: Lexicon, text: str, starts: list[int], keys: set[str], expecting: bool = True
) -> tuple[list[Hit], list[Hit], list[str]]:
    """Evidence hits that count, praise hits (incl. negated complaint words), and notes on dropped words.
    `expecting`: whether the post has an expectation word at all (else no clause needs checking)."""
    expectation = lex.cues.get("expectation") if expecting else None
    counted: list[Hit] = []
    praise: list[Hit] = []
    notes: list[str] = []
    contrast = lex.cues.get("contrast")
    pivot = -1
    if contrast is not None and lex.cue("contrast", text, keys) is not None:
        pivot = max(m.end() for m in contrast.finditer(text))
    seen: set[int] = set()
    quoted: list[tuple[int, int]] | None = None
    for hit in find_hits(text, lex.evidence, lex.evidence_matcher, keys):
        if hit.entry in seen:
            continue
        if pivot >= 0 and hit.start >= pivot:
            # "物流慢了一天但能理解" / "本以为很快，结果等了一周": the part after the turn is the verdict.
            hit = Hit(hit.start, hit.text, hit.end, hit.kind, hit.weight * CONTRAST_BOOST, hit.label, hit.entry)
        cstart = clause_start_of(starts, hit.start)
        negated = is_negated(text, hit.start, cstart, hit.end)
        if hit.kind == "praise":
            if quoted is None:
                quoted = quoted_spans(text)
            if negated:  # "不满意", "不推荐" are complaints
                counted.append(Hit(hit.start, hit.text, hit.end, "generic", 1.2, "否定夸奖"))
            elif any(s <= hit.start and hit.end <= e for s, e in quoted):
                notes.append(f"{_q(hit.text)} 在引号里（转述对方的话），不算夸奖")
            else:
                praise.append(hit)
        elif negated:
            # "没有异味" is mild praise; "没揽件" / "不续费" negate a neutral word, and English "no reply" /
            # "still no technician" is not praise either.
            if not hit.text.isascii() and hit.weight >= NEUTRAL_WEIGHT:
                praise.append(Hit(hit.start, hit.text, hit.end, "praise", 0.4 * hit.weight, "否定的问题词"))
            notes.append(f"{_q(hit.text)} 被否定，不计")
        elif expectation is not None and (m := expectation.search(text, cstart, hit.start)) is not None:
            notes.append(f"{_q(hit.text)} 在预期句中（{_q(m.group(0))}），不计")
        else:
            counted.append(hit)
            seen.add(hit.entry)
    return counted, praise, notes


@dataclass
class _Post:
    """A normalised post and what is computed once about it for the lexicon, cue and boundary steps."""

    text: str
    keys: set[str]
    cue_text: str  # brand handles blanked out (a "@客服小助手" is no cue)
    cue_keys: set[str]
    cues: dict[str, str]  # cue name -> its leftmost match in cue_text


def _move(scores: dict[str, float], words: dict[str, list[str]], source: str, target: str) -> None:
    scores[target] = scores.get(target, 0.0) + scores.pop(source)
    words[target] = words.get(target, []) + words.pop(source, [])


def _courier_is_logistics(lex: Lexicon, post: _Post, scores: dict, words: dict) -> str | None:
    """Rubric: a rude courier is a logistics problem, not customer-service attitude."""
    if "service_attitude" in scores and "logistics" in scores and "客服" not in post.text:
        courier = next((w for w in _COURIER_WORDS if w in post.text), None)
        if courier is not None:
            _move(scores, words, "service_attitude", "logistics")
            return f"{_q(courier)} → 快递员的问题算物流"
    return None


def _venue_is_other(lex: Lexicon, post: _Post, scores: dict, words: dict) -> str | None:
    """A broken barrier gate, cinema seat or metro train is a venue or service problem (other), not a product
    the author bought, unless the post is about the author's own purchase ("新买的", "到手")."""
    if scores.get("product_quality", 0.0) <= 0 or scores["product_quality"] < scores.get("other", 0.0) * 0.5:
        return None
    if "logistics" in scores:  # broken in transit stays with the courier
        return None
    # the full text: the venue is often the handle itself ("@星光影院 的3D眼镜坏了")
    venue = lex.cue("venue", post.text, post.keys)
    if venue is None or lex.cue("own_product", post.text, post.keys) is not None:
        return None
    _move(scores, words, "product_quality", "other")
    return f"{_q(venue)} → 场所/设施/公共服务的故障算其他"


def _checkout_is_billing(lex: Lexicon, post: _Post, scores: dict, words: dict) -> str | None:
    """Rubric: a fee or a changed amount at checkout is billing, not a price dispute."""
    price = scores.get("price", 0.0)
    if price <= 0 or price < max(scores.values()):
        return None
    checkout = post.cues.get("checkout")
    if checkout is None or "coupon_refused" in post.cues:  # a coupon refused at checkout is coupon bait: price
        return None
    _move(scores, words, "price", "payment_billing")
    return f"{_q(checkout)} → 结算时的金额/收费问题算支付计费"


# Rubric boundaries, applied in order after the lexicon scores; each returns a reason when it applied.
BOUNDARY_RULES = (_courier_is_logistics, _venue_is_other, _checkout_is_billing)


def _category_scores(
    lex: Lexicon, counted: list[Hit], post: _Post
) -> tuple[dict[str, float], dict[str, list[str]], list[str]]:
    scores: dict[str, float] = {}
    words: dict[str, list[str]] = {}
    for hit in counted:
        if hit.kind in CATEGORY_KEYS:
            scores[hit.kind] = scores.get(hit.kind, 0.0) + hit.weight
            shown = words.setdefault(hit.kind, [])
            if hit.text not in shown:
                shown.append(hit.text)
    applied = [r for rule in BOUNDARY_RULES if scores and (r := rule(lex, post, scores, words)) is not None]
    return scores, words, applied


def _choose_categories(scores: dict[str, float]) -> list[str]:
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], CATEGORY_KEYS.index(kv[0])))
    if not ranked or ranked[0][1] < CATEGORY_FLOOR:
        return ["other"]
    chosen = [ranked[0][0]]
    if len(ranked) > 1:
        key, score = ranked[1]
        if score >= MIN_CATEGORY and score >= SECOND_CATEGORY * ranked[0][1]:
            chosen.append(key)
    return chosen


def _severity_hits(lex: Lexicon, text: str, starts: list[int], keys: set[str], expecting: bool = True) -> list[Hit]:
    """Grade cues that are really stated (not negated, not merely feared in an expectation clause)."""
    expectation = lex.cues.get("expectation") if expecting else None
    kept = []
    for hit in find_hits(text, lex.severity, lex.severity_matcher, keys):
        cstart = clause_start_of(starts, hit.start)
        # "约了三次都没来": a following 都没 negates a problem word, not a count or a delay (重要 cues)
        if is_negated(text, hit.start, cstart, None if hit.weight == 1.0 else hit.end):
            continue
        if expectation is not None and expectation.search(text, cstart, hit.start):
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


@dataclass
class _Complaint:
    """A post the lexicon has called a complaint; categories wait for the model's batch pass."""

    index: int
    text: str
    scores: dict[str, float]
    words: dict[str, list[str]]
    boundary: list[str]
    site: str | None
    grade_hits: list[Hit]


@dataclass
class _Rejected:
    """A non-complaint; `open_to_model` when nothing spoke against a complaint (no praise, no doubt cue) and
    the lexicon merely lacked the words, so the learned detector may still call it one."""

    result: ComplaintResult
    open_to_model: bool


def _analyse(index: int, text: str, lex: Lexicon, vouched: float | None = None) -> _Rejected | _Complaint:
    """Everything but the categories: a finished result for a non-complaint, else what is left to decide.
    `vouched`: the detector's probability that this is a complaint, when it overrules missing words."""
    norm = normalise(text).strip()
    if not norm:
        return _Rejected(ComplaintResult(False, [], None, ["空文本"]), False)
    keys = text_keys(norm)
    cue_text = strip_mentions(norm) if "@" in norm else norm
    # blanking handles or fields adds only spaces, so the post's keys plus " " still cover the new text
    cue_keys = keys | {" "} if cue_text is not norm else keys
    site = lex.cue("complaint_site", cue_text, cue_keys)
    if site is not None and lex.cue("solved", cue_text, cue_keys) is not None:
        site = None  # "问题已解决，撤销投诉": the site format stops forcing a complaint; the doubt cues decide
    # On complaint sites the 【投诉要求】 field says what the author wants (退货, 更换, 退款), not what went
    # wrong, and so does "想退货" / "已申请退款" in a post: neither may vote for a category.
    scored = _DEMAND_FIELD.sub(" ", norm) if "【" in norm else norm
    remedy = lex.cue("remedy", scored, keys)
    if remedy is not None:
        scored = lex.cues["remedy"].sub(" ", scored)
    expecting = lex.cue("expectation", cue_text, cue_keys) is not None
    starts = clause_starts(norm)
    if scored is not norm:
        counted, praise, notes = _collect(lex, scored, clause_starts(scored), keys | {" "}, expecting)
    else:
        counted, praise, notes = _collect(lex, norm, starts, keys, expecting)
    if remedy is not None:
        notes.append(f"{_q(remedy)} 是诉求，不计类别")
    if not counted and site is None and vouched is None:
        # no complaint word at all: only the detector could still make this a complaint (most posts about a
        # brand end here, so the cue pass below is skipped for them)
        why = [f"{_q(h.text)} → 夸奖/满意" for h in praise[:3]] + notes[:2]
        return _Rejected(ComplaintResult(False, [], None, why + ["没有投诉用词 → 非投诉"]), not praise)
    post = _Post(norm, keys, cue_text, cue_keys, lex.cues_in(cue_text, cue_keys))
    scores, words, boundary = _category_scores(lex, counted, post)
    generic = sum(h.weight for h in counted if h.kind == "generic")
    praise_score = sum(h.weight for h in praise)
    first_person = "first_person" in post.cues
    strongest = max((h.weight for h in counted), default=0.0)
    reasons: list[str] = []
    doubt = 0.0
    for name, label, weight in DOUBT_CUES:
        cue = post.cues.get(name)
        if cue is None:
            continue
        # The author's own loss outweighs a news-like or bystander-like phrase, so halve the doubt then;
        # without any first-person cue, news and warnings about others are very unlikely complaints.
        if name in ("news", "bystander"):
            weight *= 0.5 if first_person else 1.5
        elif name == "ask" and generic > 0:
            weight *= 0.5  # "请问你们到底管不管？" asks, but angrily
        elif name == "question" and (first_person or strongest >= 1.5):
            weight *= 0.5  # a rhetorical question around a clear problem word is still a complaint
        doubt += weight
        reasons.append(f"{_q(cue)} → {label}")
    # Without any category word, only a strong complaint phrase ("差评", "给个说法") makes a complaint, so that
    # "气死我了" about a cat or an exam stays out.
    targeted = max(scores.values(), default=0.0) >= 0.6 or generic >= 2.4
    evidence = sum(scores.values()) + generic
    sev_hits: list[Hit] = []
    if site or (targeted and evidence + GRADE_EVIDENCE_CAP - praise_score - doubt >= THRESHOLD):
        # grade cues are only needed when they can still make the post a complaint, or to grade it
        sev_hits = _severity_hits(lex, norm, starts, keys, expecting)
        # Harm, loss and escalation words are complaint evidence too ("全家拉肚子"), a little each.
        evidence += min(GRADE_EVIDENCE_CAP, 0.5 * len({h.text for h in sev_hits}))
    score = evidence - praise_score - doubt
    clean = praise_score == 0 and doubt == 0
    if vouched is not None and clean and not site and not (score >= THRESHOLD and targeted):
        sev_hits = sev_hits or _severity_hits(lex, norm, starts, keys, expecting)
        boundary = [*boundary, f"文本模型 {vouched:.2f} → 投诉（用词不足，模型判断）"]
    elif not (site or (score >= THRESHOLD and targeted)):
        why = [f"{_q(h.text)} → 夸奖/满意" for h in praise[:3]] + reasons + notes[:2]
        why.append(f"投诉证据 {evidence:.1f} − 夸奖 {praise_score:.1f} − 疑点 {doubt:.1f} 不足 → 非投诉")
        return _Rejected(ComplaintResult(False, [], None, why), clean)
    return _Complaint(index, norm, scores, words, boundary, site, sev_hits)


def _blend(scores: dict[str, float], words: dict[str, list[str]], probs: np.ndarray | None, keys: Sequence[str]
           ) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Lexicon scores plus MODEL_WEIGHT x the model's probabilities; a category the model carried (more
    than its words did) says so in its reasons."""
    if probs is None:
        return scores, words
    blended, shown = dict(scores), {k: list(v) for k, v in words.items()}
    for key, p in zip(keys, probs.tolist(), strict=True):
        extra = MODEL_WEIGHT * p
        if extra < MODEL_FLOOR:
            continue
        blended[key] = blended.get(key, 0.0) + extra
        if extra >= scores.get(key, 0.0):
            shown.setdefault(key, []).append(f"文本模型 {p:.2f}")
    return blended, shown


def _finish(post: _Complaint, lex: Lexicon, probs: np.ndarray | None, keys: Sequence[str]) -> ComplaintResult:
    scores, words = _blend(post.scores, post.words, probs, keys)
    categories = _choose_categories(scores)
    cat_reasons = []
    for key in categories:
        label = lex.category_labels.get(key, key)
        said = words.get(key, []) if scores.get(key, 0.0) >= CATEGORY_FLOOR else []  # else "other" by default
        shown = "、".join(w if w.startswith("文本模型") else _q(w) for w in said[:3]) or "无明确类别词"
        cat_reasons.append(f"{shown} → {label}")
    if post.site:
        cat_reasons.insert(0, f"{_q(post.site)} → 投诉平台格式")
    grade, grade_reasons = _grade(post.grade_hits, categories, extract_amounts(post.text))
    return ComplaintResult(True, categories, grade, cat_reasons + post.boundary + grade_reasons)


def classify_many(texts: Sequence[str], lexicon_path: str | None = None, model_path: str | None = None,
                  use_model: bool = True) -> list[ComplaintResult]:
    """Classify posts; the category model scores all complaints of the batch in one vectorised pass.
    `lexicon_path` / `model_path` override the bundled lexicon and model; `use_model=False` leaves the
    categories to the lexicon alone."""
    lex = load_lexicon(lexicon_path)
    analysed: list[_Rejected | _Complaint] = [_analyse(i, t, lex) for i, t in enumerate(texts)]
    model = load_complaint_model(model_path) if use_model else None
    if model is not None:
        # The detector may overrule a rejection that only lacked words (never one with praise or doubt).
        open_ids = [i for i, a in enumerate(analysed) if isinstance(a, _Rejected) and a.open_to_model]
        for i, p in zip(open_ids, model.complaint_probability([texts[i] for i in open_ids]).tolist(), strict=True):
            if p >= DETECTOR_THRESHOLD:
                analysed[i] = _analyse(i, texts[i], lex, vouched=p)
    pending = [a for a in analysed if isinstance(a, _Complaint)]
    # the model reads the text as it was trained on it (featurise normalises on its own)
    probs = model.probabilities([texts[p.index] for p in pending]) if model is not None and pending else None
    keys = model.keys if model is not None else ()
    row_of = {id(a): row for row, a in enumerate(pending)}
    return [
        a.result if isinstance(a, _Rejected)
        else _finish(a, lex, probs[row_of[id(a)]] if probs is not None else None, keys)
        for a in analysed
    ]


def classify(text: str, lexicon_path: str | None = None) -> ComplaintResult:
    """Classify one post. `lexicon_path` overrides the bundled `complaint_lexicon.yaml`."""
    return classify_many([text], lexicon_path)[0]
