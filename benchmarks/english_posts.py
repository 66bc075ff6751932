"""Real English posts for the complaint labels: VADER's rated texts, from its source package on PyPI.

    .venv/bin/python benchmarks/english_posts.py [--out .cache/english_posts] [--sdist FILE]

The vaderSentiment 3.3.2 source distribution (MIT licence) ships the texts its authors had rated
(Hutto & Gilbert, ICWSM 2014) in `additional_resources/hutto_ICWSM_2014.tar.gz`. Two of its sets are
kinds of text crisiswatch reads, customer reviews and tweets:
- `amazonReviewSnippets_GroundTruth.txt`: 3,708 sentences of 300 customer reviews of electronics (the
  DVD players, cameras, phones and music players of Hu & Liu's review set), id `<review>_<sentence>`;
- `tweets_GroundTruth.txt`: 4,200 tweets of every kind, user names and links already removed.
Both are written as CSVs with columns `source_id,text` (`vader_amazon.csv`, `vader_tweets.csv`), one row
per line of the original in its order, so a label `vader_amazon:<row>` names the row as the shared sets'
labels do. The texts are not committed (like the shared sets'); the labels are
(`benchmarks/data/complaint_labels_en_real.jsonl`). Without --sdist the package is fetched with
`pip download` from the configured index (no internet needed beyond it).

The held-out split is fixed here, by id alone, before any label existed: a review (all its sentences
together, so no held-out review teaches the model its own wording) or a tweet is held out when the CRC-32
of `<set>:<review or tweet id>` is 0 mod 5. `--split-file` writes the ids with their split.

The plan, written and committed before any post was labelled:
- labels: two independent readings of every post (annotators see the rubric, the conventions with their
  section on English posts, and the texts shuffled so each post is read alone); where the two differ in the
  complaint flag, the categories or the grade, a third reading; the label is the majority of the readings
  (`train_complaint.majority_reading`'s rule). The readings are kept beside the label;
- model: the shipped complaint model retrained with the English training posts added to its training rows
  as real posts, every setting as shipped: one model reads both languages (its n-grams are characters);
- the English gate (`complaint._read_in_english`, the English sentiment model's "negative" required where
  the lexicon has no verdict) is kept or dropped by 5-fold cross-validation inside the English training
  rows (folds by review or tweet): the higher English complaint F1 wins, the gate on a tie;
- one held-out look, the shipped model beside the retrained one in the same run. Adopted if, on the English
  held-out posts, complaint F1 rises by at least 0.05 and category micro-F1 does not fall, and on the 622
  Chinese held-out posts complaint F1, category micro-F1 and severity exact each fall by no more than
  0.005. The 518 brand tweets are reported beside it, not as a condition: they were read while the English
  path was designed, and hold 25 complaints.

Cross-validation (`benchmarks/english_complaint_cv.py`, the training rows only; written after the labels,
before the held-out look). English complaint F1 over the 6,196 training posts' folds:

| way | with the gate | without |
|---|---|---|
| joint (the plan's model) | 0.342 | **0.476** (category 0.573, grade 0.450) |
| English posts alone, character 1-3-grams | 0.347 | 0.480 (0.556, 0.450) |
| English posts alone, character 2-5-grams | 0.355 | 0.491 (0.550, 0.441) |

The gate halves recall on review sentences (0.510 -> 0.263: "worked for two weeks." reads neutral to the
sentiment model), so by the plan's rule it went: a model trained with real English posts recorded
`english_gate` false (a flag that left with the decision below). A model of English posts alone was tried beside the plan's in the same folds and
is not clearly better (+0.015 F1, -0.02 category), so the held-out look measures the plan's joint model.

The held-out look (`benchmarks/classify.py --also-model`, shipped -> joint, one run):

| held-out set | complaint F1 | category micro-F1 | grade exact |
|---|---|---|---|
| English review sentences and tweets (1,712; 279 complaints) | 0.234 -> **0.552** | 0.227 -> 0.646 | 0.190 -> 0.523 |
| of them review sentences (872) / tweets (840) | 0.327 -> 0.594 / 0.053 -> 0.120 | | |
| Chinese real posts (622) | 0.916 -> 0.916 | 0.811 -> **0.805** | 0.899 -> **0.893** |
| brand tweets (518; not a condition) | 0.388 -> 0.216 | 0.500 -> 0.471 | 0.680 -> 0.320 |

Not adopted: the Chinese categories and grades each fell by 0.006, beyond the 0.005 the rule allows. One
model for both languages moves the Chinese weights too.

A second look, written before it was run: a model of its own for English posts leaves the Chinese model
untouched. English posts alone, character 2-5-grams (the best English complaint F1 in the folds above, 0.491),
its reader `fit_english_reader`, no gate; posts the language detector calls English go to it, the rest to
the shipped model, whose file does not change. Adopted if, on the English held-out posts, complaint F1 rises
by at least 0.05 over the shipped path and category micro-F1 does not fall; the Chinese held-out figures
stay identical (any change means a Chinese post went the English way); and on the brand tweets, the English
posts the product meets most (X), complaint F1 falls by no more than 0.12, the half-width of the shipped
path's 95 % interval there (this guard comes from the first look, and makes adoption harder, not easier).

The second look (shipped -> shipped plus the English model, one run):

| held-out set | complaint F1 | category micro-F1 | grade exact |
|---|---|---|---|
| English review sentences and tweets (1,712) | 0.234 -> **0.519** | 0.227 -> 0.589 | 0.190 -> 0.448 |
| of them review sentences / tweets | 0.327 -> 0.547 / 0.053 -> 0.217 | | |
| Chinese real posts (622) | 0.916 / 0.811 / 0.899, identical | | |
| brand tweets (518) | 0.388 -> **0.154** (P 0.260 -> 0.125, R 0.760 -> 0.200) | 0.500 -> 0.267 | 0.680 -> 0.160 |

Not adopted: on the brand tweets complaint F1 fell by 0.234, beyond the guard's 0.12. What the two looks
say: real English complaints teach a model the complaints they are made of (review sentences: +0.22 to
+0.27 F1 held out), but not the complaints of brand tweets, which are what the product reads in English (X).
Their wording is another register: of the 833 real English training complaints, 769 are review sentences
about five electronics products and 64 are tweets, of which few name a brand. So the English path stays as
shipped (the lexicon's English words and the main model, gated by the English sentiment model). The labels,
this reader of the texts and `benchmarks/english_complaint_cv.py` stay, for a model that has brand tweets
to learn from; the English model's code (routing by language, `train_english`, the `english_gate` flag in
the model file) is in the commit "English complaints: a model of its own for English posts ..." and left
with the decision.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

LABELS = Path(__file__).resolve().parent / "data" / "complaint_labels_en_real.jsonl"
DEFAULT_OUT = ".cache/english_posts"
VERSION = "3.3.2"
INNER = "additional_resources/hutto_ICWSM_2014.tar.gz"
SETS = {"vader_amazon": "amazonReviewSnippets_GroundTruth.txt", "vader_tweets": "tweets_GroundTruth.txt"}
HELD_OUT, TRAIN = "heldout", "train"


def fetch_sdist(into: Path) -> Path:
    """The vaderSentiment source distribution, downloaded by pip into `into`."""
    subprocess.run([sys.executable, "-m", "pip", "download", f"vaderSentiment=={VERSION}", "--no-deps",
                    "--no-binary", ":all:", "--quiet", "--disable-pip-version-check", "-d", str(into)], check=True)
    found = sorted(into.glob(f"vaderSentiment-{VERSION}.tar.gz"))
    if not found:
        raise SystemExit(f"pip did not leave vaderSentiment-{VERSION}.tar.gz in {into}")
    return found[0]


def read_rated(sdist: Path) -> dict[str, list[tuple[str, str]]]:
    """(source id, text) of each line of the two rated sets, in file order."""
    with tarfile.open(sdist) as outer:
        inner_name = next(m.name for m in outer.getmembers() if m.name.endswith(INNER))
        inner = tarfile.open(fileobj=io.BytesIO(outer.extractfile(inner_name).read()))
    out = {}
    with inner:
        for name, member in SETS.items():
            raw = inner.extractfile(next(m for m in inner.getmembers() if m.name.endswith(member))).read()
            rows = []
            for line in raw.decode("utf-8", errors="replace").splitlines():
                if line.strip():
                    source_id, _rating, text = line.split("\t", 2)
                    rows.append((source_id.strip(), text.strip()))
            out[name] = rows
    return out


def unit_of(name: str, source_id: str) -> str:
    """What is held out together: a whole review for review sentences, the tweet itself for tweets."""
    return source_id.split("_")[0] if name == "vader_amazon" else source_id


def split_of(name: str, source_id: str) -> str:
    return HELD_OUT if zlib.crc32(f"{name}:{unit_of(name, source_id)}".encode()) % 5 == 0 else TRAIN


def write_csvs(rated: dict[str, list[tuple[str, str]]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in rated.items():
        with open(out / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["source_id", "text"])
            writer.writerows(rows)
        print(f"{out / (name + '.csv')}: {len(rows):,} posts", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(DEFAULT_OUT))
    ap.add_argument("--sdist", type=Path, help="a vaderSentiment source tarball already downloaded")
    ap.add_argument("--split-file", type=Path, help="write every post's id and split as JSONL")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rated = read_rated(args.sdist or fetch_sdist(Path(tmp)))
    write_csvs(rated, args.out)
    if args.split_file:
        with open(args.split_file, "w", encoding="utf-8") as fh:
            for name, rows in rated.items():
                for row, (source_id, _) in enumerate(rows):
                    fh.write(json.dumps({"id": f"{name}:{row}", "split": split_of(name, source_id)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
