"""The ladder as plain text for terminals.

::

    time (s)  frame    192.0.2.101:5060          192.0.2.4:5060
                              |                          |
                    1         |   INVITE (CSeq 314159)   |
    0.000000                  |------------------------->|
                    2         |        100 Trying        |
    0.018000                  |<-------------------------|

Two lines per arrow: the frame and the label (centred between the two
lifelines), then the time and the arrow.  A message a column sends to itself
is a small loop with its label on the right.  Marks follow the arrow on its
line: ``[!] HDR-8 HDR-3b`` for errors and warnings, ``[i] MSG-1b`` when there
is only information, ``(retransmission)``; retransmitted messages are drawn
``- - -->``.  The findings follow the diagram, one line each.
"""

from __future__ import annotations

from ..render.messages import format_time
from .layout import relative_time, row_note
from .model import Arrow, Ladder

__all__ = ["render_text"]

_TIME_WIDTH = 12  # "00000.000000"
_FRAME_WIDTH = 7
_LEFT = _TIME_WIDTH + 2 + _FRAME_WIDTH + 2
_MIN_SPACING = 16
_LOOP = "--."
_LOOP_BACK = "<-'"


def _marks(arrow: Arrow) -> str:
    if not arrow.marks and not arrow.retransmission:
        return ""
    parts = []
    if arrow.marks:
        flag = "[i]" if all(m.severity == "info" for m in arrow.marks) else "[!]"
        rules = row_note(arrow).removeprefix("retransmission").strip()
        parts.append(f"{flag} {rules}")
    if arrow.retransmission:
        parts.append("(retransmission)")
    return "  ".join(parts)


def _put(line: list[str], at: int, text: str) -> None:
    """Write ``text`` into ``line`` from column ``at``, growing it as needed."""
    end = at + len(text)
    if end > len(line):
        line.extend(" " * (end - len(line)))
    line[at:end] = list(text)


def _shaft(length: int, retransmission: bool) -> str:
    """``length`` characters of arrow body ending in ``-->`` (without the head)."""
    if not retransmission or length <= 3:
        return "-" * length
    body = ("- " * length)[: length - 2]
    return body + "--"


def render_text(ladder: Ladder) -> str:
    """The ladder as lines of text (see the module docstring)."""
    parts = ladder.participants
    heads = [[p.label, *(h for h in p.hosts if (h,) != (p.label,))][:2] for p in parts]
    for p, head in zip(parts, heads, strict=True):
        if len(p.hosts) > 1 and len(head) == 2:
            head[1] = f"{head[1]} +{len(p.hosts) - 1}"
    widest = max((len(t) for head in heads for t in head), default=1)
    spacing = max(_MIN_SPACING, widest + 3)
    for a in ladder.arrows:
        if a.src == a.dst:
            spacing = max(spacing, len(a.label) + len(_LOOP) + 4)
        else:
            spacing = max(spacing, -(-(len(a.label) + 4) // abs(a.dst - a.src)))
    first = _LEFT + widest // 2 + 1
    cols = [first + i * spacing for i in range(len(parts))]
    right = (cols[-1] if cols else first) + 2
    for a in ladder.arrows:
        if a.src == a.dst:
            right = max(right, cols[a.src] + len(_LOOP) + 2 + len(a.label) + 2)

    def lifelines() -> list[str]:
        line = [" "] * (right + 1)
        for x in cols:
            line[x] = "|"
        return line

    out = [ladder.title]
    if ladder.start_ns is not None:
        out.append(f"time 0 = {format_time(ladder.start_ns)}")
    out.extend(f"note: {n}" for n in ladder.notes)
    out.append("")
    for row in range(max((len(h) for h in heads), default=0)):
        line = [" "] * (right + 1)
        if row == 0:
            _put(line, 0, f"{'time (s)':>{_TIME_WIDTH}}  {'frame':>{_FRAME_WIDTH}}")
        for x, head in zip(cols, heads, strict=True):
            if row < len(head):
                text = head[row]
                _put(line, max(0, x - len(text) // 2), text)
        out.append("".join(line).rstrip())
    out.append("".join(lifelines()).rstrip())

    t0 = ladder.start_ns or 0
    for a in ladder.arrows:
        label_line = lifelines()
        arrow_line = lifelines()
        _put(label_line, 0, f"{'':>{_TIME_WIDTH}}  {a.frame_text:>{_FRAME_WIDTH}}")
        _put(arrow_line, 0, f"{relative_time(a.ts_ns, t0):>{_TIME_WIDTH}}")
        x1, x2 = cols[a.src], cols[a.dst]
        if a.src == a.dst:
            _put(label_line, x1 + 1, _LOOP)
            _put(label_line, x1 + 1 + len(_LOOP) + 1, a.label)
            _put(arrow_line, x1 + 1, _LOOP_BACK)
            end = x1 + 1 + len(_LOOP_BACK)
        else:
            lo, hi = min(x1, x2), max(x1, x2)
            inner = hi - lo - 1
            body = _shaft(inner - 1, a.retransmission)
            if x2 > x1:
                _put(arrow_line, lo + 1, body + ">")
            else:
                _put(arrow_line, lo + 1, "<" + body[::-1])
            start = lo + 1 + max(0, (inner - len(a.label)) // 2)
            _put(label_line, start, a.label)
            end = hi + 1
        marks = _marks(a)
        if marks:
            _put(arrow_line, max(end, right + 1), marks)
        out.append("".join(label_line).rstrip())
        out.append("".join(arrow_line).rstrip())
    out.append("".join(lifelines()).rstrip())

    if ladder.findings:
        out.append("")
        out.append(f"Findings ({len(ladder.findings)}):")
        for f in ladder.findings:
            frames = ",".join(map(str, f.frames)) or "-"
            out.append(
                f"  {f.severity.value.upper():<7} {f.rule:<7} frame {frames}: "
                f"{' '.join(f.message.split())}"
            )
    return "\n".join(out) + "\n"
