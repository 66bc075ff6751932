"""`crisiswatch train-complaint`: retrain the complaint category model (needs scikit-learn)."""

from __future__ import annotations

import argparse

from crisiswatch.commands.train_sentiment import require_training_extra


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-complaint",
        help="retrain monitor/enrich/models/complaint_model.npz from labelled real posts and the authored sets",
    )
    p.add_argument("--labels", default=None,
                   help="labels of real posts keyed by <set>:<row> (default benchmarks/data/complaint_labels_real.jsonl)")
    p.add_argument("--texts", default=None, help="folder of those posts' CSVs (default ../shared/data/sentiment)")
    p.add_argument("--data", action="append", default=None,
                   help="labelled JSONL, repeatable (default benchmarks/data/complaints_dev*.jsonl)")
    p.add_argument("--out", default=None, help="output file (default monitor/enrich/models/complaint_model.npz)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_training_extra()
    from monitor.enrich.train_complaint import main

    argv = [arg for path in args.data or [] for arg in ("--data", path)]
    for flag in ("labels", "texts", "out"):
        if getattr(args, flag):
            argv += [f"--{flag}", getattr(args, flag)]
    return main(argv)
