"""The report as one self-contained HTML page.

Everything is inline: the style sheet, the scripts, the plots (SVG), the
ladders (SVG, from :mod:`analyzer.ladder.html`).  A Content-Security-Policy
``<meta>`` forbids every network load (``default-src 'none'``) and lets only
the page's own scripts run (by their SHA-256 hashes), so even a bug in the
escaping could not make the page fetch or execute anything.  Every value
taken from the capture goes through :func:`html.escape`.

Sections: summary (with diagnostics), findings grouped by rule (each
occurrence links to its arrow in a ladder), calls, dialogs, subscription and
registration timelines, plots, and ladders: one per dialog and one per
Call-ID for the messages outside dialogs, at most :data:`MAX_LADDERS`,
collapsed when there are more than :data:`OPEN_LADDERS`.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from ..render.findings import frames_text
from .markdown import (
    clock,
    counts_text,
    duration,
    findings_text,
    frames,
    messages_text,
    party,
    plural,
    records_text,
)

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..rules.base import Finding

__all__ = ["MAX_LADDERS", "OPEN_LADDERS", "LadderGroup", "ladder_groups", "render_html"]

# Ladders drawn on the page.  Each one carries the full text of its messages
# (for the detail pane), so a page with every dialog of a busy capture would
# weigh hundreds of megabytes and take minutes to open; the ``ladder``
# command draws any other one.  Dialogs with findings come first.
MAX_LADDERS = 50

# Up to this many ladders are shown expanded; with more, all start collapsed
# (a finding's link opens the one it points into).
OPEN_LADDERS = 4

# Up to this many findings occurrences in all, the rule groups start open.
OPEN_FINDINGS = 40

# Tables longer than this scroll inside a box of fixed height.
SCROLL_ROWS = 25

_NS = 1_000_000_000


def _e(value: object) -> str:
    """A value from the capture as HTML text (attribute-safe); None is empty."""
    return "" if value is None else escape(str(value), quote=True)


# -- ladder groups ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LadderGroup:
    """What one ladder of the page shows: a dialog, or a Call-ID's messages outside dialogs.

    ``key`` is the DOM id of its ``<details>`` and the prefix of its
    arrows' ids; ``messages`` are the message indices it draws.
    """

    key: str
    kind: str
    title: str
    dialog: int | None
    call_id: str | None
    messages: tuple[int, ...]
    findings: int
    worst: int


def ladder_groups(analysis: Analysis, findings: Sequence[Finding]) -> list[LadderGroup]:
    """Every possible ladder of the page, in capture order (not yet capped).

    One per dialog, and one per Call-ID whose messages include some that
    belong to no dialog (registrations, MESSAGE and OPTIONS exchanges,
    unanswered requests); that one shows the whole Call-ID.  Messages
    without a Call-ID are in none.
    """
    corr = analysis.correlation
    msgs = analysis.sip_messages
    per_message: dict[int, list[Finding]] = {}
    for f in findings:
        for i in dict.fromkeys(f.messages):
            per_message.setdefault(i, []).append(f)

    def weight(indices: Iterable[int]) -> tuple[int, int]:
        found = {id(f): f for i in indices for f in per_message.get(i, ())}
        worst = max((f.severity.rank for f in found.values()), default=-1)
        return len(found), worst

    groups: list[tuple[int, LadderGroup]] = []
    for d in corr.dialogs:
        n, worst = weight(d.messages)
        groups.append(
            (
                d.messages[0] if d.messages else d.id,
                LadderGroup(
                    key=f"ladder-d{d.id}",
                    kind="dialog",
                    title=f"Dialog {d.id} \u00b7 {d.method} \u00b7 {d.state.value}",
                    dialog=d.id,
                    call_id=d.call_id,
                    messages=d.messages,
                    findings=n,
                    worst=worst,
                ),
            )
        )
    # Messages without a Call-ID cannot be selected for a ladder (nor do they
    # belong to a dialog); the page counts them instead.
    outside: dict[str | None, int] = {}
    for i, dlg in enumerate(corr.message_dialog):
        if dlg is None and msgs[i].call_id is not None:
            outside.setdefault(msgs[i].call_id, i)
    by_call_id: dict[str | None, list[int]] = {}
    if outside:
        for i, m in enumerate(msgs):
            if m.call_id in outside:
                by_call_id.setdefault(m.call_id, []).append(i)
    for n_group, (call_id, first) in enumerate(outside.items()):
        indices = tuple(by_call_id[call_id])
        n, worst = weight(indices)
        methods = sorted({msgs[i].cseq_method or "?" for i in indices if msgs[i].cseq_method})
        groups.append(
            (
                first,
                LadderGroup(
                    key=f"ladder-c{n_group}",
                    kind="call-id",
                    title=f"{', '.join(methods) or 'Messages'} outside dialogs",
                    dialog=None,
                    call_id=call_id,
                    messages=indices,
                    findings=n,
                    worst=worst,
                ),
            )
        )
    groups.sort(key=lambda g: g[0])
    return [g for _, g in groups]


def _choose(groups: Sequence[LadderGroup]) -> list[LadderGroup]:
    """At most :data:`MAX_LADDERS` groups: the worst findings first, shown in capture order."""
    if len(groups) <= MAX_LADDERS:
        return list(groups)
    order = sorted(range(len(groups)), key=lambda k: (-groups[k].worst, -groups[k].findings, k))
    keep = sorted(order[:MAX_LADDERS])
    return [groups[k] for k in keep]


@dataclass(slots=True)
class _DrawnLadder:
    group: LadderGroup
    html: str
    arrow_ids: dict[int, str]
    notes: tuple[str, ...]


def _draw_ladders(
    analysis: Analysis, groups: Sequence[LadderGroup], findings: Sequence[Finding]
) -> list[_DrawnLadder]:
    from ..ladder import build_ladder
    from ..ladder.html import ladder_fragment

    opts = analysis.options
    aliases = dict(opts.aliases) or None
    drawn = []
    for g in groups:
        if g.dialog is not None:
            ladder = build_ladder(
                analysis,
                dialog=g.dialog,
                findings=findings,
                aliases=aliases,
                per_host=opts.per_host,
            )
        else:
            ladder = build_ladder(
                analysis,
                call_ids=None if g.call_id is None else [g.call_id],
                findings=findings,
                aliases=aliases,
                per_host=opts.per_host,
            )
        prefix = f"{g.key}-"
        fragment = ladder_fragment(ladder, analysis, id_prefix=prefix)
        ids = {a.index: _arrow_id(prefix, pos, a.index) for pos, a in enumerate(ladder.arrows)}
        drawn.append(_DrawnLadder(g, fragment, ids, ladder.notes))
    return drawn


def _arrow_id(prefix: str, position: int, message: int) -> str:
    """The DOM id :func:`~analyzer.ladder.html.ladder_fragment` gives the arrow at ``position``."""
    return f"{prefix}arrow-{position}"


# -- page -------------------------------------------------------------------------


def render_html(
    report: Mapping[str, Any],
    analysis: Analysis,
    *,
    findings: Sequence[Finding] | None = None,
) -> str:
    """The report as one self-contained HTML page (see the module docstring).

    ``report`` is :func:`~analyzer.report.model.build_report` of
    ``analysis``; ``findings`` are the finding records it was built from
    (default: ``analysis.check()``), used to mark the ladders.
    """
    from ..ladder.html import LADDER_CSS, LADDER_JS
    from .plots import render_plots

    if findings is None:
        findings = analysis.check()
    all_groups = ladder_groups(analysis, findings)
    chosen = _choose(all_groups)
    drawn = _draw_ladders(analysis, chosen, findings)
    arrow_of: dict[int, str] = {}
    ladder_of_dialog: dict[int, str] = {}
    for d in drawn:
        for i, aid in d.arrow_ids.items():
            arrow_of.setdefault(i, aid)
        if d.group.dialog is not None:
            ladder_of_dialog[d.group.dialog] = d.group.key
    plots = render_plots(analysis)
    names = ", ".join(c["name"] for c in report["captures"])

    body: list[str] = []
    body += _header(report, names, bool(plots), bool(drawn))
    body.append("<main>")
    body += _summary_section(report)
    body += _findings_section(report, arrow_of)
    body += _calls_section(report, ladder_of_dialog)
    body += _dialogs_section(report, ladder_of_dialog)
    body += _subscriptions_section(report, ladder_of_dialog)
    body += _registrations_section(report)
    body += _plots_section(plots)
    no_call_id = sum(1 for m in analysis.sip_messages if m.call_id is None)
    body += _ladders_section(drawn, len(all_groups), no_call_id)
    body += _limits_section(report, len(all_groups), len(drawn))
    body.append("</main>")

    scripts = [LADDER_JS, _REPORT_JS]
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    )
    csp = (
        "default-src 'none'; "
        f"script-src {hashes}; "
        "style-src 'unsafe-inline'; "
        "img-src data:; font-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>SIP report: {_e(names)}</title>",
        f"<style>{_REPORT_CSS}\n{LADDER_CSS}</style>",
        "</head>",
        "<body>",
    ]
    tail = [f"<script>{s}</script>" for s in scripts] + ["</body>", "</html>"]
    return "\n".join(head + body + tail) + "\n"


def _header(report: Mapping[str, Any], names: str, plots: bool, ladders: bool) -> list[str]:
    sections = [
        ("summary", "Summary"),
        ("findings", "Findings"),
        ("calls", "Calls") if report["calls"]["total"] else None,
        ("dialogs", "Dialogs") if report["dialogs"]["total"] else None,
        ("subscriptions", "Subscriptions") if report["subscriptions"]["total"] else None,
        ("registrations", "Registrations") if report["registrations"]["total"] else None,
        ("plots", "Plots") if plots else None,
        ("ladders", "Ladders") if ladders else None,
    ]
    links = "".join(f'<a href="#{k}">{t}</a>' for k, t in (s for s in sections if s))
    s = report["summary"]
    span = ""
    if s["first_time"]:
        span = f"{_e(s['first_time'][:10])} {_e(clock(s['first_time']))} \u2013 " + _e(
            clock(s["last_time"])
        )
    return [
        "<header>",
        f'<h1>SIP report <span class="captures">{_e(names)}</span></h1>',
        f'<p class="span">{span} UTC</p>' if span else "",
        f"<nav>{links}</nav>",
        "</header>",
    ]


def _table(
    head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "", numeric: Iterable[int] = ()
) -> list[str]:
    """An HTML table; cells are HTML already (escaped by the caller)."""
    nums = set(numeric)
    th = "".join(f"<th{' class=num' if k in nums else ''}>{h}</th>" for k, h in enumerate(head))
    out = [
        f'<div class="table-wrap{" scroll" if len(rows) > SCROLL_ROWS else ""}">',
        f'<table class="{cls}">' if cls else "<table>",
        f"<thead><tr>{th}</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        tds = "".join(f"<td{' class=num' if k in nums else ''}>{c}</td>" for k, c in enumerate(row))
        out.append(f"<tr>{tds}</tr>")
    out += ["</tbody>", "</table>", "</div>"]
    return out


def _more_note(total: int, shown: int, what: str) -> list[str]:
    if total > shown:
        return [f'<p class="limit-note">{shown} of {total} {what} listed (report limit).</p>']
    return []


def _summary_section(report: Mapping[str, Any]) -> list[str]:
    s = report["summary"]
    f = s["findings"]
    rec = s["records"]
    cards = [
        ("error", f["error"], "errors"),
        ("warning", f["warning"], "warnings"),
        ("info", f["info"], "info"),
        ("", s["sip_messages"], "SIP messages"),
        ("", rec["dialogs"], "dialogs"),
        ("", rec["calls"], "calls"),
        ("", rec["subscriptions"], "subscriptions"),
        ("", rec["registrations"], "registrations"),
    ]
    out = ['<section id="summary">', "<h2>Summary</h2>", '<div class="cards">']
    for cls, n, label in cards:
        zero = " zero" if not n else ""
        out.append(
            f'<div class="card {cls}{zero}"><span class="n">{n}</span>'
            f'<span class="label">{label}</span></div>'
        )
    out.append("</div>")
    rows = _summary_rows(report)
    out.append('<table class="kv">')
    out += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows]
    out.append("</table>")
    diags = s["diagnostics"]
    if diags:
        out.append("<h3>Diagnostics</h3>")
        out.append(
            '<p class="hint">What could not be decoded or had to be cut, by layer and kind.</p>'
        )
        drows = []
        for d in diags:
            listed = ", ".join(map(str, d["frames"]))
            if d["frames_total"] > len(d["frames"]):
                listed += f" \u2026 ({d['frames_total']} frames)"
            drows.append(
                [
                    _e(d["layer"]),
                    _e(d["kind"]),
                    f'<span class="badge {_e(d["level"])}">{_e(d["level"])}</span>',
                    str(d["count"]),
                    f'<span class="mono">{_e(listed)}</span>',
                    _e(d["example"]),
                ]
            )
        out += _table(["Layer", "Kind", "Level", "Count", "Frames", "Example"], drows, numeric=[3])
    out.append("</section>")
    return out


def _summary_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    s = report["summary"]
    rec = s["records"]
    caps = "<br>".join(
        f'<span class="mono">{_e(c["name"])}</span>: '
        f"{'?' if c['packets'] is None else c['packets']} packets, "
        f"{c['sip_messages']} SIP messages"
        for c in report["captures"]
    )
    rows = [
        ("Captures", caps),
        ("First message", _e(_human_time(s["first_time"])) or "none"),
        ("Last message", _e(_human_time(s["last_time"])) or "none"),
        ("Duration", _e(duration(s["duration_s"])) or "0 s"),
        ("Packets read", "unknown" if s["packets"] is None else str(s["packets"])),
        ("SIP messages", _e(messages_text(s))),
        ("Requests by method", _chips(s["methods"])),
        ("Responses by status", _chips(s["status_codes"], status=True)),
        ("Transports", _chips(s["transports"])),
        ("Records", _e(records_text(rec))),
    ]
    if s["call_outcomes"]:
        rows.append(("Call outcomes", _chips(s["call_outcomes"])))
    flows = s["flows"]
    if any(flows.values()):
        rows.append(
            (
                "Connections",
                f"{flows['tcp']} TCP, {flows['tls']} TLS (encrypted, not readable), "
                f"{flows['websocket']} WebSocket",
            )
        )
    rows.append(("Findings", _e(findings_text(s["findings"]))))
    if not s["diagnostics"]:
        rows.append(("Diagnostics", "none: every packet was decoded"))
    return rows


def _human_time(iso: str | None) -> str:
    """``2024-03-01 09:00:04.210123 UTC`` (microseconds; the JSON report has nanoseconds)."""
    return "" if iso is None else f"{iso[:10]} {iso[11:26]} UTC"


def _chips(counts: Mapping[str, int], status: bool = False) -> str:
    if not counts:
        return "none"
    out = []
    for k, v in counts.items():
        cls = "chip"
        if status and k[:1].isdigit():
            cls += f" s{k[0]}xx"
        out.append(f'<span class="{cls}">{_e(k)} <b>{v}</b></span>')
    return " ".join(out)


def _sev(severity: str) -> str:
    return f'<span class="badge {_e(severity)}">{_e(severity)}</span>'


def _findings_section(report: Mapping[str, Any], arrow_of: Mapping[int, str]) -> list[str]:
    groups = report["findings"]
    out = ['<section id="findings">', "<h2>Findings</h2>"]
    if not groups:
        out += ['<p class="ok">No findings: every rule run passed.</p>', "</section>"]
        return out
    total_listed = sum(len(g["occurrences"]) for g in groups)
    open_attr = " open" if total_listed <= OPEN_FINDINGS else ""
    out.append(
        '<p class="hint">Grouped by rule, most severe first. Click a frame number to see '
        "the message in its ladder.</p>"
    )
    for g in groups:
        out.append(f'<details class="rule {_e(g["severity"])}"{open_attr}>')
        out.append(
            f"<summary>{_sev(g['severity'])} "
            f'<span class="rule-id">{_e(g["rule"])}</span> '
            f'<span class="rule-summary">{_e(g["summary"])}</span> '
            f'<span class="rule-count">\u00d7{g["count"]}</span> '
            f'<span class="rule-rfc">{_e(g["rfc"])}</span></summary>'
        )
        out.append('<ol class="occurrences">')
        for o in g["occurrences"]:
            target = next((arrow_of[i] for i in o["messages"] if i in arrow_of), None)
            label = "frame " if len(o["frames"]) == 1 else "frames "
            label += frames_text(o["frames"])
            if target is not None:
                where = (
                    f'<a class="goto" href="#{_e(target)}" data-arrow="{_e(target)}">'
                    f"{_e(label)}</a>"
                )
            else:
                where = f'<span class="occ-frames">{_e(label)}</span>'
            extra = ""
            if o["severity"] != g["severity"]:
                extra += " " + _sev(o["severity"])
            if "capture" in o:
                extra += f' <span class="occ-where">{_e(o["capture"])}</span>'
            if o["dialog"] is not None:
                extra += f' <span class="occ-where">dialog {o["dialog"]}</span>'
            out.append(f'<li>{where}{extra} <span class="occ-text">{_e(o["message"])}</span></li>')
        out.append("</ol>")
        if g["occurrences_omitted"]:
            out.append(
                f'<p class="limit-note">{g["occurrences_omitted"]} more occurrences not listed '
                f"(at most {len(g['occurrences'])} per rule).</p>"
            )
        out.append("</details>")
    out.append("</section>")
    return out


def _ladder_link(key: str | None, text: str = "ladder") -> str:
    if key is None:
        return ""
    return f'<a class="goto" href="#{_e(key)}" data-open="{_e(key)}">{_e(text)}</a>'


def _calls_section(report: Mapping[str, Any], ladders: Mapping[int, str]) -> list[str]:
    calls = report["calls"]
    if not calls["total"]:
        return []
    rows = []
    for c in calls["rows"]:
        status = "" if c["final_status"] is None else f" {c['final_status']}"
        dialog = c["answered_dialog"] if c["answered_dialog"] is not None else None
        if dialog is None and c["dialogs"]:
            dialog = c["dialogs"][0]
        rows.append(
            [
                f'<span class="mono cid">{_e(c["call_id"])}</span>',
                _e(party(c["caller_name"], c["caller_uri"])),
                _e(party(c["callee_name"], c["callee_uri"])),
                f'<span class="outcome {_e(c["outcome"])}">{_e(c["outcome"])}{status}</span>',
                _e(clock(c["invite_time"])),
                _e(duration(c["ringing_delay_s"])),
                _e(duration(c["setup_time_s"])),
                _e(duration(c["duration_s"])),
                _e(c["hangup_by"]),
                _e(frames(c["frames"])),
                _ladder_link(None if dialog is None else ladders.get(dialog)),
            ]
        )
    out = ['<section id="calls">', f"<h2>Calls <small>{calls['total']}</small></h2>"]
    out += _table(
        [
            "Call-ID",
            "From",
            "To",
            "Outcome",
            "INVITE at",
            '<abbr title="INVITE to the first 18x (post-dial delay)">Ringing</abbr>',
            '<abbr title="INVITE to the 2xx (setup time)">Answered</abbr>',
            '<abbr title="2xx to the BYE">Duration</abbr>',
            "Hung up by",
            "Frames",
            "",
        ],
        rows,
        numeric=[5, 6, 7],
    )
    out += _more_note(calls["total"], calls["shown"], "calls")
    out.append("</section>")
    return out


def _dialogs_section(report: Mapping[str, Any], ladders: Mapping[int, str]) -> list[str]:
    dialogs = report["dialogs"]
    if not dialogs["total"]:
        return []
    rows = []
    for d in dialogs["rows"]:
        states = " \u2192 ".join(
            f'<span class="state {_e(s["state"])}">{_e(s["state"])}</span>'
            f' <span class="cause">{_e(s["cause"])}</span>'
            for s in d["states"]
        )
        nf = d["findings"]
        rows.append(
            [
                str(d["dialog"]),
                f'<span class="mono cid">{_e(d["call_id"])}</span>',
                _e(d["method"]),
                states,
                _e(clock(d["created_time"])),
                _e(clock(d["terminated_time"])),
                f'<span class="nf">{nf}</span>' if nf else "0",
                str(d["messages"]),
                _e(frames(d["frames"])),
                _ladder_link(ladders.get(d["dialog"])),
            ]
        )
    out = ['<section id="dialogs">', f"<h2>Dialogs <small>{dialogs['total']}</small></h2>"]
    out += _table(
        [
            "Dialog",
            "Call-ID",
            "Method",
            "States",
            "Created",
            "Ended",
            "Findings",
            "Messages",
            "Frames",
            "",
        ],
        rows,
        numeric=[0, 6, 7],
    )
    out += _more_note(dialogs["total"], dialogs["shown"], "dialogs")
    out.append("</section>")
    return out


def _iso_ns(iso: str | None) -> int | None:
    """An ISO time of the report (``...T09:00:00.123456789Z``) as nanoseconds."""
    if iso is None:
        return None
    sec = calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    return sec * _NS + int(iso[20:29])


class _Scale:
    """Positions on the capture's time span, in percent of the bar."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        s = report["summary"]
        self.start = _iso_ns(s["first_time"]) or 0
        end = _iso_ns(s["last_time"]) or self.start
        self.span = max(end - self.start, 1)

    def pct(self, iso: str | None) -> float:
        ns = _iso_ns(iso)
        if ns is None:
            return 100.0
        return min(max((ns - self.start) * 100 / self.span, 0.0), 100.0)


