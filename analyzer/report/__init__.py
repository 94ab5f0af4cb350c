"""Reports: one document per analysis, as JSON, Markdown or a self-contained HTML page.

::

    from analyzer.analysis import analyze
    from analyzer.report import build_report, render_html, render_markdown

    analysis = analyze("call.pcap")
    report = build_report(analysis)          # plain data, "schema_version": 1
    text = render_markdown(report)           # for a ticket
    page = render_html(report, analysis)     # ladders, plots, findings linked to arrows

The HTML renderer imports matplotlib and the ladder renderers when it runs.
"""

from __future__ import annotations

from .html import render_html
from .markdown import render_markdown
from .model import (
    MAX_DIAGNOSTIC_FRAMES,
    MAX_OCCURRENCES_PER_RULE,
    MAX_ROWS,
    MAX_TIMELINE,
    SCHEMA_VERSION,
    build_report,
    diagnostic_kind,
    render_json,
)

__all__ = [
    "MAX_DIAGNOSTIC_FRAMES",
    "MAX_OCCURRENCES_PER_RULE",
    "MAX_ROWS",
    "MAX_TIMELINE",
    "SCHEMA_VERSION",
    "build_report",
    "diagnostic_kind",
    "render_html",
    "render_json",
    "render_markdown",
]
