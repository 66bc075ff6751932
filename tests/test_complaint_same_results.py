"""The complaint step was sped up without changing one answer: the current modules and those of the commit
before the speed work (benchmarks/complaint_step.py's BASELINE, loaded from git) give the same result, the
same reasons and the same evidence features on a few thousand generated posts.

The posts are built from the lexicon's own words and the strings its regexes need, among negations, clause
breaks, contrast and expectation words, quotation marks, handles, complaint-site fields, amounts, English,
full-width characters and emoji, so that nearly every path of the evidence reading is taken many times.

Both versions read today's lexicon and model file. A change that means to answer differently (new features,
another rule) moves BASELINE to its own commit, so that later speed work is held to that answer.
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

import numpy as np
import pytest

from monitor.enrich import complaint, complaint_evidence, complaint_model
from monitor.enrich.complaint_matcher import literal_text, required_strings, split_alternatives
from monitor.enrich.complaint_rules import load_lexicon, normalise, text_keys

ROOT = Path(__file__).resolve().parents[1]

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
def baseline():
    spec = importlib.util.spec_from_file_location("complaint_step", ROOT / "benchmarks" / "complaint_step.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.load_baseline(package="complaint_before_speedup")


@pytest.fixture(scope="module")
def posts() -> list[str]:
    """3,000 generated posts and 500 copies of some of them among them (classify_many reads a copy once)."""
    posts = generated_posts(3000)
    rng = random.Random(5)
    for _ in range(500):
        posts.insert(rng.randrange(len(posts)), rng.choice(posts))
    return posts


def test_same_results_and_reasons(baseline, posts):
    new = [r.to_dict() for r in complaint.classify_many(posts)]
    old = [r.to_dict() for r in baseline.complaint.classify_many(posts)]
    differing = [(posts[i], old[i], new[i]) for i in range(len(posts)) if old[i] != new[i]]
    assert not differing, f"{len(differing)} posts differ, e.g. {differing[:2]}"
    # the posts must exercise both verdicts, several categories and grades, or the comparison says little
    complaints = [r for r in new if r["complaint"]]
    assert 0.2 < len(complaints) / len(new) < 0.9
    assert len({c for r in complaints for c in r["categories"]}) >= 8
    assert len({r["severity"] for r in complaints}) == 4


def test_same_lexicon_only_results(baseline, posts):
    new = [r.to_dict() for r in complaint.classify_many(posts, use_model=False)]
    old = [r.to_dict() for r in baseline.complaint.classify_many(posts, use_model=False)]
    assert new == old


def test_same_evidence_and_features(baseline, posts):
    lex, old_lex = load_lexicon(), baseline.complaint_rules.load_lexicon()
    new_evidence = [complaint_evidence.read_evidence(t, lex) for t in posts]
    old_evidence = [baseline.complaint_evidence.read_evidence(t, old_lex) for t in posts]
    for new_ev, old_ev in zip(new_evidence, old_evidence, strict=True):  # what the features only summarise
        assert (new_ev.amounts, new_ev.cues, new_ev.scores, new_ev.words, new_ev.counted, new_ev.praise,
                new_ev.grade_hits, new_ev.notes) == (old_ev.amounts, old_ev.cues, old_ev.scores, old_ev.words,
                                                     old_ev.counted, old_ev.praise, old_ev.grade_hits, old_ev.notes)
    new = complaint_evidence.evidence_features(new_evidence, complaint_model.LEXICON_THRESHOLD)
    old = baseline.complaint_evidence.evidence_features(old_evidence, complaint_model.LEXICON_THRESHOLD)
    assert new.shape == old.shape and np.array_equal(new, old)
    assert (new != 0).any(axis=0).sum() >= 0.9 * new.shape[1]  # nearly every feature is taken by some post


def test_same_matches(baseline, posts):
    lex, old_lex = load_lexicon(), baseline.complaint_rules.load_lexicon()
    for text in (normalise(t).strip() for t in posts):
        keys, old_keys = text_keys(text), baseline.complaint_rules.text_keys(text)  # what each probes with
        for name in ("evidence_matcher", "severity_matcher", "all_cues"):
            new, old = getattr(lex, name), getattr(old_lex, name)
            assert new.find_all(text, keys) == old.find_all(text, old_keys), (name, text)
            assert new.first_each(text, keys) == old.first_each(text, old_keys), (name, text)
        for cue in lex.cues:
            assert lex.cue(cue, text, keys) == old_lex.cue(cue, text, old_keys), (cue, text)
