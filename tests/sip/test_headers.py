"""Headers, compact forms and list splitting."""

from __future__ import annotations

import pytest

from analyzer.net.flow import Origin, Transport, endpoint
from analyzer.sip.headers import (
    COMPACT_FORMS,
    Headers,
    canonical_name,
    lazy_headers,
    split_values,
)
from analyzer.sip.message import parse_message

ORIGIN = Origin(
    frame=1,
    frames=(1,),
    ts_ns=0,
    src=endpoint(b"\x0a\x00\x00\x01", 5060),
    dst=endpoint(b"\x0a\x00\x00\x02", 5060),
    transport=Transport.UDP,
)

# The full registry (catalogue §2, HDR-13).
EXPECTED_COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
    "x": "session-expires",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
    "y": "identity",
    "n": "identity-info",
}


def test_registry_is_complete() -> None:
    assert COMPACT_FORMS == EXPECTED_COMPACT


def test_m_is_contact_not_max_forwards() -> None:
    assert canonical_name("m") == "contact"
    assert canonical_name("Max-Forwards") == "max-forwards"


def test_subscription_state_has_no_compact_form() -> None:
    assert "subscription-state" not in COMPACT_FORMS.values()


@pytest.mark.parametrize(("letter", "long_name"), sorted(EXPECTED_COMPACT.items()))
@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_compact_form_in_a_message(letter: str, long_name: str, case: object) -> None:
    assert callable(case)
    raw_name = case(letter)
    data = f"OPTIONS sip:a@b SIP/2.0\r\n{raw_name}: value-{letter}\r\n\r\n".encode()
    msg = parse_message(data, ORIGIN)
    assert msg.headers.items == ((raw_name, long_name, f"value-{letter}"),)
    assert msg.headers.get(long_name) == f"value-{letter}"
    assert msg.headers.get(long_name.upper()) == f"value-{letter}"
    assert msg.headers.get(letter) == f"value-{letter}"
    assert long_name in msg.headers
    assert letter.upper() in msg.headers


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Via", "via"),
        ("VIA", "via"),
        ("v", "via"),
        ("V", "via"),
        ("Call-Id", "call-id"),
        ("CALL-ID", "call-id"),
        ("i", "call-id"),
        ("X-Custom", "x-custom"),
        ("Subscription-State", "subscription-state"),
    ],
)
def test_canonical_name(name: str, key: str) -> None:
    assert canonical_name(name) == key


SPLITS = [
    ("INVITE, ACK, BYE", ["INVITE", "ACK", "BYE"]),
    ("INVITE,ACK", ["INVITE", "ACK"]),
    ("single", ["single"]),
    ("", []),
    (" , a,, b ,", ["a", "b"]),
    ('"Doe, John" <sip:j@x>, <sip:k@y>', ['"Doe, John" <sip:j@x>', "<sip:k@y>"]),
    ("<sip:a@x;p=1,2>;q=0.5, <sip:b@y>", ["<sip:a@x;p=1,2>;q=0.5", "<sip:b@y>"]),
    ('"a \\" , b" <sip:c>, d', ['"a \\" , b" <sip:c>', "d"]),
    (
        "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1, SIP/2.0/TCP h",
        [
            "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1",
            "SIP/2.0/TCP h",
        ],
    ),
]


@pytest.mark.parametrize(("value", "parts"), SPLITS)
def test_split_values(value: str, parts: list[str]) -> None:
    assert split_values(value) == parts


def test_values_over_several_lines() -> None:
    headers = Headers(
        [
            ("Contact", "contact", '"Doe, John" <sip:j@x>, <sip:k@y>'),
            ("Route", "route", "<sip:p1;lr>"),
            ("m", "contact", "<sip:z@w>"),
        ]
    )
    assert headers.values("Contact") == ['"Doe, John" <sip:j@x>', "<sip:k@y>", "<sip:z@w>"]
    assert headers.values("m") == headers.values("contact")
    assert headers.values("missing") == []


def test_get_and_get_all() -> None:
    headers = Headers(
        [
            ("Via", "via", "SIP/2.0/UDP a"),
            ("v", "via", "SIP/2.0/UDP b"),
            ("VIA", "via", "SIP/2.0/UDP c"),
        ]
    )
    assert headers.get("via") == "SIP/2.0/UDP a"
    assert headers.get("V") == "SIP/2.0/UDP a"
    assert headers.get_all("Via") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/UDP c"]
    assert headers.get("to") is None
    assert headers.get_all("to") == []
    assert "via" in headers
    assert "to" not in headers
    assert 5 not in headers
    assert len(headers) == 3
    assert list(headers) == list(headers.items)


def test_headers_are_immutable() -> None:
    headers = Headers([("To", "to", "<sip:a@b>")])
    with pytest.raises(AttributeError):
        headers.items = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        headers.extra = 1  # type: ignore[attr-defined]


def test_equality_and_hash() -> None:
    a = Headers([("To", "to", "x")])
    b = Headers([("To", "to", "x")])
    assert a == b
    assert hash(a) == hash(b)
    assert a != Headers([("to", "to", "x")])
    assert a != "not headers"
    assert repr(a) == "Headers([('To', 'to', 'x')])"


def test_lazy_headers_split_on_first_access() -> None:
    message = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a \r\nTo:<sip:a@b>\r\nl: 0\r\n\r\nbody"
    lazy = lazy_headers(
        message, 3, {"via": " SIP/2.0/UDP a ", "to": "<sip:a@b>", "content-length": " 0"}
    )
    assert len(lazy) == 3
    assert lazy.get("content-length") == "0"
    assert lazy == Headers(
        [
            ("Via", "via", "SIP/2.0/UDP a"),
            ("To", "to", "<sip:a@b>"),
            ("l", "content-length", "0"),
        ]
    )
    assert len(lazy) == 3


def test_lazy_headers_with_a_name_missing_from_the_cache() -> None:
    lazy = lazy_headers(b"SIP/2.0 200 OK\r\nX-Never-Cached-91c2: 1\r\n\r\n", 1, {})
    assert lazy.items == (("X-Never-Cached-91c2", "x-never-cached-91c2", "1"),)
