"""What the complaint lexicon reads in a post: the evidence both deciders (`complaint.py`) start from.

One pass per post collects every readable fact: complaint words per category (after the rubric's boundary
rules), generic complaint words, praise, quoted praise, the cues that make a post something else than a
complaint (question, news, bystander, solved...), grade cues and money amounts. The lexicon decider turns
them into a verdict with fixed weights; the learned decider reads them as features (`evidence_features`)
beside the text's n-grams, and both explain themselves with the words found here.

How the words are read:
- A negated word ("没有异味") counts as mild praise instead; a word in an expectation clause ("本以为会很慢")
  is dropped, which is what makes "本以为…结果第二天就到了" praise. Words after the last 但/结果/but weigh more.
- Praise inside quotation marks is the company talking ("师傅都说“正常现象”"), not the author's praise.
- The remedy the author asks for ("想退货", the 【投诉要求】 field) votes for no category.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

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
    normalise,
    quoted_spans,
    strip_mentions,
    text_keys,
)

CONTRAST_BOOST = 1.5  # weight of words after the last 但/结果/but
NEUTRAL_WEIGHT = 1.0  # below this a lexicon word is context ("续费", "揽件"), not a problem: negating it is no praise
LEXICON_THRESHOLD = 1.2  # the lexicon decider's margin: evidence - praise - doubt needed to call a post a complaint
GRADE_EVIDENCE_CAP = 1.5  # grade cues ("拉肚子", "12315") add 0.5 each to the complaint evidence, up to this

_DEMAND_FIELD = re.compile(r"【投诉要求】[^【]*")
_COURIER_WORDS = ("快递员", "快递小哥", "骑手", "配送员", "送货员", "外卖小哥", "courier", "driver")

# Cues that a post is something other than a complaint: (cue name in the lexicon, reason label, doubt).
DOUBT_CUES = (
    ("marketing", "营销/抽奖口吻", 3.0), ("news", "新闻/通报口吻", 2.5), ("bystander", "旁观/转述他人", 2.5),
    ("solved", "已解决", 3.0), ("unaffected", "作者本人未受影响", 3.0), ("ask", "咨询/提问", 2.0),
    ("question", "问句", 1.0), ("figurative", "比喻/夸张说法", 1.0),
)


def quote(word: str) -> str:
    return f"“{word}”"


@dataclass
class Evidence:
    """Everything the lexicon found in one post; complete when `read_evidence` returns it (the deciders and the
    features read `evidence` and `targeted` several times, so each is worked out once)."""

    text: str  # normalised
    counted: list[Hit] = field(default_factory=list)  # complaint words that count (categories and generic)
    praise: list[Hit] = field(default_factory=list)  # praise, incl. negated problem words ("没有异味")
    notes: list[str] = field(default_factory=list)  # words set aside, and why
    quoted_praise: int = 0  # praise words inside quotation marks (the company's words, not the author's)
    site: str | None = None  # the complaint-site format (【投诉对象】...), unless the case is marked solved
    remedy: str | None = None
    cues: dict[str, str] = field(default_factory=dict)  # cue name -> its leftmost match (handles blanked out)
    scores: dict[str, float] = field(default_factory=dict)  # category -> lexicon score after boundary rules
    words: dict[str, list[str]] = field(default_factory=dict)  # category -> the words that scored it
    boundary: list[str] = field(default_factory=list)  # rubric boundary rules that moved a score, as reasons
    generic: float = 0.0
    praise_score: float = 0.0
    doubt: float = 0.0
    doubt_reasons: list[str] = field(default_factory=list)
    grade_hits: list[Hit] = field(default_factory=list)
    amounts: list[float] = field(default_factory=list)

    @property
    def first_person(self) -> bool:
        return "first_person" in self.cues

    @functools.cached_property
    def evidence(self) -> float:
        """Category and generic words plus a little for each grade cue ("全家拉肚子" is evidence too)."""
        grade_words = min(GRADE_EVIDENCE_CAP, 0.5 * len({h.text for h in self.grade_hits}))
        return sum(self.scores.values()) + self.generic + grade_words

    @functools.cached_property
    def targeted(self) -> bool:
        """Without a category word only a strong complaint phrase ("差评", "给个说法") targets a company, so
        that "气死我了" about a cat or an exam stays out."""
        return max(self.scores.values(), default=0.0) >= 0.6 or self.generic >= 2.4

    @property
    def clean(self) -> bool:
        """Nothing speaks against a complaint: no praise (quoted or not) and no doubt cue."""
        return self.praise_score == 0 and self.doubt == 0 and self.quoted_praise == 0


def _collect(lex: Lexicon, ev: Evidence, text: str, starts: list[int], hits: list[Hit], contrasted: bool,
             expecting: bool) -> None:
    """Fill counted, praise, quoted_praise and notes from the evidence words `hits` of `text`
    (`contrasted`: the contrast cue occurs in it)."""
    expectation = lex.cues.get("expectation") if expecting else None
    contrast = lex.cues.get("contrast")
    pivot = -1
    if contrast is not None and contrasted:
        pivot = max(m.end() for m in contrast.finditer(text))
    seen: set[int] = set()
    quoted: list[tuple[int, int]] | None = None
    for hit in hits:
        if hit.entry in seen:
            continue
        if pivot >= 0 and hit.start >= pivot:
            # "物流慢了一天但能理解" / "本以为很快，结果等了一周": the part after the turn is the verdict.
            hit = hit._replace(weight=hit.weight * CONTRAST_BOOST)
        cstart = clause_start_of(starts, hit.start)
        negated = is_negated(text, hit.start, cstart, hit.end)
        if hit.kind == "praise":
            if quoted is None:
                quoted = quoted_spans(text)
            if negated:  # "不满意", "不推荐" are complaints
                ev.counted.append(Hit(hit.start, hit.text, hit.end, "generic", 1.2, "否定夸奖"))
            elif any(s <= hit.start and hit.end <= e for s, e in quoted):
                ev.quoted_praise += 1
                ev.notes.append(f"{quote(hit.text)} 在引号里（转述对方的话），不算夸奖")
            else:
                ev.praise.append(hit)
        elif negated:
            # "没有异味" is mild praise; "没揽件" / "不续费" negate a neutral word, and English "no reply" /
            # "still no technician" is not praise either.
            if not hit.text.isascii() and hit.weight >= NEUTRAL_WEIGHT:
                ev.praise.append(Hit(hit.start, hit.text, hit.end, "praise", 0.4 * hit.weight, "否定的问题词"))
            ev.notes.append(f"{quote(hit.text)} 被否定，不计")
        elif expectation is not None and (m := expectation.search(text, cstart, hit.start)) is not None:
            ev.notes.append(f"{quote(hit.text)} 在预期句中（{quote(m.group(0))}），不计")
        else:
            ev.counted.append(hit)
            seen.add(hit.entry)


def _move(ev: Evidence, source: str, target: str) -> None:
    ev.scores[target] = ev.scores.get(target, 0.0) + ev.scores.pop(source)
    ev.words[target] = ev.words.get(target, []) + ev.words.pop(source, [])


CueOf = Callable[[str], "str | None"]  # a cue's leftmost match in the post's normalised text


def _courier_is_logistics(lex: Lexicon, ev: Evidence, cue: CueOf) -> str | None:
    """Rubric: a rude courier is a logistics problem, not customer-service attitude."""
    if "service_attitude" in ev.scores and "logistics" in ev.scores and "客服" not in ev.text:
        courier = next((w for w in _COURIER_WORDS if w in ev.text), None)
        if courier is not None:
            _move(ev, "service_attitude", "logistics")
            return f"{quote(courier)} → 快递员的问题算物流"
    return None


def _outage_is_other(lex: Lexicon, ev: Evidence, cue: CueOf) -> str | None:
    """A metro that stopped, an entry gate or a queuing system that failed is a service disrupted (other, like a
    cancelled flight), not a faulty product, unless the post is about the author's own purchase ("新买的"). A
    venue's broken equipment (air conditioning, seats, machines) stays product_quality, as a hotel's does. The
    queue or the wait an outage causes ("只让排队登记") is the outage too, not the staff's attitude."""
    if "logistics" in ev.scores:  # broken in transit stays with the courier
        return None
    outage = cue("service_outage")
    if outage is None or cue("own_product") is not None:
        return None
    quality = ev.scores.get("product_quality", 0.0)
    moved = quality > 0 and quality >= ev.scores.get("other", 0.0) * 0.5
    if moved:
        _move(ev, "product_quality", "other")
    waited, waiting = ev.words.get("service_attitude", []), lex.cues.get("waiting")
    if waited and waiting is not None and all(waiting.fullmatch(w) for w in waited):
        _move(ev, "service_attitude", "other")
        moved = True
    return f"{quote(outage)} → 服务中断/通行故障算其他" if moved else None


