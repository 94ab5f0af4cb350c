"""parse_message and match_start_line: one quirk per table row."""

from __future__ import annotations

import dataclasses

import pytest

from analyzer.errors import SipParseError
from analyzer.net.flow import Origin, Transport, endpoint
from analyzer.sip import message
from analyzer.sip.headers import Headers
from analyzer.sip.message import (
    Defect,
    SipRequest,
    SipResponse,
    match_start_line,
    parse_message,
)

ORIGIN = Origin(
    frame=1,
    frames=(1,),
    ts_ns=0,
    src=endpoint(b"\x0a\x00\x00\x01", 5060),
    dst=endpoint(b"\x0a\x00\x00\x02", 5060),
    transport=Transport.UDP,
)

HEADERS = (
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.com>\r\n"
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.com>\r\n"
)
SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\r\ns=-\r\n"
    b"c=IN IP4 pc33.atlanta.com\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)
INVITE = (
    b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    + HEADERS.encode()
    + b"Content-Type: application/sdp\r\n"
    + f"Content-Length: {len(SDP)}\r\n\r\n".encode()
    + SDP
)
RINGING = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
    b"To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def parse(data: bytes) -> SipRequest | SipResponse:
    return parse_message(data, ORIGIN)


def request(
    *header_lines: str, start: str = "OPTIONS sip:bob@biloxi.com SIP/2.0", body: bytes = b""
) -> bytes:
    """A request with the given header lines (CRLF added) and body."""
    head = "".join(line + "\r\n" for line in (start, *header_lines))
    return head.encode() + b"\r\n" + body


def codes(msg: SipRequest | SipResponse) -> list[str]:
    return [d.code for d in msg.defects]


# -- whole messages -----------------------------------------------------------


def test_invite_fields() -> None:
    msg = parse(INVITE)
    assert isinstance(msg, SipRequest)
    assert (msg.method, msg.uri, msg.version) == ("INVITE", "sip:bob@biloxi.com", "SIP/2.0")
    assert msg.call_id == "a84b4c76e66710@pc33.atlanta.com"
    assert (msg.cseq_num, msg.cseq_method) == (314159, "INVITE")
    assert (msg.from_tag, msg.to_tag) == ("1928301774", None)
    assert msg.branch == "z9hG4bK776asdhds"
    assert msg.content_length == len(SDP)
    assert msg.body == SDP
    assert msg.raw == INVITE
    assert msg.origin is ORIGIN
    assert msg.defects == ()
    assert msg.headers.get("max-forwards") == "70"
    assert [name for name, _, _ in msg.headers] == [
        "Via",
        "Max-Forwards",
        "To",
        "From",
        "Call-ID",
        "CSeq",
        "Contact",
        "Content-Type",
        "Content-Length",
    ]


def test_response_fields() -> None:
    msg = parse(RINGING)
    assert isinstance(msg, SipResponse)
    assert (msg.status, msg.reason, msg.version) == (180, "Ringing", "SIP/2.0")
    assert (msg.from_tag, msg.to_tag) == ("1928301774", "a6c85cf")
    assert msg.branch == "z9hG4bK776asdhds"
    assert msg.content_length == 0
    assert msg.body == b""
    assert msg.defects == ()


def test_record_is_a_frozen_dataclass_equal_to_a_constructed_one() -> None:
    msg = parse(RINGING)
    assert type(msg) is SipResponse
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.status = 200  # type: ignore[misc]
    built = SipResponse(**{f.name: getattr(msg, f.name) for f in dataclasses.fields(msg)})
    assert built == msg
    assert hash(built) == hash(msg)
    assert dataclasses.replace(msg, status=183).status == 183
    assert repr(msg).startswith("SipResponse(origin=")


