"""The ladder (call-flow) model: participants, arrows and the findings on them.

Plain data, independent of any renderer: :func:`build_ladder` selects
messages of an :class:`~analyzer.analysis.Analysis`, groups their endpoints
into columns (:class:`Participant`) and turns each message into an
:class:`Arrow` carrying its retransmission flag (from the correlation's
transactions, never from comparing payloads) and the marks of the findings
that name it.  Each output format (text, Mermaid, SVG, PNG/PDF, HTML) is one
function over a :class:`Ladder`.

Selection, in this order (each given criterion must hold):

1. ``call_ids`` (messages with one of these Call-IDs) and ``dialog`` (the
   messages of that dialog, by its id as the ``dialogs`` table shows it);
   neither means every message;
2. ``related`` adds the legs related to that selection (see
   :mod:`analyzer.ladder.related`);
3. ``start_ns`` / ``end_ns`` keep messages in that time window (inclusive);
4. ``filters`` are the ``messages --filter`` expressions, all must match.

An empty result raises :class:`EmptySelectionError` with a one-line
message.  Limits (:data:`MAX_LADDER_ARROWS`, :data:`MAX_LADDER_PARTICIPANTS`)
are never applied silently: the ladder's title and ``notes`` say what was
left out.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..net.flow import Endpoint, IPAddress
from ..render.messages import format_time, message_row, parse_filter
from ..rules.base import Finding, rule_sort_key
from ..sip.message import SipMessage, SipRequest
from .related import related_messages

if TYPE_CHECKING:
    from ..analysis import Analysis

__all__ = [
    "MAX_LABEL_CHARS",
    "MAX_LADDER_ARROWS",
    "MAX_LADDER_PARTICIPANTS",
    "MAX_TITLE_CHARS",
    "Arrow",
    "EmptySelectionError",
    "Ladder",
    "Mark",
    "Participant",
    "build_ladder",
    "message_label",
    "parse_alias",
    "parse_aliases",
]

# A ladder is read by scrolling: 2000 rows are about 60,000 pixels (some 15
# screens at a normal zoom), already more than anyone reads arrow by arrow,
# and close to the 65,536-pixel side that the PNG rasteriser accepts.  Larger
# selections are cut to their first arrows and the cut is stated in the title.
MAX_LADDER_ARROWS = 2000

# Columns beyond this many are merged into one "others" column: with more,
# each column gets narrower than an address label at any readable width.
MAX_LADDER_PARTICIPANTS = 24

# Arrow labels are a method and CSeq or a status and reason phrase; the reason
# phrase comes from the capture and may be arbitrarily long.  Column widths
# follow the longest label, so labels are cut to this many characters.
MAX_LABEL_CHARS = 40

# Titles quote Call-IDs, which come from the capture.
MAX_TITLE_CHARS = 160

# Participant labels (aliases given by the user) are cut like arrow labels.
MAX_PARTICIPANT_LABEL_CHARS = 40


class EmptySelectionError(ValueError):
    """The selection given to :func:`build_ladder` matches no message."""


@dataclass(frozen=True, slots=True)
class Participant:
    """One column of the ladder.

    ``key`` is unique within a ladder: the endpoint (``10.0.0.1:5060``,
    ``[2001:db8::1]:5060``), the host (per-host columns), the alias, or
    ``others`` for the column that collects endpoints beyond
    :data:`MAX_LADDER_PARTICIPANTS`.  ``label`` is what is shown on top of
    the column; ``hosts`` are the endpoints it stands for, in order of first
    appearance.
    """

    key: str
    label: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    """A finding attached to an arrow: its rule ID, severity value and sentence."""

    rule: str
    severity: str
    text: str


@dataclass(frozen=True, slots=True)
class Arrow:
    """One message drawn from column ``src`` to column ``dst`` (participant positions).

    ``index`` is the message index (the position in ``Analysis.sip_messages``),
    ``frame`` the frame that completed it, ``ts_ns`` its time.  ``label`` is
    ``INVITE (CSeq 1)`` for a request and ``180 Ringing`` for a response.
    ``dialog`` is the id of the message's dialog, if it has one.
    ``retransmission`` is set when the correlation found the message to be a
    retransmission of an earlier one in its transaction.  ``marks`` are the
    findings that name this message, the most severe first.  ``kind`` is
    ``request`` or ``response``.  ``capture`` is, when the analysis read
    several capture files (whose frame numbers each start at 1), the 1-based
    number of the message's file in ``Analysis.sources``; 0 for one file.
    """

    index: int
    frame: int
    ts_ns: int
    src: int
    dst: int
    label: str
    transport: str
    call_id: str | None
    dialog: int | None
    retransmission: bool
    marks: tuple[Mark, ...]
    kind: str = "request"
    capture: int = 0

    @property
    def frame_text(self) -> str:
        """The frame as renderers show it: ``12``, or ``2:12`` for frame 12 of the second file."""
        return f"{self.capture}:{self.frame}" if self.capture else str(self.frame)

    @property
    def worst(self) -> str | None:
        """The severity value of the most severe mark, or None without marks."""
        return self.marks[0].severity if self.marks else None


@dataclass(frozen=True, slots=True)
class Ladder:
    """A call flow ready to be drawn.

    ``findings`` are those that name at least one of the shown messages.
    ``notes`` say what the selection left out or had to assume (limits
    reached, Call-IDs not found); renderers show them under the title.
    """

    title: str
    participants: tuple[Participant, ...]
    arrows: tuple[Arrow, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def start_ns(self) -> int | None:
        """The time of the first arrow (the zero of the time column)."""
        return self.arrows[0].ts_ns if self.arrows else None

    def _repr_html_(self) -> str:
        """The ladder as inline SVG, for notebooks (captured text escaped)."""
        from .svg import render_svg

        return render_svg(self)


# -- labels ------------------------------------------------------------------


def one_line(text: str) -> str:
    """``text`` on one line: control characters shown as escapes, blanks collapsed."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch in "\t\r\n":
            out.append(" ")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return " ".join("".join(out).split(" ")).strip() or repr(text)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def message_label(msg: SipMessage) -> str:
    """``INVITE (CSeq 1)`` for a request, ``180 Ringing`` for a response.

    A request whose CSeq names another method shows it
    (``NOFITY (CSeq 1288 NOTIFY)``).  Text from the capture is put on one
    line with control characters escaped, and cut to
    :data:`MAX_LABEL_CHARS`.
    """
    if isinstance(msg, SipRequest):
        label = msg.method
        if msg.cseq_num is not None:
            if msg.cseq_method is not None and msg.cseq_method != msg.method:
                label += f" (CSeq {msg.cseq_num} {msg.cseq_method})"
            else:
                label += f" (CSeq {msg.cseq_num})"
    else:
        label = f"{msg.status} {msg.reason}".rstrip()
    return cut(one_line(label), MAX_LABEL_CHARS)


