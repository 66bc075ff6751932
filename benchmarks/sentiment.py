"""Benchmark the crisiswatch sentiment model against TF-IDF logistic regression and snownlp.

    python benchmarks/sentiment.py [--data ../shared/data/sentiment]

Accuracy is measured on the held-out split defined in `monitor.enrich.train_sentiment` (about
20% of each file, chosen by a hash of the text; never trained on). The LR baseline is
`TfidfVectorizer(analyzer='char', ngram_range=(1, 3))` + `LogisticRegression`, fitted per set on
that set's training split. snownlp is slow, so it is scored on a seeded sample of the held-out
rows, and ours is shown on the same sample too.

Throughput is one process on one core (BLAS threads pinned to 1) on held-out Weibo posts:
docs/s = (N_large - N_small) / (t_large - t_small), which cancels start-up and per-call costs;
medians over repeats, reported with ratios to snownlp.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402 - the thread pins must precede the numpy import
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.enrich.sentiment import anger, load_model  # noqa: E402
from monitor.enrich.train_sentiment import SENTIMENT_SETS, read_set, split  # noqa: E402


def accuracy(probs: Sequence[float], labels: Sequence[int]) -> float:
    return float(np.mean((np.asarray(probs) >= 0.5) == np.asarray(labels, dtype=bool)))


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    s, y = np.asarray(scores), np.asarray(labels, dtype=bool)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):  # average ranks of ties
        tie = s == v
        ranks[tie] = ranks[tie].mean()
    n_pos, n_neg = y.sum(), (~y).sum()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class TfidfLR:
    name = "tfidf-lr"

    def __init__(self, texts: list[str], labels: list[int]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
        self.lr = LogisticRegression(max_iter=1000).fit(self.vec.fit_transform(texts), labels)

    def predict(self, texts: Sequence[str]) -> list[float]:
        return self.lr.predict_proba(self.vec.transform(texts))[:, 1].tolist()


def throughput(predict: Callable[[list[str]], object], pool: list[str], small: int, large: int,
               repeats: int) -> float:
    docs = (pool * (large // len(pool) + 1))[:large]
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(docs[:small])
        t1 = time.perf_counter()
        predict(docs)
        t2 = time.perf_counter()
        rates.append((large - small) / max((t2 - t1) - (t1 - t0), 1e-9))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/sentiment")
    ap.add_argument("--sample", type=int, default=1000, help="held-out rows per set scored by snownlp")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    data = Path(args.data)
    ours, snow = load_model("crisiswatch"), load_model("snownlp")

    print(f"Held-out accuracy (hash split, ~20% per file; snownlp on a seeded sample of {args.sample} "
          f"held-out rows per set, seed {args.seed})")
    head = (f"{'set':<20}{'n':>6}{'ours':>8}{'LR':>8}{'ours-LR':>9} | {'sample':>6}{'ours@s':>8}"
            f"{'LR@s':>8}{'snownlp':>9}{'ours-snow':>10}")
    print(head)
    print("-" * len(head))
    weibo_lr, weibo_pool = None, []
    for name in SENTIMENT_SETS:
        train_rows, test_rows = split(read_set(data, name))
        texts, labels = [t for t, _ in test_rows], [int(lab) for _, lab in test_rows]
        lr = TfidfLR([t for t, _ in train_rows], [int(lab) for _, lab in train_rows])
        idx = sorted(random.Random(f"{args.seed}:{name}").sample(range(len(texts)), min(args.sample, len(texts))))
        s_texts, s_labels = [texts[i] for i in idx], [labels[i] for i in idx]
        a_ours, a_lr = accuracy(ours.predict(texts), labels), accuracy(lr.predict(texts), labels)
        s_ours, s_lr = accuracy(ours.predict(s_texts), s_labels), accuracy(lr.predict(s_texts), s_labels)
        s_snow = accuracy(snow.predict(s_texts), s_labels)
        print(f"{name:<20}{len(texts):>6}{a_ours:>8.4f}{a_lr:>8.4f}{a_ours - a_lr:>+9.4f} | {len(idx):>6}"
              f"{s_ours:>8.4f}{s_lr:>8.4f}{s_snow:>9.4f}{s_ours - s_snow:>+10.4f}", flush=True)
        if name == "weibo":
            weibo_lr, weibo_pool = lr, texts

    print("(snownlp was trained on some online_shopping and hotel rows, which flatters it on those two sets)")

    _, emo_test = split(read_set(data, "smp2020_emotion"))
    angry = [int(lab == "angry") for _, lab in emo_test]
    p_angry = anger([t for t, _ in emo_test])
    print(f"\nAnger (smp2020_emotion, angry vs rest, {len(emo_test)} held-out posts, "
          f"{sum(angry)} angry): AUC {auc(p_angry, angry):.4f}, accuracy@0.5 {accuracy(p_angry, angry):.4f} "
          f"(majority class {1 - sum(angry) / len(angry):.4f})")

    print(f"\nThroughput, held-out Weibo posts, one process, one core; docs/s = (N_large-N_small)/"
          f"(t_large-t_small), median of {args.repeats} repeats")
    rate_ours = throughput(ours.predict, weibo_pool, 1_000, 40_000, args.repeats)
    rate_lr = throughput(weibo_lr.predict, weibo_pool, 1_000, 40_000, args.repeats)
    rate_snow = throughput(snow.predict, weibo_pool, 100, 500, max(3, args.repeats // 2))
    print(f"{'model':<14}{'N_small':>8}{'N_large':>8}{'docs/s':>12}{'/snownlp':>10}")
    for name, small, large, rate in (("crisiswatch", 1_000, 40_000, rate_ours),
                                      ("tfidf-lr", 1_000, 40_000, rate_lr),
                                      ("snownlp", 100, 500, rate_snow)):
        print(f"{name:<14}{small:>8}{large:>8}{rate:>12,.0f}{rate / rate_snow:>9.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
