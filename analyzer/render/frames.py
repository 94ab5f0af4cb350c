"""pandas DataFrames of the results (pandas is imported here only, on demand)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..net.flow import TRANSPORT_NAMES
from ..sip.message import SipMessage, SipRequest, SipResponse
from .messages import MESSAGE_COLUMNS
from .tables import endpoint_name

if TYPE_CHECKING:
    import pandas as pd

#: dtypes of the messages DataFrame; columns not listed are ``object``.
MESSAGE_DTYPES: dict[str, str] = {
    "frame": "int64",
    "ts_ns": "int64",
    "status": "Int64",
    "body_len": "int64",
    "truncated": "bool",
    "src": "string",
    "dst": "string",
    "transport": "category",
    "kind": "category",
    "method": "string",
    "reason": "string",
    "request_uri": "string",
    "call_id": "string",
    "cseq": "string",
    "from_tag": "string",
    "to_tag": "string",
    "branch": "string",
}


def messages_frame(messages: Iterable[SipMessage]) -> pd.DataFrame:
    """One row per message, columns as in :data:`~analyzer.render.messages.MESSAGE_COLUMNS`.

    ``time`` is a timezone-aware ``datetime64[ns, UTC]``; ``frames`` and
    ``defects`` hold lists.  The index is the message index (0-based, in the
    order the messages were completed in the capture).  The values are
    those of :func:`~analyzer.render.messages.message_row`, gathered column
    by column: a row dictionary per message cost five times as much on a
    capture of 200,000 messages.
    """
    import pandas as pd

    # Endpoints are shared objects: each is formatted once.
    names: dict[int, str] = {}
    transports = TRANSPORT_NAMES
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for msg in messages:
        o = msg.origin
        src = endpoint_name(o.src, names)
        dst = endpoint_name(o.dst, names)
        request = type(msg) is SipRequest
        if not request:
            assert isinstance(msg, SipResponse)
        append(
            (
                o.frame,
                list(o.frames),
                o.ts_ns,
                src,
                dst,
                transports[o.transport],
                "request" if request else "response",
                msg.method if request else msg.cseq_method,  # type: ignore[union-attr]
                None if request else msg.status,  # type: ignore[union-attr]
                None if request else msg.reason,  # type: ignore[union-attr]
                msg.uri if request else None,  # type: ignore[union-attr]
                msg.call_id,
                f"{msg.cseq_num} {msg.cseq_method}"
                if msg.cseq_num is not None and msg.cseq_method is not None
                else None,
                msg.from_tag,
                msg.to_tag,
                msg.branch,
                len(msg.body),
                o.truncated,
                [f"{d.code}: {d.detail}" for d in msg.defects] if msg.defects else [],
            )
        )
    (
        frame,
        frames,
        ts_ns,
        src_col,
        dst_col,
        transport,
        kind,
        method,
        status,
        reason,
        request_uri,
        call_id,
        cseq,
        from_tag,
        to_tag,
        branch,
        body_len,
        truncated,
        defects,
    ) = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(19)]
    columns: dict[str, Any] = {
        "frame": frame,
        "frames": frames,
        "time": None,
        "ts_ns": ts_ns,
        "src": src_col,
        "dst": dst_col,
        "transport": transport,
        "kind": kind,
        "method": method,
        "status": pd.array(status, dtype="Int64"),
        "reason": reason,
        "request_uri": request_uri,
        "call_id": call_id,
        "cseq": cseq,
        "from_tag": from_tag,
        "to_tag": to_tag,
        "branch": branch,
        "body_len": body_len,
        "truncated": truncated,
        "defects": defects,
    }
    for name, values in columns.items():
        if type(values) is list:
            # Object columns first, as from one dictionary per row (an empty
            # list would otherwise become float64), then MESSAGE_DTYPES.
            columns[name] = pd.Series(values, dtype="object")
    columns["time"] = pd.to_datetime(pd.array(ts_ns, dtype="int64"), unit="ns", utc=True)
    assert list(columns) == list(MESSAGE_COLUMNS)
    df = pd.DataFrame(columns)
    df = df.astype(MESSAGE_DTYPES)
    df.index.name = "message"
    return df
