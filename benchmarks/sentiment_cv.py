"""Choose sentiment-model changes by cross-validation inside the training rows, never the held-out quarter.

    python benchmarks/sentiment_cv.py [--data ../shared/data/sentiment] [--cache DIR]
                                      [--members general:nb:4 expert:lr:8 adapt:nb:4:0.5 ...]
                                      [--meta-c 0.1 ...] [--bits 20] [--orders 1 2 3]
                                      [--baseline-c 4 8 16] [--only ours|baseline] [--nested] [--select]

The training rows (`train_sentiment.training_rows`: every row not held out) are cut into the
trainer's own 4 folds (`train_sentiment.folds`). Per fold, our model and the fair baseline are
fitted on the other three and scored on it, and accuracies are compared per set:

- ours: each member's out-of-fold logits (exactly what `train()` stacks on) and the router's
  out-of-fold P(domain); the stacking weights for fold f are fitted on the out-of-fold scores of
  the other three folds only, so fold f's labels reach neither the members nor the mixing weights.
  With --nested the stacking weights are fitted on scores of members trained on two folds and
  applied to members trained on three, as `train()` fits them on 3/4-data members and ships
  all-data ones. On the member sets tried the two modes agree within 0.2 point per set.
- the baseline: TF-IDF char 1-3-grams (sublinear tf, min_df 2) + logistic regression, as in
  `benchmarks/sentiment.py`, fitted on the same three folds. Its C is the grid value with the best
  pooled cross-validated accuracy, i.e. chosen in hindsight on the scored folds, which can only
  flatter the baseline.
- Both learn their IDF (no labels) from all training rows, so the comparison is even.

A member's out-of-fold scores are cached in --cache (outside the repository) under its spec, so a
new member costs only its own fits. Member specs: KIND:MODEL:C[:ALPHA], KIND general / expert /
adapt (see `train_sentiment.Member`), MODEL nb (NB-LR, smoothing ALPHA, default 1) or lr.
The int8 quantisation of the shipped weights is not modelled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.enrich import train_sentiment as ts  # noqa: E402

DEFAULT_CACHE = "/tmp/crisiswatch-sentiment-cv"


def baseline_oof(y: np.ndarray, fold: np.ndarray, c: float, x) -> np.ndarray:
    out = np.zeros(len(y))
    for f in np.unique(fold):
        fit = fold != f
        out[~fit] = LogisticRegression(C=c, max_iter=3000).fit(x[fit], y[fit]).predict_proba(x[~fit])[:, 1]
    return out


def per_set_accuracy(correct: np.ndarray, domain: np.ndarray) -> np.ndarray:
    sets = ts.SET_OF_DOMAIN[domain]
    return np.array([correct[sets == s].mean() for s in range(len(ts.SENTIMENT_SETS))])


def cv_correct(scores: np.ndarray, p_domain: np.ndarray, y: np.ndarray, fold: np.ndarray, c_meta: float,
               nested: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Per row, whether the mixture is right when its stacking weights come from the other folds.

    Plain: the weights for fold f are fitted on the other folds' out-of-fold scores, which come
    from members fitted on 3/4 of the rows, like the members that score fold f. Nested: they are
    fitted on scores from members fitted on 2/4 (inner folds of the other three), then applied to
    the 3/4 members, as `train` fits them on 3/4 members and ships all-data ones.
    """
    logit = np.zeros(len(y))
    for f in np.unique(fold):
        held = fold == f
        meta_scores, meta_domain = (scores, p_domain) if nested is None else (nested[0][f], nested[1][f])
        mix = ts.fit_mix(meta_scores[~held], meta_domain[~held], y[~held], c_meta)
        logit[held] = ts.mixed_logit(mix, scores[held], p_domain[held])
    return (logit >= 0) == y


