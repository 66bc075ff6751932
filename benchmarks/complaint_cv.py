"""How the complaint model's category settings were chosen: cross-validation inside the training rows.

    .venv/bin/python benchmarks/complaint_cv.py [--texts ../shared/data/sentiment] [--labels FILE]

Five folds over the randomly drawn real training rows (the authored sets and the rows drawn actively
always train); the `heldout` split is never read. For each C of the one-vs-rest category models, with and
without naive-Bayes scaling of the features (NB-LR), and each threshold a second category needs, it prints
category micro-F1 over the gold complaints of the left-out folds (the detector is not involved, so the
number isolates the category decision). Needs the `train` extra.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=Path, default=Path(tc.DEFAULT_TEXTS))
    ap.add_argument("--labels", type=Path, default=tc.REAL_LABELS)
    args = ap.parse_args(argv)
    posts = tc.read_posts(tc.default_sets()) + tc.read_real_labels(args.labels, args.texts, "train")
    x = tc._features(posts, tc.fit_reader(args.texts, args.labels), tc.BITS, tc.ORDERS)
    is_real = np.array([bool(r.get("id")) for r in posts])
    complaint = np.array([bool(r["complaint"]) for r in posts])
    gold = np.array([[k in r["categories"] for k in CATEGORY_KEYS] for r in posts])
    # rows drawn actively (from the model's weak spots) always train: the folds score the random draw
    drawn = is_real & ~np.array([bool(r.get("active")) for r in posts])
    fold = np.where(drawn, np.random.RandomState(0).randint(0, FOLDS, len(posts)), -1)
    scored = complaint & (fold >= 0)
    print(f"{len(posts)} training posts ({is_real.sum()} real, {drawn.sum()} drawn at random in {FOLDS} folds); "
          "category micro-F1, CV")
    for nb in (False, True):
        for c in C_GRID:
            probs = np.zeros(gold.shape)
            for f in range(FOLDS):
                train, test = complaint & (fold != f), complaint & (fold == f)
                for k in range(len(CATEGORY_KEYS)):
                    if gold[train, k].any():
                        weights, bias = tc.fit_binary(x[train], gold[train, k].astype(int), c, nb=nb)
                        probs[test, k] = sigmoid(x[test] @ weights + bias)
            cells = "  ".join(f"second {s}: {micro_f1(chosen(probs[scored], s), gold[scored]):.4f}" for s in SECOND_GRID)
            print(f"{'NB-LR' if nb else 'LR':5} C {c:>5}  {cells}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
