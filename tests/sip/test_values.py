"""Header value parsers: one quirk per table row."""

from __future__ import annotations

import pytest

from analyzer.errors import SipParseError
from analyzer.sip.headers import Headers
from analyzer.sip.values import (
    ContentType,
    Event,
    NameAddr,
    SubscriptionState,
    Via,
    parse_content_type,
    parse_cseq,
    parse_event,
    parse_name_addr,
    parse_params,
    parse_subscription_state,
    parse_via,
    parse_vias,
)

PARAMS = [
    ("", ()),
    ("   ", ()),
    (";tag=abc", (("tag", "abc"),)),
    (";lr", (("lr", None),)),
    (" ; tag = abc ; lr ", (("tag", "abc"), ("lr", None))),
    (";TAG=abc;Tag=def", (("TAG", "abc"), ("Tag", "def"))),
    (";tag=", (("tag", ""),)),
    (';reason="a;b, c"', (("reason", "a;b, c"),)),
    (';x="say \\"hi\\""', (("x", 'say "hi"'),)),
    (";received=[2001:db8::1]", (("received", "[2001:db8::1]"),)),
    (";received=2001:db8::1;rport=5060", (("received", "2001:db8::1"), ("rport", "5060"))),
    (";;branch=z9hG4bK1", (("", None), ("branch", "z9hG4bK1"))),
    (";maddr=239.255.255.1;ttl=15", (("maddr", "239.255.255.1"), ("ttl", "15"))),
    ("\u00a0;tag=x", (("tag", "x"),)),
]


@pytest.mark.parametrize(("text", "params"), PARAMS)
def test_parse_params(text: str, params: tuple[tuple[str, str | None], ...]) -> None:
    assert parse_params(text) == params


@pytest.mark.parametrize(
    "text",
    ["tag=abc", ";tag=abc junk", ";=x", ";a b", ';x="unterminated', ";tag=a,b"],
)
def test_parse_params_rejects(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_params(text)


NAME_ADDRS = [
    ("Bob <sip:bob@biloxi.com>", NameAddr("Bob", "sip:bob@biloxi.com", ())),
    (
        '"Alice Smith" <sip:alice@atlanta.com>;tag=1928301774',
        NameAddr("Alice Smith", "sip:alice@atlanta.com", (("tag", "1928301774"),)),
    ),
    ('"A \\"quoted\\" <name>" <sip:a@b>', NameAddr('A "quoted" <name>', "sip:a@b", ())),
    ("<sip:carol@chicago.com>", NameAddr(None, "sip:carol@chicago.com", ())),
    (
        "  <sip:a@b;tag=inuri> ; tag = real ",
        NameAddr(None, "sip:a@b;tag=inuri", (("tag", "real"),)),
    ),
    ("sip:alice@atlanta.com", NameAddr(None, "sip:alice@atlanta.com", ())),
    (
        "sip:alice@atlanta.com;user=phone;tag=x",
        NameAddr(None, "sip:alice@atlanta.com", (("user", "phone"), ("tag", "x"))),
    ),
    (
        "sip:app_IM.atlanta.com ;tab=xyzygg",
        NameAddr(None, "sip:app_IM.atlanta.com", (("tab", "xyzygg"),)),
    ),
    ("sip:a@b\u00a0;tag=1", NameAddr(None, "sip:a@b", (("tag", "1"),))),
    ("tel:+15551234567", NameAddr(None, "tel:+15551234567", ())),
    ("Alice (home) <sip:a@b>", NameAddr("Alice (home)", "sip:a@b", ())),
    ("*", NameAddr(None, "*", ())),
    (
        '<sip:a@b>;expires=3600;+sip.instance="<urn:uuid:1>"',
        NameAddr(None, "sip:a@b", (("expires", "3600"), ("+sip.instance", "<urn:uuid:1>"))),
    ),
]


@pytest.mark.parametrize(("value", "expected"), NAME_ADDRS)
def test_parse_name_addr(value: str, expected: NameAddr) -> None:
    assert parse_name_addr(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "<sip:a@b",
        "<>",
        '"unterminated <sip:a@b>',
        '"name" sip:a@b',
        'a"b <sip:a@b>',
        "<sip:a@b> junk;tag=1",
        "Alice sip:alice@atlanta.com",
        ";tag=1",
    ],
)
def test_parse_name_addr_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_name_addr(value)


def test_name_addr_param_lookup() -> None:
    na = parse_name_addr("<sip:a@b>;TAG=x;lr")
    assert na.param("tag") == "x"
    assert na.param("Lr") == ""
    assert na.param("expires") is None


VIAS = [
    (
        "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
        Via("SIP", "2.0", "UDP", "pc33.atlanta.com", None, (("branch", "z9hG4bK776asdhds"),)),
    ),
    (
        "SIP/2.0/UDP 10.1.1.5:5060;branch=z9hG4bK1;received=192.0.2.1;rport=33456",
        Via(
            "SIP",
            "2.0",
            "UDP",
            "10.1.1.5",
            5060,
            (("branch", "z9hG4bK1"), ("received", "192.0.2.1"), ("rport", "33456")),
        ),
    ),
    (
        "SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK6;rport",
        Via("SIP", "2.0", "TCP", "[2001:db8::1]", 5060, (("branch", "z9hG4bK6"), ("rport", None))),
    ),
    (
        "SIP / 2.0 / UDP first.example.com: 4000;ttl=16 ;maddr=224.2.0.1"
        " ;branch=z9hG4bKa7c6a8dlze.1",
        Via(
            "SIP",
            "2.0",
            "UDP",
            "first.example.com",
            4000,
            (("ttl", "16"), ("maddr", "224.2.0.1"), ("branch", "z9hG4bKa7c6a8dlze.1")),
        ),
    ),
    (
        "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks",
        Via("SIP", "2.0", "WSS", "df7jal23ls0d.invalid", None, (("branch", "z9hG4bK56sdasks"),)),
    ),
    ("SIP/2.0/TCP app_IM.atlanta.com", Via("SIP", "2.0", "TCP", "app_IM.atlanta.com", None, ())),
]


