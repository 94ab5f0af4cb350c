"""The messages DataFrame holds exactly the rows of ``message_row``, with its dtypes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analyzer.net.flow import Origin, Transport, endpoint
from analyzer.pipeline import read_messages
from analyzer.render.frames import MESSAGE_DTYPES, messages_frame
from analyzer.render.messages import MESSAGE_COLUMNS, message_row
from analyzer.sip.message import SipMessage, parse_message
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
