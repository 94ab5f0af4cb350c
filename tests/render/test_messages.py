import json

import pytest

from analyzer.net.flow import Origin, Transport, endpoint
from analyzer.render.messages import (
    MESSAGE_COLUMNS,
    csv_header,
    csv_line,
    format_time,
    jsonl_line,
    jsonl_message,
    message_row,
    parse_filter,
)
from analyzer.sip.message import parse_message

ORIGIN = Origin(
    frame=7,
    frames=(5, 7),
    ts_ns=1_700_000_000_123_456_789,
    src=endpoint(b"\x0a\x00\x00\x01", 5060),
    dst=endpoint(b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01", 5062),
    transport=Transport.TCP,
)

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK-1\r\n"
    b'From: "Al \\"ice\\"" <sip:alice@example.com>;tag=a1\r\n'
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: c1@h\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 4\r\n\r\nbody"
)
RESPONSE = (
    b"SIP/2.0 486 Busy Here\r\n"
    b"Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK-1\r\n"
    b"From: <sip:alice@example.com>;tag=a1\r\n"
    b"To: <sip:bob@example.com>;tag=b2\r\n"
    b"Call-ID: c1@h\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_request_row() -> None:
    row = message_row(parse_message(INVITE, ORIGIN))
    assert list(row) == list(MESSAGE_COLUMNS)
    assert row["frame"] == 7 and row["frames"] == [5, 7]
    assert row["time"] == "2023-11-14T22:13:20.123456789Z"
    assert row["src"] == "10.0.0.1:5060" and row["dst"] == "[2001:db8::1]:5062"
    assert row["transport"] == "tcp" and row["kind"] == "request"
    assert row["method"] == "INVITE" and row["status"] is None
    assert row["cseq"] == "1 INVITE" and row["call_id"] == "c1@h"
    assert row["from_tag"] == "a1" and row["to_tag"] is None
    assert row["branch"] == "z9hG4bK-1" and row["body_len"] == 4
    assert row["truncated"] is False and row["defects"] == []


def test_response_row_uses_cseq_method() -> None:
    row = message_row(parse_message(RESPONSE, ORIGIN))
    assert row["kind"] == "response" and row["method"] == "INVITE"
    assert row["status"] == 486 and row["reason"] == "Busy Here" and row["to_tag"] == "b2"


def test_jsonl_line_is_the_json_of_the_row() -> None:
    row = message_row(parse_message(INVITE, ORIGIN))
    row["call_id"] = 'odd "quoted" \u00e9\x01 id'
    assert json.loads(jsonl_line(row)) == row


def test_csv_line_round_trip() -> None:
    import csv
    import io

    row = message_row(parse_message(INVITE, ORIGIN))
    text = csv_header() + csv_line(row)
    (parsed,) = list(csv.DictReader(io.StringIO(text)))
    assert parsed["frames"] == "5 7" and parsed["method"] == "INVITE" and parsed["status"] == ""


def test_format_time_pads_nanoseconds() -> None:
    assert format_time(5) == "1970-01-01T00:00:00.000000005Z"


@pytest.mark.parametrize(
    ("expr", "on_request", "on_response"),
    [
        ("method=INVITE", True, True),
        ("method=BYE", False, False),
        ("kind=request", True, False),
        ("status>=400", False, True),
        ("status<400", False, False),
        ("call_id=c1*", True, True),
        ("call_id!=c1*", False, False),
        ("to_tag~^b", False, True),
        ("frame=7", True, True),
    ],
)
def test_filters(expr: str, on_request: bool, on_response: bool) -> None:
    f = parse_filter(expr)
    assert f(message_row(parse_message(INVITE, ORIGIN))) is on_request
    assert f(message_row(parse_message(RESPONSE, ORIGIN))) is on_response


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("method", "expected FIELD=VALUE"),
        ("colour=red", "unknown filter field"),
        ("method>=3", "numeric field"),
        ("status>=abc", "whole number"),
        ("call_id~(", "bad regular expression"),
    ],
)
def test_bad_filters(expr: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_filter(expr)


ODD = [
    # (message bytes, origin changes)
    (INVITE, {}),
    (RESPONSE, {}),
    (RESPONSE, {"frames": (9,), "frame": 9, "truncated": True}),
    (INVITE, {"transport": Transport.UDP, "ts_ns": -1}),
    (INVITE, {"transport": Transport.HEP_SCTP, "ts_ns": 0}),
    (INVITE, {"transport": Transport.WS, "frames": tuple(range(1, 40))}),
    # No Call-ID, CSeq, tags or branch; a CSeq without a method.
    (b"OPTIONS sip:x SIP/2.0\r\nCSeq: 7\r\n\r\n", {}),
    (b"SIP/2.0 200 \r\nCSeq: 7\r\n\r\n", {}),
    # Escapes and non-ASCII everywhere text comes from the capture.
    (
        'MESSAGE sip:\u00e9@x SIP/2.0\r\nCall-ID: "q\\\\ \u00fc\r\nCSeq: 1 ME\u00dfAGE\r\n'
        "From: <sip:a>;tag=\u00e4\r\nTo: <sip:b>;tag=t\x7f\r\n"
        "Via: SIP/2.0/UDP h;branch=z9\u00e9\r\nBad line\r\nContent-Length: 99\r\n\r\nxx".encode(),
        {},
    ),
    ("SIP/2.0 404 Nicht gefunden \u00fc\r\nCSeq: 2 BYE\r\n\r\n".encode(), {}),
]


@pytest.mark.parametrize(("data", "changes"), ODD)
def test_jsonl_message_is_jsonl_line_of_the_row(data: bytes, changes: dict[str, object]) -> None:
    origin = Origin(**{**{f: getattr(ORIGIN, f) for f in ORIGIN.__slots__}, **changes})  # type: ignore[arg-type]
    msg = parse_message(data, origin)
    assert jsonl_message(msg) == jsonl_line(message_row(msg))
    assert jsonl_message(msg, "\n") == jsonl_line(message_row(msg)) + "\n"


def test_jsonl_message_on_the_samples() -> None:
    from pathlib import Path

    from analyzer.pipeline import read_messages

    samples = Path(__file__).resolve().parents[2] / "samples"
    count = 0
    for path in sorted(samples.glob("*.pcap")):
        for msg in read_messages(path):
            assert jsonl_message(msg) == jsonl_line(message_row(msg))
            count += 1
    assert count > 50
