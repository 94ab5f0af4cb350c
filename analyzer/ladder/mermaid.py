"""The ladder as a Mermaid ``sequenceDiagram``.

Participants are declared with ids ``p0``, ``p1``, ... (so no address can
clash with Mermaid's syntax) and their label as the alias.  Requests are
solid arrows (``->>``), responses dotted (``-->>``); a retransmission says so
in its label; the findings of an arrow follow it as a ``Note over`` its two
columns.  The notes of the ladder (limits reached) open the diagram as a
note over all columns.

Text from the capture is neutralised with Mermaid's entity codes, which
Mermaid decodes before drawing: ``#`` (a comment to Mermaid's lexer) becomes
``#35;``, ``;`` (a statement separator) ``#59;``, ``<`` and ``>`` ``#lt;`` and
``#gt;`` (Mermaid renders labels as HTML), ``"`` ``#quot;``, ``%`` ``#37;``
(``%%`` starts a comment or a directive); line breaks and other control
characters become spaces or escapes, and a leading ``wrap:`` (a Mermaid
directive) has its colon encoded.  The aliases are written without quotes:
Mermaid takes the rest of the line as the alias and would show the quotes.
"""

from __future__ import annotations

from .model import Ladder, cut, one_line

__all__ = ["render_mermaid"]

#: Findings listed in one note; the rest are counted.
MAX_NOTE_MARKS = 5
#: One finding's sentence in a note is cut to this many characters.
MAX_MARK_CHARS = 120

_ENTITIES = {
    "#": "#35;",
    ";": "#59;",
    "<": "#lt;",
    ">": "#gt;",
    '"': "#quot;",
    "%": "#37;",
}


def mermaid_text(text: str) -> str:
    """``text`` made safe for a Mermaid label, alias, note or title (one line)."""
    flat = one_line(text)
    out = "".join(_ENTITIES.get(ch, ch) for ch in flat)
    head = out.lstrip().lower()
    if head.startswith(("wrap:", "nowrap:", ":")):
        colon = out.index(":")
        out = out[:colon] + "#58;" + out[colon + 1 :]
    return out


def render_mermaid(ladder: Ladder) -> str:
    """The ladder as Mermaid source (see the module docstring)."""
    ids = [f"p{i}" for i in range(len(ladder.participants))]
    lines = ["sequenceDiagram"]
    lines.append(f"    title {mermaid_text(ladder.title)}")
    for pid, p in zip(ids, ladder.participants, strict=True):
        label = p.label
        others = [h for h in p.hosts if h != p.label]
        if others:
            label += f" ({others[0]}{f' +{len(others) - 1}' if len(others) > 1 else ''})"
        lines.append(f"    participant {pid} as {mermaid_text(label)}")
    if ladder.notes and ids:
        span = ids[0] if len(ids) == 1 else f"{ids[0]},{ids[-1]}"
        text = "<br/>".join(mermaid_text(n) for n in ladder.notes)
        lines.append(f"    Note over {span}: {text}")
    for a in ladder.arrows:
        src, dst = ids[a.src], ids[a.dst]
        arrow = "-->>" if a.kind == "response" else "->>"
        label = a.label + (" (retransmission)" if a.retransmission else "")
        lines.append(f"    {src}{arrow}{dst}: {mermaid_text(label)}")
        if a.marks:
            shown = [
                mermaid_text(cut(f"{m.rule} ({m.severity}): {m.text}", MAX_MARK_CHARS))
                for m in a.marks[:MAX_NOTE_MARKS]
            ]
            if len(a.marks) > MAX_NOTE_MARKS:
                shown.append(f"+{len(a.marks) - MAX_NOTE_MARKS} more")
            span = src if src == dst else f"{src},{dst}"
            lines.append(f"    Note over {span}: {'<br/>'.join(shown)}")
    return "\n".join(lines) + "\n"
