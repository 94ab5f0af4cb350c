"""Ladder (call-flow) diagrams: the model and its renderers.

::

    from analyzer import analyze
    from analyzer.ladder import build_ladder, render_text, render_svg, save_ladder

    a = analyze("call.pcap")
    ladder = build_ladder(a, call_ids=["a84b4c76e66710@pc33.atlanta.com"])
    print(render_text(ladder))
    save_ladder(ladder, "call.png", "png")

:func:`build_ladder` gives a :class:`Ladder` (plain data); each output format
is one function over it: :func:`render_text`, :func:`render_mermaid`,
:func:`render_svg`, :func:`ladder_figure` / :func:`save_ladder` (PNG, PDF,
SVG through matplotlib, imported only when called), and in
:mod:`analyzer.ladder.html` :func:`ladder_fragment` / :func:`render_html`
(interactive HTML; ``LADDER_CSS`` and ``LADDER_JS`` for pages that embed
several ladders).
"""

from __future__ import annotations

from .figure import FIGURE_FORMATS, ladder_figure, save_ladder
from .html import LADDER_CSS, LADDER_JS, ladder_fragment, render_html
from .mermaid import render_mermaid
from .model import (
    MAX_LADDER_ARROWS,
    MAX_LADDER_PARTICIPANTS,
    Arrow,
    EmptySelectionError,
    Ladder,
    Mark,
    Participant,
    build_ladder,
    message_label,
    parse_alias,
    parse_aliases,
)
from .svg import render_svg
from .text import render_text
from .times import parse_time

__all__ = [
    "FIGURE_FORMATS",
    "LADDER_CSS",
    "LADDER_JS",
    "MAX_LADDER_ARROWS",
    "MAX_LADDER_PARTICIPANTS",
    "Arrow",
    "EmptySelectionError",
    "Ladder",
    "Mark",
    "Participant",
    "build_ladder",
    "ladder_figure",
    "ladder_fragment",
    "message_label",
    "parse_alias",
    "parse_aliases",
    "parse_time",
    "render_html",
    "render_mermaid",
    "render_svg",
    "render_text",
    "save_ladder",
]
