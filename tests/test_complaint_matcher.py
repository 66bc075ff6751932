"""The complaint lexicon's fast matching (one Aho-Corasick pass, regexes only where a string they need
occurs, copies in a batch read once) answers what the slow reading answers.

The posts are built from the lexicon's own words and the strings its regexes need, among negations, clause
breaks, contrast and expectation words, quotation marks, handles, complaint-site fields, amounts, English,
full-width characters and emoji, so that nearly every path of the evidence reading is taken many times.
(`benchmarks/complaint_step.py` also compares whole results with the code before the speed work, from git.)
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from monitor.enrich import complaint, complaint_evidence
from monitor.enrich.complaint_matcher import (
    english_word_at,
    literal_text,
    regex_lead_words,
    required_strings,
    split_alternatives,
)
from monitor.enrich.complaint_rules import load_lexicon, normalise, text_keys

CONTEXT = [
    "我", "我家", "我的", "的", "了", "，", "。", "！", "？", "?", "…", "；", " ", "但是", "但", "结果", "可是", "本以为",
    "以为会", "没有", "没", "不", "都没有", "也不", "一点都不", "完全没有", "并没有", "“", "”", "「", "」", '"', "请问",
    "吗", "呢", "怎么办", "听说", "新闻", "朋友", "已解决", "谢谢", "快递员", "客服", "骑手", "商场", "电影院", "新买的",
    "到手", "下单", "结账时", "@极光优选", "@Aurora_Help ", "【投诉对象】极光优选", "【投诉问题】", "【投诉要求】退款",
    "【涉诉金额】1288元", "¥", "$", "1288元", "三千块", "两百多", "一千二", "二十多万的车", "618买的", "¥59", "5k",
    "花了300", "损失好几百", "被刷了两笔", "12315", "315", "哈哈哈", "哈哈", "😡", "😭👍", "ＡＢＣ１２３", "！！！",
    "my order", "my ", " i ", "refund", "refunded", "not working", " but ", "never again", "no reply", "Support ",
    "the courier", "still no ", "lost my package", "charged twice", "1,288", "¥1,288.50", "十几", "几万",
]


def _lexicon_pieces() -> list[str]:
    """Plain words of every lexicon entry, and the strings its regex alternatives cannot match without."""
    lex = load_lexicon()
    patterns = [e[0].pattern for e in lex.evidence + lex.severity] + [r.pattern for r in lex.cues.values()]
    pieces = []
    for pattern in patterns:
        for branch in split_alternatives(pattern):
            word = literal_text(branch)
            if word is not None:
                pieces.append(word)
            else:
                pieces += list(required_strings(re.compile(branch)) or ())
    return pieces


def generated_posts(n: int, seed: int = 17) -> list[str]:
    rng = random.Random(seed)
    pieces = _lexicon_pieces()
    posts = ["", "   ", "。", "@极光优选"]
    while len(posts) < n:
        parts = [rng.choice(pieces) if rng.random() < 0.45 else rng.choice(CONTEXT)
                 for _ in range(rng.randint(1, 14))]
        glue = rng.choice(["", "", " ", "，"])
        text = glue.join(parts)
        if rng.random() < 0.1:
            text = text.upper()
        posts.append(text)
    return posts


@pytest.fixture(scope="module")
def posts() -> list[str]:
    """3,000 generated posts and 500 copies of some of them among them (classify_many reads a copy once)."""
    posts = generated_posts(3000)
    rng = random.Random(5)
    for _ in range(500):
        posts.insert(rng.randrange(len(posts)), rng.choice(posts))
    return posts


class ReferenceMatcher:
    """What a Matcher means, read the slow way: every alternative of every entry tried on its own (plain words
    with str.find, each occurrence after the previous one; regex alternatives with finditer, empty matches
    dropped), English words and regexes only where a word of the post starts with their first letters, and
    English words only as words of the post (`english_word_at`)."""

    def __init__(self, patterns: list[str]) -> None:
        self.alternatives = []
        for entry, pattern in enumerate(patterns):
            for order, branch in enumerate(split_alternatives(pattern)):
                word = literal_text(branch)
                if word is not None:
                    head = word[:3]
                    gate = {head} if len(head) == 3 and head.isascii() and head.isalpha() else None
                    self.alternatives.append((entry, order, word, None, gate))
                else:
                    regex = re.compile(branch)
                    self.alternatives.append((entry, order, None, regex, regex_lead_words(regex) or None))

    def find_all(self, text: str) -> list[tuple]:
        starts = {w[:3] for w in re.findall(r"[a-z]{3,}", text)}
        found = []
        for entry, order, word, regex, gate in self.alternatives:
            if gate is not None and gate.isdisjoint(starts):
                continue
            if word is not None:
                j = text.find(word)
                while j >= 0:
                    if gate is None or english_word_at(text, j, j + len(word)):
                        found.append((entry, j, order, j + len(word), word))
                    j = text.find(word, j + len(word))
            else:
                found += [(entry, m.start(), order, m.end(), m.group(0))
                          for m in regex.finditer(text) if m.end() > m.start()
                          and (gate is None or english_word_at(text, m.start(), m.end()))]
        return sorted(found)

    def first_each(self, text: str) -> dict[int, str]:
        best: dict[int, tuple] = {}
        for entry, start, order, _end, hit in self.find_all(text):
            if entry not in best or (start, order) < best[entry][:2]:
                best[entry] = (start, order, hit)
        return {entry: hit[2] for entry, hit in best.items()}


def test_the_matchers_find_what_trying_every_alternative_finds(posts):
    lex = load_lexicon()
    references = {"evidence_matcher": ReferenceMatcher([e[0].pattern for e in lex.evidence]),
                  "severity_matcher": ReferenceMatcher([e[0].pattern for e in lex.severity]),
                  "all_cues": ReferenceMatcher([r.pattern for r in lex.cues.values()])}
    seen = 0
    for text in sorted({normalise(t).strip() for t in posts}):
        keys = text_keys(text)
        for name, reference in references.items():
            matcher = getattr(lex, name)
            expected = reference.find_all(text)
            assert matcher.find_all(text, keys) == expected, (name, text)
            assert matcher.first_each(text, keys) == reference.first_each(text), (name, text)
            seen += len(expected)
    assert seen > 4 * len(posts)  # the posts are dense with the lexicon's words


def test_copies_in_a_batch_get_the_answer_of_the_text_alone(posts):
    """classify_many reads each distinct text once: a copy's answer is the one the text gets on its own."""
    batch = [r.to_dict() for r in complaint.classify_many(posts)]
    distinct = sorted(set(posts))
    alone = dict(zip(distinct, (r.to_dict() for r in complaint.classify_many(distinct)), strict=True))
    assert batch == [alone[t] for t in posts]
    complaints = [r for r in batch if r["complaint"]]  # both verdicts, most categories and every grade
    assert 0.2 < len(complaints) / len(batch) < 0.9
    assert len({c for r in complaints for c in r["categories"]}) >= 8
    assert len({r["severity"] for r in complaints}) == 4


