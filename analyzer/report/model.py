"""The report as plain data: what ``sip-analyzer report`` shows, in every format.

:func:`build_report` reads an :class:`~analyzer.analysis.Analysis` and
returns a JSON-ready ``dict`` (strings, numbers, booleans, None, lists and
dicts only); the renderers (:func:`render_json`,
:func:`~analyzer.report.markdown.render_markdown`,
:func:`~analyzer.report.html.render_html`) only format it.  The document is
deterministic: capture files appear by their base name, times are those of
the capture (ISO 8601 UTC), nothing depends on the clock or the machine.

Top-level keys (``schema_version`` 1):

* ``captures``: per file its name, packets read, SIP messages and span.
* ``summary``: span, counts of packets, messages, methods, status codes,
  transports, records, call outcomes, findings by severity, and the
  diagnostics counted by layer and kind with their frames.
* ``findings``: one group per rule (worst first) with its count and the
  occurrences (frames, message indices, sentence, dialog).
* ``calls``, ``dialogs``, ``subscriptions``, ``registrations``: each
  ``{"total": n, "shown": k, "rows": [...]}``.
* ``limits``: the caps below; ``cuts``: one sentence per cap that was hit.

Every list that can grow with the capture is capped by a named constant, and
a cap that cuts something says so in ``cuts`` (and in ``shown`` /
``*_omitted`` next to the list), never silently.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import CaptureError, Diagnostic, SipParseError
from ..options import Options
from ..render.findings import severity_counts
from ..render.messages import format_time
from ..rules.base import Finding, Severity, rule_sort_key
from ..sip.message import SipMessage, SipRequest
from ..sip.values import parse_name_addr

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..correlation import Call, Dialog, Registration, Subscription

__all__ = [
    "MAX_DIAGNOSTIC_FRAMES",
    "MAX_OCCURRENCES_PER_RULE",
    "MAX_ROWS",
    "MAX_TIMELINE",
    "SCHEMA_VERSION",
    "build_report",
    "diagnostic_kind",
    "render_json",
]

#: Version of the document's layout; raised when a key changes meaning or goes.
SCHEMA_VERSION = 1

# A rule that fires on every message of a large capture would otherwise list
# tens of thousands of sentences that all say the same thing; the first 50
# (in capture order) show the pattern and the count says how many there are.
MAX_OCCURRENCES_PER_RULE = 50

# Rows of each of the calls, dialogs, subscriptions and registrations lists.
# A report is read by a person: past a thousand rows the tables (and the
# HTML page) stop being useful, and the CSV/JSON-lines tables of the
# ``calls``/``dialogs``/... commands hold them all.
MAX_ROWS = 1000

# Entries of one subscription's or registration's timeline (state changes,
# notifications, binding events, attempts).  A long-running subscription
# refreshed every minute for a day has over a thousand.
MAX_TIMELINE = 100

# Frame numbers listed per diagnostic kind; a capture cut short or full of
# TCP gaps can have thousands, and the first few are enough to go and look.
MAX_DIAGNOSTIC_FRAMES = 20

_NS = 1_000_000_000


def build_report(
    analysis: Analysis,
    options: Options | None = None,
    *,
    findings: Sequence[Finding] | None = None,
) -> dict[str, Any]:
    """The report of ``analysis`` as JSON-ready plain data (see the module docstring).

    ``options`` select the validation rules as for ``check`` (default: the
    analysis's own options); ``findings``, when given, are used instead of
    running the rules again (they must come from the same analysis and
    options).
    """
    from ..rules import select_rules

    if findings is None:
        findings = analysis.check(options)
    options = options if options is not None else analysis.options
    cuts: list[str] = []
    names = _capture_names(analysis.sources)
    dialog_of = analysis.correlation.message_dialog
    packets = [_frames_read(analysis, i) for i in range(len(analysis.stats))]
    per_dialog = Counter(
        d for d in (_finding_dialog(f, dialog_of) for f in findings) if d is not None
    )
    calls = analysis.correlation.calls
    dialogs = analysis.correlation.dialogs
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "captures": _captures(analysis, names, packets),
        "summary": _summary(analysis, findings, len(select_rules(options)), packets),
        "findings": _findings(analysis, findings, names, dialog_of, cuts),
        "calls": _capped(
            "calls",
            [_call_row(c, analysis.sip_messages) for c in calls[:MAX_ROWS]],
            cuts,
            len(calls),
        ),
        "dialogs": _capped(
            "dialogs",
            [_dialog_row(d, per_dialog) for d in dialogs[:MAX_ROWS]],
            cuts,
            len(dialogs),
        ),
        "subscriptions": _capped(
            "subscriptions",
            [_subscription_row(s, cuts) for s in analysis.correlation.subscriptions],
            cuts,
        ),
        "registrations": _capped(
            "registrations",
            [_registration_row(r, cuts) for r in analysis.correlation.registrations],
            cuts,
        ),
        "limits": {
            "max_occurrences_per_rule": MAX_OCCURRENCES_PER_RULE,
            "max_rows": MAX_ROWS,
            "max_timeline": MAX_TIMELINE,
            "max_diagnostic_frames": MAX_DIAGNOSTIC_FRAMES,
        },
        "cuts": cuts,
    }
    return report


# An array of numbers as json.dumps(indent=2) writes it: one number per line.
# Strings never hold a raw newline in JSON text, so this matches structure only.
_NUMBER_ARRAY_RE = re.compile(r"\[\n\s*(-?[0-9.e+-]+(?:,\n\s*-?[0-9.e+-]+)*)\n\s*\]")


def render_json(report: Mapping[str, Any]) -> str:
    """The report as indented JSON (UTF-8, non-ASCII kept), ending with a newline.

    Arrays of numbers (frames, message indices) stay on one line.
    """
    text = json.dumps(report, indent=2, ensure_ascii=False)
    text = _NUMBER_ARRAY_RE.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m[1]) + "]", text)
    return text + "\n"


# -- captures and summary -----------------------------------------------------


def _capture_names(sources: Sequence[str]) -> list[str]:
    """Base names of the capture files (no directories: the report is portable)."""
    return [os.path.basename(s) or s for s in sources]


def _time(ts_ns: int | None) -> str | None:
    return None if ts_ns is None else format_time(ts_ns)


def _seconds(ns: int | None) -> float | None:
    """Nanoseconds as seconds, rounded to the microsecond (JSON numbers stay short)."""
    return None if ns is None else round(ns / _NS, 6)


def _frames_read(analysis: Analysis, index: int) -> int | None:
    """How many packets the reader went through in capture ``index``.

    Taken from the extraction statistics when they carry it; otherwise the
    file's frames are counted again (a fast walk over the record headers).
    None when the file can no longer be read.
    """
    value = getattr(analysis.stats[index], "frames_read", None)
    if isinstance(value, int):
        return value
    from ..capture import open_capture

    try:
        with open_capture(analysis.sources[index]) as capture:
            for _ in capture:
                pass
            return capture.frames_read
    except CaptureError:
        return None


def _captures(
    analysis: Analysis, names: Sequence[str], packets: Sequence[int | None]
) -> list[dict[str, Any]]:
    return [
        {
            "name": names[i],
            "packets": packets[i],
            "sip_messages": s.sip_messages,
            "first_time": _time(s.first_ts_ns),
            "last_time": _time(s.last_ts_ns),
        }
        for i, s in enumerate(analysis.stats)
    ]


def _summary(
    analysis: Analysis,
    findings: Sequence[Finding],
    rules_run: int,
    packets: Sequence[int | None],
) -> dict[str, Any]:
    msgs = analysis.sip_messages
    corr = analysis.correlation
    methods: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    transports: Counter[str] = Counter()
    requests = truncated = 0
    for m in msgs:
        if m.origin.truncated:
            truncated += 1
        if isinstance(m, SipRequest):
            requests += 1
            methods[m.method] += 1
        else:
            statuses[m.status] += 1
        transports[m.origin.transport.value] += 1
    first, last = corr.capture_start_ns, corr.capture_end_ns
    stats = analysis.stats
    outcomes = Counter(c.outcome.value for c in corr.calls)
    counts = severity_counts(findings)
    return {
        "first_time": _time(first),
        "last_time": _time(last),
        "duration_s": None if first is None or last is None else _seconds(last - first),
        "packets": None if None in packets else sum(p for p in packets if p is not None),
        "sip_messages": len(msgs),
        "requests": requests,
        "responses": len(msgs) - requests,
        "unparsed": sum(s.unparsed for s in stats),
        "truncated_messages": truncated,
        "methods": dict(sorted(methods.items(), key=lambda kv: (-kv[1], kv[0]))),
        "status_codes": {str(k): v for k, v in sorted(statuses.items())},
        "transports": dict(sorted(transports.items(), key=lambda kv: (-kv[1], kv[0]))),
        "flows": {
            "tcp": sum(s.tcp_flows for s in stats),
            "tls": sum(s.tls_flows for s in stats),
            "websocket": sum(s.websocket_flows for s in stats),
        },
        "records": {
            "transactions": len(corr.transactions),
            "dialogs": len(corr.dialogs),
            "calls": len(corr.calls),
            "subscriptions": len(corr.subscriptions),
            "registrations": len(corr.registrations),
            "exchanges": len(corr.exchanges),
        },
        "call_outcomes": dict(sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "findings": {
            **counts,
            "total": len(findings),
            "rules": len({f.rule for f in findings}),
            "rules_run": rules_run,
        },
        "diagnostics": _diagnostics(analysis.diagnostic_records),
    }


# (kind, layer pattern, reason pattern), tried in order: the first match
# names the kind.  Reasons are sentences written by the decoders; these
# patterns follow their wording (analyzer/sip/framing.py, net/, capture/).
_DIAGNOSTIC_KINDS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (kind, re.compile(layer), re.compile(reason))
    for kind, layer, reason in (
        ("TLS flow (encrypted)", r"tls", r""),
        ("truncated by the snapshot length", r".*", r"snapshot length|snaplen"),
        ("TCP gap", r"sip-framing|tcp|websocket", r"bytes missing"),
        ("capture file cut short", r"capture", r"capture ends mid-record|truncated"),
        ("capture file damage", r"capture", r""),
        ("incomplete IP fragments", r"ip", r"not reassembled"),
        ("undecodable SIP message", r"sip", r"undecodable SIP message"),
        ("not SIP", r".*", r"not SIP|does not start with a SIP start line"),
        (
            "incomplete SIP message",
            r"sip-framing|websocket",
            r"short of Content-Length|incomplete|in the middle of a message",
        ),
        ("over a size limit", r".*", r"exceeds|larger than|limit"),
        ("bytes skipped", r"sip-framing|websocket", r"skipped|ignored|dropped"),
    )
)


def diagnostic_kind(d: Diagnostic) -> str:
    """A short name for what kind of damage ``d`` reports (``TCP gap``, ``TLS flow``...)."""
    for kind, layer, reason in _DIAGNOSTIC_KINDS:
        if layer.fullmatch(d.layer) and reason.search(d.reason):
            return kind
    return "other"


def _diagnostics(diags: Iterable[Diagnostic]) -> list[dict[str, Any]]:
    """Diagnostics counted by (layer, kind), with their frames (first ones) and a sample."""
    groups: dict[tuple[str, str], list[Diagnostic]] = {}
    for d in diags:
        groups.setdefault((d.layer, diagnostic_kind(d)), []).append(d)
    out: list[dict[str, Any]] = []
    for (layer, kind), members in sorted(groups.items()):
        frames = sorted({f for d in members for f in d.frames})
        levels = {d.level.value for d in members}
        level = next(v for v in ("error", "warning", "info") if v in levels)
        out.append(
            {
                "layer": layer,
                "kind": kind,
                "level": level,
                "count": len(members),
                "frames": frames[:MAX_DIAGNOSTIC_FRAMES],
                "frames_total": len(frames),
                "example": members[0].reason,
            }
        )
    return out


# -- findings -----------------------------------------------------------------


def _finding_dialog(f: Finding, dialog_of: Sequence[int | None]) -> int | None:
    """The dialog of the first of a finding's messages that belongs to one."""
    return next((dialog_of[i] for i in f.messages if dialog_of[i] is not None), None)


def _findings(
    analysis: Analysis,
    findings: Sequence[Finding],
    names: Sequence[str],
    dialog_of: Sequence[int | None],
    cuts: list[str],
) -> list[dict[str, Any]]:
    """Findings grouped by rule: worst severity first, then rule ID order."""
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    sources = analysis.message_sources
    groups: list[dict[str, Any]] = []
    for rule_id, members in by_rule.items():
        worst = max(f.severity for f in members)
        first = members[0]
        occurrences = []
        for f in members[:MAX_OCCURRENCES_PER_RULE]:
            occ: dict[str, Any] = {
                "frames": list(f.frames),
                "messages": list(f.messages),
                "message": f.message,
                "severity": f.severity.value,
                "dialog": _finding_dialog(f, dialog_of),
                "call_id": analysis.sip_messages[f.messages[0]].call_id if f.messages else None,
            }
            if sources is not None and f.messages:
                occ["capture"] = names[sources[f.messages[0]]]
            occurrences.append(occ)
        omitted = len(members) - len(occurrences)
        if omitted:
            cuts.append(
                f"findings {rule_id}: {len(occurrences)} of {len(members)} occurrences listed "
                f"(at most {MAX_OCCURRENCES_PER_RULE} per rule)"
            )
        groups.append(
            {
                "rule": rule_id,
                "severity": worst.value,
                "rfc": first.rfc,
                "summary": first.summary,
                "count": len(members),
                "occurrences": occurrences,
                "occurrences_omitted": omitted,
            }
        )
    groups.sort(key=lambda g: (-Severity(g["severity"]).rank, rule_sort_key(g["rule"])))
    return groups


# -- records ------------------------------------------------------------------


def _capped(
    name: str, rows: list[dict[str, Any]], cuts: list[str], total: int | None = None
) -> dict[str, Any]:
    """The first MAX_ROWS of ``rows`` with the count of all, ``total`` when they were
    cut already (a large capture has tens of thousands of calls and dialogs: only the
    rows shown are built)."""
    shown = rows[:MAX_ROWS]
    total = len(rows) if total is None else total
    if total > len(shown):
        cuts.append(f"{name}: {len(shown)} of {total} listed (at most {MAX_ROWS})")
    return {"total": total, "shown": len(shown), "rows": shown}


def _frame_span(frames: Sequence[int]) -> list[int]:
    """``[first, last]`` frame of a record (empty when it has none)."""
    return [frames[0], frames[-1]] if frames else []


def _display_names(c: Call, messages: Sequence[SipMessage]) -> tuple[str | None, str | None]:
    """The display names of the From and To of the call's first INVITE, when it has them."""
    invite = next(
        (
            m
            for i in c.messages
            if isinstance(m := messages[i], SipRequest) and m.method == "INVITE"
        ),
        None,
    )
    if invite is None:
        return None, None
    names: list[str | None] = []
    for header in ("from", "to"):
        value = invite.headers.get(header)
        try:
            names.append(None if value is None else parse_name_addr(value).display)
        except SipParseError:
            names.append(None)
    return names[0], names[1]


def _call_row(c: Call, messages: Sequence[SipMessage]) -> dict[str, Any]:
    caller_name, callee_name = _display_names(c, messages)
    return {
        "call": c.id,
        "call_id": c.call_id,
        "caller_name": caller_name,
        "caller_uri": c.caller_uri,
        "callee_name": callee_name,
        "callee_uri": c.callee_uri,
        "caller": None if c.caller is None else str(c.caller),
        "callee": None if c.callee is None else str(c.callee),
        "outcome": c.outcome.value,
        "final_status": c.final_status,
        "invite_time": _time(c.invite_ts_ns),
        "ringing_time": _time(c.ringing_ts_ns),
        "answer_time": _time(c.answer_ts_ns),
        "end_time": _time(c.end_ts_ns),
        "ringing_delay_s": _seconds(c.ringing_delay_ns),
        "setup_time_s": _seconds(c.answer_delay_ns),
        "duration_s": _seconds(c.duration_ns),
        "hangup_by": None if c.hangup_by is None else c.hangup_by.value,
        "attempts": len(c.attempts),
        "dialogs": list(c.dialogs),
        "answered_dialog": c.answered_dialog,
        "messages": len(c.messages),
        "frames": _frame_span(c.frames),
    }


def _dialog_row(d: Dialog, findings: Mapping[int, int]) -> dict[str, Any]:
    last = d.state_changes[-1]
    return {
        "dialog": d.id,
        "call_id": d.call_id,
        "method": d.method,
        "local_tag": d.local_tag,
        "remote_tag": d.remote_tag,
        "state": d.state.value,
        "states": [
            {
                "time": _time(c.ts_ns),
                "state": c.state.value,
                "cause": c.cause,
                "frame": c.frame,
                "message": c.message,
            }
            for c in d.state_changes
        ],
        "created_time": _time(d.created_ts_ns),
        "confirmed_time": _time(d.confirmed_ts_ns),
        "terminated_time": _time(d.terminated_ts_ns),
        "end_cause": last.cause if d.terminated_ts_ns is not None else None,
        "mid_dialog": d.mid_dialog,
        "findings": findings.get(d.id, 0),
        "messages": len(d.messages),
        "frames": _frame_span(d.frames),
    }


def _timeline(
    name: str, entries: list[dict[str, Any]], cuts: list[str]
) -> tuple[list[dict[str, Any]], int]:
    kept = entries[:MAX_TIMELINE]
    omitted = len(entries) - len(kept)
    if omitted:
        cuts.append(
            f"{name}: {len(kept)} of {len(entries)} entries listed (at most {MAX_TIMELINE})"
        )
    return kept, omitted


def _subscription_row(s: Subscription, cuts: list[str]) -> dict[str, Any]:
    granted = [r.granted_expires for r in s.requests if r.granted_expires is not None]
    timeline, timeline_omitted = _timeline(
        f"subscription {s.id} timeline",
        [
            {"time": _time(e.ts_ns), "state": e.state.value, "cause": e.cause, "frame": e.frame}
            for e in s.timeline
        ],
        cuts,
    )
    notifications, notifications_omitted = _timeline(
        f"subscription {s.id} notifications",
        [
            {
                "time": _time(n.ts_ns),
                "message": n.message,
                "cseq": n.cseq,
                "subscription_state": n.subscription_state,
                "state": n.state,
                "expires": n.expires,
                "reason": n.reason,
                "content_type": n.content_type,
                "final_status": n.final_status,
            }
            for n in s.notifications
        ],
        cuts,
    )
    return {
        "subscription": s.id,
        "call_id": s.call_id,
        "dialog": s.dialog,
        "event": s.event_package,
        "event_id": s.event_id,
        "state": None if s.state is None else s.state.value,
        "requested_expires": s.requests[0].expires if s.requests else None,
        "granted_expires": granted[-1] if granted else None,
        "subscribes": len(s.requests),
        "notifies": len(s.notifications),
        "expires_at": _time(s.expires_at_ns),
        "mid_dialog": s.mid_dialog,
        "timeline": timeline,
        "timeline_omitted": timeline_omitted,
        "notifications": notifications,
        "notifications_omitted": notifications_omitted,
        "frames": _frame_span(s.frames),
    }


def _registration_row(r: Registration, cuts: list[str]) -> dict[str, Any]:
    attempts, attempts_omitted = _timeline(
        f"registration {r.id} attempts",
        [
            {
                "time": _time(a.ts_ns),
                "transaction": a.transaction,
                "cseq": a.cseq,
                "outcome": a.outcome.value,
                "final_status": a.final_status,
                "requested": [{"contact": b.contact, "expires": b.expires} for b in a.requested],
                "frames": _frame_span(a.frames),
            }
            for a in r.attempts
        ],
        cuts,
    )
    events, events_omitted = _timeline(
        f"registration {r.id} binding events",
        [
            {
                "time": _time(e.ts_ns),
                "contact": e.contact,
                "event": e.event,
                "expires": e.expires,
                "frame": e.frame,
            }
            for e in r.events
        ],
        cuts,
    )
    last = r.attempts[-1]
    return {
        "registration": r.id,
        "aor": r.aor,
        "last_outcome": last.outcome.value,
        "last_status": last.final_status,
        "attempts": attempts,
        "attempts_omitted": attempts_omitted,
        "events": events,
        "events_omitted": events_omitted,
        "bindings": [
            {
                "contact": b.contact,
                "expires": b.expires,
                "since": _time(b.since_ts_ns),
                "expires_at": _time(b.expires_at_ns),
            }
            for b in r.bindings
        ],
        "call_ids": list(r.call_ids),
        "frames": _frame_span(r.frames),
    }
