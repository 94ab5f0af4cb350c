"""StreamFramer: SIP over TCP (Content-Length framing) and over WebSocket (RFC 7118)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import Level
from analyzer.net.flow import Transport
from analyzer.net.tcpstream import (
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
    StreamReassembler,
)
from analyzer.net.transport import ACK, FIN, SYN, TcpSegment
from analyzer.sip import framing
from analyzer.sip.framing import FramedMessage, StreamFramer
from analyzer.sip.message import match_start_line

LABEL = "10.0.0.1:5060 -> 10.0.0.2:40000"


def sd(offset: int, data: bytes, frame: int, *, ts: int = 0, truncated: bool = False) -> StreamData:
    return StreamData(offset, data, (frame,), frame, ts, truncated)


def feed_chunks(chunks: list[bytes], framer: StreamFramer | None = None) -> list[FramedMessage]:
    """Feed consecutive chunks as StreamData of frames 1, 2, ..."""
    f = framer if framer is not None else StreamFramer(LABEL)
    out: list[FramedMessage] = []
    off = 0
    for i, c in enumerate(chunks):
        out += f.feed(sd(off, c, i + 1))
        off += len(c)
    return out


def reasons(f: StreamFramer) -> list[str]:
    return [d.reason for d in f.diagnostics]


def req(
    method: str = "OPTIONS", body: bytes = b"", cl: bytes | None = None, tag: str = "1"
) -> bytes:
    """A small request; ``cl`` is the whole Content-Length line (default: the right one)."""
    if cl is None:
        cl = b"Content-Length: %d\r\n" % len(body)
    return (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-{tag}\r\n"
        f"From: <sip:alice@example.com>;tag={tag}\r\n"
        f"To: <sip:bob@example.com>\r\n"
        f"Call-ID: {tag}@10.0.0.1\r\n"
        f"CSeq: 1 {method}\r\n".encode()
        + cl
        + b"\r\n"
        + body
    )


def resp(status: str = "200 OK", body: bytes = b"", tag: str = "1") -> bytes:
    return (
        f"SIP/2.0 {status}\r\n"
        f"Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-{tag}\r\n"
        f"Call-ID: {tag}@10.0.0.1\r\n"
        f"CSeq: 1 INVITE\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


SDP = (
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
INVITE = req("INVITE", SDP, tag="inv")
OK = resp("200 OK", SDP, tag="inv")
OPTIONS = req(tag="opt")

# A message still missing its header end, and one missing body bytes.
PARTIAL_HEAD = b"BYE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n"
PARTIAL_BODY = b"MESSAGE sip:bob@example.com SIP/2.0\r\nl: 10\r\n\r\nabc"
# Small messages for tests that lower the limits.
SHORT = b"OPTIONS sip:x SIP/2.0\r\nl: 0\r\n\r\n"
SHORT_OK = b"SIP/2.0 200 OK\r\nl: 2\r\n\r\nok"


def tr(stream: bytes, expected: list[bytes], diags: list[str] | None = None) -> None:
    """h11's three-way check: whole, byte at a time, and with trailing partial data."""
    diags = diags or []

    def check_diags(f: StreamFramer, extra: list[str]) -> None:
        got = reasons(f)
        want = diags + extra
        assert len(got) == len(want), got
        for g, w in zip(got, want, strict=True):
            assert w in g, (w, g)

    # Whole.
    f = StreamFramer(LABEL)
    msgs = feed_chunks([stream], f)
    assert [m.data for m in msgs] == expected
    assert all(m.frames == (1,) and m.frame == 1 and not m.incomplete for m in msgs)
    assert all(m.transport is Transport.TCP for m in msgs)
    assert f.flush() == []
    check_diags(f, [])

    # Byte at a time: every message's frames are exactly the bytes it spans.
    f = StreamFramer(LABEL)
    msgs = feed_chunks([stream[i : i + 1] for i in range(len(stream))], f)
    assert [m.data for m in msgs] == expected
    pos = 0
    for m in msgs:
        start = stream.index(m.data, pos)
        pos = start + len(m.data)
        assert m.frames == tuple(range(start + 1, pos + 1))
        assert m.frame == pos
    assert f.flush() == []
    check_diags(f, [])

    # Trailing data: an incomplete header block stays buffered (and is reported
    # at the end); an incomplete body is emitted at the end, flagged.
    for tail, extra in (
        (PARTIAL_HEAD, f"incomplete SIP header block of {len(PARTIAL_HEAD)} bytes"),
        (PARTIAL_BODY, "stream ended 7 bytes short of Content-Length (10)"),
    ):
        f = StreamFramer(LABEL)
        msgs = feed_chunks([stream + tail[:20], tail[20:]], f)
        assert [m.data for m in msgs] == expected
        last = f.flush()
        if tail is PARTIAL_BODY:
            assert [(m.data, m.incomplete) for m in last] == [(PARTIAL_BODY, True)]
        else:
            assert last == []
        check_diags(f, [extra])


