"""The ladder as a matplotlib figure: PNG, PDF (and SVG) files, notebooks.

The figure uses the same layout as the hand-drawn SVG
(:mod:`analyzer.ladder.layout`), in pixels of a :data:`FIGURE_DPI` canvas:
fixed row height per arrow, so the figure grows in height with the arrows
and labels never overlap; times and frames in a left column; finding marks
in red (error), orange (warning) or blue (info); retransmissions dashed and
grey.

It is built on :class:`matplotlib.figure.Figure` directly (no pyplot, no
global state), so it works headless and in threads; matplotlib is imported
only when a figure is made.  Speed: lines, heads and label backgrounds are
one collection each, and the text of the rows (three strings per arrow) is
drawn as glyph outlines merged into one path per colour (see ``_Glyphs``) in
PNG files and beyond :data:`GLYPH_TEXT_ARROWS` arrows, so a 1000-arrow PNG
takes a few seconds.  Capture text is drawn with mathtext off (a ``$`` in a
reason phrase stays a dollar sign).

Long ladders: a PNG is one tall image (its resolution is lowered below
:data:`PNG_DPI` when the image would pass :data:`MAX_RASTER_SIDE` pixels); a
PDF has a page per :data:`PDF_ARROWS_PER_PAGE` arrows, each page with the
title and the participant boxes.
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any, Literal

from .layout import (
    CHAR_WIDTH,
    FONT_PX,
    HEAD_HALF,
    HEAD_LENGTH,
    LABEL_PAD,
    LINE_HEIGHT,
    LOOP_WIDTH,
    SUBTITLE_PX,
    TITLE_PX,
    Layout,
    layout_ladder,
    row_note_parts,
)
from .model import Ladder
from .svg import (
    ARROW_COLOR,
    BOX_FILL,
    BOX_STROKE,
    LIFELINE_COLOR,
    MUTED,
    RETRANSMISSION_COLOR,
    SEVERITY_COLORS,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_DPI",
    "FIGURE_FORMATS",
    "GLYPH_TEXT_ARROWS",
    "MAX_RASTER_SIDE",
    "PDF_ARROWS_PER_PAGE",
    "PNG_DPI",
    "ladder_figure",
    "save_ladder",
]

#: Formats :func:`save_ladder` writes.
FIGURE_FORMATS = ("png", "pdf", "svg")
#: Layout pixels per inch of the figure.
FIGURE_DPI = 100
#: Resolution of PNG files: 1.5 device pixels per layout pixel, so the 12-pixel
#: labels are 18 pixels high, readable without zooming.
PNG_DPI = 150
#: The Agg rasteriser refuses images with a side of 2**16 pixels or more.
MAX_RASTER_SIDE = 60_000
#: Arrows per PDF page: with the header, a page is about 35 inches high,
#: well within the 200 inches PDF viewers accept.
PDF_ARROWS_PER_PAGE = 100

#: Beyond this many arrows, row text is drawn as glyph outlines (see _Glyphs).
GLYPH_TEXT_ARROWS = 200

_FAMILY = "DejaVu Sans Mono"
_Style = Literal["normal", "italic"]
# Advance of every DejaVu Sans Mono glyph: 1233 of 2048 font units per em.
_ADVANCE_EM = 1233 / 2048
_PT = 72 / FIGURE_DPI  # points per layout pixel


def _text(ax: Any, x: float, y: float, s: str, px: float = FONT_PX, **kw: Any) -> None:
    ax.text(
        x,
        y,
        s,
        fontsize=px * _PT,
        family=_FAMILY,
        va="baseline",
        parse_math=False,
        **kw,
    )


class _Glyphs:
    """Row text as filled glyph outlines, for ladders with many arrows.

    Drawing a text artist costs about a millisecond (layout, then the
    rasteriser per string); thousands of them make a long ladder slow.  The
    font is monospaced, so a string is its glyph outlines side by side: each
    glyph's outline is made once, strings are assembled by offsetting them,
    and all text of one colour and style becomes a single path, drawn in one
    call.  Strings that are not printable ASCII go to ``fallback`` (ordinary
    text), which also keeps fonts other than DejaVu Sans Mono for them.
    """

    def __init__(self, ax: Any, zorder: float = 5) -> None:
        self.ax = ax
        self.zorder = zorder
        self.cache: dict[tuple[str, str, _Style, float], tuple[Any, Any] | None] = {}
        self.paths: dict[tuple[str, str, str], tuple[list[Any], list[Any]]] = {}

    def _glyph(self, ch: str, weight: str, style: _Style, px: float) -> tuple[Any, Any] | None:
        key = (ch, weight, style, px)
        if key not in self.cache:
            import numpy as np
            from matplotlib.font_manager import FontProperties
            from matplotlib.textpath import TextPath

            if ch == " ":
                self.cache[key] = None
            else:
                prop = FontProperties(family=_FAMILY, weight=weight, style=style)
                path = TextPath((0, 0), ch, size=px, prop=prop)
                # Glyphs have y up; the ladder's y axis points down.
                verts = np.array(path.vertices, dtype=float) * (1.0, -1.0)
                self.cache[key] = (verts, np.array(path.codes))
        return self.cache[key]

    def text(
        self,
        x: float,
        y: float,
        s: str,
        px: float = FONT_PX,
        *,
        ha: str = "left",
        color: str = "#000000",
        weight: str = "normal",
        style: _Style = "normal",
    ) -> None:
        if not (s.isascii() and s.isprintable()):
            _text(
                self.ax,
                x,
                y,
                s,
                px,
                ha=ha,
                color=color,
                weight=weight,
                style=style,
                zorder=self.zorder,
            )
            return
        advance = _ADVANCE_EM * px
        width = len(s) * advance
        x0 = x - width / 2 if ha == "center" else x - width if ha == "right" else x
        verts, codes = self.paths.setdefault((color, weight, style), ([], []))
        for i, ch in enumerate(s):
            glyph = self._glyph(ch, weight, style, px)
            if glyph is not None:
                verts.append(glyph[0] + (x0 + i * advance, y))
                codes.append(glyph[1])

    def draw(self) -> None:
        import numpy as np
        from matplotlib.patches import PathPatch
        from matplotlib.path import Path

        for (color, _, _), (verts, codes) in self.paths.items():
            if verts:
                path = Path(np.concatenate(verts), np.concatenate(codes))
                # add_artist, not add_patch: the axes limits are fixed, and
                # add_patch would walk every curve of the path to update them.
                self.ax.add_artist(
                    PathPatch(
                        path, facecolor=color, edgecolor="none", linewidth=0, zorder=self.zorder
                    )
                )


class _Texts:
    """Row text as ordinary text artists (selectable in PDF and SVG)."""

    def __init__(self, ax: Any, zorder: float = 5) -> None:
        self.ax = ax
        self.zorder = zorder

    def text(
        self,
        x: float,
        y: float,
        s: str,
        px: float = FONT_PX,
        *,
        ha: str = "left",
        color: str = "#000000",
        weight: str = "normal",
        style: _Style = "normal",
    ) -> None:
        _text(
            self.ax, x, y, s, px, ha=ha, color=color, weight=weight, style=style, zorder=self.zorder
        )

    def draw(self) -> None:
        pass


def _boxes(ax: Any, layout: Layout, top: float) -> None:
    from matplotlib.patches import FancyBboxPatch

    w, h = layout.box_width, layout.box_height
    for x, lines in zip(layout.column_x, layout.box_lines, strict=True):
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, top),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=4",
                facecolor=BOX_FILL,
                edgecolor=BOX_STROKE,
                linewidth=1 * _PT,
                zorder=6,
            )
        )
        y = top + (h - len(lines) * LINE_HEIGHT) / 2 + FONT_PX
        for k, line in enumerate(lines):
            _text(
                ax,
                x,
                y + k * LINE_HEIGHT,
                line,
                ha="center",
                weight="bold" if k == 0 else "normal",
                color="#000000" if k == 0 else MUTED,
                zorder=7,
            )


def _draw(fig: Figure, ladder: Ladder, layout: Layout, glyphs: bool) -> None:
    from matplotlib.collections import LineCollection, PolyCollection

    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.set_axis_off()

    _text(ax, LABEL_PAD, layout.title_y, layout.title, TITLE_PX, weight="bold")
    for text, y in zip(layout.subtitles, layout.subtitle_ys, strict=True):
        _text(ax, LABEL_PAD, y, text, SUBTITLE_PX, color=MUTED)
    _text(ax, layout.time_x, layout.header_bottom - 4, "time (s)", ha="right", color=MUTED)

    ax.add_collection(
        LineCollection(
            [((x, layout.lifeline_top), (x, layout.lifeline_bottom)) for x in layout.column_x],
            colors=LIFELINE_COLOR,
            linewidths=1.5 * _PT,
            zorder=1,
        )
    )
    _boxes(ax, layout, layout.header_top)
    _boxes(ax, layout, layout.footer_top)

    rows: _Glyphs | _Texts = _Glyphs(ax) if glyphs else _Texts(ax)
    solid: list[list[tuple[float, float]]] = []
    solid_style: list[tuple[str, float]] = []
    dashed: list[list[tuple[float, float]]] = []
    dashed_style: list[tuple[str, float]] = []
    heads: list[list[tuple[float, float]]] = []
    head_colors: list[str] = []
    backgrounds: list[list[tuple[float, float]]] = []
    dots_x: list[float] = []
    dots_y: list[float] = []
    dots_c: list[str] = []
    for box in layout.rows:
        a = ladder.arrows[box.n]
        worst = a.worst
        color = SEVERITY_COLORS.get(worst or "", ARROW_COLOR)
        if a.retransmission and worst is None:
            color = RETRANSMISSION_COLOR
        width = (2.0 if worst is not None else 1.4) * _PT
        y = box.arrow_y
        if box.loop:
            x = box.x1
            top = box.label_y - FONT_PX / 2
            tip, back = x, x + HEAD_LENGTH
            path = [(x, top), (x + LOOP_WIDTH, top), (x + LOOP_WIDTH, y), (back, y)]
        else:
            tip = box.x2
            back = tip - HEAD_LENGTH if box.x2 > box.x1 else tip + HEAD_LENGTH
            path = [(box.x1, y), (back, y)]
            backgrounds.append(
                [
                    (box.label_left - 3, box.label_top),
                    (box.label_right + 3, box.label_top),
                    (box.label_right + 3, box.label_bottom),
                    (box.label_left - 3, box.label_bottom),
                ]
            )
        if a.retransmission:
            dashed.append(path)
            dashed_style.append((color, width))
        else:
            solid.append(path)
            solid_style.append((color, width))
        heads.append([(tip, y), (back, y - HEAD_HALF), (back, y + HEAD_HALF)])
        head_colors.append(color)

        rows.text(layout.time_x, box.label_y, f"#{a.frame_text}", ha="right", color=MUTED)
        rows.text(layout.time_x, y + 4, box.time, ha="right")
        rows.text(
            box.label_x,
            box.label_y,
            a.label,
            ha="left" if box.loop else "center",
            color=RETRANSMISSION_COLOR if a.retransmission else "#000000",
            style="italic" if a.retransmission else "normal",
        )
        if box.note:
            x = layout.notes_x + 16
            if worst is not None:
                dots_x.append(layout.notes_x + 6)
                dots_y.append(y - 4)
                dots_c.append(SEVERITY_COLORS[worst])
            for text, severity in row_note_parts(a):
                rows.text(
                    x,
                    y,
                    text,
                    weight="bold",
                    color=SEVERITY_COLORS.get(severity or "", RETRANSMISSION_COLOR),
                )
                x += (len(text) + 1) * CHAR_WIDTH

    ax.add_collection(
        PolyCollection(backgrounds, facecolors="#ffffff", edgecolors="none", alpha=0.85, zorder=3)
    )
    for paths, styles, dash in ((solid, solid_style, "solid"), (dashed, dashed_style, (0, (4, 3)))):
        if paths:
            ax.add_collection(
                LineCollection(
                    paths,
                    colors=[c for c, _ in styles],
                    linewidths=[w for _, w in styles],
                    linestyles=dash,
                    zorder=4,
                )
            )
    ax.add_collection(PolyCollection(heads, facecolors=head_colors, edgecolors="none", zorder=4))
    if dots_x:
        # Marker size is in points squared: a 12-pixel disc.
        ax.scatter(dots_x, dots_y, s=(12 * _PT) ** 2, c=dots_c, zorder=5, linewidths=0)
        # The "!" goes above its disc (zorder 5).
        marks: _Glyphs | _Texts = _Glyphs(ax, 6) if glyphs else _Texts(ax, 6)
        for x, y in zip(dots_x, dots_y, strict=True):
            marks.text(x, y + 4, "!", 10, ha="center", weight="bold", color="#ffffff")
        marks.draw()
    rows.draw()


def _figure(ladder: Ladder, layout: Layout, glyphs: bool) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(layout.width / FIGURE_DPI, layout.height / FIGURE_DPI), dpi=FIGURE_DPI)
    fig.patch.set_facecolor("#ffffff")
    _draw(fig, ladder, layout, glyphs)
    return fig


def ladder_figure(ladder: Ladder) -> Figure:
    """The whole ladder as one matplotlib figure (1 inch per 100 layout pixels).

    Beyond :data:`GLYPH_TEXT_ARROWS` arrows the text of the rows is drawn as
    glyph outlines (fast; not selectable when saved as PDF or SVG).
    """
    return _figure(ladder, layout_ladder(ladder), len(ladder.arrows) > GLYPH_TEXT_ARROWS)


def png_dpi(layout: Layout) -> float:
    """:data:`PNG_DPI`, lowered so that no side passes :data:`MAX_RASTER_SIDE` pixels."""
    side = max(layout.width, layout.height) / FIGURE_DPI
    return min(float(PNG_DPI), MAX_RASTER_SIDE / side)


def save_ladder(
    ladder: Ladder, path_or_file: str | os.PathLike[str] | IO[bytes], fmt: str = "png"
) -> None:
    """Write the ladder as ``fmt`` (``png``, ``pdf`` or ``svg``) to a path or binary file.

    Raises:
        ValueError: another format.
    """
    fmt = fmt.lower()
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"cannot save a ladder as {fmt!r}: use one of {', '.join(FIGURE_FORMATS)}")
    if fmt == "pdf" and len(ladder.arrows) > PDF_ARROWS_PER_PAGE:
        from matplotlib.backends.backend_pdf import PdfPages

        with PdfPages(path_or_file) as pdf:
            for start in range(0, len(ladder.arrows), PDF_ARROWS_PER_PAGE):
                layout = layout_ladder(ladder, start=start, stop=start + PDF_ARROWS_PER_PAGE)
                pdf.savefig(_figure(ladder, layout, glyphs=False))
        return
    layout = layout_ladder(ladder)
    # PNG: always glyph outlines (the same pixels, faster); PDF and SVG keep
    # real text up to GLYPH_TEXT_ARROWS arrows, so it can be searched and copied.
    glyphs = fmt == "png" or len(ladder.arrows) > GLYPH_TEXT_ARROWS
    fig = _figure(ladder, layout, glyphs)
    dpi = png_dpi(layout) if fmt == "png" else FIGURE_DPI
    fig.savefig(path_or_file, format=fmt, dpi=dpi, facecolor="#ffffff")