# -- aliases -----------------------------------------------------------------

AliasKey = tuple[IPAddress, int | None]


def parse_alias(key: str) -> AliasKey:
    """An alias key as (address, port or None).

    Accepted: ``10.0.0.1``, ``10.0.0.1:5060``, ``2001:db8::1``,
    ``[2001:db8::1]`` and ``[2001:db8::1]:5060``.

    Raises:
        ValueError: anything else, with a message naming the key.
    """
    text = key.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"alias {key!r}: missing ']' after the IPv6 address")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"alias {key!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"alias {key!r}: {host!r} is not an IP address (expected HOST[:PORT]=NAME)"
        ) from None
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"alias {key!r}: bad port {port_text!r}")
        port = int(port_text)
    return address, port


def parse_aliases(items: Iterable[str]) -> dict[str, str]:
    """``HOST[:PORT]=NAME`` items (the CLI's ``--alias``) as a mapping for :func:`build_ladder`.

    Raises:
        ValueError: an item without ``=``, with an empty name or a bad key.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, name = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"alias {item!r}: expected HOST[:PORT]=NAME")
        parse_alias(key)
        out[key.strip()] = name.strip()
    return out


def _alias_table(aliases: Mapping[str, str] | None) -> dict[AliasKey, str]:
    table: dict[AliasKey, str] = {}
    for key, name in (aliases or {}).items():
        if not name.strip():
            raise ValueError(f"alias {key!r}: empty name")
        table[parse_alias(key)] = cut(one_line(name.strip()), MAX_PARTICIPANT_LABEL_CHARS)
    return table


# -- participants ------------------------------------------------------------


class _Columns:
    """Assigns endpoints to columns in order of first appearance."""

    def __init__(self, aliases: dict[AliasKey, str], per_host: bool) -> None:
        self.aliases = aliases
        self.per_host = per_host
        self.by_endpoint: dict[Endpoint, int] = {}
        self.by_group: dict[tuple[str, str], int] = {}
        self.keys: list[str] = []
        self.labels: list[str] = []
        self.hosts: list[list[str]] = []
        self.overflow: int | None = None
        self.merged = 0

    def _group(self, ep: Endpoint) -> tuple[tuple[str, str], str]:
        alias = self.aliases.get((ep.ip, ep.port))
        if alias is None:
            alias = self.aliases.get((ep.ip, None))
        if alias is not None:
            return ("alias", alias), alias
        if self.per_host:
            host = str(ep.ip)
            return ("host", host), host
        return ("endpoint", ep.text), ep.text

    def column(self, ep: Endpoint) -> int:
        pos = self.by_endpoint.get(ep)
        if pos is not None:
            return pos
        group, label = self._group(ep)
        pos = self.by_group.get(group)
        if pos is None:
            if len(self.keys) >= MAX_LADDER_PARTICIPANTS - 1 and self.overflow is None:
                # The last column collects every endpoint that does not fit.
                self.overflow = len(self.keys)
                self._new("others", "others")
            if self.overflow is not None:
                pos = self.overflow
                self.merged += 1
            else:
                pos = self._new(group[1] if group[0] != "alias" else label, label)
            self.by_group[group] = pos
        if ep.text not in self.hosts[pos]:
            self.hosts[pos].append(ep.text)
        self.by_endpoint[ep] = pos
        return pos

    def _new(self, key: str, label: str) -> int:
        # Keys are unique: an alias spelled like another column's address gets a suffix.
        unique, n = key, 2
        while unique in self.keys:
            unique, n = f"{key}#{n}", n + 1
        self.keys.append(unique)
        self.labels.append(label)
        self.hosts.append([])
        return len(self.keys) - 1

    def participants(self) -> tuple[Participant, ...]:
        out = []
        for i, (key, label, hosts) in enumerate(
            zip(self.keys, self.labels, self.hosts, strict=True)
        ):
            if i == self.overflow:
                label = f"{len(hosts)} others"
            out.append(Participant(key, label, tuple(hosts)))
        return tuple(out)


# -- selection ---------------------------------------------------------------


def _describe(
    call_ids: Sequence[str] | None,
    dialog: int | None,
    related: bool,
    start_ns: int | None,
    end_ns: int | None,
    filters: Sequence[str],
) -> str:
    parts = []
    if call_ids:
        parts.append(("Call-ID " if len(call_ids) == 1 else "Call-IDs ") + ", ".join(call_ids))
    if dialog is not None:
        parts.append(f"dialog {dialog}")
    if not parts:
        parts.append("all messages")
    if related and (call_ids or dialog is not None):
        parts.append("with related legs")
    if start_ns is not None:
        parts.append(f"from {format_time(start_ns)}")
    if end_ns is not None:
        parts.append(f"until {format_time(end_ns)}")
    parts.extend(f"filter {f}" for f in filters)
    return one_line(", ".join(parts))


def _select(
    analysis: Analysis,
    call_ids: Sequence[str] | None,
    dialog: int | None,
    related: bool,
    notes: list[str],
) -> list[int]:
    messages = analysis.sip_messages
    corr = analysis.correlation
    chosen: set[int] | None = None
    if call_ids:
        wanted = set(call_ids)
        chosen = {i for i, m in enumerate(messages) if m.call_id in wanted}
        found = {messages[i].call_id for i in chosen}
        missing = [c for c in dict.fromkeys(call_ids) if c not in found]
        if not chosen:
            shown = ", ".join(repr(c) for c in missing[:3])
            raise EmptySelectionError(f"no message has Call-ID {shown}")
        for c in missing:
            notes.append(one_line(f"no message has Call-ID {c!r}"))
    if dialog is not None:
        d = corr.dialog(dialog)
        if d is None:
            ids = [str(x.id) for x in corr.dialogs[:10]]
            more = ", ..." if len(corr.dialogs) > 10 else ""
            known = f"dialog ids: {', '.join(ids)}{more}" if ids else "the capture has no dialogs"
            raise EmptySelectionError(f"no dialog {dialog} ({known})")
        in_dialog = set(d.messages)
        chosen = in_dialog if chosen is None else chosen & in_dialog
    if chosen is None:
        return list(range(len(messages)))
    if related and chosen:
        chosen, related_notes = related_messages(
            messages, corr, chosen, whole_call_ids=dialog is None
        )
        notes.extend(related_notes)
    return sorted(chosen)


def _sources_title(analysis: Analysis) -> str:
    names = [os.path.basename(s) for s in analysis.sources]
    if len(names) > 3:
        return f"{', '.join(names[:3])} and {len(names) - 3} more"
    return ", ".join(names)


def _marks_by_message(
    findings: Iterable[Finding], indices: Iterable[int]
) -> dict[int, list[Finding]]:
    """The findings that point at each of the messages ``indices``.

    One pass over the findings with a set test per message they name: a
    report draws dozens of ladders from one capture's findings, each of a
    few messages, and indexing every finding for each ladder cost more than
    drawing it.
    """
    wanted = set(indices)
    out: dict[int, list[Finding]] = {}
    for f in findings:
        for i in dict.fromkeys(f.messages) if len(f.messages) > 1 else f.messages:
            if i in wanted:
                out.setdefault(i, []).append(f)
    return out


def _mark_order(f: Finding) -> tuple[int, tuple[str, int, str]]:
    return -f.severity.rank, rule_sort_key(f.rule)


def _retransmissions(analysis: Analysis, indices: Iterable[int]) -> set[int]:
    corr = analysis.correlation
    out: set[int] = set()
    seen: set[int] = set()
    for i in indices:
        tid = corr.message_transaction[i]
        if tid is None or tid in seen:
            continue
        seen.add(tid)
        t = corr.transaction(tid)
        if t is None:
            continue
        out.update(t.retransmissions)
    return out


def build_ladder(
    analysis: Analysis,
    *,
    call_ids: Sequence[str] | None = None,
    dialog: int | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    filters: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
    per_host: bool = False,
    related: bool = False,
    findings: Sequence[Finding] | None = None,
    max_arrows: int = MAX_LADDER_ARROWS,
) -> Ladder:
    """The ladder of the selected messages of ``analysis`` (see the module docstring).

    ``aliases`` map ``HOST`` or ``HOST:PORT`` (IPv6 as ``[addr]:port``) to a
    column name; endpoints with the same name share a column, and an alias of
    an endpoint wins over one of its host.  ``per_host`` makes one column per
    host instead of per address and port.  ``findings`` default to
    ``analysis.check()``; pass them when they were computed already (or
    with other options).

    Raises:
        EmptySelectionError: nothing matches (an unknown Call-ID or dialog, an
            empty time window, filters that match nothing).
        ValueError: a filter expression or alias that cannot be read, or
            ``max_arrows`` below 1.
    """
    if max_arrows < 1:
        raise ValueError(f"max_arrows must be at least 1, not {max_arrows}")
    row_filters = [parse_filter(f) for f in filters]
    alias_table = _alias_table(aliases)
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        raise EmptySelectionError("the end of the time window is before its start")
    notes: list[str] = []
    indices = _select(analysis, call_ids, dialog, related, notes)
    messages = analysis.sip_messages
    # Arrows in time order, as a flow graph reads.  Messages come in the
    # order they were completed, which differs when a stream message waited
    # for bytes that came later (or never: a body shorter than its
    # Content-Length is completed at the end of the stream).
    indices.sort(key=lambda i: (messages[i].origin.ts_ns, i))
    what = _describe(call_ids, dialog, related, start_ns, end_ns, filters)
    if start_ns is not None or end_ns is not None:
        lo = start_ns if start_ns is not None else -(1 << 63)
        hi = end_ns if end_ns is not None else 1 << 63
        indices = [i for i in indices if lo <= messages[i].origin.ts_ns <= hi]
    if row_filters:

        def keep(i: int) -> bool:
            row = message_row(messages[i])
            return all(f(row) for f in row_filters)

        indices = [i for i in indices if keep(i)]
    if not indices:
        if not messages:
            raise EmptySelectionError("the capture has no SIP messages")
        raise EmptySelectionError(f"no message matches the selection ({what})")
    total = len(indices)
    if total > max_arrows:
        indices = indices[:max_arrows]
        notes.insert(0, f"first {max_arrows} of {total} messages")

    columns = _Columns(alias_table, per_host)
    if findings is None:
        findings = analysis.check()
    by_message = _marks_by_message(findings, indices)
    retrans = _retransmissions(analysis, indices)
    message_dialog = analysis.correlation.message_dialog
    files = analysis.message_sources
    arrows = []
    shown_findings: dict[int, Finding] = {}
    for i in indices:
        m = messages[i]
        o = m.origin
        src = columns.column(o.src)
        dst = columns.column(o.dst)
        found = sorted(by_message.get(i, ()), key=_mark_order)
        marks: list[Mark] = []
        for f in found:
            shown_findings.setdefault(id(f), f)
            mark = Mark(f.rule, f.severity.value, f.message)
            if mark not in marks:
                marks.append(mark)
        arrows.append(
            Arrow(
                index=i,
                frame=o.frame,
                ts_ns=o.ts_ns,
                src=src,
                dst=dst,
                label=message_label(m),
                transport=o.transport.value,
                call_id=m.call_id,
                dialog=message_dialog[i],
                retransmission=i in retrans,
                marks=tuple(marks),
                kind="request" if isinstance(m, SipRequest) else "response",
                capture=0 if files is None else files[i] + 1,
            )
        )
    if columns.overflow is not None:
        notes.append(
            f"{columns.merged} endpoints beyond the first {MAX_LADDER_PARTICIPANTS - 1} "
            "columns are merged into the column 'others'"
        )
    if files is not None:
        shown = sorted({a.capture for a in arrows})
        notes.append(
            "frames are numbered per capture file, shown FILE:FRAME with "
            + ", ".join(f"{k} = {os.path.basename(analysis.sources[k - 1])}" for k in shown)
        )
    # Findings in the order the rules engine gave them (first frame, rule ID).
    kept = [f for f in findings if id(f) in shown_findings]
    title = cut(f"{_sources_title(analysis)}: {what}", MAX_TITLE_CHARS)
    if total > max_arrows:
        title += f" (first {max_arrows} of {total} messages)"
    return Ladder(
        title=title,
        participants=columns.participants(),
        arrows=tuple(arrows),
        findings=tuple(kept),
        notes=tuple(one_line(n) for n in notes),
    )
