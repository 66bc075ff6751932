"""`crisiswatch sentiment [--model NAME] [--json] [FILE]`: one P(positive) per input line.

Each line is scored by the model of its own language (Chinese, English); a line in any other
language has no score: `nan` in the plain output, `"label": null, "positive": null` with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from itertools import islice
from typing import TextIO

from crisiswatch.errors import CrisiswatchError

BATCH = 20_000  # large enough for full vectorised speed, small enough to stream any input


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sentiment",
        help="score Chinese or English text, one document per line: prints P(positive) per line (blank -> 0.5)",
    )
    p.add_argument("--model", default="crisiswatch",
                   help="Chinese model: crisiswatch (default) or snownlp (old baseline)")
    p.add_argument("--json", action="store_true",
                   help='one {"lang", "label", "positive"} object per line instead of a bare probability')
    p.add_argument("file", nargs="?", help="UTF-8 text, one document per line (default: stdin)")
    p.set_defaults(func=run)


def _batches(stream: TextIO) -> Iterator[list[str]]:
    lines = (line.rstrip("\r\n") for line in stream)
    while batch := list(islice(lines, BATCH)):
        yield batch


def _plain(positive: float | None) -> str:
    return "nan\n" if positive is None else f"{positive:.6f}\n"


def _json(lang: str, label: str | None, positive: float | None) -> str:
    p = None if positive is None else round(positive, 6)
    return json.dumps({"lang": lang, "label": label, "positive": p}, ensure_ascii=False) + "\n"


def _score(stream: TextIO, model_name: str, as_json: bool) -> None:
    from monitor.enrich.sentiment import load_model, score_by_language  # keeps `crisiswatch --help` fast

    try:
        model = load_model(model_name)
    except ValueError as exc:
        raise CrisiswatchError(str(exc)) from None
    out = sys.stdout
    for batch in _batches(stream):
        scored = score_by_language(batch, chinese=model)
        if as_json:
            out.write("".join(_json(s.lang, s.label, s.positive) for s in scored))
        else:
            out.write("".join(_plain(s.positive) for s in scored))
    out.flush()


def run(args: argparse.Namespace) -> int:
    try:
        if args.file is None:
            stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)
            _score(stdin, args.model, args.json)
        else:
            with open(args.file, encoding="utf-8") as fh:
                _score(fh, args.model, args.json)
    except UnicodeDecodeError as exc:  # GBK read as UTF-8 with replacement scored every line as noise, exit 0
        sys.stdout.flush()
        raise CrisiswatchError(f"sentiment: {args.file or 'stdin'} is not UTF-8 text ({exc.reason}); scoring"
                               " stopped there") from None
    except FileNotFoundError:
        raise CrisiswatchError(f"{args.file}: no such file") from None
    except IsADirectoryError:
        raise CrisiswatchError(f"{args.file}: is a directory") from None
    return 0
