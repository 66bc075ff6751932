"""Misses and over-masks of the PII masking on hand-written complaint posts.

    .venv/bin/python benchmarks/pii_audit.py [--show] [--posts FILE]

`benchmarks/data/pii_posts.jsonl`: Chinese and English complaints written for this audit (no shared data),
each with the personal data it carries as written (`pii`: kind and span) and what must survive (`keep`:
order numbers, prices, dates, model numbers, hotlines...). A miss is personal data still readable after
masking: the span as written, or its digits with the separators taken out; an over-mask is a kept span
that is gone. Also checked: masking the masked text again changes nothing (what `mentions remask` needs).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crisiswatch.pii import mask  # noqa: E402

POSTS = Path(__file__).parent / "data" / "pii_posts.jsonl"
_CN_DIGITS = str.maketrans("零〇一二三四五六七八九幺", "001234567891")


def load(path: Path = POSTS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text).translate(_CN_DIGITS))


def missed(span: str, masked: str) -> bool:
    if span in masked:
        return True
    digits = _digits(span)
    return len(digits) >= 7 and digits in _digits(masked)


def audit(posts: list[dict]) -> dict:
    items, misses, overs, unstable = Counter(), Counter(), [], []
    miss_cases = []
    for post in posts:
        masked = mask(post["text"]).text
        for kind, span in post["pii"]:
            items[kind] += 1
            if missed(span, masked):
                misses[kind] += 1
                miss_cases.append((kind, span, masked))
        overs += [(span, masked) for span in post["keep"] if span not in masked]
        if mask(masked).text != masked:
            unstable.append(masked)
    return {"items": items, "misses": misses, "miss_cases": miss_cases, "overs": overs, "unstable": unstable,
            "keeps": sum(len(p["keep"]) for p in posts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="print each miss and over-mask")
    parser.add_argument("--posts", type=Path, default=POSTS, help="another file of posts in the same shape")
    args = parser.parse_args()
    posts = load(args.posts)
    result = audit(posts)
    items, misses = result["items"], result["misses"]
    print(f"{len(posts)} posts ({sum(p['lang'] == 'zh' for p in posts)} Chinese), "
          f"{sum(items.values())} pieces of personal data, {result['keeps']} spans to keep")
    print(f"{'kind':<10} {'pieces':>6} {'missed':>6}")
    for kind in sorted(items):
        print(f"{kind:<10} {items[kind]:>6} {misses[kind]:>6}")
    print(f"missed {sum(misses.values())} of {sum(items.values())} · over-masked {len(result['overs'])} of "
          f"{result['keeps']} · not idempotent {len(result['unstable'])}")
    if args.show:
        for kind, span, masked in result["miss_cases"]:
            print(f"MISS {kind} {span!r}: {masked}")
        for span, masked in result["overs"]:
            print(f"OVER {span!r}: {masked}")
        for masked in result["unstable"]:
            print(f"UNSTABLE {masked}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