CASES = [
    ("one-request", INVITE, [INVITE], []),
    ("request-response-request", INVITE + OK + OPTIONS, [INVITE, OK, OPTIONS], []),
    ("compact-l", req(body=b"hello", cl=b"l: 5\r\n"), [req(body=b"hello", cl=b"l: 5\r\n")], []),
    (
        "whitespace-before-colon",
        req(body=b"hello", cl=b"Content-Length \t:  5 \r\n"),
        [req(body=b"hello", cl=b"Content-Length \t:  5 \r\n")],
        [],
    ),
    (
        "lower-case-name",
        req(body=b"hi", cl=b"content-LENGTH: 2\r\n"),
        [req(body=b"hi", cl=b"content-LENGTH: 2\r\n")],
        [],
    ),
    (
        "folded-value",
        req(body=b"hi", cl=b"Content-Length:\r\n 2\r\n"),
        [req(body=b"hi", cl=b"Content-Length:\r\n 2\r\n")],
        [],
    ),
    (
        "keep-alives",
        b"\r\n\r\n" + OPTIONS + b"\r\n\r\n" + INVITE + b"\r\n" + OK + b"\r\n\r\n",
        [OPTIONS, INVITE, OK],
        [],
    ),
    ("missing-content-length", req(cl=b"") + OK, [req(cl=b""), OK], []),
    (
        "missing-content-length-with-body",
        req(body=b"orphan\r\n", cl=b"") + OK,
        [req(cl=b""), OK],
        ["skipped 8 bytes of non-SIP data where a SIP message should start"],
    ),
    (
        "content-length-dots",
        req(cl=b"Content-Length: ...\r\n") + OK,
        [req(cl=b"Content-Length: ...\r\n"), OK],
        ["Content-Length '...' is not a number: framed with an empty body"],
    ),
    (
        "body-with-crlfcrlf",
        req("MESSAGE", b"a\r\n\r\nb\r\n\r\n") + OPTIONS,
        [req("MESSAGE", b"a\r\n\r\nb\r\n\r\n"), OPTIONS],
        [],
    ),
    (
        "body-like-a-request",
        req("MESSAGE", b"INVITE sip:x SIP/2.0\r\n\r\n") + OPTIONS,
        [req("MESSAGE", b"INVITE sip:x SIP/2.0\r\n\r\n"), OPTIONS],
        [],
    ),
    (
        "bare-lf",
        b"SIP/2.0 200 OK\nl: 2\n\nok" + OPTIONS,
        [b"SIP/2.0 200 OK\nl: 2\n\nok", OPTIONS],
        [],
    ),
    (
        "no-reason-phrase-lower-case-version",
        b"sip/2.0 100\r\nl:0\r\n\r\n" + OPTIONS,
        [b"sip/2.0 100\r\nl:0\r\n\r\n", OPTIONS],
        [],
    ),
    (
        "headerless",
        b"OPTIONS sip:x SIP/2.0\r\n\r\n" + OK,
        [b"OPTIONS sip:x SIP/2.0\r\n\r\n", OK],
        [],
    ),
    (
        "junk-between-messages",
        OPTIONS + b"junk\r\nmore junk\r\n" + OK,
        [OPTIONS, OK],
        ["skipped 17 bytes of non-SIP data where a SIP message should start"],
    ),
]


