#!/usr/bin/env python3
"""Time ``sip-analyzer messages --format jsonl`` against tshark on the same capture.

Generates a capture with ``../shared/bench/gen_pcap.py`` (cached in the work
directory), runs both tools one after the other in this process's children,
and prints wall time and peak memory of each, their ratio, and how many of
the generator's ground-truth messages the analyzer found with the right
completing frame, Call-ID and CSeq.

    python benchmarks/bench_messages.py --dialogs 36000      # ~1M packets
    python benchmarks/bench_messages.py --dialogs 3600       # ~100k packets, quicker
    python benchmarks/bench_messages.py --capture X.pcap     # truth from X.csv if present

Peak memory is that of the whole process tree (the analyzer forks workers
with ``--jobs``): the largest sum, over the processes alive at once, of their
resident set (RSS, counting pages shared between a parent and its forks once
per process, so an upper bound; sampled every 10 ms) and of their
proportional set size (PSS, shared pages split between the processes sharing
them; sampled every 100 ms, as reading it costs about a millisecond).

The machines this runs on are shared and noisy: each run also says how much
CPU time other processes took while it ran; the ratio from one run is the
figure to quote, not either absolute time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from common import REPO, generate


class Measurement:
    """What one run of a command cost."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0  # user + system seconds of the command and its children
        self.others_cpu = 0.0  # CPU seconds the rest of the machine used meanwhile
        self.status = 0
        self.peak_rss_kib = 0  # of the process tree, see the module docstring
        self.peak_pss_kib = 0


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def _rss_kib(pid: int) -> int:
    """RSS of one process in KiB (cheap: /proc/PID/status), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_kib(pid: int) -> int:
    """PSS of one process in KiB (/proc/PID/smaps_rollup walks its page tables:
    about a millisecond, so it is sampled less often), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _busy_ticks() -> int:
    """CPU time the whole machine spent busy so far, in clock ticks (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return user + nice + system + irq + softirq


def run_measured(cmd: list[str], stdout_path: Path) -> Measurement:
    """Run ``cmd`` with stdout to a file and measure it (see :class:`Measurement`)."""
    m = Measurement()
    tick = os.sysconf("SC_CLK_TCK")
    busy_before = _busy_ticks()
    own_before = time.process_time()  # this process samples memory meanwhile
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        done = threading.Event()

        def sample() -> None:
            count = 0
            while not done.wait(0.01):
                pids = _tree(proc.pid)
                m.peak_rss_kib = max(m.peak_rss_kib, sum(map(_rss_kib, pids)))
                count += 1
                if count % 10 == 0:
                    m.peak_pss_kib = max(m.peak_pss_kib, sum(map(_pss_kib, pids)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert proc.stderr is not None
        err = proc.stderr.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(proc.pid, 0)
        m.wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.stderr.close()
        proc.returncode = m.status = os.waitstatus_to_exitcode(status)
    # wait4 reports the largest RSS of the process and of any descendant it
    # waited for: a floor for the tree's peak if sampling missed it.
    m.peak_rss_kib = max(m.peak_rss_kib, usage.ru_maxrss)
    m.cpu = usage.ru_utime + usage.ru_stime
    own = time.process_time() - own_before
    m.others_cpu = max(0.0, (_busy_ticks() - busy_before) / tick - m.cpu - own)
    if proc.returncode != 0:
        sys.stderr.write(err)
    return m


def describe(m: Measurement) -> str:
    return (
        f"{m.wall:7.2f} s  peak {m.peak_rss_kib / 1024:6.1f} MiB RSS "
        f"({m.peak_pss_kib / 1024:6.1f} MiB PSS)  cpu {m.cpu:6.2f} s  "
        f"(other processes meanwhile: {m.others_cpu:5.2f} s cpu)"
    )


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def check_truth(truth: Path, jsonl: Path) -> tuple[int, int]:
    """(found, expected): messages matched on (completing frame, Call-ID, CSeq).

    Counted as multisets: two messages completed by the same frame with the
    same Call-ID and CSeq (a request and its response in one TCP segment, a
    retransmission) must both be found.
    """
    expected: Counter[tuple[int, str, str]] = Counter()
    with open(truth, newline="") as f:
        for row in csv.DictReader(f):
            expected[(int(row["frame_last"]), row["call_id"], row["cseq"])] += 1
    got: Counter[tuple[int, str, str]] = Counter()
    with open(jsonl) as f:
        for line in f:
            r = json.loads(line)
            got[(r["frame"], r["call_id"], r["cseq"])] += 1
    return sum((expected & got).values()), sum(expected.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dialogs", type=int, default=36000)
    ap.add_argument("--workdir", type=Path, default=REPO / "bench-out")
    ap.add_argument(
        "--capture",
        type=Path,
        help="use this capture instead of generating one (ground truth: the .csv beside it)",
    )
    ap.add_argument("--jobs", type=int, help="passed to sip-analyzer (default: its own)")
    ap.add_argument("--repeat", type=int, default=1, help="run the analyzer this many times")
    ap.add_argument("--no-tshark", action="store_true", help="time the analyzer only")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    truth: Path | None
    if args.capture:
        pcap = args.capture
        truth = pcap.with_suffix(".csv")
        if not truth.exists():
            truth = None
    else:
        pcap = generate(args.workdir, args.dialogs, truth_csv=True)
        truth = pcap.with_suffix(".csv")
    size = pcap.stat().st_size
    print(f"capture: {pcap} ({size / 1e6:.1f} MB)")

    out_a = args.workdir / "analyzer.jsonl"
    cmd_a = [sys.executable, "-m", "analyzer", "messages", "--format", "jsonl", "-q", str(pcap)]
    if args.jobs is not None:
        cmd_a[4:4] = ["--jobs", str(args.jobs)]
    runs = []
    for _ in range(args.repeat):
        m_a = run_measured(cmd_a, out_a)
        runs.append(m_a)
        n_a = count_lines(out_a)
        print(
            f"sip-analyzer: {describe(m_a)}  {n_a} messages"
            f"{'' if m_a.status == 0 else f'  EXIT {m_a.status}'}"
        )
    m_a = min(runs, key=lambda m: m.wall)
    if truth is not None:
        found, expected = check_truth(truth, out_a)
        print(
            f"  ground truth: {found} of {expected} messages found "
            "(completing frame, Call-ID, CSeq)"
        )

    if args.no_tshark:
        return 0 if m_a.status == 0 else 1
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not installed: no comparison")
        return 0 if m_a.status == 0 else 1
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
    m_t = run_measured(cmd_t, out_t)
    n_t = count_lines(out_t)
    print(
        f"tshark:       {describe(m_t)}  {n_t} frames with SIP"
        f"{'' if m_t.status == 0 else f'  EXIT {m_t.status}'}"
    )
    print(
        f"ratio: sip-analyzer is {m_t.wall / m_a.wall:.1f}x faster than tshark "
        f"(best of {len(runs)}), peak memory {m_a.peak_rss_kib / m_t.peak_rss_kib:.2f}x "
        f"of tshark's (RSS)"
    )
    return 0 if m_a.status == 0 and m_t.status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
