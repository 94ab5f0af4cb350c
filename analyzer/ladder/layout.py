"""Geometry of a drawn ladder, shared by the SVG and the matplotlib renderers.

Units are pixels of a 100-dpi canvas, y growing downwards.  Text is set in a
monospaced font (DejaVu Sans Mono, which matplotlib bundles; the SVG names
common monospaced fallbacks), so text widths are known without measuring:
every character advances :data:`CHAR_WIDTH` (0.6 em, DejaVu Sans Mono's
0.602 em rounded up; Menlo, Consolas and Courier are no wider), East Asian
wide characters two.

Every arrow gets one row of :data:`ROW_HEIGHT`: its label above the line,
centred between the two lifelines, its time and frame in the left column,
its finding and retransmission marks in a notes column right of the last
lifeline.  Column spacing is uniform and wide enough for the widest label
over the number of columns its arrow spans, so labels never reach the
lifelines at their ends, and rows never overlap: the layout is readable at
any arrow count, and the image grows in height with the arrows.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from ..render.messages import format_time
from .model import Arrow, Ladder, cut

__all__ = [
    "CHAR_WIDTH",
    "FONT_PX",
    "LINE_HEIGHT",
    "MAX_NOTE_CHARS",
    "ROW_HEIGHT",
    "ArrowBox",
    "Layout",
    "layout_ladder",
    "relative_time",
    "row_note",
    "row_note_parts",
    "text_width",
]

#: Label font size.
FONT_PX = 12.0
#: Advance of one character of the label font.
CHAR_WIDTH = 0.6 * FONT_PX
#: Height of one line of label text (ascent + descent + leading).
LINE_HEIGHT = 15.0
#: One arrow per row: label line, arrow line and a gap.
ROW_HEIGHT = 32.0
#: Label baseline and arrow line, from the top of the row.
LABEL_BASELINE = 14.0
ARROW_OFFSET = 24.0
#: Title and subtitle fonts.
TITLE_PX = 15.0
#: The advance of a title character in em, with room for bold rendering.
TITLE_CHAR_EM = 0.66
SUBTITLE_PX = 11.0
#: Half height of an arrow head; head length.
HEAD_HALF = 4.0
HEAD_LENGTH = 9.0
#: Width of the loop drawn for a message a column sends to itself.
LOOP_WIDTH = 26.0
MARGIN = 12.0
#: Space kept between a label and the lifelines at the ends of its arrow.
LABEL_PAD = 10.0
MIN_SPACING = 130.0
#: Notes (rule IDs, "retransmission") are cut to this many characters; the
#: full sentences are in the tooltip, the HTML detail pane and the findings list.
MAX_NOTE_CHARS = 36
#: Host lines shown under a participant's label.
MAX_HOST_LINES = 2


def text_width(text: str, char_width: float = CHAR_WIDTH) -> float:
    """Width of ``text`` in the monospaced font: wide East Asian characters count twice."""
    if text.isascii():
        return len(text) * char_width
    n = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return n * char_width


def relative_time(ts_ns: int, start_ns: int) -> str:
    """Seconds since ``start_ns`` with microseconds: ``4.210000`` (``-0.000100`` before it)."""
    delta = ts_ns - start_ns
    sign = "-" if delta < 0 else ""
    sec, frac = divmod(abs(delta), 1_000_000_000)
    return f"{sign}{sec}.{frac // 1000:06d}"


def row_note_parts(arrow: Arrow) -> list[tuple[str, str | None]]:
    """The notes-column text of an arrow in pieces, each with its severity value.

    ``retransmission`` (no severity) first, then the rule IDs, most severe
    first, and ``+N`` for those beyond :data:`MAX_NOTE_CHARS`.
    """
    parts: list[tuple[str, str | None]] = []
    length = 0
    if arrow.retransmission:
        parts.append(("retransmission", None))
        length = len("retransmission")
    rules: dict[str, str] = {}
    for m in arrow.marks:
        rules.setdefault(m.rule, m.severity)
    items = list(rules.items())
    for k, (rule, severity) in enumerate(items):
        rest = len(items) - k - 1
        need = length + (1 if length else 0) + len(rule) + (len(f" +{rest}") if rest else 0)
        if need > MAX_NOTE_CHARS:
            parts.append((f"+{len(items) - k}", None))
            break
        parts.append((rule, severity))
        length = need - (len(f" +{rest}") if rest else 0)
    return parts


def row_note(arrow: Arrow) -> str:
    """The notes-column text of an arrow: ``retransmission``, rule IDs (most severe first)."""
    return " ".join(text for text, _ in row_note_parts(arrow))


def participant_lines(label: str, hosts: tuple[str, ...]) -> tuple[str, ...]:
    """What a participant box shows: its label, then its endpoints when they differ."""
    if hosts == (label,) or not hosts:
        return (label,)
    shown = list(hosts[:MAX_HOST_LINES])
    if len(hosts) > MAX_HOST_LINES:
        shown[-1] = f"{hosts[MAX_HOST_LINES - 1]} +{len(hosts) - MAX_HOST_LINES + 1}"
    return (label, *shown)


@dataclass(frozen=True, slots=True)
class ArrowBox:
    """Where one arrow is drawn.

    ``n`` is the arrow's position in ``Ladder.arrows``.  ``x1``/``x2`` are the
    source and destination lifelines (equal for a loop); the label is the box
    ``label_left..label_right`` x ``label_top..label_bottom`` with its
    baseline at ``label_y`` and its middle at ``label_x`` (loops: its left
    edge); the line is at ``arrow_y``.
    """

    n: int
    y_top: float
    label_y: float
    arrow_y: float
    x1: float
    x2: float
    label_x: float
    label_left: float
    label_right: float
    label_top: float
    label_bottom: float
    loop: bool
    note: str
    time: str


@dataclass(frozen=True, slots=True)
class Layout:
    """The geometry of a whole ladder (or of one page of it, see :func:`layout_ladder`)."""

    width: float
    height: float
    title: str
    subtitles: tuple[str, ...]
    title_y: float
    subtitle_ys: tuple[float, ...]
    column_x: tuple[float, ...]
    spacing: float
    box_width: float
    box_height: float
    box_lines: tuple[tuple[str, ...], ...]
    header_top: float
    header_bottom: float
    footer_top: float
    time_x: float
    notes_x: float
    rows_top: float
    row_height: float
    rows: tuple[ArrowBox, ...]
    lifeline_top: float
    lifeline_bottom: float


def layout_ladder(ladder: Ladder, *, start: int = 0, stop: int | None = None) -> Layout:
    """Place the arrows ``start:stop`` of ``ladder`` (all by default).

    Columns are sized from every arrow of the ladder, so the pages of a
    ladder laid out piece by piece (PDF pages) line up.
    """
    arrows = ladder.arrows
    stop = len(arrows) if stop is None else min(stop, len(arrows))
    t0 = ladder.start_ns or 0

    box_lines = tuple(participant_lines(p.label, p.hosts) for p in ladder.participants)
    widest = max((text_width(line) for lines in box_lines for line in lines), default=0.0)
    box_width = widest + 2 * LABEL_PAD
    box_height = max((len(lines) for lines in box_lines), default=1) * LINE_HEIGHT + 10

    spacing = max(MIN_SPACING, box_width + 16)
    for a in arrows:
        w = text_width(a.label) + 2 * LABEL_PAD
        if a.src == a.dst:
            spacing = max(spacing, w + LOOP_WIDTH + LABEL_PAD)
        else:
            spacing = max(spacing, w / abs(a.dst - a.src))
    spacing = math.ceil(spacing)

    time_width = text_width("00000.000000")
    time_x = MARGIN + time_width
    first_x = time_x + LABEL_PAD + max(box_width / 2, 40.0)
    n_cols = max(len(ladder.participants), 1)
    column_x = tuple(first_x + i * spacing for i in range(n_cols))
    last_x = column_x[-1]
    loop_right = last_x
    for a in arrows:
        if a.src == a.dst == n_cols - 1:
            loop_right = max(loop_right, last_x + LOOP_WIDTH + 6 + text_width(a.label))
    # Notes sit in the rows, right of the last lifeline (and of loops drawn on it).
    notes_x = max(last_x, loop_right) + 2 * LABEL_PAD

    title = ladder.title
    subtitles: list[str] = []
    if ladder.start_ns is not None:
        n = len(arrows)
        subtitles.append(
            f"time 0 = {format_time(ladder.start_ns)} \u00b7 {n} message{'s' if n != 1 else ''}"
            f" \u00b7 {len(ladder.findings)} finding{'s' if len(ladder.findings) != 1 else ''}"
        )
    # A note the title already says (the arrow limit) is not repeated under it.
    subtitles.extend(n for n in ladder.notes if n not in ladder.title)
    if start > 0 or stop < len(arrows):
        subtitles.append(f"messages {start + 1}-{stop} of {len(arrows)}")
    title_y = MARGIN + TITLE_PX
    subtitle_ys = tuple(title_y + 6 + (k + 1) * (SUBTITLE_PX + 5) for k in range(len(subtitles)))
    header_top = (subtitle_ys[-1] if subtitle_ys else title_y) + 14
    header_bottom = header_top + box_height
    rows_top = header_bottom + 10

    rows = []
    max_note = 0.0
    for k, n in enumerate(range(start, stop)):
        a = arrows[n]
        y_top = rows_top + k * ROW_HEIGHT
        label_y = y_top + LABEL_BASELINE
        x1, x2 = column_x[a.src], column_x[a.dst]
        w = text_width(a.label)
        loop = a.src == a.dst
        if loop:
            left = x1 + LOOP_WIDTH + 6
            label_x, right = left, left + w
        else:
            label_x = (x1 + x2) / 2
            left, right = label_x - w / 2, label_x + w / 2
        note = row_note(a)
        max_note = max(max_note, text_width(note))
        rows.append(
            ArrowBox(
                n=n,
                y_top=y_top,
                label_y=label_y,
                arrow_y=y_top + ARROW_OFFSET,
                x1=x1,
                x2=x2,
                label_x=label_x,
                label_left=left,
                label_right=right,
                label_top=label_y - FONT_PX,
                label_bottom=label_y - FONT_PX + LINE_HEIGHT,
                loop=loop,
                note=note,
                time=relative_time(a.ts_ns, t0),
            )
        )
    lifeline_top = header_bottom
    lifeline_bottom = rows_top + len(rows) * ROW_HEIGHT + 6
    footer_top = lifeline_bottom
    height = footer_top + box_height + MARGIN
    notes_width = max_note + 16 + LABEL_PAD if max_note else 0.0
    width = max(
        notes_x + notes_width + MARGIN,
        last_x + box_width / 2 + MARGIN,
        # Bold title glyphs are drawn a little wider than the regular advance.
        MARGIN * 2 + LABEL_PAD + text_width(title, TITLE_PX * TITLE_CHAR_EM),
        *(MARGIN * 2 + LABEL_PAD + text_width(s, SUBTITLE_PX * 0.6) for s in subtitles),
    )
    return Layout(
        width=math.ceil(width),
        height=math.ceil(height),
        title=title,
        subtitles=tuple(cut(s, 300) for s in subtitles),
        title_y=title_y,
        subtitle_ys=subtitle_ys,
        column_x=column_x,
        spacing=spacing,
        box_width=box_width,
        box_height=box_height,
        box_lines=box_lines,
        header_top=header_top,
        header_bottom=header_bottom,
        footer_top=footer_top,
        time_x=time_x,
        notes_x=notes_x,
        rows_top=rows_top,
        row_height=ROW_HEIGHT,
        rows=tuple(rows),
        lifeline_top=lifeline_top,
        lifeline_bottom=lifeline_bottom,
    )