def _noise_is_other(lex: Lexicon, ev: Evidence, cue: CueOf) -> str | None:
    """Rubric: noise is `other`. In a hotel the product_quality words that are only noise ("噪音大") move there;
    a post that also names a defect keeps it (a door that will not shut lets the corridor in)."""
    noisy, noise = ev.words.get("product_quality", []), lex.cues.get("noise")
    if not noisy or noise is None or cue("lodging") is None or cue("own_product") is not None:
        return None
    if not all(noise.search(w) for w in noisy):
        return None
    _move(ev, "product_quality", "other")
    return f"{quote(cue('noise') or noisy[0])} → 住宿中的噪音算其他"


def _checkout_is_billing(lex: Lexicon, ev: Evidence, cue: CueOf) -> str | None:
    """Rubric: a fee or a changed amount at checkout is billing, not a price dispute."""
    price = ev.scores.get("price", 0.0)
    if price <= 0 or price < max(ev.scores.values()):
        return None
    checkout = ev.cues.get("checkout")
    if checkout is None or "coupon_refused" in ev.cues:  # a coupon refused at checkout is coupon bait: price
        return None
    _move(ev, "price", "payment_billing")
    return f"{quote(checkout)} → 结算时的金额/收费问题算支付计费"


# Rubric boundaries, applied in order after the lexicon scores; each returns a reason when it applied.
BOUNDARY_RULES = (_courier_is_logistics, _outage_is_other, _noise_is_other, _checkout_is_billing)