@pytest.mark.parametrize(
    ("stream", "expected", "diags"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_framing(stream: bytes, expected: list[bytes], diags: list[str]) -> None:
    tr(stream, expected, diags)
    f = StreamFramer(LABEL)
    feed_chunks([stream], f)
    assert f.mode == "sip"
    assert f.wants_data


@pytest.mark.parametrize(
    "line",
    [
        b"INVITE sip:bob@example.com SIP/2.0\r\n",
        b"INVITE  sip:bob@example.com\tSIP/2.0\r\n",
        b"INVITE sip:bob@example.com\xc2\xa0SIP/2.0\r\n",
        b"invite sip:bob@example.com sip/2.0\n",
        b"INVITE sip:bob@example.com SIP/2.0 trailing\r\n",
        b"SIP/2.0 200 OK\r\n",
        b"SIP/2.0 200\r\n",
        b"SIP/2.0  180\tRinging\r\n",
        b"SIP/2.0 2000 OK\r\n",
        b"SIP/2.0 20 OK\r\n",
        b"GET / HTTP/1.1\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n",
        b"INVITE sip:a b SIP/2.0\r\n",
        b"INVITE SIP/2.0\r\n",
        b"Via: SIP/2.0/TCP host\r\n",
        b"INVITE sip:bob@example.com SIP/2.0",
        b"\x16\x03\x01\x00\xa5",
        b"",
    ],
)
def test_start_lines_are_those_the_parser_recognises(line: bytes) -> None:
    # The framer keeps its own (faster) spelling of the start-line grammar; it
    # must accept exactly the lines the message parser recognises.
    assert (framing._START_LINE.match(line, 0, len(line)) is not None) is match_start_line(line)


def test_one_message_over_many_segments() -> None:
    chunks = [INVITE[i : i + 37] for i in range(0, len(INVITE), 37)]
    msgs = feed_chunks(chunks)
    assert len(msgs) == 1
    assert msgs[0].data == INVITE
    assert msgs[0].frames == tuple(range(1, len(chunks) + 1))
    assert msgs[0].frame == len(chunks)


def test_completing_frame_and_time_come_from_the_last_byte() -> None:
    # With reordering, the data of frame 5 became available with frame 9.
    f = StreamFramer(LABEL)
    assert f.feed(StreamData(0, OPTIONS[:30], (4,), 4, 100, False)) == []
    (msg,) = f.feed(StreamData(30, OPTIONS[30:], (5,), 9, 900, False))
    assert (msg.frames, msg.frame, msg.ts_ns) == ((4, 5), 9, 900)


def test_truncated_flag_follows_the_contributing_frames() -> None:
    f = StreamFramer(LABEL)
    (a,) = f.feed(sd(0, OPTIONS, 1))
    (b,) = f.feed(sd(len(OPTIONS), OK, 2, truncated=True))
    assert not a.truncated
    assert b.truncated


def test_mid_connection_start_resynchronises() -> None:
    tail = b"tag=x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    f = StreamFramer(LABEL)
    msgs = feed_chunks([tail + OPTIONS[:10], OPTIONS[10:] + OK], f)
    assert [m.data for m in msgs] == [OPTIONS, OK]
    assert [(d.layer, d.level, d.frames) for d in f.diagnostics] == [
        ("sip-framing", Level.INFO, (1,))
    ]
    assert reasons(f) == [
        f"{LABEL}: skipped {len(tail)} bytes before the first SIP start line "
        "(the capture started in the middle of a message)"
    ]


def test_diagnostic_frame_lists_are_bounded() -> None:
    junk = b"junk line\r\n" * 20
    f = StreamFramer(LABEL)
    msgs = feed_chunks([junk[i : i + 1] for i in range(len(junk))] + [OPTIONS], f)
    assert [m.data for m in msgs] == [OPTIONS]
    (diag,) = f.diagnostics
    assert len(diag.frames) == framing.MAX_DIAGNOSTIC_FRAMES
    assert diag.frames[0] == 1
    assert diag.frames[-1] == len(junk)


def test_start_line_split_across_segments_after_junk() -> None:
    f = StreamFramer(LABEL)
    msgs = feed_chunks([b"xx\r\nyy\r\nOPTI", b"ONS sip:x SI", b"P/2.0\r\n\r\n"], f)
    assert [m.data for m in msgs] == [b"OPTIONS sip:x SIP/2.0\r\n\r\n"]
    assert "skipped 8 bytes" in reasons(f)[0]


# -- what is not SIP ---------------------------------------------------------------

TLS_HELLO = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\x00" * 60


def test_tls_is_reported_once() -> None:
    f = StreamFramer(LABEL)
    assert f.feed(sd(0, TLS_HELLO[:1], 3)) == []  # one byte: not decided yet
    assert f.mode == "detect"
    assert f.feed(sd(1, TLS_HELLO[1:], 4)) == []
    assert f.mode == "tls"
    assert not f.wants_data
    assert f.feed(sd(len(TLS_HELLO), b"\x17\x03\x03\x00\x10" + b"x" * 16, 5)) == []
    assert f.flush() == []
    assert [(d.layer, d.frames, d.reason, d.level) for d in f.diagnostics] == [
        ("tls", (3,), f"TLS flow {LABEL}: encrypted, not decoded", Level.WARNING)
    ]


def test_gaps_and_ends_of_a_tls_flow_are_not_reported_again() -> None:
    f = StreamFramer(LABEL)
    f.feed(sd(0, TLS_HELLO, 1))
    assert f.feed(StreamGap(len(TLS_HELLO), 100, 2, 0, "timeout")) == []
    assert f.feed(StreamEnd(3, 0, "fin")) == []
    assert f.feed(StreamEnd(3, 0, "fin")) == []
    assert f.flush() == []
    assert len(f.diagnostics) == 1


def test_tls_like_first_byte_that_is_not_tls() -> None:
    f = StreamFramer(LABEL)
    feed_chunks([b"\x16\x05junk\r\n" + OPTIONS], f)
    assert f.mode == "sip"


HTTP = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def test_http_is_not_sip_at_the_end_of_the_stream() -> None:
    f = StreamFramer(LABEL)
    assert feed_chunks([HTTP, b"<html>\r\n"], f) == []
    assert f.mode == "detect"
    assert f.feed(StreamEnd(3, 0, "fin")) == []
    assert f.mode == "other"
    assert reasons(f) == [
        f"{LABEL}: not SIP: {len(HTTP) + 8} bytes without a SIP start line; "
        "rest of flow not decoded"
    ]


def test_not_sip_after_max_detect_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_DETECT_BYTES", 100)
    f = StreamFramer(LABEL)
    feed_chunks([b"hello world\r\n" * 5, b"hello world\r\n" * 5], f)
    assert f.mode == "other"
    assert not f.wants_data
    assert f.feed(sd(130, OPTIONS, 3)) == []
    f.flush()
    assert len(f.diagnostics) == 1
    assert "not SIP: 130 bytes" in f.diagnostics[0].reason


def test_binary_without_line_ends_is_not_sip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_DETECT_BYTES", 100)
    monkeypatch.setattr(framing, "MAX_HEADER_BYTES", 50)
    f = StreamFramer(LABEL)
    feed_chunks([b"\x00" * 60, b"\x00" * 60], f)
    assert f.mode == "other"
    assert reasons(f) == [
        f"{LABEL}: not SIP: 120 bytes without a SIP start line; rest of flow not decoded"
    ]


def test_long_junk_line_then_sip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_HEADER_BYTES", 50)
    f = StreamFramer(LABEL)
    msgs = feed_chunks([b"x" * 60, b"x" * 10 + b"\r\n" + SHORT], f)
    assert [m.data for m in msgs] == [SHORT]
    assert "skipped 72 bytes" in reasons(f)[0]


def test_only_keep_alives_is_silent() -> None:
    f = StreamFramer(LABEL)
    feed_chunks([b"\r\n\r\n", b"\r\n"], f)
    assert f.flush() == []
    assert f.diagnostics == []
    assert f.mode == "detect"


def test_partial_first_line_at_the_end_is_not_sip() -> None:
    f = StreamFramer(LABEL)
    feed_chunks([b"INVITE sip:x SIP/2."], f)
    f.flush()
    assert reasons(f) == [
        f"{LABEL}: not SIP: 19 bytes without a SIP start line; rest of flow not decoded"
    ]


# -- limits ----------------------------------------------------------------------------


def test_oversized_content_length_is_skipped() -> None:
    big = req("MESSAGE", cl=b"Content-Length: 99999999\r\n")
    f = StreamFramer(LABEL)
    msgs = feed_chunks([big + b"body\r\n" + OPTIONS], f)
    assert [m.data for m in msgs] == [OPTIONS]
    assert reasons(f) == [
        f"{LABEL}: Content-Length 99999999 exceeds the {framing.MAX_BODY_BYTES}-byte limit: "
        "header block skipped",
        f"{LABEL}: skipped {len(big) + 6} bytes after a message with an oversized body",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"000000000000000000005", None),  # leading zeros: 5
        (b"1" * 5000, "Content-Length 1111111111111111111111111111111111111111... exceeds"),
        (b"-5", "Content-Length '-5' is not a number"),
        (b"5 6", "Content-Length '5 6' is not a number"),
    ],
)
def test_content_length_values(value: bytes, expected: str | None) -> None:
    msg = req("MESSAGE", b"hello" if expected is None else b"", cl=b"l: " + value + b"\r\n")
    f = StreamFramer(LABEL)
    msgs = feed_chunks([msg + OPTIONS], f)
    assert msgs[-1].data == OPTIONS
    if expected is None:
        assert [m.data for m in msgs] == [msg, OPTIONS]
        assert f.diagnostics == []
    else:
        assert expected in reasons(f)[0]


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_header_block(monkeypatch: pytest.MonkeyPatch, chunked: bool) -> None:
    monkeypatch.setattr(framing, "MAX_HEADER_BYTES", 100)
    huge = b"OPTIONS sip:x SIP/2.0\r\n" + b"X-Pad: " + b"p" * 200 + b"\r\n\r\n"
    stream = huge + SHORT
    chunks = [stream[i : i + 30] for i in range(0, len(stream), 30)] if chunked else [stream]
    f = StreamFramer(LABEL)
    msgs = feed_chunks(chunks, f)
    assert [m.data for m in msgs] == [SHORT]
    assert "no end of SIP header block within 100 bytes" in reasons(f)[0]
    assert "after an oversized SIP header block" in reasons(f)[1]


