#!/usr/bin/env python3
"""Time ``analyze(path)`` against the message extraction it is built on.

Generates a capture with ``../shared/bench/gen_pcap.py`` (cached in the work
directory, as ``bench_messages.py`` does) or takes one with ``--capture``,
then measures in this one process, each the best of ``--repeat`` rounds
(default 2; a round takes the three measurements one after the other, so
that a change of load on the machine affects them alike), with the cyclic
garbage collector paused as :func:`analyzer.analysis.analyze` pauses it:

* extraction: ``list(read_messages(path))``;
* correlation: ``correlate(messages)`` on the messages just extracted;
* analysis: ``analyze(path)`` (extraction and correlation together);
* rules: ``analysis.check()`` on that analysis (every validation rule);
* rules/2: the same rules shared with a forked process
  (``analysis.check(options, processes=2)``, as ``check`` and ``report``
  run them on large captures), with the same findings.

It prints the four times, the counts of what was correlated, the ratio
analysis / extraction (the share correlation adds to reading a capture) and
the ratio rules / analysis (the share validation adds to the analysis), each
also as the median of the per-round ratios, which a change of load between
rounds disturbs less than the ratio of the best times.

    python benchmarks/bench_analysis.py --dialogs 36000      # ~1M packets
    python benchmarks/bench_analysis.py --capture /tmp/bench/sip_100k.pcap

The machines this runs on are noisy: the ratio from one run is the figure to
quote, not either absolute time.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from common import capture_arguments, chosen_capture

from analyzer import collector
from analyzer.analysis import analyze
from analyzer.correlation import Correlation, correlate
from analyzer.pipeline import read_messages

T = TypeVar("T")


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector paused as ``analyze`` pauses it, and a clean heap before timing."""
    gc.collect()
    with collector.gc_paused():
        yield


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(wall seconds, result) of one run of ``fn`` with the collector paused."""
    with gc_paused():
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result


def counts(c: Correlation) -> str:
    return (
        f"{len(c.transactions)} transactions, {len(c.dialogs)} dialogs, {len(c.calls)} calls, "
        f"{len(c.subscriptions)} subscriptions, {len(c.reginfo)} reginfo documents, "
        f"{len(c.exchanges)} exchanges, {len(c.registrations)} registrations"
    )


def extract_and_correlate(pcap: Path) -> tuple[float, float, int, str]:
    """Extraction and correlation seconds, the message count and what was correlated.

    Correlation runs on the messages just extracted, so that it reads their
    headers for the first time, as it does inside ``analyze``.  Messages and
    records are freed on return, outside the timings.
    """
    t_extract, messages = timed(lambda: list(read_messages(pcap)))
    t_correlate, correlation = timed(lambda: correlate(messages))
    return t_extract, t_correlate, len(messages), counts(correlation)


def one_round(pcap: Path) -> tuple[list[float], str]:
    """Extraction, correlation and analysis seconds of one round, and what was correlated."""
    t_extract, t_correlate, count, summary = extract_and_correlate(pcap)
    # The analysis is freed on return, outside its timing.
    t_analysis, analysis = timed(lambda: analyze(pcap))
    if len(analysis.sip_messages) != count:
        sys.exit(f"bench: analyze() found {len(analysis.sip_messages)} messages, not {count}")
    t_rules, findings = timed(analysis.check)
    t_forked, forked = timed(lambda: analysis.check(analysis.options, processes=2))
    if forked != findings:
        sys.exit("bench: the rules in two processes gave other findings")
    summary += f"; {len(findings)} findings"
    return [t_extract, t_correlate, t_analysis, t_rules, t_forked], f"{count} messages: {summary}"


NAMES = ("extraction", "correlation", "analysis", "rules", "rules/2")


def main() -> int:
    ap = capture_arguments(__doc__.split("\n\n")[0], 36000)
    args = ap.parse_args()
    pcap = chosen_capture(args)

    best = [float("inf")] * len(NAMES)
    analysis_ratios: list[float] = []
    rules_ratios: list[float] = []
    forked_ratios: list[float] = []
    for k in range(args.repeat):
        times, summary = one_round(pcap)
        if k == 0:
            print(summary)
        t_extract, _, t_analysis, t_rules, t_forked = times
        analysis_ratios.append(t_analysis / t_extract)
        rules_ratios.append(t_rules / t_analysis)
        forked_ratios.append(t_forked / t_analysis)
        print(
            f"round {k + 1}: "
            + "  ".join(f"{n} {t:5.2f} s" for n, t in zip(NAMES, times, strict=True))
            + f"  (analysis/extraction {analysis_ratios[-1]:.2f}, "
            f"rules/analysis {rules_ratios[-1]:.2f}, rules/2 / analysis {forked_ratios[-1]:.2f})"
        )
        best = [min(b, t) for b, t in zip(best, times, strict=True)]
    for name, t in zip(NAMES, best, strict=True):
        print(f"{name + ':':13s}{t:7.2f} s  (best of {args.repeat})")
    t_extract, t_correlate, t_analysis, t_rules, t_forked = best
    print(
        f"ratio: analysis / extraction = {t_analysis / t_extract:.2f} "
        f"(correlation / extraction = {t_correlate / t_extract:.2f}); "
        f"median of the rounds {statistics.median(analysis_ratios):.2f}"
    )
    print(
        f"ratio: rules / analysis = {t_rules / t_analysis:.2f} "
        f"(the time check() adds to analyze()); "
        f"median of the rounds {statistics.median(rules_ratios):.2f}"
    )
    print(
        f"ratio: rules/2 / analysis = {t_forked / t_analysis:.2f} "
        f"(the rules shared with a forked process); "
        f"median of the rounds {statistics.median(forked_ratios):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
