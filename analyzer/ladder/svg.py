"""The ladder as a standalone SVG drawn by hand (no plotting library).

Layout from :mod:`analyzer.ladder.layout`: participant boxes on top (and
again at the bottom), lifelines, one row per arrow with its time and frame in
the left column and its marks in a notes column on the right.

Each arrow is exactly one ``<g class="arrow request|response ...">`` with
``id="{id_prefix}arrow-{n}"`` (``n``: its position in the ladder),
``data-message`` (message index), ``data-frame``, ``data-dialog`` (empty
without a dialog) and ``data-row``; marked arrows also have the classes
``retransmission`` and ``finding-error`` / ``finding-warning`` /
``finding-info`` (the most severe mark).  Inside: a ``<title>`` tooltip with
the message's summary and every finding's sentence, a transparent hit area
for the whole row, the time, frame, label, line and head, and for marked
arrows a coloured badge and the rule IDs, each in its severity's colour.
The root carries ``data-row-height``, ``data-rows-top``, ``data-footer-top``
and ``data-full-height`` so that scripts can move rows.

Styling uses presentation attributes only (no ``<style>`` element), so the
SVG looks the same embedded in a page whose Content-Security-Policy forbids
inline styles.  All text from the capture is XML-escaped, and characters
XML 1.0 cannot carry are shown as escapes.
"""

from __future__ import annotations

import html
import re