def test_oversized_start_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_HEADER_BYTES", 100)
    f = StreamFramer(LABEL)
    msgs = feed_chunks([SHORT, b"OPTIONS sip:" + b"x" * 200, b"\r\n\r\n" + SHORT_OK], f)
    assert [m.data for m in msgs] == [SHORT, SHORT_OK]
    assert "no end of SIP header block" in reasons(f)[0]


# -- gaps and ends -------------------------------------------------------------------


def test_gap_inside_a_body_emits_the_message_incomplete_and_skips_its_rest() -> None:
    f = StreamFramer(LABEL)
    cut = len(INVITE) - 40
    msgs = f.feed(sd(0, INVITE[:cut], 1))
    msgs += f.feed(StreamGap(cut, 20, 3, 0, "timeout"))
    msgs += f.feed(sd(cut + 20, INVITE[cut + 20 :] + OK, 2))
    assert [(m.data, m.incomplete) for m in msgs] == [(INVITE[:cut], True), (OK, False)]
    body_have = cut - INVITE.index(b"v=0")
    assert reasons(f) == [
        f"{LABEL}: SIP message incomplete: {body_have} of {len(SDP)} body bytes, "
        "then 20 bytes missing (not retransmitted within 3 s)",
        f"{LABEL}: skipped 20 bytes after a gap, before the next SIP start line",
    ]
    assert f.diagnostics[0].frames == (1, 3)


def test_gap_across_a_body_end() -> None:
    f = StreamFramer(LABEL)
    msgs = f.feed(sd(0, INVITE[:-5], 1))
    msgs += f.feed(StreamGap(len(INVITE) - 5, 9, 2, 0, "capture-end"))
    msgs += f.feed(sd(len(INVITE) + 4, b"\r\n" + OK, 3))
    assert [(m.data, m.incomplete) for m in msgs] == [(INVITE[:-5], True), (OK, False)]
    # The two keep-alive bytes after the gap were looked at while resynchronising.
    assert "skipped 2 bytes after a gap" in reasons(f)[1]


def test_gap_inside_headers_drops_them_and_resynchronises() -> None:
    f = StreamFramer(LABEL)
    msgs = f.feed(sd(0, OPTIONS + INVITE[:50], 1))
    msgs += f.feed(StreamGap(len(OPTIONS) + 50, 10, 2, 0, "reorder-limit"))
    rest = INVITE[60:]
    msgs += f.feed(sd(len(OPTIONS) + 60, rest + OK, 3))
    assert [(m.data, m.incomplete) for m in msgs] == [(OPTIONS, False), (OK, False)]
    assert reasons(f) == [
        f"{LABEL}: dropped 50 bytes of an incomplete SIP header block, then 10 bytes missing "
        "(not retransmitted before the reordering buffer filled up)",
        f"{LABEL}: skipped {len(rest)} bytes after a gap, before the next SIP start line",
    ]
    assert f.diagnostics[1].level is Level.WARNING


def test_gap_between_messages_is_reported() -> None:
    f = StreamFramer(LABEL)
    msgs = f.feed(sd(0, OPTIONS, 1))
    msgs += f.feed(StreamGap(len(OPTIONS), len(INVITE), 2, 0, "capture-end"))
    msgs += f.feed(sd(len(OPTIONS) + len(INVITE), OK, 3))
    assert [m.data for m in msgs] == [OPTIONS, OK]
    assert reasons(f) == [f"{LABEL}: {len(INVITE)} bytes missing (not in the capture)"]
    assert f.diagnostics[0].frames == (2,)


def test_gap_at_the_start_then_tls() -> None:
    f = StreamFramer(LABEL)
    f.feed(StreamGap(0, 100, 2, 0, "capture-end"))
    f.feed(sd(100, TLS_HELLO, 3))
    assert f.mode == "tls"


def test_gap_while_detecting_drops_the_partial_line() -> None:
    f = StreamFramer(LABEL)
    f.feed(sd(0, b"OPTIONS sip:x", 1))
    f.feed(StreamGap(13, 5, 2, 0, "capture-end"))
    msgs = f.feed(sd(18, b"junk\r\n" + OPTIONS, 3))
    assert [m.data for m in msgs] == [OPTIONS]
    assert reasons(f) == [
        f"{LABEL}: dropped 13 bytes of an incomplete line, then 5 bytes missing "
        "(not in the capture)",
        f"{LABEL}: skipped 6 bytes after a gap, before the next SIP start line",
    ]


