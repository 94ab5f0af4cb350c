"""The messages and transactions DataFrames hold exactly the rows a dictionary per row gives.

The messages frame against ``message_row``; the transactions frame against
the Transaction records' own properties.  Both are built from tuples
transposed into columns, which is faster but easy to get out of step.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analyzer.correlation import Correlation, correlate
from analyzer.net.flow import Origin, Transport, endpoint
from analyzer.pipeline import read_messages
from analyzer.render.frames import MESSAGE_DTYPES, messages_frame
from analyzer.render.messages import MESSAGE_COLUMNS, message_row
from analyzer.render.tables import TRANSACTION_DTYPES, _frame, transactions_frame
from analyzer.sip.message import SipMessage, SipResponse, parse_message
from tests.correlation.test_correlate import mixed_capture

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _from_rows(messages: list[SipMessage]) -> pd.DataFrame:
    """The frame as one row dictionary per message would give it."""
    rows = [message_row(m) for m in messages]
    df = pd.DataFrame.from_records(rows, columns=list(MESSAGE_COLUMNS))
    df["time"] = pd.to_datetime(df["ts_ns"].astype("int64"), unit="ns", utc=True)
    df = df.astype(MESSAGE_DTYPES)
    df.index.name = "message"
    return df


def _odd_messages() -> list[SipMessage]:
    """A request with defects over TCP, a truncated response, one without CSeq."""
    a, b = endpoint(bytes([10, 0, 0, 1]), 5060), endpoint(bytes([10, 0, 0, 2]), 5070)
    texts = [
        (
            b"NOFITY sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP a;branch=z9hG4bK1\r\n"
            b"From: <sip:a@x>;tab=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 7 NOFITY\r\n"
            b"Content-Length: 37\r\n\r\n0123456789",
            Transport.TCP,
            False,
        ),
        (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK2\r\nFrom: <sip:a@x>;tag=1\r\n"
            b"To: <sip:b@x>;tag=2\r\nCall-ID: c2\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
            Transport.UDP,
            True,
        ),
        (
            b"OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK3\r\n"
            b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c3\r\n\r\n",
            Transport.UDP,
            False,
        ),
    ]
    out = []
    for n, (data, transport, truncated) in enumerate(texts, start=1):
        frames = (n - 1, n) if n == 1 else (n,)
        origin = Origin(n, frames, n * 10**9 + 7, a, b, transport, truncated)
        out.append(parse_message(data, origin))
    return out


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.pcap")))
def test_messages_frame_of_each_sample(name: str) -> None:
    messages = list(read_messages(SAMPLES / name))
    assert messages
    pd.testing.assert_frame_equal(messages_frame(messages), _from_rows(messages))


def test_messages_frame_of_odd_messages() -> None:
    messages = _odd_messages() + mixed_capture()
    assert any(m.defects for m in messages)
    assert any(m.origin.truncated for m in messages)
    df = messages_frame(messages)
    pd.testing.assert_frame_equal(df, _from_rows(messages))
    assert df.loc[0, "defects"] and df.loc[0, "frames"] == [0, 1]
    assert df.loc[2, "cseq"] is pd.NA or pd.isna(df.loc[2, "cseq"])


def test_messages_frame_of_nothing() -> None:
    df = messages_frame([])
    pd.testing.assert_frame_equal(df, _from_rows([]))
    assert list(df.columns) == list(MESSAGE_COLUMNS)
    assert len(df) == 0
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"


# -- transactions ------------------------------------------------------------------


def _transactions_from_rows(corr: Correlation, messages: list[SipMessage] | None) -> pd.DataFrame:
    """The transactions frame as one row dictionary per transaction gives it.

    The values come from the Transaction's own properties (final_response,
    first_provisional_ts_ns, response_retransmissions, ...), which the frame
    works out in one walk over the responses instead.
    """
    rows = []
    for t in corr.transactions:
        client = server = transport = None
        if messages is not None:
            o = messages[t.id].origin
            src, dst = str(o.src), str(o.dst)
            client, server = (src, dst) if t.request == t.id else (dst, src)
            transport = o.transport.value
        dialogs = corr.message_dialog
        rows.append(
            {
                "transaction_id": t.id,
                "call_id": t.call_id,
                "method": t.method,
                "cseq": t.cseq,
                "from_tag": t.from_tag,
                "branch": t.branch,
                "rfc2543": t.rfc2543,
                "request": t.request,
                "request_time": t.request_ts_ns,
                "request_retransmissions": list(t.request_retransmissions),
                "responses": [r.message for r in t.responses],
                "statuses": [r.status for r in t.responses],
                "response_retransmissions": list(t.response_retransmissions),
                "first_provisional_time": t.first_provisional_ts_ns,
                "final_status": t.final_status,
                "final": t.final,
                "final_time": t.final_ts_ns,
                "response_time": t.response_time_ns,
                "ack": t.ack,
                "ack_retransmissions": list(t.ack_retransmissions),
                "cancels": t.cancels,
                "linked": list(t.linked),
                "orphan_response": t.orphan_response,
                "no_final": t.no_final,
                "client": client,
                "server": server,
                "transport": transport,
                "dialog_id": dialogs[t.id] if t.id < len(dialogs) else None,
                "messages": list(t.messages),
                "frames": list(t.frames),
            }
        )
    return _frame(rows, TRANSACTION_DTYPES, "transaction_id")


def _check_transactions(messages: list[SipMessage]) -> pd.DataFrame:
    corr = correlate(messages)
    for given in (messages, None):
        df = transactions_frame(corr, given)
        pd.testing.assert_frame_equal(df, _transactions_from_rows(corr, given), check_exact=True)
    return transactions_frame(corr, messages)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.pcap")))
def test_transactions_frame_of_each_sample(name: str) -> None:
    df = _check_transactions(list(read_messages(SAMPLES / name)))
    assert len(df)


def test_transactions_frame_of_retransmissions_and_orphans() -> None:
    messages = _odd_messages() + mixed_capture()
    # A second copy of every message: retransmissions of requests and responses.
    copies = [
        parse_message(
            m.raw,
            Origin(
                100 + i,
                (100 + i,),
                m.origin.ts_ns + 10**8,
                m.origin.src,
                m.origin.dst,
                m.origin.transport,
                False,
            ),
        )
        for i, m in enumerate(messages)
    ]
    # Responses whose request was not captured.
    orphans = [m for m in mixed_capture() if isinstance(m, SipResponse)][:3]
    df = _check_transactions(messages + copies + orphans)
    assert df["response_retransmissions"].map(len).sum() > 0
    assert df["request_retransmissions"].map(len).sum() > 0
    assert df["orphan_response"].any()
    assert df["no_final"].any()
    assert df["response_time"].notna().any()


def test_transactions_frame_of_nothing() -> None:
    df = _check_transactions([])
    assert len(df) == 0
    assert list(df.columns) == list(TRANSACTION_DTYPES)
    assert df.index.name == "transaction_id"