def _grade_hits(lex: Lexicon, text: str, starts: list[int], hits: list[Hit], expecting: bool) -> list[Hit]:
    """The grade cues `hits` that are really stated (not negated, not merely feared in an expectation clause)."""
    expectation = lex.cues.get("expectation") if expecting else None
    kept = []
    for hit in hits:
        cstart = clause_start_of(starts, hit.start)
        # "约了三次都没来": a following 都没 negates a problem word, not a count or a delay (重要 cues)
        if is_negated(text, hit.start, cstart, None if hit.weight == 1.0 else hit.end):
            continue
        if expectation is not None and expectation.search(text, cstart, hit.start):
            continue
        kept.append(hit)
    return kept


def _doubt(ev: Evidence) -> None:
    strongest = max((h.weight for h in ev.counted), default=0.0)
    for name, label, weight in DOUBT_CUES:
        cue = ev.cues.get(name)
        if cue is None:
            continue
        # The author's own loss outweighs a news-like or bystander-like phrase, so halve the doubt then;
        # without any first-person cue, news and warnings about others are very unlikely complaints.
        if name in ("news", "bystander"):
            weight *= 0.5 if ev.first_person else 1.5
        elif name == "ask" and ev.generic > 0:
            weight *= 0.5  # "请问你们到底管不管？" asks, but angrily
        elif name == "question" and (ev.first_person or strongest >= 1.5):
            weight *= 0.5  # a rhetorical question around a clear problem word is still a complaint
        ev.doubt += weight
        ev.doubt_reasons.append(f"{quote(cue)} → {label}")


