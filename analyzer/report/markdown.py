"""The report as GitHub-flavoured Markdown, for pasting into a ticket.

Everything that comes from the capture is escaped (:func:`md`): a table
cell never breaks on a ``|``, a ``<script>`` shows as text, backticks and
emphasis characters stay literal.  A ticket is read by a person, so the
tables are shorter than the report's lists (:data:`MAX_MARKDOWN_ROWS`,
:data:`MAX_MARKDOWN_OCCURRENCES`); what is left out is counted on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..render.findings import frames_text

__all__ = [
    "MAX_MARKDOWN_OCCURRENCES",
    "MAX_MARKDOWN_ROWS",
    "clock",
    "duration",
    "findings_text",
    "md",
    "party",
    "render_markdown",
]

# Rows per table (calls, dialogs, subscriptions, registrations, diagnostics).
# Ticket systems render long tables poorly, and the JSON and HTML reports
# carry the full lists.
MAX_MARKDOWN_ROWS = 50

# Occurrences listed per rule: a ticket needs the first few to reproduce.
MAX_MARKDOWN_OCCURRENCES = 10

# Timeline entries shown in one table cell.
MAX_MARKDOWN_TIMELINE = 8

_CONTROL_RE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
# Characters with a meaning in GFM inline text or tables.  The others ('.',
# '-', '+', '#', '!') only matter at the start of a line, and every escaped
# value here is inside a table cell or after a label.
_MD_SPECIAL_RE = re.compile(r"([\\`*_{}\[\]<>|~])")


def md(value: object) -> str:
    """A value from the capture as literal Markdown text on one line.

    Control characters show as ``\\xNN``, ``&`` as ``&amp;`` (so entities
    are not decoded), and the characters GFM interprets are backslash-escaped.
    None is an empty string.
    """
    if value is None:
        return ""
    text = _MD_SPECIAL_RE.sub(r"\\\1", str(value).replace("&", "&amp;"))
    # After the escaping: a backslash before a letter is literal in Markdown.
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def clock(iso: str | None) -> str:
    """``HH:MM:SS.mmm`` of an ISO time of the report (the date is in the summary)."""
    return "" if iso is None else iso[11:23]


def duration(seconds: float | None) -> str:
    """Seconds for people: ``64 ms``, ``4.210 s``, ``2 min 13.0 s``; empty for None."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.3f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f} min {rest:.1f} s"


def frames(span: Sequence[int]) -> str:
    """``[first, last]`` as ``7`` or ``3-9``."""
    if not span:
        return ""
    return str(span[0]) if span[0] == span[-1] else f"{span[0]}-{span[-1]}"


def counts_text(counts: Mapping[str, int], sep: str = " ") -> str:
    """``{"INVITE": 2, "BYE": 1}`` as ``INVITE 2, BYE 1``."""
    return ", ".join(f"{k}{sep}{v}" for k, v in counts.items()) or "none"


def party(name: str | None, uri: str | None) -> str:
    """``"Alice" <sip:alice@example.com>``, or the URI alone without a display name."""
    if not name:
        return uri or ""
    return f'"{name}" <{uri or ""}>'


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return lines


def _more(total: int, shown: int, what: str) -> list[str]:
    if total > shown:
        note = f"*{shown} of {total} {what} listed here; the JSON and HTML reports list more.*"
        return ["", note]
    return []


def findings_text(counts: Mapping[str, int]) -> str:
    """``2 errors, 1 warning, 0 info from 3 rules (110 rules run)``, or ``none (...)``."""
    run = f"({counts['rules_run']} rules run)"
    if not counts["total"]:
        return f"none {run}"
    return (
        f"{plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')}, "
        f"{counts['info']} info from {plural(counts['rules'], 'rule')} {run}"
    )


def messages_text(summary: Mapping[str, Any]) -> str:
    """The summary's SIP message counts in words (numbers only: safe in any format)."""
    s = summary
    return (
        f"{s['sip_messages']} ({plural(s['requests'], 'request')}, "
        f"{plural(s['responses'], 'response')})"
        + (f"; {s['unparsed']} could not be parsed" if s["unparsed"] else "")
        + (
            f"; {s['truncated_messages']} cut by the snapshot length"
            if s["truncated_messages"]
            else ""
        )
    )


