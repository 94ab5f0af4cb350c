"""split_multipart: RFC 2046 boundaries, one quirk per case."""

from __future__ import annotations

import pytest

from analyzer.errors import SipParseError
from analyzer.sip.multipart import MAX_BODY_PARTS, split_multipart

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
ISUP = b"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00"

# SDP + ISUP as in SIP-I (RFC 3204), with a quoted boundary, a preamble and
# an epilogue.
SIP_I_BODY = (
    b"This is a preamble.\r\n"
    b"--unique-boundary-1\r\n"
    b"Content-Type: application/sdp\r\n"
    b"\r\n" + SDP + b"\r\n"
    b"--unique-boundary-1\r\n"
    b"Content-Type: application/ISUP; version=nxv3; base=etsi121\r\n"
    b"Content-Disposition: signal; handling=optional\r\n"
    b"\r\n" + ISUP + b"\r\n"
    b"--unique-boundary-1--\r\n"
    b"This is an epilogue.\r\n"
)


def test_sip_i_body_with_quoted_boundary() -> None:
    parts = split_multipart('multipart/mixed; boundary="unique-boundary-1"', SIP_I_BODY)
    assert [p.headers.get("content-type") for p in parts] == [
        "application/sdp",
        "application/ISUP; version=nxv3; base=etsi121",
    ]
    assert parts[0].body == SDP
    assert parts[1].body == ISUP
    assert parts[1].headers.get("Content-Disposition") == "signal; handling=optional"
    assert all(p.defects == () for p in parts)


def test_boundary_with_spaces_and_no_preamble() -> None:
    body = b"--a b\r\nc: text/plain\r\n\r\none\r\n--a b\r\n\r\ntwo\r\n--a b--"
    parts = split_multipart('multipart/alternative;boundary="a b"', body)
    assert [p.body for p in parts] == [b"one", b"two"]
    assert parts[0].headers.get("content-type") == "text/plain"
    assert len(parts[1].headers) == 0


def test_line_starting_with_the_boundary_is_content() -> None:
    body = b"--b\r\n\r\n--bx is not a delimiter\r\n--b--\r\n"
    parts = split_multipart("multipart/mixed;boundary=b", body)
    assert [p.body for p in parts] == [b"--bx is not a delimiter"]


def test_empty_part() -> None:
    parts = split_multipart("multipart/mixed;boundary=b", b"--b\r\n\r\n--b\r\n\r\nx\r\n--b--")
    assert [p.body for p in parts] == [b"", b"x"]


def test_padding_after_delimiters() -> None:
    parts = split_multipart("multipart/mixed;boundary=b", b"--b  \r\n\r\nx\r\n--b--  \r\n")
    assert [p.body for p in parts] == [b"x"]


def test_lf_line_ends() -> None:
    body = b"--b\nContent-Type: text/plain\nContent-ID: <1>\n\nhello\n--b--\n"
    parts = split_multipart("multipart/mixed;boundary=b", body)
    assert parts[0].body == b"hello"
    assert parts[0].headers.get("content-type") == "text/plain"
    assert [d.code for d in parts[0].defects] == ["bare-lf"]


def test_part_headers_keep_their_defects() -> None:
    body = b"--b\r\nContent=Type: text/plain\r\nContent-ID: <1>\r\n\r\nx\r\n--b--"
    (part,) = split_multipart("multipart/mixed;boundary=b", body)
    assert [d.code for d in part.defects] == ["malformed-header"]
    assert part.headers.get("content-id") == "<1>"


def test_nul_in_part_headers_is_a_malformed_line() -> None:
    (part,) = split_multipart("multipart/mixed;boundary=b", b"--b\r\nA: 1\x00\r\n\r\nx\r\n--b--")
    assert [d.code for d in part.defects] == ["malformed-header"]
    assert part.body == b"x"


def test_part_without_empty_line_is_all_headers() -> None:
    (part,) = split_multipart("multipart/mixed;boundary=b", b"--b\r\nContent-ID: <1>\r\n--b--")
    assert part.headers.get("content-id") == "<1>"
    assert part.body == b""


MALFORMED = [
    ("application/sdp", SDP, "not multipart"),
    ("multipart/mixed", b"--b\r\n\r\nx\r\n--b--", "no boundary parameter"),
    ('multipart/mixed;boundary=""', b"--\r\n\r\nx\r\n----", "empty boundary"),
    ("multipart/mixed;boundary=" + "b" * 71, b"", "boundary longer than 70"),
    ('multipart/mixed;boundary="b "', b"--b \r\n\r\nx\r\n--b --", "boundary ending in a space"),
    ("multipart/mixed;boundary=b", b"no delimiter here", "no opening delimiter"),
    ("multipart/mixed;boundary=b", b"--b\r\n\r\nx\r\n", "no close delimiter"),
    ("multipart/mixed;boundary=b", b"--b\r\n\r\nx", "no close delimiter, no line end"),
    ("multipart/mixed;boundary=b", b"--b", "delimiter only"),
    ("multipart/mixed;boundary=b", b"--b--\r\n", "close delimiter only"),
    ("multipart/mixed;boundary=b", b"--b junk\r\n\r\nx\r\n--b--", "text after a delimiter"),
    ("multipart", b"--b\r\n\r\nx\r\n--b--", "unparsable Content-Type"),
]


@pytest.mark.parametrize(("content_type", "body", "why"), MALFORMED)
def test_malformed_raises(content_type: str, body: bytes, why: str) -> None:
    with pytest.raises(SipParseError):
        split_multipart(content_type, body)


def test_too_many_parts() -> None:
    body = b"--b\r\n" + b"\r\nx\r\n--b\r\n" * MAX_BODY_PARTS + b"\r\ny\r\n--b--"
    with pytest.raises(SipParseError, match="more than"):
        split_multipart("multipart/mixed;boundary=b", body)
    ok = b"--b\r\n" + b"\r\nx\r\n--b\r\n" * (MAX_BODY_PARTS - 1) + b"\r\ny\r\n--b--"
    assert len(split_multipart("multipart/mixed;boundary=b", ok)) == MAX_BODY_PARTS