def _bar(
    segments: Sequence[tuple[float, float, str, str]], ticks: Sequence[tuple[float, str, str]]
) -> str:
    """A timeline bar: (start %, end %, class, title) segments and (at %, class, title) ticks."""
    parts = ['<div class="tl">']
    for a, b, cls, title in segments:
        parts.append(
            f'<span class="seg {_e(cls)}" style="left:{a:.2f}%;width:{max(b - a, 0.4):.2f}%" '
            f'title="{_e(title)}"></span>'
        )
    for at, cls, title in ticks:
        parts.append(
            f'<span class="tick {_e(cls)}" style="left:{at:.2f}%" title="{_e(title)}"></span>'
        )
    parts.append("</div>")
    return "".join(parts)


def _subscriptions_section(report: Mapping[str, Any], ladders: Mapping[int, str]) -> list[str]:
    subs = report["subscriptions"]
    if not subs["total"]:
        return []
    scale = _Scale(report)
    out = [
        '<section id="subscriptions">',
        f"<h2>Subscriptions <small>{subs['total']}</small></h2>",
        '<p class="hint">Each bar spans the whole capture: coloured stretches are the '
        "subscription's states (pending, active, terminated), ticks its NOTIFYs. "
        "Hover for details.</p>",
        _legend(
            ("pending", "pending"),
            ("active", "active"),
            ("terminated", "terminated"),
            ("notify", "NOTIFY"),
        ),
    ]
    rows = []
    for s in subs["rows"]:
        segs = []
        tl = s["timeline"]
        for k, e in enumerate(tl):
            a = scale.pct(e["time"])
            b = scale.pct(tl[k + 1]["time"]) if k + 1 < len(tl) else 100.0
            if e["state"] == "terminated":
                b = a
            frame = "" if e["frame"] is None else f", frame {e['frame']}"
            title = f"{clock(e['time'])} {e['state']} ({e['cause']}{frame})"
            segs.append((a, b, e["state"], title))
        ticks = [
            (
                scale.pct(n["time"]),
                "notify",
                f"{clock(n['time'])} NOTIFY CSeq {n['cseq']}: "
                f"{n['subscription_state'] or 'no Subscription-State'}"
                + ("" if n["final_status"] is None else f" \u2192 {n['final_status']}"),
            )
            for n in s["notifications"]
        ]
        events = "".join(
            f'<li>{_e(clock(e["time"]))} <span class="state {_e(e["state"])}">'
            f"{_e(e['state'])}</span> {_e(e['cause'])}"
            + ("" if e["frame"] is None else f" (frame {e['frame']})")
            + "</li>"
            for e in tl
        )
        notifies = "".join(
            f"<li>{_e(clock(n['time']))} NOTIFY CSeq {_e(n['cseq'])}: "
            f'<span class="mono">{_e(n["subscription_state"] or "no Subscription-State")}'
            "</span>"
            + ("" if n["final_status"] is None else f" \u2192 {n['final_status']}")
            + "</li>"
            for n in s["notifications"]
        )
        detail = ""
        if events or notifies:
            omitted = s["timeline_omitted"] + s["notifications_omitted"]
            detail = (
                '<details class="events"><summary>events</summary>'
                + (f'<ul class="events">{events}</ul>' if events else "")
                + (f'<ul class="events">{notifies}</ul>' if notifies else "")
                + (f'<p class="limit-note">{omitted} more not listed.</p>' if omitted else "")
                + "</details>"
            )
        rows.append(
            [
                str(s["subscription"]),
                _e(s["event"]),
                f'<span class="mono cid">{_e(s["call_id"])}</span>',
                f'<span class="state {_e(s["state"])}">{_e(s["state"] or "unknown")}</span>',
                f"{_opt(s['requested_expires'])} / {_opt(s['granted_expires'])}",
                f"{s['subscribes']} / {s['notifies']}",
                _bar(segs, ticks) + detail,
                _ladder_link(None if s["dialog"] is None else ladders.get(s["dialog"])),
            ]
        )
    out += _table(
        [
            "Id",
            "Event",
            "Call-ID",
            "State",
            "Expires asked / granted",
            "SUBSCRIBE / NOTIFY",
            "Timeline",
            "",
        ],
        rows,
        cls="timelines",
    )
    out += _more_note(subs["total"], subs["shown"], "subscriptions")
    out.append("</section>")
    return out


