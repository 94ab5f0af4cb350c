#!/usr/bin/env python3
"""Time ``analyze(path)`` and the HTML report of its result, separately.

Generates a capture with ``../shared/bench/gen_pcap.py`` (cached in the work
directory, as the other benchmarks do) or takes one with ``--capture``, then
measures in this one process, each the best of ``--repeat`` rounds:

* analysis: ``analyze(path)`` (extraction and correlation);
* checking: ``analysis.check()`` (every rule);
* model: ``build_report(analysis)``;
* HTML: ``render_html(report, analysis)`` (ladders, plots, tables);
* JSON and Markdown: ``render_json`` / ``render_markdown``.

The first round also pays for importing matplotlib and building its font
cache; that is part of what a user waits for on the first report, so round 1
is printed too.  The target: the whole report of a 10,000-message capture
(analysis included) in under 10 seconds.

    python benchmarks/bench_report.py --dialogs 1800        # ~10,000 SIP messages
    python benchmarks/bench_report.py --capture /tmp/bench/sip_10k.pcap
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from common import capture_arguments, chosen_capture

from analyzer.analysis import analyze
from analyzer.report import build_report, render_html, render_json, render_markdown

T = TypeVar("T")

NAMES = ("analysis", "checking", "model", "html", "json", "markdown")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(wall seconds, result) of one run of ``fn``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def one_round(pcap: Path) -> tuple[list[float], str]:
    """The seconds of each step of one round, and a line saying what was reported."""
    t_analysis, analysis = timed(lambda: analyze(pcap))
    t_check, findings = timed(analysis.check)
    t_model, report = timed(lambda: build_report(analysis, findings=findings))
    t_html, page = timed(lambda: render_html(report, analysis, findings=findings))
    t_json, _ = timed(lambda: render_json(report))
    t_md, _ = timed(lambda: render_markdown(report))
    s = report["summary"]
    what = (
        f"{s['sip_messages']} messages, {s['records']['dialogs']} dialogs, "
        f"{s['findings']['total']} findings; HTML page {len(page.encode()) / 1e6:.1f} MB"
    )
    return [t_analysis, t_check, t_model, t_html, t_json, t_md], what


def main() -> int:
    ap = capture_arguments(__doc__.split("\n\n")[0], 1800)
    args = ap.parse_args()
    pcap = chosen_capture(args)

    best = [float("inf")] * len(NAMES)
    for k in range(args.repeat):
        times, what = one_round(pcap)
        if k == 0:
            print(what)
        print(
            f"round {k + 1}: "
            + "  ".join(f"{n} {t:5.2f} s" for n, t in zip(NAMES, times, strict=True))
            + f"  total {sum(times[:4]):5.2f} s"
        )
        best = [min(b, t) for b, t in zip(best, times, strict=True)]
    for name, t in zip(NAMES, best, strict=True):
        print(f"{name + ':':10s}{t:7.2f} s  (best of {args.repeat})")
    total = sum(best[:4])
    print(f"HTML report in total (analysis + checking + model + html): {total:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
