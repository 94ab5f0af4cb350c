#!/usr/bin/env python3
"""Time one stage of two revisions of the package, run after run, on the same capture.

The machines this runs on change speed with their neighbours' load by more
than most changes are worth, for tens of seconds at a time, and most for the
memory-heavy stages.  So comparing two separate benchmark runs says little.
This script exports the ``analyzer`` package of each revision (``git
archive``) into a temporary directory and runs the stage in a fresh process
for one revision, then for the other, then again, ``--rounds`` times.  Each
pair of runs meets nearly the same load.  It prints every round, the median
of each revision and the median of the per-round ratios.

    python benchmarks/compare_revisions.py HEAD~1 HEAD --stage correlation \\
        --capture /tmp/bench/sip_1m.pcap --rounds 5

Stages: ``extraction`` (``list(read_messages(path))``), ``correlation``
(``correlate`` on those messages), ``analysis`` (``analyze(path)``) and
``rules`` (``check()`` on that analysis); each timed as ``bench_analysis``
times it, with the cyclic garbage collector paused.  ``messages`` times the
command ``bench_messages`` times (``messages --format jsonl``, with its
default ``--jobs``) in-process, its output thrown away.  A revision is anything
``git archive`` takes; ``WORKTREE`` stands for the files as they are now,
uncommitted changes included.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, capture_arguments, chosen_capture

WORKTREE = "WORKTREE"

# Run in a fresh interpreter whose path starts at one revision's export;
# prints the seconds of the stage.
_STAGE = """
import gc, os, sys, time
import analyzer
assert analyzer.__file__.startswith(sys.argv[1]), analyzer.__file__
from analyzer.analysis import analyze
from analyzer.correlation import correlate
from analyzer.pipeline import read_messages
path, stage = sys.argv[2], sys.argv[3]
gc.collect()
gc.disable()
if stage == "extraction":
    start = time.perf_counter(); list(read_messages(path)); end = time.perf_counter()
elif stage == "correlation":
    messages = list(read_messages(path))
    start = time.perf_counter(); correlate(messages); end = time.perf_counter()
elif stage == "analysis":
    start = time.perf_counter(); analyze(path); end = time.perf_counter()
elif stage == "messages":
    from analyzer.cli import main
    with open(os.devnull, "w") as out:
        start = time.perf_counter()
        main(["messages", path, "--format", "jsonl", "-q"], out=out)
        end = time.perf_counter()
else:
    a = analyze(path)
    start = time.perf_counter(); a.check(); end = time.perf_counter()
print(end - start)
"""

STAGES = ("extraction", "correlation", "analysis", "rules", "messages")


def export(revision: str, into: Path) -> Path:
    """The ``analyzer`` package of ``revision`` under ``into``; returns ``into``."""
    into.mkdir(parents=True)
    if revision == WORKTREE:
        shutil.copytree(REPO / "analyzer", into / "analyzer")
        return into
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "analyzer"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_stage(tree: Path, capture: Path, stage: str) -> float:
    """Seconds of ``stage`` with the package exported at ``tree``, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, "-c", _STAGE, str(tree), str(capture), stage],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"compare: the {stage} run of {tree} failed:\n{done.stderr}")
    return float(done.stdout.split()[-1])


def main() -> int:
    ap = capture_arguments(__doc__.split("\n\n")[0], 36000)
    ap.add_argument("old", help="the revision to compare against (or WORKTREE)")
    ap.add_argument("new", nargs="?", default=WORKTREE, help="default: WORKTREE")
    ap.add_argument("--stage", choices=STAGES, default="analysis")
    ap.add_argument("--rounds", type=int, default=5, help="pairs of runs (default 5)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    capture = chosen_capture(args).resolve()
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        trees = [export(rev, Path(tmp) / str(k)) for k, rev in enumerate((args.old, args.new))]
        times: list[list[float]] = [[], []]
        for k in range(args.rounds):
            # Alternate which revision goes first, so neither always runs
            # just after the other's memory was given back.
            order = (0, 1) if k % 2 == 0 else (1, 0)
            for side in order:
                times[side].append(run_stage(trees[side], capture, args.stage))
            print(
                f"round {k + 1}: {args.old} {times[0][-1]:.3f} s  {args.new} {times[1][-1]:.3f} s"
                f"  (new / old {times[1][-1] / times[0][-1]:.3f})"
            )
    old, new = (statistics.median(t) for t in times)
    ratios = [n / o for o, n in zip(times[0], times[1], strict=True)]
    print(f"{args.stage}: {args.old} median {old:.3f} s, {args.new} median {new:.3f} s")
    print(f"new / old: {statistics.median(ratios):.3f} (median of the rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