def _opt(value: object) -> str:
    return "\u2013" if value is None else _e(value)


def _legend(*items: tuple[str, str]) -> str:
    return (
        '<p class="legend">'
        + " ".join(f'<span class="key {_e(c)}"></span>{_e(t)}' for c, t in items)
        + "</p>"
    )


_BINDING_ON = frozenset(("registered", "refreshed", "listed"))


def _registrations_section(report: Mapping[str, Any]) -> list[str]:
    regs = report["registrations"]
    if not regs["total"]:
        return []
    scale = _Scale(report)
    out = [
        '<section id="registrations">',
        f"<h2>Registrations <small>{regs['total']}</small></h2>",
        '<p class="hint">Bars span the whole capture: green while a binding is in place; '
        "ticks are REGISTER attempts coloured by outcome.</p>",
        _legend(
            ("active", "bound"),
            ("registered", "registered"),
            ("challenged", "challenged"),
            ("rejected", "rejected / failed"),
        ),
    ]
    rows = []
    for r in regs["rows"]:
        segs: list[tuple[float, float, str, str]] = []
        open_at: dict[str, tuple[float, str]] = {}
        for e in r["events"]:
            at = scale.pct(e["time"])
            contact = e["contact"]
            if contact in open_at:
                a, title = open_at.pop(contact)
                segs.append((a, at, "active", title))
            if e["event"] in _BINDING_ON:
                open_at[contact] = (
                    at,
                    f"{contact}: {e['event']} at {clock(e['time'])}"
                    + ("" if e["expires"] is None else f" for {e['expires']} s"),
                )
        for contact, (a, title) in open_at.items():
            end = next(
                (scale.pct(b["expires_at"]) for b in r["bindings"] if b["contact"] == contact),
                100.0,
            )
            segs.append((a, end, "active", title))
        ticks = [
            (
                scale.pct(a["time"]),
                _attempt_class(a["outcome"]),
                f"{clock(a['time'])} REGISTER CSeq {a['cseq']}: {a['outcome']}"
                + ("" if a["final_status"] is None else f" ({a['final_status']})"),
            )
            for a in r["attempts"]
        ]
        events = "".join(
            f"<li>{_e(clock(e['time']))} <b>{_e(e['event'])}</b> "
            f'<span class="mono">{_e(e["contact"])}</span>'
            + ("" if e["expires"] is None else f" ({e['expires']} s)")
            + ("" if e["frame"] is None else f" (frame {e['frame']})")
            + "</li>"
            for e in r["events"]
        )
        detail = ""
        if events:
            more = r["events_omitted"]
            detail = (
                '<details class="events"><summary>binding events</summary>'
                f'<ul class="events">{events}</ul>'
                + (f'<p class="limit-note">{more} more not listed.</p>' if more else "")
                + "</details>"
            )
        outcome = _e(r["last_outcome"]) + (
            "" if r["last_status"] is None else f" ({r['last_status']})"
        )
        bindings = "<br>".join(
            f'<span class="mono">{_e(b["contact"])}</span>'
            + ("" if b["expires"] is None else f" ({b['expires']} s)")
            for b in r["bindings"]
        )
        rows.append(
            [
                f'<span class="mono">{_e(r["aor"])}</span>',
                str(len(r["attempts"]) + r["attempts_omitted"]),
                f'<span class="outcome {_e(r["last_outcome"])}">{outcome}</span>',
                bindings or "none",
                _bar(segs, ticks) + detail,
                _e(frames(r["frames"])),
            ]
        )
    out += _table(
        ["AoR", "Attempts", "Last outcome", "Bindings at the end", "Timeline", "Frames"],
        rows,
        cls="timelines",
        numeric=[1],
    )
    out += _more_note(regs["total"], regs["shown"], "registrations")
    out.append("</section>")
    return out


