"""`crisiswatch sentiment [--model NAME] [FILE]`: one P(positive) per input line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from itertools import islice
from typing import TextIO

from crisiswatch.errors import CrisiswatchError

BATCH = 20_000  # large enough for full vectorised speed, small enough to stream any input


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sentiment",
        help="score Chinese text, one document per line: prints P(positive) per line (blank -> 0.5)",
    )
    p.add_argument("--model", default="crisiswatch", help="crisiswatch (default) or snownlp (old baseline)")
    p.add_argument("file", nargs="?", help="UTF-8 text, one document per line (default: stdin)")
    p.set_defaults(func=run)


def _batches(stream: TextIO) -> Iterator[list[str]]:
    lines = (line.rstrip("\r\n") for line in stream)
    while batch := list(islice(lines, BATCH)):
        yield batch


def _score(stream: TextIO, model_name: str) -> None:
    from monitor.enrich.sentiment import load_model  # keeps `crisiswatch --help` fast

    try:
        model = load_model(model_name)
    except ValueError as exc:
        raise CrisiswatchError(str(exc)) from None
    out = sys.stdout
    for batch in _batches(stream):
        out.write("".join(f"{p:.6f}\n" for p in model.predict(batch)))
    out.flush()


def run(args: argparse.Namespace) -> int:
    try:
        if args.file is None:
            stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
            _score(stdin, args.model)
        else:
            with open(args.file, encoding="utf-8", errors="replace") as fh:
                _score(fh, args.model)
    except FileNotFoundError:
        raise CrisiswatchError(f"{args.file}: no such file") from None
    except IsADirectoryError:
        raise CrisiswatchError(f"{args.file}: is a directory") from None
    return 0
