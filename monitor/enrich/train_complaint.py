"""Train the complaint category model: `crisiswatch train-complaint` (needs the `train` extra).

One logistic regression per category (one-vs-rest, since a complaint may carry two) over hashed
character 1-3-grams, fitted on the gold complaints of the development sets, plus one for complaint or
not, fitted on all their posts. The evaluation set is
refused by name: it must stay unseen for `benchmarks/classify.py` to mean anything.
Settings (C, buckets, n-gram orders, blend weight in `complaint.py`) were chosen by training on all
development sets but one and scoring the one left out.

Decontamination: the sets were written by different people, and similar phrasings recur ("cancelled my
flight 2 hours before..."); a development post sharing a run of OVERLAP characters with an evaluation
post is left out of training, so the model cannot learn an evaluation post by way of its near-twin.
"""

from __future__ import annotations

import argparse
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
OVERLAP = 20
DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
EVALUATION = DATA / "complaints_eval.jsonl"


def default_sets() -> list[Path]:
    return sorted(p for p in DATA.glob("complaints_dev*.jsonl"))


def read_posts(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        if "eval" in path.name:
            raise CrisiswatchError(f"{path}: the evaluation set is never trained on")
        with open(path, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def decontaminate(posts: list[dict], evaluation: Path = EVALUATION) -> list[dict]:
    """The posts that share no run of OVERLAP characters with any evaluation post."""
    if not evaluation.is_file():
        return posts
    with open(evaluation, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()]
    spans = {t[i:i + OVERLAP] for t in texts for i in range(max(1, len(t) - OVERLAP + 1))}
    return [p for p in posts
            if not any(p["text"][i:i + OVERLAP] in spans for i in range(max(1, len(p["text"]) - OVERLAP + 1)))]


def train(paths: list[Path], out: Path = MODEL_PATH) -> Path:
    read = read_posts(paths)  # refuses the evaluation set before anything is fitted
    posts = decontaminate(read)
    if len(posts) < len(read):
        print(f"left out {len(read) - len(posts)} post(s) that share a {OVERLAP}-character phrase with the "
              "evaluation set", file=sys.stderr)
    from sklearn.linear_model import LogisticRegression

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
    columns, scales = zip(*(quantise(weights[:, k]) for k in range(n + 1)), strict=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        weights=np.stack(columns, axis=1),
        scales=np.array(scales, dtype=np.float32),
        biases=biases.astype(np.float32),
        keys=np.array(CATEGORY_KEYS),
        bits=BITS,
        orders=np.array(ORDERS),
    )
    print(f"trained on {len(posts)} posts ({len(rows)} complaints) from {len(paths)} file(s); wrote {out} "
          f"({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train_complaint", description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", type=Path,
                        help="labelled JSONL (repeatable; default benchmarks/data/complaints_dev*.jsonl)")
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help=f"output file (default {MODEL_PATH})")
    args = parser.parse_args(argv)
    paths = args.data or default_sets()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise CrisiswatchError(f"no labelled data: {', '.join(missing) or DATA}")
    train(paths, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
