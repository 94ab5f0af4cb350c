"""pandas DataFrames of the results (pandas is imported here only, on demand)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..sip.message import SipMessage
from .messages import MESSAGE_COLUMNS, message_row

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
    order the messages were completed in the capture).
    """
    import pandas as pd

    rows = [message_row(m) for m in messages]
    df = pd.DataFrame.from_records(rows, columns=list(MESSAGE_COLUMNS))
    df["time"] = pd.to_datetime(df["ts_ns"].astype("int64"), unit="ns", utc=True)
    df = df.astype(MESSAGE_DTYPES)
    df.index.name = "message"
    return df
