#!/usr/bin/env python3
"""Time ``sip-analyzer messages --format jsonl`` against tshark on the same capture.

Generates a capture with ``../shared/bench/gen_pcap.py`` (cached in the work
directory), runs both tools one after the other in this process's children,
and prints wall time and peak memory (max RSS) of each, their ratio, and how
many of the generator's ground-truth messages the analyzer found with the
right completing frame, Call-ID and CSeq.

    python benchmarks/bench_messages.py --dialogs 36000      # ~1M packets
    python benchmarks/bench_messages.py --dialogs 3600       # ~100k packets, quicker

The machines this runs on are noisy: the ratio from one run is the figure to
quote, not either absolute time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_pcap.py"


def run_measured(cmd: list[str], stdout_path: Path) -> tuple[float, int, int]:
    """Run ``cmd`` with stdout to a file; return (wall seconds, max RSS KiB, exit status)."""
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        assert proc.stderr is not None
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(err)
    return wall, usage.ru_maxrss, proc.returncode


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def generate(workdir: Path, dialogs: int) -> tuple[Path, Path]:
    pcap = workdir / f"sip_{dialogs}.pcap"
    truth = workdir / f"sip_{dialogs}.csv"
    if not (pcap.exists() and truth.exists()):
        if not GENERATOR.exists():
            sys.exit(f"bench: generator not found at {GENERATOR}")
        print(f"generating {pcap.name} ({dialogs} dialogs) ...", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                "--dialogs",
                str(dialogs),
                "-o",
                str(pcap),
                "--messages-csv",
                str(truth),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return pcap, truth


def check_truth(truth: Path, jsonl: Path) -> tuple[int, int]:
    """(found, expected): messages matched on (completing frame, Call-ID, CSeq)."""
    expected: set[tuple[int, str, str]] = set()
    with open(truth, newline="") as f:
        for row in csv.DictReader(f):
            expected.add((int(row["frame_last"]), row["call_id"], row["cseq"]))
    got: set[tuple[int, str, str]] = set()
    with open(jsonl) as f:
        for line in f:
            r = json.loads(line)
            got.add((r["frame"], r["call_id"], r["cseq"]))
    return len(expected & got), len(expected)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dialogs", type=int, default=36000)
    ap.add_argument("--workdir", type=Path, default=REPO / "bench-out")
    ap.add_argument("--capture", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--no-tshark", action="store_true", help="time the analyzer only")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.capture:
        pcap, truth = args.capture, None
    else:
        pcap, truth = generate(args.workdir, args.dialogs)
    size = pcap.stat().st_size
    print(f"capture: {pcap} ({size / 1e6:.1f} MB)")

    out_a = args.workdir / "analyzer.jsonl"
    cmd_a = [sys.executable, "-m", "analyzer", "messages", "--format", "jsonl", "-q", str(pcap)]
    t_a, rss_a, rc_a = run_measured(cmd_a, out_a)
    n_a = count_lines(out_a)
    print(
        f"sip-analyzer: {t_a:7.2f} s  peak {rss_a / 1024:7.1f} MiB  {n_a} messages"
        f"{'' if rc_a == 0 else f'  EXIT {rc_a}'}"
    )
    if truth is not None:
        found, expected = check_truth(truth, out_a)
        print(
            f"  ground truth: {found} of {expected} messages found "
            "(completing frame, Call-ID, CSeq)"
        )

    if args.no_tshark:
        return 0 if rc_a == 0 else 1
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not installed: no comparison")
        return 0 if rc_a == 0 else 1
    out_t = args.workdir / "tshark.tsv"
    cmd_t = [
        tshark,
        "-r",
        str(pcap),
        "-Y",
        "sip",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "sip.Call-ID",
        "-e",
        "sip.CSeq",
    ]
    t_t, rss_t, rc_t = run_measured(cmd_t, out_t)
    n_t = count_lines(out_t)
    print(
        f"tshark:       {t_t:7.2f} s  peak {rss_t / 1024:7.1f} MiB  {n_t} frames with SIP"
        f"{'' if rc_t == 0 else f'  EXIT {rc_t}'}"
    )
    print(
        f"ratio: sip-analyzer is {t_t / t_a:.1f}x faster than tshark, "
        f"peak memory {rss_a / rss_t:.2f}x of tshark's"
    )
    return 0 if rc_a == 0 and rc_t == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
