"""One row per SIP message: the ``messages`` table in every output format.

Rows are plain dicts with the columns in :data:`MESSAGE_COLUMNS`, so that the
JSON lines, CSV, terminal table and DataFrame outputs are the same data.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _js
from typing import Any

from ..net.flow import Transport
from ..sip.message import SipMessage, SipRequest, SipResponse

#: Columns of a message row, in output order.
MESSAGE_COLUMNS: tuple[str, ...] = (
    "frame",
    "frames",
    "time",
    "ts_ns",
    "src",
    "dst",
    "transport",
    "kind",
    "method",
    "status",
    "reason",
    "request_uri",
    "call_id",
    "cseq",
    "from_tag",
    "to_tag",
    "branch",
    "body_len",
    "truncated",
    "defects",
)

Row = dict[str, Any]

_second_cache: dict[int, str] = {}


def format_time(ts_ns: int) -> str:
    """ISO 8601 UTC with nanoseconds, e.g. ``2024-05-01T10:00:00.123456789Z``."""
    sec, frac = divmod(ts_ns, 1_000_000_000)
    prefix = _second_cache.get(sec)
    if prefix is None:
        if len(_second_cache) > 4096:
            _second_cache.clear()
        prefix = _second_cache[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{prefix}.{frac:09d}Z"


def message_row(msg: SipMessage) -> Row:
    """The row for one message (see :data:`MESSAGE_COLUMNS`)."""
    o = msg.origin
    method: str | None
    if type(msg) is SipRequest:
        kind, method, status, reason, uri = "request", msg.method, None, None, msg.uri
    else:
        assert isinstance(msg, SipResponse)
        kind, method, status, reason, uri = (
            "response",
            msg.cseq_method,
            msg.status,
            msg.reason,
            None,
        )
    cseq = (
        f"{msg.cseq_num} {msg.cseq_method}"
        if msg.cseq_num is not None and msg.cseq_method is not None
        else None
    )
    return {
        "frame": o.frame,
        "frames": list(o.frames),
        "time": format_time(o.ts_ns),
        "ts_ns": o.ts_ns,
        "src": str(o.src),
        "dst": str(o.dst),
        "transport": o.transport.value,
        "kind": kind,
        "method": method,
        "status": status,
        "reason": reason,
        "request_uri": uri,
        "call_id": msg.call_id,
        "cseq": cseq,
        "from_tag": msg.from_tag,
        "to_tag": msg.to_tag,
        "branch": msg.branch,
        "body_len": len(msg.body),
        "truncated": o.truncated,
        "defects": [f"{d.code}: {d.detail}" for d in msg.defects],
    }


# -- filters ---------------------------------------------------------------

_FILTER_RE = re.compile(r"^\s*([a-z_]+)\s*(!=|>=|<=|=|>|<|~)\s*(.*?)\s*$")
_NUMERIC = {"frame", "status", "body_len", "ts_ns"}


@dataclass(frozen=True, slots=True)
class RowFilter:
    """``field OP value``: OP is ``=`` / ``!=`` (glob patterns), ``~`` (regex
    search), or ``< <= > >=`` on numeric fields (frame, status, body_len, ts_ns)."""

    field: str
    op: str
    value: str

    def __call__(self, row: Row) -> bool:
        got = row.get(self.field)
        if self.op in ("<", "<=", ">", ">="):
            if got is None:
                return False
            want = int(self.value)
            result: bool = {
                "<": got < want,
                "<=": got <= want,
                ">": got > want,
                ">=": got >= want,
            }[self.op]
            return result
        text = "" if got is None else str(got)
        if self.op == "~":
            return re.search(self.value, text) is not None
        hit = fnmatch.fnmatchcase(text, self.value)
        return hit if self.op == "=" else not hit


def parse_filter(expr: str) -> RowFilter:
    """Parse one filter expression; raises ValueError with a readable message."""
    m = _FILTER_RE.match(expr)
    if not m:
        raise ValueError(f"cannot read filter {expr!r}: expected FIELD=VALUE (or != ~ < <= > >=)")
    name, op, value = m.groups()
    if name not in MESSAGE_COLUMNS:
        raise ValueError(f"unknown filter field {name!r}; fields: {', '.join(MESSAGE_COLUMNS)}")
    if op in ("<", "<=", ">", ">="):
        if name not in _NUMERIC:
            raise ValueError(f"{op} needs a numeric field ({', '.join(sorted(_NUMERIC))})")
        try:
            int(value)
        except ValueError:
            raise ValueError(f"{op} needs a whole number, got {value!r}") from None
    if op == "~":
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return RowFilter(name, op, value)


def filtered_rows(
    messages: Iterable[SipMessage], filters: Iterable[Callable[[Row], bool]] = ()
) -> Iterator[Row]:
    fs = tuple(filters)
    for msg in messages:
        row = message_row(msg)
        if all(f(row) for f in fs):
            yield row


# -- formats ---------------------------------------------------------------


def _js_opt(v: str | None) -> str:
    return "null" if v is None else _js(v)


def _int_opt(v: int | None) -> str:
    return "null" if v is None else str(v)


def jsonl_line(row: Row) -> str:
    """One compact JSON object (ASCII-escaped) for a message row, without the newline.

    Assembled field by field because ``json.dumps`` per row costs several times
    more on captures with hundreds of thousands of messages; every string that
    comes from the capture goes through the standard library's own C escaper.
    Keys and order are those of :data:`MESSAGE_COLUMNS`.
    """
    return (
        f'{{"frame":{row["frame"]:d},"frames":[{",".join(map(str, row["frames"]))}],'
        f'"time":{_js(row["time"])},"ts_ns":{row["ts_ns"]:d},'
        f'"src":{_js(row["src"])},"dst":{_js(row["dst"])},'
        f'"transport":{_js(row["transport"])},"kind":{_js(row["kind"])},'
        f'"method":{_js_opt(row["method"])},"status":{_int_opt(row["status"])},'
        f'"reason":{_js_opt(row["reason"])},"request_uri":{_js_opt(row["request_uri"])},'
        f'"call_id":{_js_opt(row["call_id"])},"cseq":{_js_opt(row["cseq"])},'
        f'"from_tag":{_js_opt(row["from_tag"])},"to_tag":{_js_opt(row["to_tag"])},'
        f'"branch":{_js_opt(row["branch"])},"body_len":{row["body_len"]:d},'
        f'"truncated":{"true" if row["truncated"] else "false"},'
        f'"defects":[{",".join(map(_js, row["defects"]))}]}}'
    )


# jsonl_message: the "time" value up to the seconds, opening quote included,
# by second; bounded like _second_cache.
_second_json: dict[int, str] = {}
_UDP = Transport.UDP
_TCP = Transport.TCP


def jsonl_message(msg: SipMessage, end: str = "") -> str:
    """``jsonl_line(message_row(msg)) + end``, formatted straight from the record.

    Building the row dict costs about as much as formatting it; when no
    filter needs the row, the CLI writes this instead.  The text is the same
    byte for byte (tests compare the two on every sample capture).  Time
    stamps and addresses are made of characters JSON never escapes, so they
    are quoted without the escaper.
    """
    o = msg.origin
    frames = o.frames
    frames_text = str(frames[0]) if len(frames) == 1 else ",".join(map(str, frames))
    ts_ns = o.ts_ns
    sec, frac = divmod(ts_ns, 1_000_000_000)
    when = _second_json.get(sec)
    if when is None:
        if len(_second_json) > 4096:
            _second_json.clear()
        # format_time's text without ".fffffffffZ".
        when = _second_json[sec] = '"' + format_time(sec * 1_000_000_000)[:-11]
    transport = o.transport
    if transport is _UDP:
        transport_text = '"udp"'
    elif transport is _TCP:
        transport_text = '"tcp"'
    else:
        transport_text = _js(transport.value)
    cseq_num = msg.cseq_num
    cseq_method = msg.cseq_method
    cseq = "null" if cseq_num is None or cseq_method is None else _js(f"{cseq_num} {cseq_method}")
    value = msg.call_id
    call_id = "null" if value is None else _js(value)
    value = msg.from_tag
    from_tag = "null" if value is None else _js(value)
    value = msg.to_tag
    to_tag = "null" if value is None else _js(value)
    value = msg.branch
    branch = "null" if value is None else _js(value)
    defects = msg.defects
    defects_text = ",".join([_js(f"{d.code}: {d.detail}") for d in defects]) if defects else ""
    head = (
        f'{{"frame":{o.frame},"frames":[{frames_text}],"time":{when}.{frac:09d}Z",'
        f'"ts_ns":{ts_ns},"src":"{o.src.text}","dst":"{o.dst.text}",'
        f'"transport":{transport_text},'
    )
    tail = (
        f'"call_id":{call_id},"cseq":{cseq},"from_tag":{from_tag},"to_tag":{to_tag},'
        f'"branch":{branch},"body_len":{len(msg.body)},'
        f'"truncated":{"true" if o.truncated else "false"},"defects":[{defects_text}]}}{end}'
    )
    if type(msg) is SipRequest:
        return (
            f'{head}"kind":"request","method":{_js(msg.method)},"status":null,"reason":null,'
            f'"request_uri":{_js(msg.uri)},{tail}'
        )
    assert isinstance(msg, SipResponse)
    method = "null" if cseq_method is None else _js(cseq_method)
    return (
        f'{head}"kind":"response","method":{method},"status":{msg.status},'
        f'"reason":{_js(msg.reason)},"request_uri":null,{tail}'
    )


def csv_header() -> str:
    return ",".join(MESSAGE_COLUMNS) + "\r\n"


def csv_line(row: Row) -> str:
    buf = io.StringIO()
    values = []
    for c in MESSAGE_COLUMNS:
        v = row[c]
        if isinstance(v, list):
            v = " ".join(map(str, v)) if c == "frames" else " | ".join(v)
        elif v is None:
            v = ""
        values.append(v)
    csv.writer(buf).writerow(values)
    return buf.getvalue()


_TABLE_HEAD = (
    f"{'frame':>7}  {'time':<15}  {'source':<21} {'destination':<21} {'proto':<5}  message"
)


def table_header() -> str:
    return _TABLE_HEAD + "\n"


def table_line(row: Row, first_ns: int) -> str:
    """A fixed-width line for terminals: relative time, endpoints, summary."""
    rel = (row["ts_ns"] - first_ns) / 1e9
    if row["kind"] == "request":
        what = f"{row['method']} {row['request_uri']}"
    else:
        what = f"{row['status']} {row['reason']}".rstrip()
    extra = f"  ({row['cseq']})" if row["cseq"] else ""
    flags = ""
    if row["truncated"]:
        flags += "  [truncated]"
    if row["defects"]:
        flags += f"  [{len(row['defects'])} defect{'s' if len(row['defects']) > 1 else ''}]"
    return (
        f"{row['frame']:>7}  {rel:<15.6f}  {row['src']:<21} {row['dst']:<21} "
        f"{row['transport']:<5}  {what}{extra}  call-id {row['call_id']}{flags}\n"
    )