def records_text(records: Mapping[str, int]) -> str:
    """The counts of correlated records in words (numbers only: safe in any format)."""
    rec = records
    return (
        f"{plural(rec['transactions'], 'transaction')}, {plural(rec['dialogs'], 'dialog')}, "
        f"{plural(rec['calls'], 'call')}, {plural(rec['subscriptions'], 'subscription')}, "
        f"{plural(rec['registrations'], 'registration')}, "
        f"{plural(rec['exchanges'], 'exchange')} outside dialogs"
    )


def summary_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of the summary table; values are Markdown-escaped text."""
    s = report["summary"]
    caps = report["captures"]
    rec = s["records"]
    fnd = s["findings"]
    packets = "unknown" if s["packets"] is None else str(s["packets"])
    rows = [
        (
            "Captures",
            ", ".join(
                f"{md(c['name'])} ({'?' if c['packets'] is None else c['packets']} packets, "
                f"{c['sip_messages']} SIP messages)"
                for c in caps
            ),
        ),
        ("First message", md(s["first_time"]) or "none"),
        ("Last message", md(s["last_time"]) or "none"),
        ("Duration", duration(s["duration_s"]) or "0 s"),
        ("Packets read", packets),
        ("SIP messages", messages_text(s)),
        ("Requests by method", md(counts_text(s["methods"]))),
        ("Responses by status", md(counts_text(s["status_codes"], " \u00d7"))),
        ("Transports", md(counts_text(s["transports"]))),
        ("Records", records_text(rec)),
    ]
    if s["call_outcomes"]:
        rows.append(("Call outcomes", md(counts_text(s["call_outcomes"]))))
    flows = s["flows"]
    if any(flows.values()):
        rows.append(
            (
                "Connections",
                f"{flows['tcp']} TCP, {flows['tls']} TLS (not readable), "
                f"{flows['websocket']} WebSocket",
            )
        )
    rows.append(("Findings", findings_text(fnd)))
    diags = s["diagnostics"]
    rows.append(
        (
            "Diagnostics",
            ", ".join(f"{md(d['kind'])} \u00d7{d['count']}" for d in diags) if diags else "none",
        )
    )
    return rows


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown (see the module docstring)."""
    names = ", ".join(c["name"] for c in report["captures"])
    out: list[str] = [f"# SIP report: {md(names)}", ""]
    out += _table(("", ""), summary_rows(report))
    out += _diagnostics_section(report)
    out += _findings_section(report)
    out += _calls_section(report)
    out += _dialogs_section(report)
    out += _subscriptions_section(report)
    out += _registrations_section(report)
    cuts = report["cuts"]
    if cuts:
        out += ["", "## Limits", ""]
        out += [f"- {md(c)}" for c in cuts]
    return "\n".join(out) + "\n"


def _diagnostics_section(report: Mapping[str, Any]) -> list[str]:
    diags = report["summary"]["diagnostics"]
    if not diags:
        return []
    out = ["", "## Diagnostics", "", "What could not be decoded, by layer and kind.", ""]
    rows = []
    for d in diags[:MAX_MARKDOWN_ROWS]:
        listed = ",".join(map(str, d["frames"]))
        if d["frames_total"] > len(d["frames"]):
            listed += f" \u2026 ({d['frames_total']} frames)"
        rows.append(
            (md(d["layer"]), md(d["kind"]), d["level"], str(d["count"]), listed, md(d["example"]))
        )
    out += _table(("Layer", "Kind", "Level", "Count", "Frames", "Example"), rows)
    out += _more(len(diags), len(rows), "diagnostic kinds")
    return out


def _findings_section(report: Mapping[str, Any]) -> list[str]:
    groups = report["findings"]
    out = ["", "## Findings", ""]
    if not groups:
        return [*out, "No findings."]
    out += _table(
        ("Severity", "Rule", "Count", "RFC", "Summary"),
        (
            (g["severity"].upper(), md(g["rule"]), str(g["count"]), md(g["rfc"]), md(g["summary"]))
            for g in groups
        ),
    )
    for g in groups:
        out += [
            "",
            f"### {g['severity'].upper()} {md(g['rule'])}: {md(g['summary'])}",
            "",
            f"{md(g['rfc'])}, {plural(g['count'], 'occurrence')}.",
            "",
        ]
        occs = g["occurrences"][:MAX_MARKDOWN_OCCURRENCES]
        with_capture = any("capture" in o for o in occs)
        head = ["Frames", "Sentence"] + (["Capture"] if with_capture else [])
        rows = []
        for o in occs:
            row = [md(frames_text(o["frames"])), md(o["message"])]
            if with_capture:
                row.append(md(o.get("capture")))
            rows.append(row)
        out += _table(head, rows)
        out += _more(g["count"], len(occs), "occurrences")
    return out


