"""Plots of the HTML report, drawn with matplotlib and embedded as inline SVG.

Each plot is a function over the analysis returning a :class:`Plot` or None
when the capture has no data for it (no transaction with a final response,
fewer than two messages, no call).  Figures are made with
:class:`matplotlib.figure.Figure` directly (no pyplot: no global state, no
GUI backend) and written as SVG with text kept as text, no timestamp and a
fixed hash salt, so the same capture gives the same bytes.  The SVG is
adapted for inlining into HTML (:func:`inline_svg`): no XML prolog, no
metadata with URLs, element ids prefixed so that several plots on one page
do not share ids, and no global ``<style>``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..sip.message import SipRequest
from .markdown import plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..analysis import Analysis

__all__ = ["Plot", "inline_svg", "render_plots"]

_NS = 1_000_000_000

# Methods shown separately in the response-time plot; the rest are "other".
# More colours than this in one histogram cannot be told apart.
MAX_METHODS_PLOTTED = 5

# Up to this many response times are drawn as dots (one per transaction)
# rather than as a histogram.
STRIP_MAX = 20

# Bars of the messages-over-time histogram, roughly: the bin width is the
# first "round" width giving at most this many bins.
TIME_BINS = 60
_ROUND_WIDTHS_S = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400,
)  # fmt: skip

# Colours (Okabe-Ito, readable with the common colour-vision deficiencies).
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")
_OUTCOME_COLOURS = {
    "answered": "#009E73",
    "unfinished": "#56B4E9",
    "cancelled": "#999999",
    "busy": "#E69F00",
    "rejected": "#D55E00",
    "failed": "#CC0000",
    "no_final": "#CC79A7",
}


@dataclass(frozen=True, slots=True)
class Plot:
    """One plot: an id for the page, a title, a sentence under it and the inline SVG."""

    id: str
    title: str
    caption: str
    svg: str


def render_plots(analysis: Analysis) -> list[Plot]:
    """The plots that have data, in page order."""
    import matplotlib

    makers: Sequence[Callable[[Analysis], Plot | None]] = (
        _response_times,
        _messages_over_time,
        _call_outcomes,
    )
    out: list[Plot] = []
    # Text stays text in the SVG (smaller, selectable), and ids do not
    # depend on a random salt, so the output is reproducible.
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "sip-analyzer-report",
            "font.size": 9,
            "font.family": ["sans-serif"],
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        for make in makers:
            plot = make(analysis)
            if plot is not None:
                out.append(plot)
    return out


def _figure(height: float = 2.8) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.5, height), layout="constrained")


def _svg(fig: Figure, prefix: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return inline_svg(buf.getvalue(), prefix)


_PROLOG_RE = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA_RE = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_STYLE_RE = re.compile(r"\s*<style[^>]*>(.*?)</style>", re.S)
_XMLNS_RE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_ID_RE = re.compile(r'\bid="')
_REF_RE = re.compile(r'(url\(#|href="#)')


def inline_svg(svg: str, prefix: str) -> str:
    """matplotlib's SVG document as an element to put inside an HTML page.

    Drops the XML prolog and DOCTYPE, the RDF metadata (it names URLs), the
    ``xmlns`` declarations (HTML's parser puts ``<svg>`` in the SVG namespace
    itself) and the document-wide ``<style>`` (whose rules would apply to the
    whole page; they move to the root element's ``style``), and prefixes
    every id and reference to it with ``prefix``.
    """
    svg = _PROLOG_RE.sub("", svg, count=1)
    svg = _METADATA_RE.sub("", svg)
    rules = _STYLE_RE.findall(svg)
    svg = _STYLE_RE.sub("", svg)
    svg = _XMLNS_RE.sub("", svg)
    svg = _ID_RE.sub(f'id="{prefix}', svg)
    svg = _REF_RE.sub(lambda m: m[1] + prefix, svg)
    style = "; ".join(b.strip() for r in rules for b in re.findall(r"\*\s*\{([^}]*)\}", r))
    attrs = 'class="plot-svg" role="img"' + (f' style="{style}"' if style else "")
    return svg.replace("<svg ", f"<svg {attrs} ", 1).strip()


def _response_times(analysis: Analysis) -> Plot | None:
    """Request -> first final response, per method (the most frequent ones)."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    by_method: dict[str, list[float]] = {}
    for t in analysis.correlation.transactions:
        rt = t.response_time_ns
        if rt is not None and rt >= 0:
            by_method.setdefault(t.method, []).append(rt / 1e6)
    if not by_method:
        return None
    ranked = sorted(by_method, key=lambda m: (-len(by_method[m]), m))
    shown = ranked[:MAX_METHODS_PLOTTED]
    series = [(m, by_method[m]) for m in shown]
    rest = [v for m in ranked[MAX_METHODS_PLOTTED:] for v in by_method[m]]
    if rest:
        series.append(("other", rest))
    values = [v for _, vs in series for v in vs]
    low, high = min(values), max(values)
    floor = 0.01  # ms: a log axis needs a positive start
    log = high / max(low, floor) > 50
    if len(values) <= STRIP_MAX:
        # A few transactions: one dot each, a row per method, reads better
        # than a histogram of mostly empty bins.
        fig = _figure(height=max(1.4, 0.4 * len(series) + 1.0))
        ax = fig.subplots()
        for k, (_, vs) in enumerate(series):
            ax.scatter(
                [max(v, floor) for v in vs] if log else vs,
                [k] * len(vs),
                s=28,
                color=_PALETTE[k % len(_PALETTE)],
                zorder=3,
            )
        ax.set_yticks(range(len(series)), [f"{m} ({len(vs)})" for m, vs in series])
        ax.set_ylim(len(series) - 0.5, -0.5)
        ax.grid(axis="x", color="#dddddd", zorder=0)
        if log:
            ax.set_xscale("log")
    else:
        fig = _figure()
        ax = fig.subplots()
        if log:
            bins = np.geomspace(max(low, floor), max(high, floor * 10), 40)
            ax.set_xscale("log")
            data = [[max(v, floor) for v in vs] for _, vs in series]
        else:
            bins = np.linspace(low, high if high > low else low + 1, 30)
            data = [vs for _, vs in series]
        ax.hist(
            data,
            bins=list(bins),
            stacked=True,
            # One filled outline per method instead of a rectangle per bin:
            # the same picture, a fraction of the SVG and of the drawing time.
            histtype="stepfilled",
            label=[f"{m} ({len(vs)})" for m, vs in series],
            color=list(_PALETTE[: len(series)]),
        )
        ax.set_ylabel("transactions")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False, fontsize=8)
    if log:
        # Plain numbers (5, 50, 500) read faster than powers of ten.
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("request \u2192 first final response (ms)")
    median = float(np.median(values))
    spread = f"median {median:.1f} ms, "
    if len(values) > STRIP_MAX:
        spread += f"95th percentile {float(np.percentile(values, 95)):.1f} ms, "
    return Plot(
        "plot-response-times",
        "Response times",
        f"{plural(len(values), 'transaction')} with a final response; {spread}"
        f"slowest {high:.1f} ms.",
        _svg(fig, "rt-"),
    )