def test_gap_while_skipping_the_rest_of_a_cut_message() -> None:
    f = StreamFramer(LABEL)
    f.feed(sd(0, INVITE[:-60], 1))
    f.feed(StreamGap(len(INVITE) - 60, 10, 2, 0, "capture-end"))
    f.feed(sd(len(INVITE) - 50, INVITE[-50:-40], 3))
    f.feed(StreamGap(len(INVITE) - 40, 10, 4, 0, "capture-end"))  # still inside the body
    msgs = f.feed(sd(len(INVITE) - 30, INVITE[-30:] + OK, 5))
    assert [m.data for m in msgs] == [OK]
    f.feed(StreamGap(len(INVITE) + len(OK), 3, 6, 0, "capture-end"))
    assert f.feed(sd(len(INVITE) + len(OK) + 3, OPTIONS, 7))[0].data == OPTIONS


def test_snaplen_cut_message() -> None:
    r = StreamReassembler()
    f = StreamFramer(LABEL)
    seg = TcpSegment(1, 0, b"", 1, b"", 2, 500, 0, ACK, INVITE[:100], len(INVITE))
    msgs = [m for e in r.feed(seg) for m in f.feed(e)]
    seg2 = TcpSegment(2, 0, b"", 1, b"", 2, 500 + len(INVITE), 0, ACK, OK, len(OK))
    msgs += [m for e in r.feed(seg2) for m in f.feed(e)]
    # The header block itself was cut: its bytes are reported, then OK is found.
    assert [m.data for m in msgs] == [OK]
    assert reasons(f)[0].startswith(f"{LABEL}: dropped 100 bytes of an incomplete SIP header")
    assert "cut by the snapshot length" in reasons(f)[0]


def test_snaplen_cut_body_is_incomplete_and_truncated() -> None:
    f = StreamFramer(LABEL)
    cut = len(INVITE) - 10
    msgs = f.feed(sd(0, OPTIONS, 1))
    msgs += f.feed(sd(len(OPTIONS), INVITE[:cut], 2, truncated=True))
    msgs += f.feed(StreamGap(len(OPTIONS) + cut, 10, 2, 0, "snaplen"))
    assert [(m.incomplete, m.truncated) for m in msgs] == [(False, False), (True, True)]


def test_end_inside_a_body() -> None:
    f = StreamFramer(LABEL)
    feed_chunks([OPTIONS + INVITE[:-7]], f)
    (msg,) = f.feed(StreamEnd(2, 0, "rst"))
    assert (msg.data, msg.incomplete) == (INVITE[:-7], True)
    assert reasons(f) == [
        f"{LABEL}: stream ended 7 bytes short of Content-Length ({len(SDP)}) "
        "at the end of the stream (rst)"
    ]
    assert f.flush() == []


def test_data_after_the_end_is_reported_once_at_flush() -> None:
    f = StreamFramer(LABEL)
    feed_chunks([OPTIONS], f)
    f.feed(StreamEnd(1, 0, "fin"))
    assert f.feed(StreamGap(len(OPTIONS), 5, 2, 0, "after-fin")) == []
    assert f.feed(sd(len(OPTIONS) + 5, b"zz", 3)) == []
    assert f.diagnostics == []
    f.flush()
    assert reasons(f) == [f"{LABEL}: 7 bytes after the end of the stream ignored"]
    assert f.diagnostics[0].frames == (2, 3)
    f.feed(sd(len(OPTIONS) + 7, b"z", 4))  # after flush: reported at once
    assert len(f.diagnostics) == 2


def test_non_contiguous_events_are_made_consistent() -> None:
    f = StreamFramer(LABEL)
    msgs = f.feed(sd(0, OPTIONS[:40], 1))
    msgs += f.feed(sd(20, OPTIONS[20:], 2))  # overlaps what was delivered
    msgs += f.feed(sd(0, OPTIONS[:10], 3))  # entirely old
    msgs += f.feed(sd(len(OPTIONS) + 4, OK, 4))  # jumps over 4 bytes
    assert [m.data for m in msgs] == [OPTIONS, OK]
    assert reasons(f) == [f"{LABEL}: 4 bytes missing (not delivered)"]


# -- WebSocket ---------------------------------------------------------------------------

UPGRADE_REQUEST = (
    b"GET /ws HTTP/1.1\r\nHost: proxy.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
UPGRADE_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
)
KEY = b"\x11\x22\x33\x44"


def wsf(payload: bytes, opcode: int = 1, *, fin: bool = True, key: bytes | None = None) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mask = 0x80 if key else 0
    if n < 126:
        head = bytes((b0, mask | n))
    elif n < 65536:
        head = bytes((b0, mask | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mask | 127)) + n.to_bytes(8, "big")
    if not key:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


# Client side: masked frames; INVITE fragmented in three with a ping between;
# a CRLF keep-alive message; then close and a stray byte.
WS_CLIENT = (
    UPGRADE_REQUEST
    + wsf(OPTIONS, key=KEY)
    + wsf(INVITE[:100], key=KEY, fin=False)
    + wsf(b"ping", 0x9, key=KEY)
    + wsf(INVITE[100:200], 0, key=KEY, fin=False)
    + wsf(INVITE[200:], 0, key=KEY)
    + wsf(b"\r\n\r\n", key=KEY)
    + wsf(b"\x03\xe8", 0x8, key=KEY)
)
# Server side: unmasked binary frames, a 16-bit length, a pong.
BIG_BODY = b"a=" + b"x" * 300 + b"\r\n"
WS_SERVER = UPGRADE_RESPONSE + wsf(OK, 2) + wsf(b"", 0xA) + wsf(resp(body=BIG_BODY), 1)


