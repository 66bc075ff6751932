"""`crisiswatch train-sentiment`: retrain the sentiment and anger models (needs scikit-learn)."""

from __future__ import annotations

import argparse
import importlib.util

from crisiswatch.errors import CrisiswatchError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-sentiment", help="retrain monitor/enrich/models/sentiment.npz from the labelled CSVs"
    )
    p.add_argument("--data", default=None, help="labelled CSV folder (default ../shared/data/sentiment)")
    p.add_argument("--out", default=None, help="output folder (default monitor/enrich/models/)")
    p.set_defaults(func=run)


def require_training_extra() -> None:
    """scikit-learn is only in the `train` extra and is imported lazily by the trainers, so check first."""
    if importlib.util.find_spec("sklearn") is None:
        raise CrisiswatchError("training needs scikit-learn: pip install 'crisiswatch[train]'")


def run(args: argparse.Namespace) -> int:
    require_training_extra()
    from monitor.enrich.train_sentiment import main

    argv = [*(["--data", args.data] if args.data else []), *(["--out", args.out] if args.out else [])]
    return main(argv)