from .layout import (
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
from .model import Arrow, Ladder

__all__ = [
    "ARROW_COLOR",
    "FONT_FAMILY",
    "RETRANSMISSION_COLOR",
    "SEVERITY_COLORS",
    "arrow_tooltip",
    "check_id_prefix",
    "render_svg",
    "svg_document",
    "xml_escape",
]

FONT_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"
ARROW_COLOR = "#263238"
RETRANSMISSION_COLOR = "#78909c"
LIFELINE_COLOR = "#b0bec5"
BOX_FILL = "#eceff1"
BOX_STROKE = "#546e7a"
MUTED = "#607d8b"
#: Colours of marks by severity (red, orange, blue).
SEVERITY_COLORS = {"error": "#c62828", "warning": "#e65100", "info": "#1565c0"}

# Characters XML 1.0 does not allow (C0 controls except TAB, LF, CR; lone
# surrogates; U+FFFE, U+FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ID_PREFIX_RE = re.compile(r"(?:[A-Za-z][A-Za-z0-9_-]*)?")


def xml_escape(text: str) -> str:
    """``text`` for XML/HTML text and attribute values: markup characters as
    references, characters XML cannot carry as ``\\xNN`` escapes."""
    if _XML_INVALID.search(text):
        text = _XML_INVALID.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
    return html.escape(text, quote=True)


def check_id_prefix(id_prefix: str) -> str:
    """``id_prefix`` if it can start an XML id (a letter, then letters, digits, ``-``, ``_``).

    Raises:
        ValueError: any other prefix.
    """
    if not _ID_PREFIX_RE.fullmatch(id_prefix):
        raise ValueError(
            f"id_prefix {id_prefix!r}: use a letter followed by letters, digits, '-' or '_'"
        )
    return id_prefix


def arrow_tooltip(ladder: Ladder, arrow: Arrow, time: str) -> str:
    """The tooltip of an arrow: label, frame, time, endpoints, Call-ID, findings."""
    parts = ladder.participants
    src, dst = parts[arrow.src], parts[arrow.dst]
    lines = [
        f"{arrow.label} (frame {arrow.frame_text}, {time} s)",
        f"{src.label} \u2192 {dst.label} ({arrow.transport})",
    ]
    if arrow.call_id is not None:
        lines.append(f"Call-ID {arrow.call_id}")
    if arrow.dialog is not None:
        lines.append(f"dialog {arrow.dialog}")
    if arrow.retransmission:
        lines.append("retransmission")
    lines.extend(f"[{m.severity.upper()}] {m.rule}: {m.text}" for m in arrow.marks)
    return "\n".join(lines)


def _n(value: float) -> str:
    """A coordinate with at most one decimal."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _participant_boxes(layout: Layout, top: float, css_class: str) -> list[str]:
    out = [f'<g class="{css_class}">']
    w, h = layout.box_width, layout.box_height
    for x, lines in zip(layout.column_x, layout.box_lines, strict=True):
        out.append(
            f'<rect x="{_n(x - w / 2)}" y="{_n(top)}" width="{_n(w)}" height="{_n(h)}" rx="4" '
            f'fill="{BOX_FILL}" stroke="{BOX_STROKE}"/>'
        )
        y = top + (h - len(lines) * LINE_HEIGHT) / 2 + FONT_PX
        for k, line in enumerate(lines):
            weight = ' font-weight="bold"' if k == 0 else f' fill="{MUTED}"'
            out.append(
                f'<text x="{_n(x)}" y="{_n(y + k * LINE_HEIGHT)}" text-anchor="middle"{weight}>'
                f"{xml_escape(line)}</text>"
            )
    out.append("</g>")
    return out


def _marks(a: Arrow, layout: Layout, y: float) -> list[str]:
    x = layout.notes_x
    out = ['<g class="marks">']
    worst = a.worst
    if worst is not None:
        out.append(
            f'<circle cx="{_n(x + 6)}" cy="{_n(y - 4)}" r="6" fill="{SEVERITY_COLORS[worst]}"/>'
            f'<text x="{_n(x + 6)}" y="{_n(y)}" text-anchor="middle" font-size="10" '
            f'font-weight="bold" fill="#ffffff">!</text>'
        )
    spans = [
        f'<tspan fill="{SEVERITY_COLORS.get(sev or "", RETRANSMISSION_COLOR)}">'
        f"{xml_escape(text)}</tspan>"
        for text, sev in row_note_parts(a)
    ]
    out.append(f'<text x="{_n(x + 16)}" y="{_n(y)}" font-weight="bold">{" ".join(spans)}</text>')
    out.append("</g>")
    return out


def _arrow_group(ladder: Ladder, layout: Layout, k: int, id_prefix: str) -> list[str]:
    box = layout.rows[k]
    a = ladder.arrows[box.n]
    classes = ["arrow", a.kind]
    if a.retransmission:
        classes.append("retransmission")
    worst = a.worst
    if worst is not None:
        classes.append(f"finding-{worst}")
    color = SEVERITY_COLORS.get(worst or "", ARROW_COLOR)
    if a.retransmission and worst is None:
        color = RETRANSMISSION_COLOR
    dialog = "" if a.dialog is None else str(a.dialog)
    out = [
        f'<g class="{" ".join(classes)}" id="{id_prefix}arrow-{box.n}" data-message="{a.index}" '
        f'data-frame="{a.frame}" data-dialog="{dialog}" data-row="{k}" tabindex="0">',
        f"<title>{xml_escape(arrow_tooltip(ladder, a, box.time))}</title>",
        f'<rect class="hit" x="0" y="{_n(box.y_top)}" width="{_n(layout.width)}" '
        f'height="{_n(layout.row_height)}" fill="transparent"/>',
        f'<text class="frame" x="{_n(layout.time_x)}" y="{_n(box.label_y)}" text-anchor="end" '
        f'fill="{MUTED}">#{a.frame_text}</text>',
        f'<text class="time" x="{_n(layout.time_x)}" y="{_n(box.arrow_y + 4)}" '
        f'text-anchor="end">{box.time}</text>',
    ]
    dash = ' stroke-dasharray="6 4"' if a.retransmission else ""
    width = "2" if worst is not None else "1.4"
    y = box.arrow_y
    if box.loop:
        x = box.x1
        top = box.label_y - FONT_PX / 2
        out.append(
            f'<path class="line" d="M{_n(x)} {_n(top)} H{_n(x + LOOP_WIDTH)} V{_n(y)} '
            f'H{_n(x + HEAD_LENGTH)}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>'
        )
        tip, back = x, x + HEAD_LENGTH
    else:
        tip = box.x2
        back = box.x2 - HEAD_LENGTH if box.x2 > box.x1 else box.x2 + HEAD_LENGTH
        out.append(
            f'<line class="line" x1="{_n(box.x1)}" y1="{_n(y)}" x2="{_n(back)}" y2="{_n(y)}" '
            f'stroke="{color}" stroke-width="{width}"{dash}/>'
        )
        # Keeps lifelines crossed by a label from striking through it.
        out.append(
            f'<rect class="label-bg" x="{_n(box.label_left - 3)}" y="{_n(box.label_top)}" '
            f'width="{_n(box.label_right - box.label_left + 6)}" '
            f'height="{_n(box.label_bottom - box.label_top)}" fill="#ffffff" fill-opacity="0.85"/>'
        )
    out.append(
        f'<path class="head" d="M{_n(tip)} {_n(y)} L{_n(back)} {_n(y - HEAD_HALF)} '
        f'L{_n(back)} {_n(y + HEAD_HALF)} Z" fill="{color}"/>'
    )
    anchor = "start" if box.loop else "middle"
    label_fill = RETRANSMISSION_COLOR if a.retransmission else "#000000"
    style = ' font-style="italic"' if a.retransmission else ""
    out.append(
        f'<text class="label" x="{_n(box.label_x)}" y="{_n(box.label_y)}" text-anchor="{anchor}" '
        f'fill="{label_fill}"{style}>{xml_escape(a.label)}</text>'
    )
    if box.note:
        out += _marks(a, layout, y)
    out.append("</g>")
    return out


def svg_document(ladder: Ladder, *, id_prefix: str = "", standalone: bool = True) -> str:
    """The SVG text; ``standalone=False`` leaves out the XML namespace (for inline HTML).

    Raises:
        ValueError: an ``id_prefix`` that cannot start an XML id.
    """
    check_id_prefix(id_prefix)
    layout = layout_ladder(ladder)
    w, h = layout.width, layout.height
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out = [
        f'<svg{ns} class="ladder-svg" width="{_n(w)}" height="{_n(h)}" '
        f'viewBox="0 0 {_n(w)} {_n(h)}" font-family="{FONT_FAMILY}" font-size="{_n(FONT_PX)}" '
        f'data-row-height="{_n(layout.row_height)}" data-rows-top="{_n(layout.rows_top)}" '
        f'data-footer-top="{_n(layout.footer_top)}" data-full-height="{_n(h)}" '
        f'role="img" aria-label="{xml_escape(ladder.title)}">',
        f"<title>{xml_escape(ladder.title)}</title>",
        f'<rect class="background" width="{_n(w)}" height="{_n(h)}" fill="#ffffff"/>',
        f'<text class="title" x="{_n(LABEL_PAD)}" y="{_n(layout.title_y)}" '
        f'font-size="{_n(TITLE_PX)}" font-weight="bold">{xml_escape(layout.title)}</text>',
    ]
    for text, y in zip(layout.subtitles, layout.subtitle_ys, strict=True):
        out.append(
            f'<text class="subtitle" x="{_n(LABEL_PAD)}" y="{_n(y)}" '
            f'font-size="{_n(SUBTITLE_PX)}" fill="{MUTED}">{xml_escape(text)}</text>'
        )
    out.append(
        f'<text class="column-head" x="{_n(layout.time_x)}" y="{_n(layout.header_bottom - 4)}" '
        f'text-anchor="end" fill="{MUTED}">time (s)</text>'
    )
    out.append('<g class="lifelines">')
    for x in layout.column_x:
        out.append(
            f'<line class="lifeline" x1="{_n(x)}" y1="{_n(layout.lifeline_top)}" x2="{_n(x)}" '
            f'y2="{_n(layout.lifeline_bottom)}" stroke="{LIFELINE_COLOR}" stroke-width="1.5"/>'
        )
    out.append("</g>")
    out += _participant_boxes(layout, layout.header_top, "participants")
    out += _participant_boxes(layout, layout.footer_top, "participants participants-bottom")
    out.append('<g class="arrows">')
    for k in range(len(layout.rows)):
        out += _arrow_group(ladder, layout, k, id_prefix)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_svg(ladder: Ladder, *, id_prefix: str = "") -> str:
    """A standalone SVG document of the ladder (see the module docstring).

    ``id_prefix`` starts every id, so that several ladders can share a page.

    Raises:
        ValueError: an ``id_prefix`` that cannot start an XML id.
    """
    return svg_document(ladder, id_prefix=id_prefix, standalone=True)