@pytest.mark.parametrize(
    ("stream", "expected"),
    [(WS_CLIENT, [OPTIONS, INVITE]), (WS_SERVER, [OK, resp(body=BIG_BODY)])],
    ids=["client-masked", "server-unmasked"],
)
@pytest.mark.parametrize("step", [0, 1, 7])
def test_websocket(stream: bytes, expected: list[bytes], step: int) -> None:
    f = StreamFramer(LABEL)
    chunks = [stream] if not step else [stream[i : i + step] for i in range(0, len(stream), step)]
    msgs = feed_chunks(chunks, f)
    assert [m.data for m in msgs] == expected
    assert all(m.transport is Transport.WS and not m.incomplete for m in msgs)
    assert f.mode == "ws"
    f.flush()
    assert f.diagnostics == []


def test_websocket_message_frames() -> None:
    head = len(UPGRADE_REQUEST)
    f = StreamFramer(LABEL)
    f.feed(sd(0, UPGRADE_REQUEST, 1))
    frag1 = wsf(INVITE[:100], key=KEY, fin=False)
    frag2 = wsf(INVITE[100:], 0, key=KEY)
    assert f.feed(sd(head, frag1, 2)) == []
    (msg,) = f.feed(sd(head + len(frag1), frag2, 3, truncated=True))
    assert (msg.frames, msg.frame, msg.truncated) == ((2, 3), 3, True)


def test_websocket_close_then_more_bytes() -> None:
    f = StreamFramer(LABEL)
    feed_chunks([WS_CLIENT, b"\x81\x00"], f)
    f.flush()
    assert reasons(f) == [f"{LABEL}: 2 bytes after the WebSocket close frame ignored"]


def test_websocket_close_inside_a_fragmented_message() -> None:
    f = StreamFramer(LABEL)
    msgs = feed_chunks([UPGRADE_RESPONSE + wsf(OK[:10], fin=False) + wsf(b"", 0x8)], f)
    assert msgs == []
    assert reasons(f) == [f"{LABEL}: WebSocket closed in the middle of a message: 10 bytes dropped"]


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        (wsf(b"x", 0x3), "reserved opcode 0x3"),
        (wsf(b"x", 0), "a continuation frame with no message to continue"),
        (wsf(b"x", fin=False) + wsf(b"y"), "a new data frame inside a fragmented message"),
    ],
)
def test_invalid_websocket_frames(frames: bytes, reason: str) -> None:
    f = StreamFramer(LABEL)
    assert feed_chunks([UPGRADE_RESPONSE + wsf(OK) + frames], f)[0].data == OK
    assert f.mode == "other"
    assert not f.wants_data
    assert f.diagnostics[0].layer == "websocket"
    assert reason in f.diagnostics[0].reason


def test_websocket_without_handshake_in_the_capture() -> None:
    f = StreamFramer(LABEL)
    msgs = feed_chunks([wsf(OK)[:3], wsf(OK)[3:] + wsf(OPTIONS)], f)
    assert [m.data for m in msgs] == [OK, OPTIONS]
    assert f.mode == "ws"
    assert [(d.level, d.reason) for d in f.diagnostics] == [
        (Level.INFO, f"{LABEL}: WebSocket flow whose handshake is not in the capture")
    ]


def test_websocket_looking_bytes_that_are_not() -> None:
    f = StreamFramer(LABEL)
    msgs = feed_chunks([wsf(b"hello\r\n") + b"\r\n" + OPTIONS], f)
    assert [m.data for m in msgs] == [OPTIONS]
    assert f.mode == "sip"


def test_http_upgrade_that_is_not_websocket() -> None:
    f = StreamFramer(LABEL)
    msgs = feed_chunks([UPGRADE_REQUEST.replace(b"websocket", b"h2c") + OPTIONS], f)
    assert [m.data for m in msgs] == [OPTIONS]
    assert "of HTTP that is not a WebSocket handshake" in reasons(f)[0]


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_websocket_message(monkeypatch: pytest.MonkeyPatch, chunked: bool) -> None:
    monkeypatch.setattr(framing, "MAX_WS_MESSAGE_BYTES", 150)
    stream = (
        UPGRADE_RESPONSE
        + wsf(OK[:100], fin=False)
        + wsf(OK[100:], 0, fin=False)  # over the limit: the message is dropped...
        + wsf(b"\x00" * 400, 0, fin=False)  # ...with its later fragments, large...
        + wsf(b"more", 0)  # ...or small
        + wsf(b"\x00" * 400, 2)  # a single frame over the limit
        + wsf(OPTIONS[:140])
    )
    chunks = [stream[i : i + 50] for i in range(0, len(stream), 50)] if chunked else [stream]
    f = StreamFramer(LABEL)
    msgs = feed_chunks(chunks, f)
    assert [m.data for m in msgs] == [OPTIONS[:140]]
    assert reasons(f) == [
        f"{LABEL}: WebSocket message larger than 150 bytes: skipped",
        f"{LABEL}: WebSocket message larger than 150 bytes: skipped",
    ]


def test_websocket_gap_inside_a_frame_keeps_framing() -> None:
    head = len(UPGRADE_RESPONSE)
    frame = wsf(INVITE, 1)
    f = StreamFramer(LABEL)
    f.feed(sd(0, UPGRADE_RESPONSE + frame[:50], 1))
    f.feed(StreamGap(head + 50, 100, 2, 0, "timeout"))
    msgs = f.feed(sd(head + 150, frame[150:] + wsf(OK), 3))
    assert [m.data for m in msgs] == [OK]
    assert reasons(f) == [
        f"{LABEL}: dropped 50 bytes of an incomplete WebSocket message, "
        "then 100 bytes missing (not retransmitted within 3 s)"
    ]


