"""Benchmark of what ``grader similarity`` finds: recall and false positives by disguise strength, before and after.

    .venv/bin/python bench/bench_similarity_detection.py [--classes 20x30 60x15 200x6]
        [--before REF | --no-before] [--sweep] [--markdown FILE]

Classes of short solutions (:mod:`synthetic_class`: 15-25 lines of a learner's
own, many converging on the same obvious lines, one learner in eight writing
exactly what the hints spell out) with disguised copies at every strength
(verbatim, cosmetic, renamed, restructured, altered, partial, a copy of a
corpus file) and a corpus of four public solutions.  Honest learners are the
null: a pair marked that is not a copy and its source (or two copies of one
source) is a false positive.

Each class is compared twice, in one run of this script: by this worktree's
``grader.similarity`` ("after": the pairs marked as standing out, and whether
the copy is among the 40 closest pairs listed) and by the code of ``--before``
(default: where this branch left ``main``; its ``grader/`` is extracted with
``git archive`` into a temporary folder and run from there), whose report
listed the pairs it reported.  ``--sweep`` also prints recall and false
positives for other thresholds of standing out (the table the defaults were
chosen from).  Prints a Markdown table; ``--markdown FILE`` writes it too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from synthetic_class import STRENGTHS, make_class  # noqa: E402

ASSIGNMENT = ROOT / "assignments" / "mnist_digits"
LOW = 3.0  # spreads from which the "after" runner reports a pair (for the sweep)

AFTER = """
import json, sys, time
from grader.similarity import similarity_report, Thresholds
from grader.similarity.evidence import Distribution, judge
jobs = json.loads(open(sys.argv[1]).read())
defaults = Thresholds()
low = Thresholds(stands_out=%(low)s, with_model=%(low)s, top=defaults.top)
out = []
for folder, corpus in jobs:
    started = time.monotonic()
    report = similarity_report(folder, corpus=corpus, assignment=sys.argv[2], thresholds=low, write=False)
    seconds = time.monotonic() - started
    d = report.distribution
    default = Distribution(d.pairs, d.typical, d.spread, defaults.stands_out + d.stands_out - low.stands_out,
                           defaults.with_model + d.with_model - low.with_model)
    pairs = []
    for pair in report.pairs:
        rare = any(g.weight >= defaults.model_weight for g in pair.models)
        pair.stands_out = False
        judge(pair, default, defaults)
        pairs.append([pair.first, pair.second, pair.second_kind, pair.rank, round(pair.spreads, 3), rare,
                      pair.stands_out])
    out.append({"seconds": seconds, "more": d.stands_out - low.stands_out, "typical": d.typical,
                "spread": d.spread, "scored": d.pairs, "pairs": pairs})
print(json.dumps(out))
""" % {"low": LOW}

BEFORE = """
import json, sys, time
from grader.similarity import similarity_report
jobs = json.loads(open(sys.argv[1]).read())
out = []
for folder, corpus in jobs:
    started = time.monotonic()
    report = similarity_report(folder, corpus=corpus, assignment=sys.argv[2], write=False)
    out.append({"seconds": time.monotonic() - started,
                "pairs": [[p.first, p.second, p.second_kind] for p in report.pairs]})