@pytest.mark.parametrize("data", [INVITE, RINGING, request("Call-ID: x", "Ünknown: é")])
def test_fast_and_careful_parsers_agree(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = parse(data)
    # With nothing counted as plain text, every message takes the careful path.
    monkeypatch.setattr(message, "_PLAIN_BYTES", b"")
    assert parse(data) == fast


# -- start line -------------------------------------------------------------------

START_LINES = [
    # (start line bytes, (method or status, uri or reason, version), defect codes)
    (b"INVITE sip:bob@biloxi.com SIP/2.0", ("INVITE", "sip:bob@biloxi.com", "SIP/2.0"), []),
    (b"NOFITY sip:a@b SIP/2.0", ("NOFITY", "sip:a@b", "SIP/2.0"), []),
    (b"Invite sip:a@b SIP/2.0", ("Invite", "sip:a@b", "SIP/2.0"), []),
    (b"INVITE <sip:a@b> SIP/2.0", ("INVITE", "<sip:a@b>", "SIP/2.0"), []),
    (
        b"MESSAGE sip:bob@biloxi.com  SIP/2.0 ",
        ("MESSAGE", "sip:bob@biloxi.com", "SIP/2.0"),
        ["start-line-spacing"],
    ),
    (b"BYE\tsip:a@b SIP/2.0", ("BYE", "sip:a@b", "SIP/2.0"), ["start-line-spacing"]),
    (
        b"MESSAGE sip:bob@biloxi.com\xc2\xa0 \xc2\xa0 SIP/2.0\xc2\xa0",
        ("MESSAGE", "sip:bob@biloxi.com", "SIP/2.0"),
        ["nbsp", "start-line-spacing"],
    ),
    (b"ACK sip:a@b sip/2.0", ("ACK", "sip:a@b", "sip/2.0"), ["version-case"]),
    (b"ACK sip:a@b SIP/3.0", ("ACK", "sip:a@b", "SIP/3.0"), []),
    (b"SIP/2.0 200 OK", (200, "OK", "SIP/2.0"), []),
    (b"SIP/2.0 183 Session Progress", (183, "Session Progress", "SIP/2.0"), []),
    (b"SIP/2.0 099 Odd", (99, "Odd", "SIP/2.0"), []),
    (b"SIP/2.0 200 ", (200, "", "SIP/2.0"), []),
    (b"SIP/2.0 200", (200, "", "SIP/2.0"), ["start-line-spacing"]),
    (b"SIP/2.0  486 Busy Here", (486, "Busy Here", "SIP/2.0"), ["start-line-spacing"]),
    (b"sip/2.0 404 Not Found", (404, "Not Found", "sip/2.0"), ["version-case"]),
    (b"SIP/2.0 699 \xc3\x9cberlastet", (699, "\u00dcberlastet", "SIP/2.0"), []),
    (b"SIP/2.0 401 Unauthori%s\x00", (401, "Unauthori%s\x00", "SIP/2.0"), ["start-line-control"]),
]


@pytest.mark.parametrize(("start", "expected", "defects"), START_LINES)
def test_start_line(start: bytes, expected: tuple[object, str, str], defects: list[str]) -> None:
    msg = parse(start + b"\r\nCall-ID: x\r\n\r\n")
    if isinstance(msg, SipRequest):
        assert (msg.method, msg.uri, msg.version) == expected
    else:
        assert (msg.status, msg.reason, msg.version) == expected
    assert codes(msg) == defects
    assert msg.call_id == "x"


NOT_SIP = [
    (b"", "empty"),
    (b"\r\n\r\n", "CR/LF only"),
    (b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "HTTP request"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP response"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "TLS record"),
    (b"\x80\x00\x12\x34\x00\x00\x00\xa0\xde\xad\xbe\xef" + bytes(160), "RTP packet"),
    (b"INVITE sip:a@b\r\nVia: x\r\n\r\n", "no version"),
    (b"SIP/2.0 20 OK\r\n\r\n", "two-digit status"),
    (b"SIP/2.0 2000 OK\r\n\r\n", "four-digit status"),
    (b"INVITE sip:a b SIP/2.0\r\n\r\n", "blank inside the Request-URI"),
    (b"INVITE sip:a\x00b SIP/2.0\r\n\r\n", "NUL inside the Request-URI"),
    (b"CANCEL sip:a@b SIP/2.0\r7Via: SIP/2.0/UDP h\r\n\r\n", "CR inside the start line"),
    (b"INVITE sip:a@b SIP/2.0\r\nthis is prose, not a header\r\n", "no header section"),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\x01\x02\x03\x04binary", "binary after the headers"),
]


@pytest.mark.parametrize(("data", "why"), NOT_SIP)
def test_not_sip_raises(data: bytes, why: str) -> None:
    with pytest.raises(SipParseError):
        parse(data)


MATCH_START = [
    (INVITE, True),
    (RINGING, True),
    (b"OPTIONS sip:a@b SIP/2.0\r\n", True),
    (b"NOFITY sip:a@b SIP/2.0\r\n", True),
    (b"MESSAGE sip:bob@biloxi.com\xc2\xa0 \xc2\xa0 SIP/2.0\xc2\xa0\n", True),
    (b"ACK sip:a@b sip/2.0\r\n", True),
    (b"SIP/2.0 200 OK\r\n", True),
    (b"SIP/2.0 200\r\n", True),
    (b"SIP/2.0 100 Trying", True),
    (b"", False),
    (b"\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\n", False),
    (b"HTTP/1.1 200 OK\r\n", False),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", False),
    (b"\x80\x00\x12\x34" + bytes(200), False),
    (b"INVITE sip:a@b\r\n", False),
    (b"SIP/2.0 20 OK\r\n", False),
    (b"INVITE " + b"x" * 10_000 + b" SIP/2.0\r\n", False),
]


@pytest.mark.parametrize(("data", "expected"), MATCH_START)
def test_match_start_line(data: bytes, expected: bool) -> None:
    assert match_start_line(data) is expected


@pytest.mark.parametrize(("data", "expected"), [(d, e) for d, e in MATCH_START if e])
def test_recognised_start_lines_parse(data: bytes, expected: bool) -> None:
    parse(data)


# -- line ends, encodings, blanks ----------------------------------------------


def test_bare_lf_line_ends() -> None:
    msg = parse(INVITE.replace(b"\r\n", b"\n"))
    assert codes(msg) == ["bare-lf", "short-body"]
    assert msg.call_id == "a84b4c76e66710@pc33.atlanta.com"
    assert msg.branch == "z9hG4bK776asdhds"
    # The SDP lost its CRs too, so it is shorter than Content-Length says.
    assert msg.content_length == len(SDP)
    assert len(msg.body) == len(SDP) - SDP.count(b"\r")


def test_one_bare_lf_among_crlf() -> None:
    data = RINGING.replace(b"CSeq: 314159 INVITE\r\n", b"CSeq: 314159 INVITE\n")
    msg = parse(data)
    assert codes(msg) == ["bare-lf"]
    assert "line 6" in msg.defects[0].detail
    assert msg.cseq_num == 314159


def test_leading_crlf_is_reported() -> None:
    msg = parse(b"\r\n\r\n" + RINGING)
    assert codes(msg) == ["leading-crlf"]
    assert isinstance(msg, SipResponse)
    assert msg.status == 180


def test_nbsp_in_header_values() -> None:
    # From seed 004 as published: U+00A0 before the parameters.
    data = request(
        "Via: SIP/2.0/TCP app_IM.atlanta.com;branch=z9hG4bKnashds7\u00a0; received=10.1.3.2",
        "From: sip:app_IM.atlanta.com\u00a0;tag=123aa9",
        "To: sip:alice@atlanta.com\u00a0; tag=xyzygg",
        "Content-Length:\u00a00",
    )
    msg = parse(data)
    assert codes(msg) == ["nbsp"] * 4
    assert msg.branch == "z9hG4bKnashds7"
    assert (msg.from_tag, msg.to_tag) == ("123aa9", "xyzygg")
    assert msg.content_length == 0


def test_non_utf8_header_is_kept_losslessly() -> None:
    data = request("Call-ID: x").replace(b"\r\n\r\n", b"\r\nSubject: caf\xe9\r\n\r\n")
    msg = parse(data)
    assert codes(msg) == ["non-utf8-header"]
    assert msg.defects[0].detail == "line 3: b'Subject: caf\\xe9'"
    value = msg.headers.get("subject")
    assert value is not None
    assert value.encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_utf8_header_values() -> None:
    msg = parse(request('From: "J\u00fcrgen" <sip:j@example.de>;tag=\u00e91', "Call-ID: x"))
    assert msg.defects == ()
    assert msg.from_tag == "\u00e91"
    assert msg.headers.get("from") == '"J\u00fcrgen" <sip:j@example.de>;tag=\u00e91'


# -- header lines ---------------------------------------------------------------------


HEADER_LINES = [
    # (header lines, (name, expected first value), defect codes)
    (["Subject: hello"], ("subject", "hello"), []),
    (["Subject:hello"], ("subject", "hello"), []),
    (["Subject :  hello  "], ("subject", "hello"), []),
    (["Subject\t:\thello"], ("subject", "hello"), []),
    (["subject: hello"], ("subject", "hello"), []),
    (["s: hello"], ("subject", "hello"), []),
    (["Subject: hello,", " world"], ("subject", "hello, world"), []),
    (["Subject: hello,", "\t  world", "  again"], ("subject", "hello, world again"), []),
    (["Subject:", " folded"], ("subject", "folded"), []),
    (["Subject:"], ("subject", ""), []),
    (["X-Vendor_Thing.1: a"], ("x-vendor_thing.1", "a"), []),
    (["Content=Length: 10", "Subject: s"], ("subject", "s"), ["malformed-header"]),
    (["no colon on this line", "Subject: s"], ("subject", "s"), ["malformed-header"]),
    ([": empty name", "Subject: s"], ("subject", "s"), ["malformed-header"]),
    (["Sub ject: s", "Subject: t"], ("subject", "t"), ["malformed-header"]),
    (["Subject: a\x0bb", "Subject: t"], ("subject", "t"), ["malformed-header"]),
    (["Call-ID: 578222%s\x00-4665d775", "Subject: t"], ("call-id", None), ["malformed-header"]),
    (["C%s\x00: 1 CANCEL", "Subject: t"], ("cseq", None), ["malformed-header"]),
    ([" leading continuation", "Subject: s"], ("subject", "s"), ["malformed-header"]),
]


@pytest.mark.parametrize(("lines", "expected", "defects"), HEADER_LINES)
def test_header_lines(
    lines: list[str], expected: tuple[str, str | None], defects: list[str]
) -> None:
    msg = parse(request(*lines))
    name, value = expected
    assert msg.headers.get(name) == value
    assert codes(msg) == defects


def test_malformed_header_is_reported_with_line_number_and_kept_out() -> None:
    data = request("Call-ID: x", "Content=Length: 10", "CSeq: 1 OPTIONS")
    msg = parse(data)
    assert msg.defects == (Defect("malformed-header", "line 3: 'Content=Length: 10'"),)
    assert [name for name, _, _ in msg.headers] == ["Call-ID", "CSeq"]
    assert b"Content=Length: 10" in msg.raw
    assert msg.content_length is None


def test_duplicates_and_order_are_kept() -> None:
    data = request(
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa",
        "Route: <sip:p1>",
        "Via: SIP/2.0/UDP b.example.com;branch=z9hG4bKb",
        "v: SIP/2.0/UDP c.example.com;branch=z9hG4bKc",
    )
    msg = parse(data)
    assert msg.headers.get_all("via") == [
        "SIP/2.0/UDP a.example.com;branch=z9hG4bKa",
        "SIP/2.0/UDP b.example.com;branch=z9hG4bKb",
        "SIP/2.0/UDP c.example.com;branch=z9hG4bKc",
    ]
    assert msg.branch == "z9hG4bKa"


def test_new_header_name_is_remembered() -> None:
    data = request("Call-ID: x", "X-Seen-Once-7f3a: 1")
    first = parse(data)
    second = parse(data)
    assert first == second
    assert second.headers.get("x-seen-once-7f3a") == "1"


# -- eager fields -----------------------------------------------------------------------

TAGS = [
    # (From value, expected tag, defect codes)
    ("Alice <sip:alice@atlanta.com>;tag=1928301774", "1928301774", []),
    ('"Alice" <sip:alice@atlanta.com>;tag=88sja8x', "88sja8x", []),
    ("<sip:alice@atlanta.com>;tag=as-1.2_x", "as-1.2_x", []),
    ("<sip:alice@atlanta.com>;tag=abc;x=y", "abc", []),
    ("<sip:alice@atlanta.com>;x=y;tag=abc", "abc", []),
    ("<sip:alice@atlanta.com> ; tag = abc ", "abc", []),
    ("<sip:alice@atlanta.com>;TAG=abc", "abc", []),
    ("<sip:alice@atlanta.com>;Tag=abc", "abc", []),
    ("sip:app_IM.atlanta.com ;tag=123aa9", "123aa9", []),
    ("sip:alice@atlanta.com;tag=xyz", "xyz", []),
    ("sip:alice@atlanta.com;user=phone;tag=xyz", "xyz", []),
    ("sip:alice@atlanta.com ;tab=xyzygg", None, []),
    ("<sip:alice@atlanta.com>;tab=xyzygg", None, []),
    ("<sip:alice@atlanta.com>;xtag=1", None, []),
    ("<sip:alice@atlanta.com;tag=inuri>", None, []),
    ("<sip:alice@atlanta.com;tag=inuri>;tag=real", "real", []),
    ('"a>b;tag=no" <sip:alice@atlanta.com>;tag=yes', "yes", []),
    ("<sip:alice@atlanta.com>", None, []),
    ("<sip:alice@atlanta.com;user=phone>", None, []),
    ("sip:alice@atlanta.com", None, []),
    ("<sip:alice@atlanta.com>;tag=", "", []),
    ("<sip:alice@atlanta.com;tag=1", None, ["bad-from"]),
]


@pytest.mark.parametrize(("value", "tag", "defects"), TAGS)
def test_from_tag(value: str, tag: str | None, defects: list[str]) -> None:
    msg = parse(request(f"From: {value}", "Call-ID: x"))
    assert msg.from_tag == tag
    assert codes(msg) == defects


@pytest.mark.parametrize(("value", "tag", "defects"), TAGS)
def test_to_tag(value: str, tag: str | None, defects: list[str]) -> None:
    msg = parse(request(f"t: {value}", "Call-ID: x"))
    assert msg.to_tag == tag
    assert codes(msg) == [code.replace("from", "to") for code in defects]


BRANCHES = [
    (["Via: SIP/2.0/UDP h;branch=z9hG4bK1"], "z9hG4bK1"),
    (["Via: SIP/2.0/UDP h;branch=z9hG4bK1;rport"], "z9hG4bK1"),
    (["Via: SIP/2.0/UDP h;rport;branch=z9hG4bK-524287-1---f0d8"], "z9hG4bK-524287-1---f0d8"),
    (["Via: SIP/2.0/UDP h ; Branch = z9hG4bKx ; received=1.2.3.4"], "z9hG4bKx"),
    (["Via: SIP/2.0/UDP h;;branch=z9hG4bKdouble"], "z9hG4bKdouble"),
    (["Via: SIP/2.0/UDP h;branch=z9hG4bKtop, SIP/2.0/UDP p;branch=z9hG4bK2"], "z9hG4bKtop"),
    (["Via: SIP/2.0/UDP h, SIP/2.0/UDP p;branch=z9hG4bK2"], None),
    (['Via: SIP/2.0/UDP h;x="a,b";branch=z9hG4bKq, SIP/2.0/UDP p'], "z9hG4bKq"),
    (["Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6"], "z9hG4bK6"),
    (["Via: SIP/2.0/UDP h", "Via: SIP/2.0/UDP p;branch=z9hG4bK2"], None),
    (["v: SIP/2.0/UDP h;branch=z9hG4bKc"], "z9hG4bKc"),
    (["Via: SIP/2.0/UDP h;branches=1"], None),
    (["Via: ,"], None),
    ([], None),
]


@pytest.mark.parametrize(("lines", "branch"), BRANCHES)
def test_top_via_branch(lines: list[str], branch: str | None) -> None:
    msg = parse(request(*lines))
    assert msg.branch == branch
    assert msg.defects == ()


CSEQS = [
    ("314159 INVITE", (314159, "INVITE"), []),
    ("1 ACK", (1, "ACK"), []),
    ("  7\tBYE  ", (7, "BYE"), []),
    ("4294967296 INVITE", (4294967296, "INVITE"), []),
    ("0012 INFO", (12, "INFO"), []),
    ("1288 NOFITY", (1288, "NOFITY"), []),
    ("abc", (None, None), ["bad-cseq"]),
    ("INVITE", (None, None), ["bad-cseq"]),
    ("1", (None, None), ["bad-cseq"]),
    ("1 INVITE extra", (None, None), ["bad-cseq"]),
    ("-1 INVITE", (None, None), ["bad-cseq"]),
    ("\u0661 INVITE", (None, None), ["bad-cseq"]),
    ("9" * 21 + " INVITE", (None, None), ["bad-cseq"]),
    ("9" * 5000 + " INVITE", (None, None), ["bad-cseq"]),
]


@pytest.mark.parametrize(("value", "expected", "defects"), CSEQS)
def test_cseq(value: str, expected: tuple[int | None, str | None], defects: list[str]) -> None:
    msg = parse(request(f"CSeq: {value}"))
    assert (msg.cseq_num, msg.cseq_method) == expected
    assert codes(msg) == defects


@pytest.mark.parametrize(
    ("lines", "call_id", "defects"),
    [
        (["Call-ID: a84b4c76e66710@pc33.atlanta.com"], "a84b4c76e66710@pc33.atlanta.com", []),
        (
            ["i:f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com"],
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com",
            [],
        ),
        (["CALL-ID: x", "Call-ID: y"], "x", []),
        (["Call-ID:   "], None, ["bad-call-id"]),
        ([], None, []),
    ],
)
def test_call_id(lines: list[str], call_id: str | None, defects: list[str]) -> None:
    msg = parse(request(*lines))
    assert msg.call_id == call_id
    assert codes(msg) == defects


# -- body and Content-Length -------------------------------------------------------------

CONTENT_LENGTHS = [
    # (Content-Length line or None, body bytes, content_length, body, defect codes)
    (None, b"hello", None, b"hello", []),
    ("Content-Length: 5", b"hello", 5, b"hello", []),
    ("l: 5", b"hello", 5, b"hello", []),
    ("content-length:5", b"hello", 5, b"hello", []),
    ("Content-Length: 0", b"", 0, b"", []),
    ("Content-Length: ...", b"hello", None, b"hello", ["bad-content-length"]),
    ("Content-Length: 5x", b"hello", None, b"hello", ["bad-content-length"]),
    ("Content-Length: -5", b"hello", None, b"hello", ["bad-content-length"]),
    ("Content-Length: 37", b"Hello! Bob", 37, b"Hello! Bob", ["short-body"]),
    ("Content-Length: 3", b"hello", 3, b"hel", ["extra-bytes"]),
    ("Content-Length: 0", b"\r\n", 0, b"", ["extra-bytes"]),
    ("Content-Length: 12", "Hello! \u00a0Bob".encode(), 12, "Hello! \u00a0Bob".encode(), []),
    ("Content-Length: 6", "h\u00e9llo".encode(), 6, "h\u00e9llo".encode(), []),
    ("Content-Length: 5", "h\u00e9llo".encode(), 5, "h\u00e9llo".encode()[:5], ["extra-bytes"]),
    ("Content-Length: 4", b"\r\n\r\n", 4, b"\r\n\r\n", []),
    ("Content-Length: 10", b"\x00\x01\xff binary", 10, b"\x00\x01\xff binary", []),
]


@pytest.mark.parametrize(("line", "body", "length", "expected", "defects"), CONTENT_LENGTHS)
def test_content_length(
    line: str | None, body: bytes, length: int | None, expected: bytes, defects: list[str]
) -> None:
    lines = ["Call-ID: x"] + ([line] if line else [])
    msg = parse(request(*lines, body=body))
    assert msg.content_length == length
    assert msg.body == expected
    assert codes(msg) == defects


def test_short_body_details() -> None:
    msg = parse(request("Content-Length: 37", body=b"Hello! Bob"))
    assert msg.defects == (Defect("short-body", "10 of 37 bytes"),)
    cut = parse_message(
        request("Content-Length: 37", body=b"Hello! Bob"),
        dataclasses.replace(ORIGIN, truncated=True),
    )
    assert "snapshot length" in cut.defects[0].detail


def test_extra_bytes_details() -> None:
    msg = parse(request("Content-Length: 3", body=b"hello"))
    assert msg.defects == (Defect("extra-bytes", "2 bytes after Content-Length 3"),)


def test_body_starts_after_the_first_empty_line() -> None:
    msg = parse(request("Content-Length: 10", body=b"\r\nsecond\r\n"))
    assert msg.body == b"\r\nsecond\r\n"


# -- missing empty line ------------------------------------------------------------------

# Seed 004 as published (LF line ends, no empty line, a misspelled method,
# ";tab=" and a Content-Length that does not match).
SEED_NOTIFY = (
    b"NOFITY sip:app_IM.atlanta.com SIP/2.0\n"
    b"Via: SIP/2.0/TCP server1.atlanta.com;branch=z9G4bKnasaii\n"
    b"From: sip:alice@atlanta.com ;tab=xyzygg\n"
    b"To: sip:app_IM.atlanta.com ;tag=123aa9\n"
    b"Max-Forwards: 70\n"
    b"Call-ID: 9987@app_IM.atlanta.com\n"
    b"CSeq:1288 NOTIFY\n"
    b"Contatct: sip:server19.atlanta.com\n"
    b"Event: reg\n"
    b"Subscription-State: active\n"
    b"Content-Type: application/reginfo+xml\n"
    b"Content-Length: 223\n"
    b'<?xml version="1.0"?>\n'
    b'  <reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">\n'
    b'    <registration aor="sip:alice@atlanta.com" id="a7" state="init" />\n'
    b"  </reginfo>\n"
)


def test_seed_notify_without_empty_line() -> None:
    msg = parse(SEED_NOTIFY)
    assert isinstance(msg, SipRequest)
    assert msg.method == "NOFITY"
    assert msg.body.startswith(b'<?xml version="1.0"?>\n')
    assert msg.body.endswith(b"</reginfo>\n")
    assert codes(msg) == ["missing-empty-line", "bare-lf", "short-body"]
    assert msg.defects[0].detail.startswith("line 13:")
    assert (msg.from_tag, msg.to_tag) == (None, "123aa9")
    assert (msg.cseq_num, msg.cseq_method) == (1288, "NOTIFY")
    assert msg.branch == "z9G4bKnasaii"
    assert msg.headers.get("contatct") == "sip:server19.atlanta.com"
    assert msg.headers.get("content-length") == "223"


def test_malformed_line_before_a_body_without_empty_line() -> None:
    data = (
        b"NOTIFY sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent=Length: ...\r\n"
        b'<?xml version="1.0"?>\r\n<reginfo/>\r\n'
    )
    msg = parse(data)
    assert codes(msg) == ["missing-empty-line", "malformed-header"]
    assert msg.body == b'<?xml version="1.0"?>\r\n<reginfo/>\r\n'


def test_headers_without_empty_line() -> None:
    # A header block sent without its final CRLF, or a datagram cut inside
    # its headers after a colon.
    msg = parse(b"SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length:")
    assert codes(msg) == ["missing-empty-line", "bad-content-length"]
    assert msg.body == b""
    assert (msg.call_id, msg.cseq_num) == ("x", 1)


def test_cut_line_without_colon_starts_the_body() -> None:
    # Without an empty line, the first line that is not header-like is
    # taken as the body; a cut "Content-Le" is indistinguishable from text.
    msg = parse(b"SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Le")
    assert msg.defects == (
        Defect("missing-empty-line", "line 4: the body begins with no empty line before it"),
    )
    assert msg.body == b"Content-Le"


def test_folding_without_empty_line() -> None:
    data = b"MESSAGE sip:a@b SIP/2.0\nSubject: I know you're there,\n  pick up the phone\nHello!\n"
    msg = parse(data)
    assert msg.headers.get("subject") == "I know you're there, pick up the phone"
    assert msg.body == b"Hello!\n"
    assert codes(msg) == ["missing-empty-line", "bare-lf"]


def test_start_line_only() -> None:
    msg = parse(b"OPTIONS sip:a@b SIP/2.0\r\n")
    assert codes(msg) == ["missing-empty-line"]
    assert len(msg.headers) == 0


def test_start_line_and_empty_line_only() -> None:
    msg = parse(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n")
    assert msg.defects == ()
    assert msg.headers == Headers()
    assert (msg.call_id, msg.cseq_num, msg.branch, msg.content_length) == (None, None, None, None)