def inner_out_of_fold(x, y: np.ndarray, domain: np.ndarray, fold: np.ndarray, m: ts.Member | None) -> np.ndarray:
    """(outer folds, documents, domains): per outer fold f, the rows outside f scored by members
    fitted on the two other folds outside f (zeros for the rows of f)."""
    out = np.zeros((len(np.unique(fold)), len(y), len(ts.DOMAINS)))
    for f in np.unique(fold):
        rest = fold != f
        out[f, rest] = ts.out_of_fold(x[rest], y[rest], domain[rest], fold[rest], m)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=ts.DEFAULT_DATA)
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="out-of-fold scores per member (not in the repo)")
    ap.add_argument("--members", nargs="+", type=ts.Member.parse, default=list(ts.MEMBERS))
    ap.add_argument("--meta-c", nargs="+", type=float, default=[ts.C_META])
    ap.add_argument("--bits", type=int, default=ts.BITS)
    ap.add_argument("--orders", nargs="+", type=int, default=list(ts.ORDERS))
    ap.add_argument("--baseline-c", nargs="+", type=float, default=[4.0, 8.0, 16.0])
    ap.add_argument("--only", choices=("ours", "baseline"), help="compute (and cache) one side only")
    ap.add_argument("--select", action="store_true",
                    help="greedy forward selection among --members by the worst set's CV margin")
    ap.add_argument("--router-from", help="a cache folder whose router.npy to reuse (exploration only)")
    ap.add_argument("--nested", action="store_true",
                    help="fit the stacking weights on inner-fold scores, as train() deploys them (slower)")
    ap.add_argument("--members-only", action="store_true", help="with --only ours: cache the members, not the router")
    args = ap.parse_args(argv)

    texts, y, domain = ts.training_rows(Path(args.data))
    fold = ts.folds(texts)
    root = Path(args.cache)
    print(f"{len(y):,} training rows, {len(np.unique(fold))} folds", file=sys.stderr)

    baseline: dict[float, np.ndarray] = {}
    if args.only != "ours":
        cache = ts.ScoreCache(root, texts, y, "baseline-tfidf-char13")
        vec: list = []

        def features():
            if not vec:
                vec.append(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
                           .fit_transform(texts))
            return vec[0]

        for c in args.baseline_c:
            baseline[c] = cache.get(f"C{c:g}", lambda c=c: baseline_oof(y, fold, c, features()))
    if args.only == "baseline":
        return 0

    cache = ts.ScoreCache(root, texts, y, ts.feature_tag(args.bits, tuple(args.orders)))
    xs: list = []

    def x():
        if not xs:
            xs.append(ts.tfidf(texts, args.bits, tuple(args.orders))[0])
        return xs[0]

    scores = np.stack([cache.get(str(m), lambda m=m: ts.out_of_fold(x(), y, domain, fold, m))
                       for m in args.members], axis=2)
    nested = None
    if args.nested:
        nested = (np.stack([cache.get(f"nested-{m}", lambda m=m: inner_out_of_fold(x(), y, domain, fold, m))
                            for m in args.members], axis=3), None)
    if args.only == "ours" and args.members_only:
        return 0
    if args.router_from:  # exploring features: P(domain) hardly depends on them, and it costs the most
        p_domain = np.load(Path(args.router_from) / "router.npy")
    else:
        p_domain = cache.get("router", lambda: ts.out_of_fold(x(), y, domain, fold, None))
    if nested is not None and args.router_from:  # exploration: the 3/4-row router stands in for the 2/4 one
        nested = (nested[0], np.stack([p_domain] * len(np.unique(fold))))
    elif nested is not None:
        nested = (nested[0], cache.get("nested-router", lambda: inner_out_of_fold(x(), y, domain, fold, None)))
    if args.only == "ours":
        return 0

    names = ts.SENTIMENT_SETS
    base_acc = {c: per_set_accuracy((p >= 0.5) == y, domain) for c, p in baseline.items()}
    best_c = max(base_acc, key=lambda c: np.mean((baseline[c] >= 0.5) == y))
    base_ok = (baseline[best_c] >= 0.5) == y
    print(f"bits {args.bits}, orders {args.orders}")
    print("baseline CV accuracy per set by C: " + "; ".join(
        f"C={c:g} " + " ".join(f"{a:.4f}" for a in acc) for c, acc in base_acc.items()) + f"; pooled best C={best_c:g}")
    specs = [str(m) for m in args.members]
    sets = ts.SET_OF_DOMAIN[domain]

    def margins(chosen: list[int], c_meta: float) -> tuple[np.ndarray, list[str]]:
        ours_ok = cv_correct(scores[:, :, chosen], p_domain, y, fold, c_meta,
                             None if nested is None else (nested[0][..., chosen], nested[1]))
        out, cells = [], []
        for d in range(len(names)):
            a, b = ours_ok[sets == d].mean(), base_ok[sets == d].mean()
            per_fold = [100 * (ours_ok[(sets == d) & (fold == f)].mean() - base_ok[(sets == d) & (fold == f)].mean())
                        for f in np.unique(fold)]
            out.append(100 * (a - b))
            cells.append(f"{a:.4f} {b:.4f} {100 * (a - b):+.2f} ({min(per_fold):+.2f})")
        return np.array(out), cells

    head = f"{'meta C':>7} " + "".join(f"{n[:18]:>32}" for n in names) + f"{'worst':>8}"
    print(head + "\n" + " " * 8 + "".join(f"{'ours   base margin (worst fold)':>32}" for _ in names))
    if not args.select:
        print(f"members: {' '.join(specs)}")
        for c_meta in args.meta_c:
            m, cells = margins(list(range(len(specs))), c_meta)
            print(f"{c_meta:>7g} " + "".join(f"{c:>32}" for c in cells) + f"{m.min():>+8.2f}", flush=True)
        return 0
    # Greedy forward selection: add the member that most raises the worst set's margin (then the mean).
    for c_meta in args.meta_c:
        chosen: list[int] = []
        best = (-np.inf, -np.inf)
        while len(chosen) < len(specs):
            trials = {i: margins(chosen + [i], c_meta) for i in range(len(specs)) if i not in chosen}
            i, (m, cells) = max(trials.items(), key=lambda kv: (kv[1][0].min(), kv[1][0].mean()))
            if (m.min(), m.mean()) <= best:
                break
            chosen.append(i)
            best = (m.min(), m.mean())
            print(f"{c_meta:>7g} " + "".join(f"{c:>32}" for c in cells) + f"{m.min():>+8.2f}  + {specs[i]}", flush=True)
        print(f"meta C {c_meta:g}: chose {' '.join(specs[i] for i in chosen)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
