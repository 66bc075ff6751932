"""`crisiswatch classify [FILE]`: complaint or not, categories, grade and reasons, one JSON line per post.

Reads one post per line from FILE (stdin without FILE) and writes one JSON object per input line, in
order, so the output can be pasted next to the input. An empty line gives a non-complaint.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from crisiswatch.errors import CrisiswatchError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "classify",
        help="label posts: complaint or not, categories, severity grade, reasons (JSON lines)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="one post per line (default: stdin)")
    p.set_defaults(func=run)


def _lines(args: argparse.Namespace) -> Iterable[str]:
    if not args.file:
        yield from sys.stdin
        return
    path = Path(args.file)
    if not path.is_file():
        raise CrisiswatchError(f"classify: no such file: {args.file}")
    try:
        with path.open(encoding="utf-8") as fh:
            yield from fh
    except UnicodeDecodeError as exc:
        raise CrisiswatchError(f"classify: {args.file} is not UTF-8 text ({exc.reason})") from exc


BATCH = 512  # the learned model scores a batch in one vectorised pass; a person typing gets each line at once


def run(args: argparse.Namespace) -> int:
    # Imported here so `crisiswatch --help` does not pay for compiling the lexicon.
    from monitor.enrich.complaint import classify_many

    out = sys.stdout
    size = 1 if not args.file and sys.stdin.isatty() else BATCH
    lines = iter(_lines(args))
    while batch := [line.rstrip("\r\n") for line in itertools.islice(lines, size)]:
        for result in classify_many(batch):
            out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        out.flush()
    return 0
