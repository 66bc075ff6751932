"""Draw a further held-out set of real posts for the complaint labels, before any of them is labelled.

    .venv/bin/python benchmarks/draw_heldout.py [--texts ../shared/data/sentiment] [--per-post 2] [--seed 34]
                                                [--split heldout2|...|heldout8] [--partial]
                                                [--domain online_shopping:酒店 --count 270 --label 0]

Why (stop 34): the 622 held-out posts of `complaint_labels_real.jsonl` have decided a dozen changes, one
look each, and their 95 % interval is about six points wide (complaint F1 0.894-0.936): they cannot say
whether the model is above or below a target 0.004 away, and every look spends a little of their
independence. A second draw, labelled once and looked at only under rules written before, doubles what
the held-out numbers stand on.

How: the same mix as the first held-out draw, twice its size. Per shared set and sentiment label (the
sets' own column), `--per-post` posts for each held-out post of the first draw, picked at random (seeded)
among the rows no labels file names (`complaint_labels_real`, `_round7` to `_round10`) whose text is neither
blank nor the text of a labelled post nor of a post already drawn. The personal Weibo posts
(smp2020_emotion) are left out: every one of them is labelled already (round 8 drew the rest), so the
second draw covers reviews (online shops, food delivery, hotels) and Weibo posts.

With --domain, one domain alone (stop 37: `online_shopping:酒店`, the online shops' hotel reviews, once no
negative review of ChnSentiCorp's was left): --count posts of its sentiment --label, by the same rules (not
labelled, not blank, no labelled post's text in any set, no text twice).

Appended to `benchmarks/data/complaint_labels_real.jsonl` as `{"id", "complaint": null, "categories": null,
"severity": null, "split": "heldout2"}` in draw order; the labels fill in later (two readings, a
third where they differ, the label the majority: `train_complaint.majority_reading`'s rule). A post that
is still `null` stops training and evaluation with an error (`read_real_labels`), so no half-labelled
draw is ever scored. The trainer leaves these posts out of everything it learns from, its reader and
bigram vectors included.

Each draw's plan (written and committed with the draw, before any of its posts was labelled) and what
came of it: `docs/complaint-rounds.md`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.enrich.train_complaint import (  # noqa: E402
    DEFAULT_TEXTS,
    HELD_OUT,
    HELD_OUT_SPLITS,
    REAL_LABELS,
)
from monitor.enrich.train_sentiment import DOMAINS, read_domains, read_set  # noqa: E402

# every labels file there is (to reproduce the second draw, leave out `_round9` and the heldout2 and heldout3 rows;
# to reproduce the fifth to eighth, leave out `_round10`, read after them)
LABEL_FILES = (REAL_LABELS, *(REAL_LABELS.with_name(f"complaint_labels_round{n}.jsonl") for n in (7, 8, 9, 10)))
LEFT_OUT_SETS = ("smp2020_emotion",)  # every personal Weibo post is labelled already


def _labelled_ids(label_files: tuple[Path, ...]) -> set[str]:
    ids: set[str] = set()
    for path in label_files:
        with open(path, encoding="utf-8") as fh:
            ids |= {json.loads(line)["id"] for line in fh if line.strip()}
    return ids


def _texts_of(ids: set[str], rows: dict[str, list[tuple[str, str]]]) -> set[str]:
    """The texts of the posts `ids` names, in the sets of `rows` (a labelled post's text, whatever its set)."""
    return {rows[name][int(row)][0] for name, _, row in (i.rpartition(":") for i in ids) if name in rows}


def _take(name: str, pool: list[int], rows: list[tuple[str, str]], seen: set[str], count: int) -> list[str]:
    """Ids of `pool`'s rows in its order, up to `count`, skipping a text in `seen` (a labelled post's, or one
    drawn already: each text drawn goes into `seen`)."""
    out: list[str] = []
    for i in pool:
        text = rows[i][0]
        if text in seen:
            continue
        seen.add(text)
        out.append(f"{name}:{i}")
        if len(out) == count:
            break
    return out


def draw(texts: Path, per_post: int, seed: int, label_files: tuple[Path, ...] = LABEL_FILES,
         partial: bool = False) -> list[str]:
    """The ids drawn, stratum by stratum (set, then label, sorted), each stratum in its random order. The
    first of `label_files` holds the first held-out draw, whose mix is copied. A stratum with fewer posts
    left than wanted stops the draw, or with `partial` gives what it has (said on stderr)."""
    ids = _labelled_ids(label_files)
    with open(label_files[0], encoding="utf-8") as fh:
        first = [r["id"] for r in map(json.loads, filter(str.strip, fh)) if r.get("split") == HELD_OUT]
    sets = sorted({i.rpartition(":")[0] for i in first} - set(LEFT_OUT_SETS))
    rows = {name: [(text.strip(), label) for text, label in read_set(texts, name)] for name in sets}
    seen = _texts_of(ids, rows)
    strata = Counter((name, rows[name][int(row)][1]) for name, _, row in (i.rpartition(":") for i in first)
                     if name in rows)
    rng = random.Random(seed)
    out = []
    for (name, label), count in sorted(strata.items()):
        pool = [i for i, (text, lab) in enumerate(rows[name]) if lab == label and text
                and f"{name}:{i}" not in ids]
        rng.shuffle(pool)
        taken = _take(name, pool, rows[name], seen, per_post * count)
        if len(taken) < per_post * count and not partial:
            raise SystemExit(f"{name} label {label}: only {len(taken)} posts to draw, {per_post * count} wanted")
        print(f"{name} label {label}: {len(taken)} of {len(pool)} unlabelled ({per_post * count} wanted)",
              file=sys.stderr)
        out += taken
    return out


def draw_domain(texts: Path, domain: str, label: str, count: int, seed: int,
                label_files: tuple[Path, ...] = LABEL_FILES) -> list[str]:
    """`count` posts of one domain (`online_shopping:酒店`, the online shops' hotel reviews) and sentiment label,
    picked at random (seeded) among the rows no labels file names whose text is neither blank nor the text of
    a labelled post (in any set: half of those hotel reviews are also in ChnSentiCorp's)."""
    name = domain.split(":")[0]
    ids = _labelled_ids(label_files)
    sets = {i.rpartition(":")[0] for i in ids} | {name}
    rows = {n: [(text.strip(), lab) for text, lab in read_set(texts, n)] for n in sets}
    seen = _texts_of(ids, rows)
    domains = read_domains(texts, name, len(rows[name]))
    wanted = DOMAINS.index(domain)
    pool = [i for i, (text, lab) in enumerate(rows[name]) if domains[i] == wanted and lab == label
            and text and f"{name}:{i}" not in ids and text not in seen]  # before the shuffle, as drawn in stop 37
    random.Random(seed).shuffle(pool)
    out = _take(name, pool, rows[name], seen, count)
    print(f"{domain} label {label}: {len(out)} of {len(pool)} unlabelled ({count} wanted)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=Path, default=Path(DEFAULT_TEXTS))
    parser.add_argument("--per-post", type=int, default=2)
    parser.add_argument("--seed", type=int, default=34)
    parser.add_argument("--split", choices=HELD_OUT_SPLITS[1:], default=HELD_OUT_SPLITS[1])
    parser.add_argument("--partial", action="store_true", help="take what a short stratum has")
    parser.add_argument("--domain", choices=DOMAINS, help="draw from this domain alone (with --count and --label)")
    parser.add_argument("--count", type=int, default=270)
    parser.add_argument("--label", default="0", help="the set's sentiment label to draw (with --domain)")
    args = parser.parse_args(argv)
    with open(REAL_LABELS, encoding="utf-8") as fh:
        if any(r.get("split") == args.split for r in map(json.loads, filter(str.strip, fh))):
            raise SystemExit(f"{REAL_LABELS} holds a {args.split} split already: a draw is made once")
    drawn = (draw_domain(args.texts, args.domain, args.label, args.count, args.seed) if args.domain
             else draw(args.texts, args.per_post, args.seed, partial=args.partial))
    with open(REAL_LABELS, "a", encoding="utf-8") as fh:
        for i in drawn:
            fh.write(json.dumps({"id": i, "complaint": None, "categories": None, "severity": None,
                                 "split": args.split}) + "\n")
    print(f"{len(drawn)} posts drawn to {REAL_LABELS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