def _attempt_class(outcome: str) -> str:
    if outcome in ("registered", "deregistered", "queried"):
        return "registered"
    if outcome == "challenged":
        return "challenged"
    return "rejected"


def _plots_section(plots: Sequence[Any]) -> list[str]:
    if not plots:
        return []
    out = ['<section id="plots">', "<h2>Plots</h2>", '<div class="plots">']
    for p in plots:
        out += [
            f'<figure id="{_e(p.id)}">',
            f"<figcaption><b>{_e(p.title)}</b> {_e(p.caption)}</figcaption>",
            p.svg,
            "</figure>",
        ]
    out += ["</div>", "</section>"]
    return out


def _ladders_section(drawn: Sequence[_DrawnLadder], total: int, no_call_id: int) -> list[str]:
    if not drawn and not no_call_id:
        return []
    open_attr = " open" if len(drawn) <= OPEN_LADDERS else ""
    out = ['<section id="ladders">', f"<h2>Ladders <small>{len(drawn)}</small></h2>"]
    hint = "One per dialog, and one per Call-ID for messages outside dialogs. "
    hint += "Click an arrow to see the whole message."
    out.append(f'<p class="hint">{hint}</p>')
    if no_call_id:
        out.append(
            f'<p class="limit-note">{plural(no_call_id, "message")} without a Call-ID '
            f"{'is' if no_call_id == 1 else 'are'} in no ladder.</p>"
        )
    if total > len(drawn):
        out.append(
            f'<p class="limit-note">{len(drawn)} of {total} ladders drawn (at most {MAX_LADDERS}; '
            "those with the most severe findings first). Draw any other one with "
            "<code>sip-analyzer ladder</code>.</p>"
        )
    if len(drawn) > 1:
        out.append(
            '<p class="tools"><button type="button" data-ladders="open">Expand all</button> '
            '<button type="button" data-ladders="close">Collapse all</button></p>'
        )
    for d in drawn:
        g = d.group
        badge = ""
        if g.findings:
            sev = {2: "error", 1: "warning", 0: "info"}.get(g.worst, "info")
            badge = f' <span class="badge {sev}">{plural(g.findings, "finding")}</span>'
        out.append(
            f'<details class="ladder-group" id="{_e(g.key)}" data-kind="{_e(g.kind)}"'
            f"{'' if g.dialog is None else f' data-dialog={g.dialog}'}{open_attr}>"
        )
        out.append(
            f"<summary><b>{_e(g.title)}</b> \u00b7 "
            f'Call-ID <span class="mono">{_e(g.call_id)}</span> \u00b7 '
            f"{plural(len(g.messages), 'message')}{badge}</summary>"
        )
        for note in d.notes:
            out.append(f'<p class="limit-note">{_e(note)}</p>')
        out.append(d.html)
        out.append("</details>")
    out.append("</section>")
    return out