@pytest.mark.parametrize(("value", "expected"), VIAS)
def test_parse_via(value: str, expected: Via) -> None:
    assert parse_via(value) == expected


def test_via_properties() -> None:
    via = parse_via("SIP/2.0/UDP [2001:db8::1]:5060;Branch=z9hG4bK1;received=2001:db8::9;rport")
    assert via.branch == "z9hG4bK1"
    assert via.received == "2001:db8::9"
    assert via.rport == ""
    assert via.param("ttl") is None
    assert via.sent_by == "[2001:db8::1]:5060"
    assert parse_via("SIP/2.0/UDP h").sent_by == "h"
    assert parse_via("SIP/2.0/UDP h").rport is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SIP/2.0 host",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP ;branch=x",
        "SIP/2.0/UDP h:port",
        "SIP/2.0/UDP h junk",
    ],
)
def test_parse_via_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_via(value)


def test_parse_vias_top_first() -> None:
    headers = Headers(
        [
            ("Via", "via", "SIP/2.0/UDP p1;branch=z9hG4bK1, SIP/2.0/UDP p2;branch=z9hG4bK2"),
            ("v", "via", "SIP/2.0/TCP ua;branch=z9hG4bK3"),
        ]
    )
    assert [via.branch for via in parse_vias(headers)] == ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]
    assert parse_vias(Headers()) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("314159 INVITE", (314159, "INVITE")),
        (" 1\tACK ", (1, "ACK")),
        ("4294967296 BYE", (4294967296, "BYE")),
    ],
)
def test_parse_cseq(value: str, expected: tuple[int, str]) -> None:
    assert parse_cseq(value) == expected


@pytest.mark.parametrize(
    "value", ["", "abc", "INVITE 1", "1", "1 INVITE x", "-1 INVITE", "9" * 21 + " A"]
)
def test_parse_cseq_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_cseq(value)


EVENTS = [
    ("reg", Event("reg", None, ())),
    ("presence.winfo", Event("presence.winfo", None, ())),
    ("dialog;id=abc", Event("dialog", "abc", (("id", "abc"),))),
    ("refer ; id = 93809824 ; x", Event("refer", "93809824", (("id", "93809824"), ("x", None)))),
]


@pytest.mark.parametrize(("value", "expected"), EVENTS)
def test_parse_event(value: str, expected: Event) -> None:
    event = parse_event(value)
    assert event == expected
    assert event.param("ID") == expected.id


@pytest.mark.parametrize("value", ["", ";id=1", "reg junk", "a..b"])
def test_parse_event_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_event(value)


STATES = [
    ("active;expires=3600", SubscriptionState("active", 3600, None, None, (("expires", "3600"),))),
    ("active", SubscriptionState("active", None, None, None, ())),
    (
        "terminated;reason=timeout",
        SubscriptionState("terminated", None, "timeout", None, (("reason", "timeout"),)),
    ),
    (
        "terminated; reason=probation; retry-after=30",
        SubscriptionState(
            "terminated", None, "probation", 30, (("reason", "probation"), ("retry-after", "30"))
        ),
    ),
    ("pending ; EXPIRES = 60", SubscriptionState("pending", 60, None, None, (("EXPIRES", "60"),))),
]


@pytest.mark.parametrize(("value", "expected"), STATES)
def test_parse_subscription_state(value: str, expected: SubscriptionState) -> None:
    assert parse_subscription_state(value) == expected
    assert parse_subscription_state(value).param("EXPIRES") == expected.param("expires")


@pytest.mark.parametrize(
    "value", ["", "active;expires=abc", "active;expires=", "terminated;retry-after=-1", "x y"]
)
def test_parse_subscription_state_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_subscription_state(value)


CONTENT_TYPES = [
    ("application/sdp", ContentType("application", "sdp", ())),
    ("Application/SDP", ContentType("application", "sdp", ())),
    (
        "text/plain;charset=UTF-8",
        ContentType("text", "plain", (("charset", "UTF-8"),)),
    ),
    (
        'multipart/mixed; boundary="unique boundary 1"',
        ContentType("multipart", "mixed", (("boundary", "unique boundary 1"),)),
    ),
    ("application/reginfo+xml", ContentType("application", "reginfo+xml", ())),
    ("application / pidf+xml", ContentType("application", "pidf+xml", ())),
]


@pytest.mark.parametrize(("value", "expected"), CONTENT_TYPES)
def test_parse_content_type(value: str, expected: ContentType) -> None:
    assert parse_content_type(value) == expected


def test_content_type_helpers() -> None:
    ctype = parse_content_type("Multipart/Related;Boundary=abc")
    assert ctype.mime == "multipart/related"
    assert ctype.param("boundary") == "abc"


@pytest.mark.parametrize("value", ["", "sdp", "application/", "/sdp", "text/plain charset=x"])
def test_parse_content_type_rejects(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_content_type(value)