def test_websocket_gap_inside_a_fragment_drops_the_whole_message() -> None:
    head = len(UPGRADE_RESPONSE)
    frag1 = wsf(INVITE[:100], fin=False)
    frag2 = wsf(INVITE[100:200], 0, fin=False)
    frag3 = wsf(INVITE[200:], 0)
    ping = wsf(b"p", 0x9)
    stream = UPGRADE_RESPONSE + frag1 + ping + frag2 + frag3 + wsf(OK)
    f = StreamFramer(LABEL)
    cut = head + len(frag1) + len(ping) + 20
    f.feed(sd(0, stream[:cut], 1))
    f.feed(StreamGap(cut, 10, 2, 0, "timeout"))
    msgs = f.feed(sd(cut + 10, stream[cut + 10 :], 3))
    assert [m.data for m in msgs] == [OK]
    assert f.mode == "ws"


def test_websocket_gap_inside_a_control_frame_between_fragments() -> None:
    frag1 = wsf(INVITE[:100], fin=False)
    ping = wsf(b"p" * 50, 0x9)
    stream = UPGRADE_RESPONSE + frag1 + ping + wsf(INVITE[100:], 0) + wsf(OK)
    cut = len(UPGRADE_RESPONSE) + len(frag1) + 20
    f = StreamFramer(LABEL)
    f.feed(sd(0, stream[:cut], 1))
    f.feed(StreamGap(cut, 10, 2, 0, "timeout"))
    msgs = f.feed(sd(cut + 10, stream[cut + 10 :], 3))
    assert [m.data for m in msgs] == [OK]


@pytest.mark.parametrize(
    ("after", "mode"),
    [
        (wsf(OK), "ws"),
        (b"\x00\x01garbage", "other"),
        (wsf(b"x", 0), "other"),
        (b"\xc1\x00", "other"),
    ],
)
def test_websocket_gap_at_a_frame_boundary(after: bytes, mode: str) -> None:
    f = StreamFramer(LABEL)
    f.feed(sd(0, UPGRADE_RESPONSE + wsf(OPTIONS), 1))
    start = len(UPGRADE_RESPONSE) + len(wsf(OPTIONS))
    f.feed(StreamGap(start, 7, 2, 0, "capture-end"))
    # The probe waits for a whole frame (header, then payload) before judging.
    msgs = f.feed(sd(start + 7, after[:1], 3))
    msgs += f.feed(sd(start + 8, after[1:6], 4))
    msgs += f.feed(sd(start + 13, after[6:], 5))
    assert f.mode == mode
    assert [m.data for m in msgs] == ([OK] if mode == "ws" else [])


def test_websocket_gap_inside_an_oversized_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_WS_MESSAGE_BYTES", 150)
    big = wsf(b"\x00" * 400, 2)
    head = len(UPGRADE_RESPONSE)
    f = StreamFramer(LABEL)
    f.feed(sd(0, UPGRADE_RESPONSE + big[:100], 1))
    f.feed(StreamGap(head + 100, 50, 2, 0, "capture-end"))
    msgs = f.feed(sd(head + 150, big[150:] + wsf(SHORT), 3))
    assert [m.data for m in msgs] == [SHORT]
    f.feed(sd(head + len(big) + len(wsf(SHORT)), big[:100], 4))
    f.feed(StreamGap(head + len(big) + len(wsf(SHORT)) + 100, 400, 5, 0, "capture-end"))
    assert f.mode == "ws"  # framing lost beyond the skipped frame: probing again


def test_websocket_incomplete_at_the_end() -> None:
    f = StreamFramer(LABEL)
    feed_chunks([UPGRADE_RESPONSE + wsf(OK[:50], fin=False) + wsf(OK[50:], 0)[:10]], f)
    f.flush()
    assert reasons(f) == [
        f"{LABEL}: incomplete WebSocket message of 60 bytes at the end of the stream (capture-end)"
    ]


# -- properties --------------------------------------------------------------------------

_PIECES = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            OPTIONS,
            OPTIONS[:50],
            SHORT_OK,
            b"\r\n",
            b"\r\n\r\n",
            b"l: 99999999999999999999\r\n",
            b"Content-Length: ...\r\n\r\n",
            UPGRADE_REQUEST,
            UPGRADE_RESPONSE,
            wsf(SHORT),
            wsf(SHORT, key=KEY, fin=False),
            wsf(b"x", 0),
            wsf(b"", 0x8),
            b"\x81\x7f\xff",
            TLS_HELLO[:8],
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_PIECES, st.integers(0, 3)), max_size=12), st.booleans())
def test_arbitrary_input_never_raises(pieces: list[tuple[bytes, int]], end: bool) -> None:
    # The fuzz invariant: whatever arrives, the framer returns messages and
    # diagnostics, and raises nothing.  Some pieces are preceded by a gap.
    f = StreamFramer(LABEL)
    off = 0
    frame = 1
    msgs: list[FramedMessage] = []
    for data, gap in pieces:
        if gap == 3:
            msgs += f.feed(StreamGap(off, 5, frame, 0, "timeout"))
            off += 5
        msgs += f.feed(sd(off, data, frame))
        off += len(data)
        frame += 1
    if end:
        msgs += f.feed(StreamEnd(frame, 0, "fin"))
    msgs += f.flush()
    assert all(isinstance(m, FramedMessage) and m.data for m in msgs)
    assert f.mode in ("detect", "sip", "ws", "tls", "other")


# -- properties: the reassembler and the framer together ------------------------------