def _limits_section(report: Mapping[str, Any], total_ladders: int, drawn: int) -> list[str]:
    cuts = list(report["cuts"])
    if total_ladders > drawn:
        cuts.append(f"ladders: {drawn} of {total_ladders} drawn (at most {MAX_LADDERS})")
    out = ['<footer id="limits">']
    if cuts:
        out.append("<h2>Limits reached</h2><ul>")
        out += [f"<li>{_e(c)}</li>" for c in cuts]
        out.append("</ul>")
    lim = report["limits"]
    out.append(
        '<p class="hint">Report limits: '
        + _e(counts_text({k.replace("_", " "): v for k, v in lim.items()}, ": "))
        + f"; ladders: {MAX_LADDERS}.</p>"
    )
    out.append("</footer>")
    return out


_REPORT_JS = """
(function () {
  "use strict";
  function openAround(el) {
    var d = el.closest("details");
    while (d) {
      d.open = true;
      d = d.parentElement ? d.parentElement.closest("details") : null;
    }
  }
  function showArrow(id) {
    var el = document.getElementById(id);
    if (!el) { return false; }
    openAround(el);
    el.scrollIntoView({block: "center"});
    el.dispatchEvent(new MouseEvent("click", {bubbles: true}));
    return true;
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) { return; }
    var a = t.closest("a[data-arrow]");
    if (a && showArrow(a.getAttribute("data-arrow"))) { ev.preventDefault(); return; }
    var o = t.closest("a[data-open]");
    if (o) {
      var d = document.getElementById(o.getAttribute("data-open"));
      if (d) { d.open = true; d.scrollIntoView({block: "start"}); ev.preventDefault(); }
      return;
    }
    var b = t.closest("button[data-ladders]");
    if (b) {
      var open = b.getAttribute("data-ladders") === "open";
      document.querySelectorAll("details.ladder-group").forEach(function (d) { d.open = open; });
    }
  });
  if (location.hash.length > 1) {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = document.getElementById(id);
    if (el && el.closest(".ladder")) { showArrow(id); }
    else if (el && el.tagName === "DETAILS") { el.open = true; }
  }
})();
"""