def test_features_are_the_rows_of_each_post_alone(posts):
    lex = load_lexicon()
    evidence = [complaint_evidence.read_evidence(t, lex) for t in posts[:600]]
    batch = complaint_evidence.evidence_features(evidence, complaint_evidence.LEXICON_THRESHOLD)
    rows = np.vstack([complaint_evidence.evidence_features([ev], complaint_evidence.LEXICON_THRESHOLD) for ev in evidence])
    assert np.array_equal(batch, rows)
    assert (batch != 0).any(axis=0).sum() >= 0.9 * batch.shape[1]  # nearly every feature is taken by some post


def test_english_words_count_as_words_of_the_post_not_inside_others():
    for text, word, counts in (("refunded today", "refund", True), ("they stopped it", "stop", True),
                               ("charges", "charge", True), ("my family feels it", "fee", False),
                               ("coffee fee", "fee", False), ("a new apple tv", "new app", False),
                               ("the new app crashes", "new app", True), ("iphone坏了", "iphone", True),
                               ("they overcharge", "overcharg", True), ("a bad injury", "injur", True),
                               ("fraudulent seller", "fraud", True), ("it arrived broken", "broke", True)):
        start = text.find(word)
        assert english_word_at(text, start, start + len(word)) is counts, (text, word)
    lex = load_lexicon()
    for text in ("my family feels the need to tag me", "tomorrow apple will introduce a new apple tv"):
        assert lex.evidence_matcher.find_all(text, text_keys(text)) == [], text
