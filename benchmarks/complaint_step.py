"""Speed of the complaint step (`complaint.classify_many`) against its code at an earlier commit, same run.

    nice -n 10 .venv/bin/python benchmarks/complaint_step.py [--n 20000] [--repeats 5] [--baseline e186e9e]
        [--texts ../shared/data/sentiment/*.csv]

The baseline is the complaint modules (monitor/enrich/complaint*.py) as they were at `--baseline`, loaded
from git beside the current ones (`load_baseline`); both
read the same lexicon and model file. Texts: the mix of benchmarks/enrich.py (replay posts, English and
other-language X posts), or the first column of text of the given CSV files. Batches of 1,000 as the
enrichment stage runs them; medians of interleaved repeats, and the ratio. It also checks that both
give the same results and features, so a faster version that answers differently shows up here too.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the complaint modules, in import order (each imports only those before it)
MODULES = ("complaint_matcher", "complaint_rules", "complaint_evidence", "complaint_model", "complaint")
BASELINE = "e186e9e"  # main before the complaint step was sped up


def load_baseline(ref: str = BASELINE, package: str = "complaint_baseline") -> types.ModuleType:
    """The complaint modules at git `ref`, importable as `package.complaint` etc. beside the current ones.
    Each module's __file__ is the current file's path, so the lexicon and model files they read by default
    are today's: only the code differs."""
    pkg = types.ModuleType(package)
    pkg.__path__ = []
    sys.modules[package] = pkg
    for name in MODULES:
        source = subprocess.run(["git", "show", f"{ref}:monitor/enrich/{name}.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
        module = types.ModuleType(f"{package}.{name}")
        module.__file__ = str(ROOT / "monitor" / "enrich" / f"{name}.py")
        sys.modules[module.__name__] = module  # before exec: dataclasses look their module up there
        exec(compile(source.replace("monitor.enrich.complaint", f"{package}.complaint"), module.__file__, "exec"),
             module.__dict__)
        setattr(pkg, name, module)
    return pkg


def mix_texts(n: int) -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from enrich import mentions  # the enrichment benchmark's mix, so the two measure the same texts

    return [m.text for m in mentions(n)]


def csv_texts(paths: list[str]) -> list[str]:
    texts = []
    for path in paths:
        with open(path, encoding="utf-8", newline="") as f:
            rows = csv.DictReader(f)
            column = next(c for c in rows.fieldnames or [] if c.lower() in ("text", "review", "content"))
            texts += [row[column] or "" for row in rows]
    return texts


def run(classify_many, texts: list[str]) -> tuple[float, float]:
    """Texts per second of wall time and of this process's CPU time (on a shared machine the CPU time is the
    steadier of the two: other processes' load lands on neither side)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), 1000):
        classify_many(texts[i:i + 1000])
    return len(texts) / (time.perf_counter() - wall), len(texts) / (time.process_time() - cpu)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--texts", nargs="*", help="CSV files with a text/review column instead of the mix")
    args = ap.parse_args(argv)
    from monitor.enrich import complaint, complaint_evidence, complaint_rules

    old = load_baseline(args.baseline)
    texts = csv_texts(args.texts)[:args.n] if args.texts else mix_texts(args.n)
    print(f"{len(texts):,} texts; checking that both versions agree ...", flush=True)
    same = [r.to_dict() for r in old.complaint.classify_many(texts)] == [
        r.to_dict() for r in complaint.classify_many(texts)]
    lex, old_lex = complaint_rules.load_lexicon(), old.complaint_rules.load_lexicon()
    for i in range(0, len(texts), 1000):
        chunk = texts[i:i + 1000]
        new_f = complaint_evidence.evidence_features([complaint_evidence.read_evidence(t, lex) for t in chunk], 1.2)
        old_f = old.complaint_evidence.evidence_features(
            [old.complaint_evidence.read_evidence(t, old_lex) for t in chunk], 1.2)
        same = same and bool((new_f == old_f).all())
    print(f"results and evidence features identical: {same}")
    rates: dict[str, list[tuple[float, float]]] = {"baseline": [], "current": []}
    for _ in range(args.repeats):  # interleaved, so a load spike hits both
        rates["baseline"].append(run(old.complaint.classify_many, texts))
        rates["current"].append(run(complaint.classify_many, texts))
    print(f"complaint step, {len(texts):,} texts ({len(set(texts)):,} distinct), median of {args.repeats}, "
          "batches of 1,000")
    print(f"{'code':<22}{'texts/s wall':>14}{'texts/s CPU':>14}{'µs/text CPU':>14}")
    medians = {}
    for name, label in (("baseline", f"baseline {args.baseline}"), ("current", "current")):
        wall, cpu = (statistics.median(r[k] for r in rates[name]) for k in (0, 1))
        medians[name] = (wall, cpu)
        print(f"{label:<22}{wall:>14,.0f}{cpu:>14,.0f}{1e6 / cpu:>14.1f}")
    (bw, bc), (cw, cc) = medians["baseline"], medians["current"]
    print(f"speed-up: {cw / bw:.2f}x wall, {cc / bc:.2f}x CPU")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
