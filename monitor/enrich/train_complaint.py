"""Train the complaint category model: `crisiswatch train-complaint` (needs the `train` extra).

One logistic regression per category (one-vs-rest, since a complaint may carry two) over hashed
character 1-3-grams, fitted on the gold complaints, plus one for complaint or not, fitted on all posts.

Training data:
- real posts labelled by the rubric (two annotators, adjudicated): `benchmarks/data/complaint_labels_real.jsonl`,
  one `{"id": "<set>:<row>", "complaint", "categories", "severity", "split"}` per line, where row is the
  0-based data row of `<set>.csv` in the shared sentiment folder. Only the labels are committed; the texts
  are joined from that folder at training time. Rows with split "heldout" are never trained on (they are
  what `benchmarks/classify.py` reports);
- the authored sets `benchmarks/data/complaints_dev*.jsonl` (complaints_dev5 was the evaluation set until
  real labelled posts replaced it: it shared phrases with the lexicon, so it measured nothing).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from crisiswatch.errors import CrisiswatchError
from monitor.enrich.complaint_model import MODEL_PATH
from monitor.enrich.complaint_rules import CATEGORY_KEYS
from monitor.enrich.textfeatures import featurise, to_csr
from monitor.enrich.train_sentiment import quantise

BITS = 16
ORDERS = (1, 2, 3)
C = 16.0
DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
REAL_LABELS = DATA / "complaint_labels_real.jsonl"
DEFAULT_TEXTS = "../shared/data/sentiment"
HELD_OUT = "heldout"


def default_sets() -> list[Path]:
    return sorted(p for p in DATA.glob("complaints_dev*.jsonl"))


def read_posts(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def read_real_labels(labels: Path, texts: Path, split: str) -> list[dict]:
    """The labelled real posts of one split, each joined with its text from `texts`/<set>.csv.

    A label whose set file or row is missing is an error naming how many and the first one: a
    silently shorter training or evaluation set would change every number without saying so.
    """
    with open(labels, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    wanted = [r for r in rows if r.get("split") == split]
    by_set: dict[str, list[str]] = {}
    out, missing = [], []
    for r in wanted:
        name, _, row = r["id"].rpartition(":")
        if name not in by_set:
            path = texts / f"{name}.csv"
            if not path.is_file():
                by_set[name] = []
            else:
                with open(path, encoding="utf-8", newline="") as fh:
                    by_set[name] = [(row_["review"] or "").strip() for row_ in csv.DictReader(fh)]
        rows_of_set = by_set[name]
        if not row.isdigit() or int(row) >= len(rows_of_set):
            missing.append(r["id"])
            continue
        out.append({"text": rows_of_set[int(row)], "complaint": bool(r["complaint"]),
                    "categories": list(r.get("categories") or []), "severity": r.get("severity"),
                    "style": name, "id": r["id"]})
    if missing:
        raise CrisiswatchError(f"{labels}: {len(missing)} label(s) have no text in {texts} (first: {missing[0]})")
    return out


def train(paths: list[Path], out: Path = MODEL_PATH, real: list[dict] | None = None) -> Path:
    from sklearn.linear_model import LogisticRegression

    posts = read_posts(paths) + (real or [])

    x_all = to_csr(featurise([r["text"] for r in posts], BITS, ORDERS), BITS)
    is_complaint = np.array([bool(r["complaint"]) for r in posts])
    x, rows = x_all[is_complaint], [r for r in posts if r["complaint"]]
    n = len(CATEGORY_KEYS)
    weights, biases = np.zeros((1 << BITS, n + 1)), np.zeros(n + 1)
    for k, key in enumerate(CATEGORY_KEYS):
        y = np.array([key in r["categories"] for r in rows], dtype=int)
        model = LogisticRegression(C=C, max_iter=3000).fit(x, y)
        weights[:, k], biases[k] = model.coef_.ravel(), model.intercept_[0]
    detector = LogisticRegression(C=C, max_iter=3000).fit(x_all, is_complaint.astype(int))
    weights[:, n], biases[n] = detector.coef_.ravel(), detector.intercept_[0]
    quantised, scales = quantise(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        weights=quantised,
        scales=scales,
        biases=biases.astype(np.float32),
        keys=np.array(CATEGORY_KEYS),
        bits=BITS,
        orders=np.array(ORDERS),
    )
    print(f"trained on {len(posts)} posts ({len(rows)} complaints; {len(real or [])} real) from {len(paths)} "
          f"authored file(s); wrote {out} "
          f"({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train_complaint", description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", type=Path,
                        help="labelled JSONL (repeatable; default benchmarks/data/complaints_dev*.jsonl)")
    parser.add_argument("--labels", type=Path, default=REAL_LABELS,
                        help=f"labels of real posts, keyed by id (default {REAL_LABELS}; skipped when absent)")
    parser.add_argument("--texts", type=Path, default=Path(DEFAULT_TEXTS),
                        help=f"folder of the labelled posts' CSVs (default {DEFAULT_TEXTS})")
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help=f"output file (default {MODEL_PATH})")
    args = parser.parse_args(argv)
    paths = args.data or default_sets()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise CrisiswatchError(f"no labelled data: {', '.join(missing) or DATA}")
    real = None
    if args.labels.is_file():
        real = read_real_labels(args.labels, args.texts, "train")
    else:
        print(f"no real-post labels at {args.labels}: training on the authored sets only", file=sys.stderr)
    train(paths, args.out, real)
    return 0


if __name__ == "__main__":
    sys.exit(main())
