"""`crisiswatch detect SERIES.csv`: anomaly scores for a mention-volume series.

Reads `timestamp,value` rows and writes `timestamp,value,anomaly_score`, one row per input row.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from datetime import datetime

from crisiswatch.errors import CrisiswatchError
from monitor.detectors.anomaly import DEFAULT, DETECTORS, score_series


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("detect", help="score a timestamp,value CSV series for anomalies")
    p.add_argument("series", help="CSV file with columns timestamp,value")
    p.add_argument("--detector", default=DEFAULT, choices=sorted(DETECTORS), help=f"default: {DEFAULT}")
    p.add_argument("--out", help="output CSV (default: stdout)")
    p.set_defaults(func=run)


def read_series(path: str) -> tuple[list[str], list[datetime], list[float]]:
    """Raw timestamp texts, parsed timestamps and values; any problem is one line naming file and row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CrisiswatchError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise CrisiswatchError(f"{path}: empty file, expected a header timestamp,value")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("timestamp", "value") if c not in header]
    if missing:
        raise CrisiswatchError(f"{path}: missing column {', '.join(missing)} (header: {','.join(header)})")
    ti, vi = header.index("timestamp"), header.index("value")
    texts, stamps, values = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines carry no row
        try:
            text = row[ti].strip()
            stamp = datetime.fromisoformat(text)
            value = float(row[vi])
        except (IndexError, ValueError):
            raise CrisiswatchError(f"{path}: line {line}: unparsable row {','.join(row)!r}") from None
        if not math.isfinite(value) or value < 0:
            raise CrisiswatchError(f"{path}: line {line}: value must be a finite count >= 0, got {row[vi]!r}")
        texts.append(text)
        stamps.append(stamp)
        values.append(value)
    return texts, stamps, values


def run(args: argparse.Namespace) -> int:
    texts, stamps, values = read_series(args.series)
    scores = score_series(stamps, values, args.detector)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["timestamp", "value", "anomaly_score"])
    for text, value, score in zip(texts, values, scores, strict=True):
        writer.writerow([text, f"{value:g}", f"{score:.6f}"])
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8", newline="") as f:
                f.write(buf.getvalue())
        except OSError as exc:
            raise CrisiswatchError(f"cannot write {args.out}: {exc}") from None
    else:
        sys.stdout.write(buf.getvalue())
    return 0