def read_evidence(text: str, lex: Lexicon) -> Evidence:
    """Everything the lexicon finds in one post (an empty post gives an empty Evidence)."""
    norm = normalise(text).strip()
    ev = Evidence(norm)
    if not norm:
        return ev
    keys = text_keys(norm)
    cue_text = strip_mentions(norm) if "@" in norm else norm
    # One pass reads the evidence words, grade cues and cues of the normalised post. The cues that decide
    # (ev.cues) are read without the handles, so where there are any they take a pass of their own, and so do
    # the evidence words where fields or the remedy are blanked out below. Blanking adds only spaces, so the
    # post's keys plus " " still cover the new text.
    evidence_hits, grade_hits, norm_cues = lex.read(norm, keys)
    ev.cues = norm_cues if cue_text is norm else lex.cues_in(cue_text, keys | {" "})
    cue_of = norm_cues.get
    ev.site = ev.cues.get("complaint_site")
    if ev.site is not None and "solved" in ev.cues:
        ev.site = None  # "问题已解决，撤销投诉": the site format stops forcing a complaint; the doubt cues decide
    # On complaint sites the 【投诉要求】 field says what the author wants (退货, 更换, 退款), not what went
    # wrong, and so does "想退货" / "已申请退款" in a post: neither may vote for a category.
    scored = _DEMAND_FIELD.sub(" ", norm) if "【" in norm else norm
    ev.remedy = cue_of("remedy") if scored is norm else lex.cue("remedy", scored, keys)
    if ev.remedy is not None:
        scored = lex.cues["remedy"].sub(" ", scored)
    expecting = "expectation" in ev.cues
    starts = clause_starts(norm)
    if scored is not norm:
        blanked = keys | {" "}
        _collect(lex, ev, scored, clause_starts(scored), find_hits(scored, lex.evidence, lex.evidence_matcher, blanked),
                 lex.cue("contrast", scored, blanked) is not None, expecting)
    else:
        _collect(lex, ev, norm, starts, evidence_hits, cue_of("contrast") is not None, expecting)
    if ev.remedy is not None:
        ev.notes.append(f"{quote(ev.remedy)} 是诉求，不计类别")
    for hit in ev.counted:
        if hit.kind in CATEGORY_KEYS:
            ev.scores[hit.kind] = ev.scores.get(hit.kind, 0.0) + hit.weight
            shown = ev.words.setdefault(hit.kind, [])
            if hit.text not in shown:
                shown.append(hit.text)
        elif hit.kind == "generic":
            ev.generic += hit.weight
    if ev.scores:
        ev.boundary = [r for rule in BOUNDARY_RULES if ev.scores and (r := rule(lex, ev, cue_of)) is not None]
    ev.praise_score = sum(h.weight for h in ev.praise)
    _doubt(ev)
    ev.grade_hits = _grade_hits(lex, norm, starts, grade_hits, expecting)
    ev.amounts = extract_amounts(norm)
    return ev


# ---- features for the learned decider ----------------------------------------------------------------
_CUE_FEATURES = ("first_person", "expectation", "contrast", "ask", "question", "news", "marketing", "bystander",
                 "unaffected", "solved", "complaint_site", "venue", "own_product", "coupon_refused", "checkout",
                 "figurative")  # the remedy is "remedy_said": read without the 【投诉要求】 field
FEATURE_NAMES = (
    *(f"score:{k}" for k in CATEGORY_KEYS), "generic", "praise", "quoted_praise", "negated_problem", "doubt",
    "lexicon_margin", "lexicon_verdict", "targeted", "site", "remedy_said",
    *(f"cue:{c}" for c in _CUE_FEATURES), *(f"grade_cue:{g}" for g in GRADES[1:]), "grade_cues",
    "amount_log", "amount_100", "amount_1000", "boundary", "length_log", "ascii_share",
)


def lexicon_margin(ev: Evidence) -> float:
    """The lexicon's verdict as a number: evidence minus praise minus doubt (>= LEXICON_THRESHOLD is a complaint)."""
    return ev.evidence - ev.praise_score - ev.doubt