_REPORT_CSS = """
:root {
  --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #ffffff; --soft: #f5f7fa;
  --error: #c62828; --warning: #b26a00; --info: #1565c0; --ok: #2e7d32; --accent: #3949ab;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color: var(--fg); background: var(--soft); }
header { background: #263047; color: #fff;
  padding: .55rem 1.5rem; display: flex; flex-wrap: wrap; align-items: baseline; gap: .4rem 1.2rem;
  box-shadow: 0 1px 4px rgba(0,0,0,.25); }
header h1 { font-size: 1.15rem; margin: 0; font-weight: 600; }
header h1 .captures { font-weight: 400; opacity: .85; margin-left: .4rem;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .95rem; }
header .span { margin: 0; opacity: .75; font-size: .85rem; }
header nav { margin-left: auto; display: flex; flex-wrap: wrap; gap: .2rem .9rem; }
header nav a { color: #cfd8ff; text-decoration: none; font-size: .9rem; }
header nav a:hover { color: #fff; text-decoration: underline; }
main { max-width: 1280px; margin: 0 auto; padding: 1rem 1.5rem 2rem; }
section, footer { background: var(--bg); border: 1px solid var(--line); border-radius: 8px;
  padding: .9rem 1.2rem 1.1rem; margin: 0 0 1rem; }
footer { max-width: 1280px; margin: 0 auto 2rem; }
h2 { font-size: 1.15rem; margin: .1rem 0 .7rem; }
h2 small { color: var(--muted); font-weight: 400; font-size: .85rem; margin-left: .3rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.hint { color: var(--muted); margin: .2rem 0 .6rem; font-size: .9rem; }
.limit-note { color: var(--warning); margin: .4rem 0; font-size: .9rem; }
.ok { color: var(--ok); font-weight: 600; }
.mono, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .86em; overflow-wrap: anywhere; }
.cid { display: inline-block; min-width: 20ch; max-width: 32ch; }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; margin-bottom: .9rem; }
.card { min-width: 7.2rem; padding: .45rem .8rem; border-radius: 6px; background: var(--soft);
  border: 1px solid var(--line); display: flex; flex-direction: column; }
.card .n { font-size: 1.45rem; font-weight: 650; line-height: 1.2; }
.card .label { color: var(--muted); font-size: .8rem; }
.card.error:not(.zero) { background: #fdecea; border-color: #f5c2c0; color: var(--error); }
.card.warning:not(.zero) { background: #fff4e0; border-color: #f3d39b; color: var(--warning); }
.card.info:not(.zero) { background: #e8f1fd; border-color: #bcd5f5; color: var(--info); }
.card.zero .n { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .45rem;
  border-bottom: 1px solid var(--line); }
thead th { background: #eef1f6; font-weight: 600; position: sticky; top: 0; }
abbr[title] { text-decoration: underline dotted; cursor: help; }
tbody tr:hover { background: #f8f9fc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv { width: auto; }
table.kv th { color: var(--muted); font-weight: 500; white-space: nowrap; padding-right: 1.5rem;
  background: none; position: static; }
.table-wrap { overflow-x: auto; }
.table-wrap.scroll { max-height: 32rem; overflow-y: auto; border: 1px solid var(--line);
  border-radius: 6px; }
.chip { display: inline-block; padding: 0 .45rem; margin: 0 .2rem .2rem 0; border-radius: 10px;
  background: #eef1f6; font-size: .85rem; white-space: nowrap; }
.chip.s1xx { background: #e8f1fd; } .chip.s2xx { background: #e6f4ea; }
.chip.s3xx { background: #f3e8fd; } .chip.s4xx { background: #fff4e0; }
.chip.s5xx, .chip.s6xx { background: #fdecea; }
.badge { display: inline-block; min-width: 4.2rem; text-align: center; padding: 0 .4rem;
  border-radius: 4px; font-size: .75rem; font-weight: 700; text-transform: uppercase;
  letter-spacing: .03em; color: #fff; background: var(--info); vertical-align: 1px; }
.badge.error { background: var(--error); } .badge.warning { background: var(--warning); }
details.rule { border: 1px solid var(--line); border-left: 4px solid var(--info);
  border-radius: 6px; margin: .45rem 0; background: var(--bg); }
details.rule.error { border-left-color: var(--error); }
details.rule.warning { border-left-color: var(--warning); }
details.rule > summary { cursor: pointer; padding: .4rem .7rem; list-style-position: outside; }
details.rule > summary:hover { background: var(--soft); }
.rule-id { font-weight: 700; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  margin: 0 .3rem; }
.rule-summary { font-weight: 500; }
.rule-count { color: var(--muted); margin-left: .3rem; font-weight: 600; }
.rule-rfc { color: var(--muted); font-size: .85rem; float: right; margin-left: 1rem; }
ol.occurrences { margin: 0; padding: .1rem 1rem .6rem 2.6rem; }
ol.occurrences li { margin: .2rem 0; }
a.goto, .occ-frames { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .85rem; white-space: nowrap; margin-right: .4rem; }
a.goto { color: var(--accent); }
.occ-where { color: var(--muted); font-size: .8rem; margin-right: .4rem; white-space: nowrap; }
.outcome, .state { font-weight: 600; }
.outcome.answered, .outcome.registered, .state.active, .state.confirmed { color: var(--ok); }
.outcome.busy, .outcome.cancelled, .outcome.challenged, .state.pending, .state.early {
  color: var(--warning); }
.outcome.rejected, .outcome.failed, .outcome.no_final { color: var(--error); }
.state.terminated, .outcome.unfinished, .outcome.deregistered { color: var(--muted); }
.cause { color: var(--muted); font-size: .85em; }
.nf { color: var(--error); font-weight: 600; }
table.timelines td:nth-last-child(2) { min-width: 16rem; width: 35%; }
.tl { position: relative; height: 14px; margin: .25rem 0; background: #eef1f6; border-radius: 3px; }
.tl .seg { position: absolute; top: 2px; height: 10px; border-radius: 2px; }
.tl .tick { position: absolute; top: 0; width: 3px; height: 14px; margin-left: -1px;
  border-radius: 1px; }
.seg.pending, .key.pending { background: #f0b429; }
.seg.active, .key.active { background: #43a047; }
.seg.terminated, .key.terminated { background: #757575; min-width: 3px; }
.tick.notify, .key.notify { background: #1e4fa3; }
.tick.registered, .key.registered { background: #1b5e20; }
.tick.challenged, .key.challenged { background: #f0b429; }
.tick.rejected, .key.rejected { background: var(--error); }
.legend { font-size: .8rem; color: var(--muted); margin: 0 0 .5rem; }
.legend .key { display: inline-block; width: .9rem; height: .6rem; border-radius: 2px;
  margin: 0 .3rem 0 .8rem; vertical-align: 0; }
.legend .key:first-child { margin-left: 0; }
details.events > summary { cursor: pointer; color: var(--accent); font-size: .8rem; }
ul.events { margin: .2rem 0; padding-left: 1.1rem; font-size: .85rem; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1rem; }
figure { margin: 0; }
figcaption { font-size: .88rem; color: var(--muted); margin-bottom: .3rem; }
figcaption b { color: var(--fg); margin-right: .3rem; }
svg.plot-svg { width: 100%; height: auto; display: block; }
details.ladder-group { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0;
  background: var(--bg); }
details.ladder-group > summary { cursor: pointer; padding: .45rem .7rem; background: var(--soft);
  border-radius: 6px; }
details.ladder-group[open] > summary { border-bottom: 1px solid var(--line);
  border-radius: 6px 6px 0 0; }
details.ladder-group > .ladder, details.ladder-group > .limit-note { margin: .5rem .7rem; }
.tools button { font: inherit; font-size: .85rem; padding: .15rem .7rem; border-radius: 4px;
  border: 1px solid var(--line); background: var(--soft); cursor: pointer; }
.tools button:hover { background: #e6eaf2; }
footer h2 { font-size: 1rem; }
"""
