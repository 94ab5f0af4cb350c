"""Fuzz invariants: the SIP parsers return a record or raise SipParseError.

Any other exception escaping them is a bug (h11's fuzz/afl-server.py
invariant).  Also checks that the fast path and the careful parser agree on
well-formed messages of varied shape.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.errors import SipParseError
from analyzer.net.flow import Origin, Transport, endpoint
from analyzer.sip import message
from analyzer.sip.message import SipRequest, SipResponse, match_start_line, parse_message
from analyzer.sip.multipart import split_multipart
from analyzer.sip.values import (
    parse_content_type,
    parse_cseq,
    parse_event,
    parse_name_addr,
    parse_params,
    parse_subscription_state,
    parse_via,
)

ORIGIN = Origin(
    frame=1,
    frames=(1,),
    ts_ns=0,
    src=endpoint(b"\x0a\x00\x00\x01", 5060),
    dst=endpoint(b"\x0a\x00\x00\x02", 5060),
    transport=Transport.UDP,
)

SEEDS = [
    b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.com>\r\n"
    b'From: "Alice" <sip:alice@atlanta.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 29\r\n\r\n"
    b"v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n",
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKx;received=2001:db8::9\r\n"
    b"t: <sip:b@b>;tag=9\r\nf: <sip:a@a>;tag=8\r\ni: 1@h\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n",
    b"NOTIFY sip:a@b SIP/2.0\nFrom: sip:a@b ;tab=x\nCSeq:1 NOTIFY\nContent=Length: ...\n"
    b"Subscription-State: active;expires=60\n<?xml version='1.0'?>\n",
    b"MESSAGE sip:bob@biloxi.com\xc2\xa0 SIP/2.0\r\nSubject: a\r\n b\r\n\r\nhi",
]

MUTATION = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "truncate"]),
    st.integers(min_value=0, max_value=600),
    st.binary(min_size=1, max_size=8)
    | st.sampled_from(
        [
            b"\r\n",
            b"\n",
            b"\r",
            b":",
            b";",
            b",",
            b"<",
            b">",
            b'"',
            b"\x00",
            b" ",
            b"\xc2\xa0",
            b"\xff",
        ]
    ),
)


def mutate(data: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    for kind, pos, chunk in mutations:
        pos = pos % (len(data) + 1)
        if kind == "insert":
            data = data[:pos] + chunk + data[pos:]
        elif kind == "delete":
            data = data[:pos] + data[pos + len(chunk) :]
        elif kind == "replace":
            data = data[:pos] + chunk + data[pos + len(chunk) :]
        else:
            data = data[:pos]
    return data


def check(data: bytes) -> None:
    assert isinstance(match_start_line(data), bool)
    try:
        msg = parse_message(data, ORIGIN)
    except SipParseError:
        return
    assert isinstance(msg, SipRequest | SipResponse)
    assert msg.raw == data
    # Every lazily parsed part of the record must be readable too.
    for _, name, value in msg.headers:
        assert msg.headers.get(name) is not None
        assert isinstance(value, str)
    assert len(msg.body) <= len(data)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_a_start_line(data: bytes) -> None:
    check(b"INVITE sip:a@b SIP/2.0\r\n" + data)
    check(b"SIP/2.0 200 OK\r\n" + data)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_messages(seed: bytes, mutations: list[tuple[str, int, bytes]]) -> None:
    check(mutate(seed, mutations))


VALUE_PARSERS = [
    parse_params,
    parse_name_addr,
    parse_via,
    parse_cseq,
    parse_event,
    parse_subscription_state,
    parse_content_type,
]


@pytest.mark.parametrize("parser", VALUE_PARSERS)
@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list(' \t\xa0;=,<>"\\:/@[]*.-_abcSIP0129tagbr')), max_size=40
    )
)
def test_value_parsers(parser: object, text: str) -> None:
    assert callable(parser)
    with contextlib.suppress(SipParseError):
        parser(text)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(
        ["multipart/mixed;boundary=b", 'multipart/related; boundary="x y"', "text/plain"]
    ),
    st.binary(max_size=200).map(lambda b: b.replace(b"B", b"--b\r\n")),
)
def test_split_multipart(content_type: str, body: bytes) -> None:
    with contextlib.suppress(SipParseError):
        split_multipart(content_type, body)


# -- fast path versus careful parser ----------------------------------------------

NAMES = [
    "Via",
    "v",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "CSeq",
    "Contact",
    "m",
    "Subject",
    "X-Custom",
    "Allow",
    "Content-Length",
    "l",
    "Max-Forwards",
    "Supported",
]
VALUE_TEXT = st.text(
    alphabet=st.sampled_from(list('abcXYZ019 .:;=,<>@"-_/\t') + ["\u00e9", "\u4e2d"]),
    max_size=30,
)
HEADER = st.tuples(st.sampled_from(NAMES), VALUE_TEXT)
START = st.one_of(
    st.sampled_from(
        ["INVITE sip:a@b SIP/2.0", "NOTIFY sip:x;transport=tcp SIP/2.0", "SIP/2.0 183 "]
    ),
    st.from_regex(r"SIP/2\.0 [0-9]{3} [A-Za-z ]{0,10}", fullmatch=True),
    st.from_regex(r"[A-Za-z]{1,9} sip:[a-z0-9@.;=]{1,12} SIP/2\.0", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(START, st.lists(HEADER, max_size=10), st.binary(max_size=40))
def test_fast_and_careful_agree(start: str, headers: list[tuple[str, str]], body: bytes) -> None:
    data = (
        "".join(f"{line}\r\n" for line in [start, *(f"{n}: {v}" for n, v in headers)]).encode()
        + b"\r\n"
        + body
    )
    fast = parse_message(data, ORIGIN)
    plain = message._PLAIN_BYTES
    message._PLAIN_BYTES = b""  # nothing counts as plain: the careful path runs
    try:
        careful = parse_message(data, ORIGIN)
    finally:
        message._PLAIN_BYTES = plain
    assert careful == fast
