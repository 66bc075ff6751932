"""`crisiswatch classify [FILE]`: complaint or not, categories, grade and reasons, one JSON line per post.

Reads one post per line from FILE (stdin without FILE) and writes one JSON object per input line, in
order, so the output can be pasted next to the input. An empty line gives a non-complaint.
"""

from __future__ import annotations

import argparse
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


def run(args: argparse.Namespace) -> int:
    # Imported here so `crisiswatch --help` does not pay for compiling the lexicon.
    from monitor.enrich.complaint import classify

    out = sys.stdout
    for line in _lines(args):
        result = classify(line.rstrip("\r\n"))
        out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    out.flush()
    return 0