def _calls_section(report: Mapping[str, Any]) -> list[str]:
    calls = report["calls"]
    if not calls["total"]:
        return []
    rows = [
        (
            md(c["call_id"]),
            md(party(c["caller_name"], c["caller_uri"])),
            md(party(c["callee_name"], c["callee_uri"])),
            md(c["outcome"]) + ("" if c["final_status"] is None else f" ({c['final_status']})"),
            duration(c["ringing_delay_s"]),
            duration(c["setup_time_s"]),
            duration(c["duration_s"]),
            md(c["hangup_by"]),
            frames(c["frames"]),
        )
        for c in calls["rows"][:MAX_MARKDOWN_ROWS]
    ]
    out = ["", "## Calls", ""]
    out += _table(
        (
            "Call-ID",
            "From",
            "To",
            "Outcome",
            "Ringing after",
            "Answered after",
            "Duration",
            "Hung up by",
            "Frames",
        ),
        rows,
    )
    return out + _more(calls["total"], len(rows), "calls")


def _dialogs_section(report: Mapping[str, Any]) -> list[str]:
    dialogs = report["dialogs"]
    if not dialogs["total"]:
        return []
    rows = [
        (
            str(d["dialog"]),
            md(d["call_id"]),
            md(d["method"]),
            " \u2192 ".join(f"{md(s['state'])} ({md(s['cause'])})" for s in d["states"]),
            clock(d["created_time"]),
            clock(d["terminated_time"]),
            str(d["findings"]),
            frames(d["frames"]),
        )
        for d in dialogs["rows"][:MAX_MARKDOWN_ROWS]
    ]
    out = ["", "## Dialogs", ""]
    out += _table(
        ("Dialog", "Call-ID", "Method", "States", "Created", "Ended", "Findings", "Frames"), rows
    )
    return out + _more(dialogs["total"], len(rows), "dialogs")


def _timeline_cell(entries: Sequence[str], omitted: int) -> str:
    shown = list(entries[:MAX_MARKDOWN_TIMELINE])
    hidden = len(entries) - len(shown) + omitted
    if hidden:
        shown.append(f"\u2026 {hidden} more")
    return "<br>".join(shown)


def _subscriptions_section(report: Mapping[str, Any]) -> list[str]:
    subs = report["subscriptions"]
    if not subs["total"]:
        return []
    rows = []
    for s in subs["rows"][:MAX_MARKDOWN_ROWS]:
        timeline = [
            f"{clock(e['time'])} {md(e['state'])} ({md(e['cause'])}"
            + ("" if e["frame"] is None else f", frame {e['frame']}")
            + ")"
            for e in s["timeline"]
        ]
        rows.append(
            (
                str(s["subscription"]),
                md(s["event"]),
                md(s["call_id"]),
                md(s["state"]),
                f"{_opt(s['requested_expires'])} / {_opt(s['granted_expires'])}",
                f"{s['subscribes']} / {s['notifies']}",
                _timeline_cell(timeline, s["timeline_omitted"]),
            )
        )
    out = ["", "## Subscriptions", ""]
    out += _table(
        (
            "Subscription",
            "Event",
            "Call-ID",
            "State",
            "Expires asked / granted",
            "SUBSCRIBEs / NOTIFYs",
            "Timeline",
        ),
        rows,
    )
    return out + _more(subs["total"], len(rows), "subscriptions")


def _opt(value: object) -> str:
    return "-" if value is None else md(value)


def _registrations_section(report: Mapping[str, Any]) -> list[str]:
    regs = report["registrations"]
    if not regs["total"]:
        return []
    rows = []
    for r in regs["rows"][:MAX_MARKDOWN_ROWS]:
        events = [
            f"{clock(e['time'])} {md(e['event'])} {md(e['contact'])}"
            + ("" if e["expires"] is None else f" ({e['expires']} s)")
            for e in r["events"]
        ]
        outcome = md(r["last_outcome"]) + (
            "" if r["last_status"] is None else f" ({r['last_status']})"
        )
        rows.append(
            (
                md(r["aor"]),
                str(len(r["attempts"]) + r["attempts_omitted"]),
                outcome,
                _timeline_cell(events, r["events_omitted"]),
                frames(r["frames"]),
            )
        )
    out = ["", "## Registrations", ""]
    out += _table(("AoR", "Attempts", "Last outcome", "Bindings", "Frames"), rows)
    return out + _more(regs["total"], len(rows), "registrations")