print(json.dumps(out))
"""


def run(code: str, pythonpath: Path, jobs: list, folder: Path) -> list[dict]:
    """Run a report script over every class in one process, with ``pythonpath``'s ``grader``."""
    listing = folder / "jobs.json"
    listing.write_text(json.dumps(jobs))
    environment = {**os.environ, "PYTHONPATH": str(pythonpath)}
    done = subprocess.run([sys.executable, "-c", code, str(listing), str(ASSIGNMENT)], env=environment,
                          cwd=folder, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the report failed ({pythonpath}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def extract(ref: str, into: Path) -> Path:
    """``grader/`` of a commit, extracted into ``into`` (the repository is not touched)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "grader"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def tally(truths, outcomes, marked) -> tuple[dict, dict]:
    """recall[strength] = (found, copies); false[size] = (false positives, classes, honest pairs)."""
    recall: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (size, truth), outcome in zip(truths, outcomes):
        flagged = {(first, second, kind) for first, second, kind, *rest in
                   (p for p in outcome["pairs"] if marked(p, outcome))}
        for copy, source, kind, strength in truth.copies:
            recall[strength][1] += 1
            recall[strength][0] += (copy, source, kind) in flagged or (source, copy, kind) in flagged
        false[size][0] += sum(1 for first, second, kind in flagged if not truth.related(first, second, kind))
        false[size][1] += 1
        learners = len(truth.learners)
        false[size][2] += learners * (learners - 1) // 2 + learners * len(truth.corpus)
    return recall, false


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", nargs="+", default=["20x30", "60x15", "200x6"],
                        help="SIZExCOUNT: COUNT classes of SIZE learners each (default: 20x30 60x15 200x6)")
    parser.add_argument("--before", default=None, help="the commit compared with (default: the merge base "
                                                       "of HEAD and main)")
    parser.add_argument("--no-before", action="store_true", help="measure this worktree's code only")
    parser.add_argument("--sweep", action="store_true", help="also print other thresholds of standing out")
    parser.add_argument("--markdown", type=Path, help="write the tables to this file too")
    parser.add_argument("--dump", type=Path, help="write every class's truth and outcomes as JSON (for analysis)")
    args = parser.parse_args()
    started = time.monotonic()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory(prefix="grader-bench-detection-") as temporary:
        work = Path(temporary)
        truths, jobs = [], []
        for spec in args.classes:
            size, count = (int(x) for x in spec.split("x"))
            for number in range(count):
                seed = size * 1000 + number
                out = work / f"class-{size}-{number}"
                truth = make_class(out, size, seed=seed)
                truths.append((size, truth))
                jobs.append([str(out), str(work / f"class-{size}-{number}-corpus")])
        print(f"{len(jobs)} classes written in {time.monotonic() - started:.0f} s", file=sys.stderr)
        after = run(AFTER, ROOT, jobs, work)
        before_ref = None
        if not args.no_before:
            before_ref = args.before or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                                                       capture_output=True, text=True, check=True).stdout.strip()
            before = run(BEFORE, extract(before_ref, work / "before"), jobs, work)

    recall_after, false_after = tally(truths, after, lambda p, o: p[6])
    recall_listed, _ = tally(truths, after, lambda p, o: p[3] <= 40)
    if before_ref:
        recall_before, false_before = tally(truths, before, lambda p, o: True)
    sizes = sorted({size for size, _ in truths})
    say(f"Classes: {', '.join(args.classes)} (SIZExCOUNT), each with a corpus of 4 public solutions; "
        f"{sum(len(t.copies) for _, t in truths)} copies; "
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"before = {before_ref[:12] if before_ref else 'not measured'}")
    say()
    say("| disguise | copies | found before | stand out after | listed after (top 40) |")
    say("| --- | ---: | ---: | ---: | ---: |")
    for strength in STRENGTHS:
        found, copies = recall_after[strength]
        was = f"{recall_before[strength][0]} ({recall_before[strength][0] / copies:.0%})" if before_ref else "-"
        say(f"| {strength} | {copies} | {was} | {found} ({found / max(1, copies):.0%}) | "
            f"{recall_listed[strength][0]} ({recall_listed[strength][0] / max(1, copies):.0%}) |")
    total = sum(c for _, c in recall_after.values())
    say(f"| **all** | {total} | "
        + (f"{sum(f for f, _ in recall_before.values())} ({sum(f for f, _ in recall_before.values()) / total:.0%})"
           if before_ref else "-")
        + f" | {sum(f for f, _ in recall_after.values())} ({sum(f for f, _ in recall_after.values()) / total:.0%}) | "
        f"{sum(f for f, _ in recall_listed.values())} ({sum(f for f, _ in recall_listed.values()) / total:.0%}) |")
    say()
    say("| learners | classes | pairs | false positives before | false positives after |")
    say("| ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        wrong, classes, pairs = false_after[size]
        was = f"{false_before[size][0]} ({false_before[size][0] / classes:.2f} a class)" if before_ref else "-"
        say(f"| {size} | {classes} | {pairs} | {was} | {wrong} ({wrong / classes:.2f} a class) |")
    seconds_after = sum(o["seconds"] for o in after)
    say()
    say(f"Report time, all classes: after {seconds_after:.0f} s"
        + (f", before {sum(o['seconds'] for o in before):.0f} s" if before_ref else "")
        + f"; the whole benchmark {time.monotonic() - started:.0f} s.")
    if args.sweep:
        say()
        say("Sweep (after): stands out from Z spreads (+1.7 for every ten times as many pairs above 2,000), or "
            "from ZM (grown alike) with a rare model in common; false positives per class")
        say()
        say("| Z | ZM | " + " | ".join(STRENGTHS) + " | " + " | ".join(f"false/class ({s})" for s in sizes) + " |")
        say("| ---: | ---: | " + " | ".join("---:" for _ in STRENGTHS) + " | " + " | ".join("---:" for _ in sizes) + " |")
        for z in (6, 7, 8, 9, 10, 11):
            for zm in sorted({5, 6, 7, z}):
                if zm > z:
                    continue
                rule = (lambda z, zm: lambda p, o: p[4] >= z + o["more"] or (p[5] and p[4] >= zm + o["more"]))(z, zm)
                recall, false = tally(truths, after, rule)
                say(f"| {z} | {zm} | " + " | ".join(f"{recall[s][0] / max(1, recall[s][1]):.2f}" for s in STRENGTHS)
                    + " | " + " | ".join(f"{false[s][0] / false[s][1]:.2f}" for s in sizes) + " |")
    if args.dump:
        args.dump.write_text(json.dumps({"truths": [[size, truth.copies, truth.learners, truth.corpus]
                                                    for size, truth in truths],
                                         "after": after, "before": before if before_ref else None}))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