def _messages_over_time(analysis: Analysis) -> Plot | None:
    """Messages per time bin since the first one: requests, and responses by class."""
    from matplotlib.ticker import MaxNLocator

    msgs = analysis.sip_messages
    if len(msgs) < 2:
        return None
    start = min(m.origin.ts_ns for m in msgs)
    end = max(m.origin.ts_ns for m in msgs)
    span_s = max((end - start) / _NS, 1e-3)
    width = next((w for w in _ROUND_WIDTHS_S if span_s / w <= TIME_BINS), _ROUND_WIDTHS_S[-1])
    nbins = int(span_s // width) + 1
    kinds = ("requests", "1xx\u20132xx responses", "3xx\u20136xx responses")
    counts = [[0] * nbins for _ in kinds]
    for m in msgs:
        b = min(int((m.origin.ts_ns - start) / _NS // width), nbins - 1)
        k = 0 if isinstance(m, SipRequest) else (1 if m.status < 300 else 2)
        counts[k][b] += 1
    unit, scale = _time_unit(span_s)
    fig = _figure()
    ax = fig.subplots()
    lefts = [i * width / scale for i in range(nbins)]
    bottom = [0] * nbins
    colours = (_PALETTE[0], _PALETTE[2], _PALETTE[5])
    for kind, row, colour in zip(kinds, counts, colours, strict=True):
        if any(row):
            ax.bar(
                lefts,
                row,
                width=width / scale,
                bottom=bottom,
                align="edge",
                label=f"{kind} ({sum(row)})",
                color=colour,
            )
            bottom = [a + b for a, b in zip(bottom, row, strict=True)]
    ax.set_xlabel(f"time since the first message ({unit})")
    ax.set_ylabel(f"messages per {_width_text(width)}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False, fontsize=8)
    peak = max(bottom)
    return Plot(
        "plot-messages-over-time",
        "Messages over time",
        f"{len(msgs)} messages over {span_s:.3f} s, in bins of {_width_text(width)}; "
        f"busiest bin: {peak} messages.",
        _svg(fig, "mt-"),
    )


def _time_unit(span_s: float) -> tuple[str, float]:
    if span_s >= 2 * 3600:
        return "h", 3600.0
    if span_s >= 2 * 60:
        return "min", 60.0
    return "s", 1.0


def _width_text(width: float) -> str:
    if width < 1:
        return f"{width * 1000:g} ms"
    if width < 60:
        return f"{width:g} s"
    if width < 3600:
        return f"{width / 60:g} min"
    return f"{width / 3600:g} h"


def _call_outcomes(analysis: Analysis) -> Plot | None:
    """How many calls ended each way (answered, busy, rejected...)."""
    from matplotlib.ticker import MaxNLocator

    calls = analysis.correlation.calls
    if not calls:
        return None
    counts = Counter(c.outcome.value for c in calls)
    order = [o for o in _OUTCOME_COLOURS if o in counts]
    fig = _figure(height=max(1.2, 0.35 * len(order) + 0.8))
    ax = fig.subplots()
    labels = [o.replace("_", " ") for o in order]
    values = [counts[o] for o in order]
    bars = ax.barh(labels, values, color=[_OUTCOME_COLOURS[o] for o in order])
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[str(v) for v in values], padding=3, fontsize=8)
    ax.set_xlabel("calls")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.1)
    share = counts.get("answered", 0) + counts.get("unfinished", 0)
    return Plot(
        "plot-call-outcomes",
        "Call outcomes",
        f"{plural(len(calls), 'call')}; {share} answered ({100 * share / len(calls):.0f}%).",
        _svg(fig, "co-"),
    )