def lexicon_verdict(ev: Evidence, threshold: float = LEXICON_THRESHOLD) -> bool:
    """The lexicon's own verdict: the complaint-site format, or enough targeted evidence."""
    return ev.site is not None or (ev.targeted and lexicon_margin(ev) >= threshold)


_COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
_FLAG_COLUMN = {**{k: _COLUMN[f"score:{k}"] for k in CATEGORY_KEYS}, **{c: _COLUMN[f"cue:{c}"] for c in _CUE_FEATURES},
                **{g: _COLUMN[f"grade_cue:{GRADES[g]}"] for g in range(1, len(GRADES))}}
# per post, in this order: the columns of the values that evidence_features gathers in one list each
_SCALARS = ("generic", "praise", "quoted_praise", "negated_problem", "doubt", "lexicon_margin", "lexicon_verdict",
            "targeted", "site", "remedy_said", "grade_cues", "amount_log", "boundary", "length_log", "ascii_share")


def evidence_features(evs: list[Evidence], threshold: float) -> np.ndarray:
    """(len(evs), len(FEATURE_NAMES)) dense features, the same for training and inference.
    `threshold`: the lexicon decider's margin, so "lexicon_verdict" says what the lexicon alone would say.

    Built column by column for the batch, not row by row: per post only the numbers are read. Logarithms go
    through `math`, element by element, because numpy's may differ in the last bit and the committed model
    was trained on these exact values."""
    out = np.zeros((len(evs), len(FEATURE_NAMES)))
    posts: list[int] = []  # the rows of non-empty posts (an empty post is a row of zeros)
    values: list[tuple] = []  # their _SCALARS
    at_rows: list[int] = []  # (row, column, value) of category scores and cue and grade flags
    at_columns: list[int] = []
    at_values: list[float] = []
    log1p, flag = math.log1p, _FLAG_COLUMN
    for row, ev in enumerate(evs):
        text = ev.text
        if not text:
            continue
        for key, score in ev.scores.items():
            at_rows.append(row), at_columns.append(flag[key]), at_values.append(log1p(score))
        for name in ev.cues:
            if name in flag:
                at_rows.append(row), at_columns.append(flag[name]), at_values.append(1.0)
        grades = {int(h.weight) for h in ev.grade_hits}
        for grade in grades:
            if grade:
                at_rows.append(row), at_columns.append(flag[grade]), at_values.append(1.0)
        margin, targeted, site = lexicon_margin(ev), ev.targeted, ev.site is not None
        top = max(ev.amounts, default=0.0)
        posts.append(row)
        values.append((
            log1p(ev.generic), log1p(ev.praise_score), min(ev.quoted_praise, 2),
            any(h.label == "否定的问题词" for h in ev.praise), log1p(ev.doubt), max(-3.0, min(3.0, margin)),
            lexicon_verdict(ev, threshold), targeted, site, ev.remedy is not None, min(len(grades), 3),
            top, bool(ev.boundary), len(text), len(text.encode("ascii", "ignore")) / len(text),
        ))
    out[at_rows, at_columns] = at_values
    if posts:
        table = np.array(values, dtype=np.float64)
        table[:, _SCALARS.index("lexicon_margin")] /= 3.0
        table[:, _SCALARS.index("grade_cues")] /= 3.0
        tops = table[:, _SCALARS.index("amount_log")].tolist()
        table[:, _SCALARS.index("amount_log")] = [math.log10(1.0 + top) / 4.0 for top in tops]
        lengths = table[:, _SCALARS.index("length_log")].tolist()
        table[:, _SCALARS.index("length_log")] = [log1p(n) / 6.0 for n in lengths]
        out[np.ix_(posts, [_COLUMN[name] for name in _SCALARS])] = table
        tops_array = np.array(tops)
        out[posts, _COLUMN["amount_100"]] = tops_array >= 100
        out[posts, _COLUMN["amount_1000"]] = tops_array >= 1000
    return out
