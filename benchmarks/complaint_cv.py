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

What it found at each stop, and every setting tried beside the shipped one: `docs/complaint-rounds.md`.
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
