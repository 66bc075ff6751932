"""How English posts should be read for complaints: cross-validation inside the English training rows.

    .venv/bin/python benchmarks/english_complaint_cv.py [--texts ../shared/data/sentiment]
        [--en-posts .cache/english_posts] [--tweets ../shared/data/sentiment_en/tweeteval_dev.csv]

Five folds over the real English training posts (`complaint_labels_en_real.jsonl`, split "train"), each
review or tweet in one fold; the held-out split is never read. Three ways to read them, each fold's
models trained without the fold:
- joint: the shipped recipe (character 1-3-grams, the Chinese reader and bigram vectors) trained on the
  authored sets, the Chinese real training posts and the other folds' English posts: one model for both;
- english 1-3 / english 2-5: a model of the same kind trained on English posts alone (the authored sets'
  English posts and the other folds'), character 1-3-grams or 2-5-grams (words and their endings), its
  reader the sentiment of the English sentiment model's training tweets (`fit_english_reader`), no
  bigram vectors.
The fold's posts are classified by each, with languages detected, once with the English gate
(`complaint._read_in_english`) and once without. It prints complaint precision, recall, F1, category
micro-F1 and grade exact per set. Needs the `train` extra. The numbers, and the two held-out looks they
led to, are in `benchmarks/english_posts.py`.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from benchmarks.classify import score  # noqa: E402
from benchmarks.english_posts import DEFAULT_OUT, LABELS, unit_of  # noqa: E402
from monitor.enrich import train_complaint as tc  # noqa: E402
from monitor.enrich.complaint import classify_many  # noqa: E402
from monitor.enrich.complaint_model import TEXT_KINDS  # noqa: E402
from monitor.enrich.english import EnglishSentiment  # noqa: E402
from monitor.enrich.language import detect_languages  # noqa: E402
from monitor.enrich.textfeatures import featurise, to_csr  # noqa: E402
from monitor.enrich.train_sentiment_en import DEFAULT_DATA as DEFAULT_TWEETS  # noqa: E402
from monitor.enrich.train_sentiment_en import read_tweets  # noqa: E402

FOLDS = 5
NO_GATE = "und"  # a language code the gate does not read: the model's verdict stands
BRAND_TWEETS = tc.DATA / "complaint_labels_en.jsonl"  # held out: the English reader leaves them out


def fit_english_reader(tweets: Path, labels: Path, orders: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The English models' reader: a logistic regression of positive against negative on the English
    sentiment model's training tweets (its held-out ones left out, and every tweet labelled for complaints
    in `labels`), on the model's hashed n-grams. The kind-of-text columns stay zero (the kinds are Chinese)."""
    left_out = {r["text"] for split in ("train", tc.HELD_OUT) for r in tc.read_real_labels(labels, tweets.parent, split)}
    positive, negative = EnglishSentiment.LABELS.index("positive"), EnglishSentiment.LABELS.index("negative")
    rows = [(t, int(y == positive)) for t, y in read_tweets(tweets)[0]
            if t.strip() not in left_out and y in (positive, negative)]
    x = to_csr(featurise([t for t, _ in rows], tc.BITS, orders), tc.BITS)
    sentiment = LogisticRegression(C=tc.C_SENTIMENT, max_iter=3000).fit(x, [y for _, y in rows])
    weights = np.zeros((1 << tc.BITS, 1 + len(TEXT_KINDS)))
    weights[:, 0] = sentiment.coef_.ravel()
    return weights, np.concatenate([sentiment.intercept_, np.zeros(len(TEXT_KINDS))])


def fold_of(post_id: str, units: dict[str, str]) -> int:
    name = post_id.rpartition(":")[0]
    return zlib.crc32(f"fold:{name}:{units[post_id]}".encode()) % FOLDS


def units_of(en_posts: Path) -> dict[str, str]:
    """Post id -> the unit held together (a review, a tweet), from the CSVs' source ids."""
    out = {}
    for path in sorted(en_posts.glob("vader_*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            for row, r in enumerate(csv.DictReader(fh)):
                out[f"{path.stem}:{row}"] = unit_of(path.stem, r["source_id"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=Path, default=Path(tc.DEFAULT_TEXTS))
    ap.add_argument("--labels", type=Path, default=tc.REAL_LABELS)
    ap.add_argument("--en-labels", type=Path, default=LABELS)
    ap.add_argument("--en-posts", type=Path, default=Path(DEFAULT_OUT))
    ap.add_argument("--tweets", type=Path, default=Path(DEFAULT_TWEETS))
    ap.add_argument("--only", help="comma-separated ways to run (joint, english 1-3, english 2-5)")
    args = ap.parse_args(argv)
    authored = tc.read_posts(tc.default_sets())
    authored_en = [r for r, lang in zip(authored, detect_languages([r["text"] for r in authored]), strict=True)
                   if lang == "en"]
    base = authored + tc.read_real_labels(args.labels, args.texts, "train")
    english = tc.read_real_labels(args.en_labels, args.en_posts, "train")
    units = units_of(args.en_posts)
    ways = {"joint": (1, 2, 3), "english 1-3": (1, 2, 3), "english 2-5": (2, 3, 4, 5)}
    if args.only:
        ways = {k: ways[k] for k in args.only.split(",")}
    readers = {}
    if "joint" in ways:
        readers["joint"] = (tc.fit_reader(args.texts, args.labels), tc.fit_bigram_vectors(args.texts, args.labels))
    for way, orders in ways.items():
        if way != "joint":
            readers[way] = (fit_english_reader(args.tweets, BRAND_TWEETS, orders), None)
    gold: list[dict] = []
    preds: dict[str, list] = {f"{w}{g}": [] for w in ways for g in ("", ", no gate")}
    with tempfile.TemporaryDirectory() as tmp:
        for fold in range(FOLDS):
            test = [r for r in english if fold_of(r["id"], units) == fold]
            train = [r for r in english if fold_of(r["id"], units) != fold]
            texts = [r["text"] for r in test]
            langs = detect_languages(texts)
            for way, orders in ways.items():
                reader, vectors = readers[way]
                posts = base + train if way == "joint" else authored_en + train
                model = str(tc.fit(posts, Path(tmp) / f"{way}-{fold}.npz", reader, orders=orders, bigrams=vectors))
                for gate, languages in (("", langs), (", no gate", [NO_GATE] * len(texts))):
                    preds[f"{way}{gate}"] += [(r.complaint, r.categories, r.severity)
                                              for r in classify_many(texts, model_path=model, languages=languages)]
            gold += test
            print(f"fold {fold}: {len(test)} posts, {sum(r['complaint'] for r in test)} complaints",
                  file=sys.stderr, flush=True)
    for name in [*sorted({r["style"] for r in gold}), "all"]:
        keep = [i for i, r in enumerate(gold) if name in (r["style"], "all")]
        rows = [gold[i] for i in keep]
        print(f"\n{name}: {len(rows)} posts, {sum(r['complaint'] for r in rows)} complaints")
        for way, predicted in preds.items():
            m = score(rows, [predicted[i] for i in keep])
            p, r, f = m["complaint"]
            print(f"  {way:22} P {p:.3f}  R {r:.3f}  F1 {f:.3f}   category {m['category_micro_f1']:.3f}"
                  f"   grade {m['severity']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