_BODY_LINE = st.text("abcdefghijklmnopqrstuvwxyz0123456789=:./", max_size=20).map(
    lambda s: s.encode() + b"\r\n"
)


@st.composite
def sip_message(draw: st.DrawFn, index: int) -> bytes:
    body = b"".join(draw(st.lists(_BODY_LINE, max_size=5)))
    cl = draw(
        st.sampled_from(
            [
                b"Content-Length: %d\r\n",
                b"l: %d\r\n",
                b"content-length  :%d\r\n",
                b"Content-Length:\r\n  %d\r\n",
            ]
        )
    ) % len(body)
    if draw(st.booleans()):
        method = draw(st.sampled_from(["INVITE", "ACK", "BYE", "MESSAGE", "REGISTER"]))
        return req(method, body, cl, tag=str(index))
    status = draw(st.sampled_from(["100 Trying", "180 Ringing", "200 OK", "486 Busy Here"]))
    return resp(status, body, tag=str(index))


@st.composite
def sip_stream(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, int]]]:
    """Several messages with keep-alives around them: (stream, message ranges)."""
    count = draw(st.integers(1, 5))
    stream = b""
    ranges = []
    for i in range(count):
        stream += draw(st.sampled_from([b"", b"", b"\r\n", b"\r\n\r\n"]))
        msg = draw(sip_message(i))
        ranges.append((len(stream), len(stream) + len(msg)))
        stream += msg
    stream += draw(st.sampled_from([b"", b"\r\n"]))
    return stream, ranges


def cut(
    draw: st.DataObject, stream: bytes, isn: int
) -> tuple[list[tuple[int, int]], list[TcpSegment]]:
    n = len(stream)
    count = draw.draw(st.integers(1, 25))
    cuts = sorted(draw.draw(st.sets(st.integers(1, n - 1), max_size=count)))
    bounds = [0, *cuts, n]
    ranges = list(zip(bounds, bounds[1:], strict=False))
    segs = [
        TcpSegment(
            i + 2, 0, b"", 5060, b"", 40000, (isn + 1 + a) & 0xFFFFFFFF, 0, ACK, stream[a:b], b - a
        )
        for i, (a, b) in enumerate(ranges)
    ]
    return ranges, segs


def run_both(
    segments: list[TcpSegment],
) -> tuple[list[StreamEvent], list[FramedMessage], StreamFramer]:
    r = StreamReassembler()
    f = StreamFramer(LABEL)
    events: list[StreamEvent] = []
    for s in segments:
        events += r.feed(s)
    events += r.flush()
    msgs = [m for e in events for m in f.feed(e)]
    msgs += f.flush()
    return events, msgs, f


ISNS = st.one_of(st.integers(0, 2**32 - 1), st.integers(2**32 - 3000, 2**32 - 1))


@settings(max_examples=200, deadline=None)
@given(sip_stream(), ISNS, st.data())
def test_any_segmentation_order_and_duplication_gives_the_same_messages(
    stream_ranges: tuple[bytes, list[tuple[int, int]]], isn: int, draw: st.DataObject
) -> None:
    stream, ranges = stream_ranges
    expected = [stream[a:b] for a, b in ranges]
    _, segs = cut(draw, stream, isn)
    # Retransmissions: copies of segments and arbitrary overlapping ranges.
    segs += draw.draw(st.lists(st.sampled_from(segs), max_size=3))
    for k in range(draw.draw(st.integers(0, 4))):
        a = draw.draw(st.integers(0, len(stream) - 1))
        b = min(len(stream), a + draw.draw(st.integers(1, 200)))
        segs.append(
            TcpSegment(
                90 + k,
                0,
                b"",
                5060,
                b"",
                40000,
                (isn + 1 + a) & 0xFFFFFFFF,
                0,
                ACK,
                stream[a:b],
                b - a,
            )
        )
    syn = TcpSegment(1, 0, b"", 5060, b"", 40000, isn, 0, SYN, b"", 0)
    fin = TcpSegment(
        200, 0, b"", 5060, b"", 40000, (isn + 1 + len(stream)) & 0xFFFFFFFF, 0, FIN | ACK, b"", 0
    )
    events, msgs, f = run_both([syn, *draw.draw(st.permutations([*segs, fin]))])
    assert [m.data for m in msgs] == expected
    assert not any(m.incomplete for m in msgs)
    assert f.diagnostics == []
    assert events[-1] == StreamEnd(200, 0, "fin")


@settings(max_examples=200, deadline=None)
@given(sip_stream(), ISNS, st.data())
def test_dropping_one_segment_gives_one_gap_and_the_framer_recovers(
    stream_ranges: tuple[bytes, list[tuple[int, int]]], isn: int, draw: st.DataObject
) -> None:
    stream, ranges = stream_ranges
    seg_ranges, segs = cut(draw, stream, isn)
    if len(segs) < 2:
        return
    drop = draw.draw(st.integers(0, len(segs) - 2))
    lost_a, lost_b = seg_ranges[drop]
    kept = segs[:drop] + segs[drop + 1 :]
    syn = TcpSegment(1, 0, b"", 5060, b"", 40000, isn, 0, SYN, b"", 0)
    events, msgs, f = run_both([syn, *draw.draw(st.permutations(kept))])
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert [(g.offset, g.length) for g in gaps] == [(lost_a, lost_b - lost_a)]
    # Every message clear of the lost bytes is found, intact and in order.
    intact = [stream[a:b] for a, b in ranges if b <= lost_a or a >= lost_b]
    complete = iter([m.data for m in msgs if not m.incomplete])
    assert all(any(m == want for m in complete) for want in intact)
    # And the loss is reported.
    assert any(re.search(rf"{lost_b - lost_a} bytes missing", r) for r in reasons(f))
