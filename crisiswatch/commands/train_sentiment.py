"""`crisiswatch train-sentiment`: retrain the Chinese sentiment + anger and the English sentiment models."""

from __future__ import annotations

import argparse
import importlib.util

from crisiswatch.errors import CrisiswatchError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-sentiment",
        help="retrain monitor/enrich/models/sentiment.npz and sentiment_en.npz from the labelled CSVs",
    )
    p.add_argument("--data", default=None, help="labelled CSV folder (default ../shared/data/sentiment)")
    p.add_argument("--en-data", default=None,
                   help="English tweets CSV (default ../shared/data/sentiment_en/tweeteval_dev.csv)")
    p.add_argument("--only", choices=("zh", "en"), help="train one language's model only")
    p.add_argument("--out", default=None, help="output folder (default monitor/enrich/models/)")
    p.set_defaults(func=run)


def require_training_extra() -> None:
    """scikit-learn is only in the `train` extra and is imported lazily by the trainers, so check first."""
    if importlib.util.find_spec("sklearn") is None:
        raise CrisiswatchError("training needs scikit-learn: pip install 'crisiswatch[train]'")


def run(args: argparse.Namespace) -> int:
    require_training_extra()
    from monitor.enrich import train_sentiment, train_sentiment_en  # scikit-learn is imported by these

    out = ["--out", args.out] if args.out else []
    if args.only != "en":
        train_sentiment.main([*(["--data", args.data] if args.data else []), *out])
    if args.only != "zh":
        train_sentiment_en.main([*(["--data", args.en_data] if args.en_data else []), *out])
    return 0
