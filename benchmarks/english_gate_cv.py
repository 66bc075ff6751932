"""Whether English posts still need the English sentiment model's "negative": cross-validation inside the
English training rows.

    .venv/bin/python benchmarks/english_gate_cv.py [--texts ../shared/data/sentiment] [--en-posts .cache/english_posts]

Five folds over the English real training posts (`complaint_labels_en_real.jsonl`, split "train"), each
review or tweet in one fold; the held-out split is never read. Each fold's model is the shipped recipe
trained on the authored sets, the Chinese real training posts and the other folds' English posts. The
fold's posts are classified twice: as the product does, languages detected and the English gate
(`complaint._read_in_english`) applied, and without the gate. It prints complaint precision, recall and F1
of both over all folds, per set. Needs the `train` extra.
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

from benchmarks.english_posts import unit_of  # noqa: E402
from monitor.enrich import train_complaint as tc  # noqa: E402
from monitor.enrich.complaint import classify_many  # noqa: E402
from monitor.enrich.language import detect_languages  # noqa: E402

FOLDS = 5
NO_GATE = "und"  # a language code the gate does not read: the model's verdict stands


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


def prf(gold: list[bool], pred: list[bool]) -> tuple[float, float, float]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return precision, recall, 2 * tp / max(2 * tp + fp + fn, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=Path, default=Path(tc.DEFAULT_TEXTS))
    ap.add_argument("--labels", type=Path, default=tc.REAL_LABELS)
    ap.add_argument("--en-labels", type=Path, default=tc.EN_REAL_LABELS)
    ap.add_argument("--en-posts", type=Path, default=Path(tc.DEFAULT_EN_POSTS))
    args = ap.parse_args(argv)
    base = tc.read_posts(tc.default_sets()) + tc.read_real_labels(args.labels, args.texts, "train")
    english = tc.read_real_labels(args.en_labels, args.en_posts, "train")
    units = units_of(args.en_posts)
    reader = tc.fit_reader(args.texts, args.labels)
    vectors = tc.fit_bigram_vectors(args.texts, args.labels)
    gold, gated, ungated, sets = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for fold in range(FOLDS):
            test = [r for r in english if fold_of(r["id"], units) == fold]
            train = [r for r in english if fold_of(r["id"], units) != fold]
            model = tc.fit(base + train, Path(tmp) / f"fold{fold}.npz", reader, bigrams=vectors)
            texts = [r["text"] for r in test]
            with_gate = classify_many(texts, model_path=str(model), languages=detect_languages(texts))
            without = classify_many(texts, model_path=str(model), languages=[NO_GATE] * len(texts))
            gold += [r["complaint"] for r in test]
            gated += [r.complaint for r in with_gate]
            ungated += [r.complaint for r in without]
            sets += [r["style"] for r in test]
            print(f"fold {fold}: {len(test)} posts, {sum(r['complaint'] for r in test)} complaints", file=sys.stderr)
    for name in [*sorted(set(sets)), "all"]:
        keep = [i for i, s in enumerate(sets) if name in (s, "all")]
        g = [gold[i] for i in keep]
        for label, pred in (("with the gate", gated), ("without", ungated)):
            p, r, f = prf(g, [pred[i] for i in keep])
            print(f"{name:14} {label:14} P {p:.3f}  R {r:.3f}  F1 {f:.3f}  ({sum(g)} complaints of {len(g)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
