"""RFC 3428 MESSAGE rules: one violating and one compliant case (at least) per rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from analyzer.net.flow import Transport
from analyzer.rules import Severity
from analyzer.sip.message import SipMessage
from tests.rules import Case, check_compliant, check_violating, request
from tests.sipmsg import Trace, resp

TCP = Transport.TCP


def _message(body: str = "Hello", *, headers: Sequence[str] = (), **kw: Any) -> str:
    return request("MESSAGE", body=body, headers=["Content-Type: text/plain", *headers], **kw)


def single(text: str, transport: Transport = Transport.UDP) -> list[SipMessage]:
    t = Trace()
    t.add(text, 0.0, transport=transport)
    return t.messages


def exchange(
    req_text: str, resp_text: str, transport: Transport = Transport.UDP
) -> list[SipMessage]:
    t = Trace()
    t.add(req_text, 0.0, transport=transport)
    t.add(resp_text, 0.05, reverse=True, transport=transport)
    return t.messages


def big_message(transport: Transport) -> list[SipMessage]:
    return single(_message("x" * 1300), transport)


def message_in_invite_dialog() -> list[SipMessage]:
    """A large MESSAGE inside an INVITE dialog: part of a media session."""
    t = Trace()
    t.add(request("INVITE", headers=["Contact: <sip:alice@10.0.0.1>"]), 0.0)
    t.add(resp(200, ttag="callee", headers=["Contact: <sip:bob@10.0.0.2>"]), 0.1, reverse=True)
    t.add(request("ACK", ttag="callee", branch="z9hG4bK-ack"), 0.2)
    t.add(_message("x" * 1300, ttag="callee", cseq=2, branch="z9hG4bK-m"), 0.3)
    return t.messages


def tags_reused() -> list[SipMessage]:
    """A MESSAGE, its 200 with a To tag, then a MESSAGE reusing both tags."""
    t = Trace()
    t.add(_message(), 0.0)
    t.add(resp(200, "MESSAGE", ttag="bobtag"), 0.1, reverse=True)
    t.add(_message(ttag="bobtag", cseq=2, branch="z9hG4bK-2"), 5.0)
    t.add(resp(200, "MESSAGE", ttag="bobtag", cseq=2, branch="z9hG4bK-2"), 5.1, reverse=True)
    return t.messages


def pseudo_session() -> list[SipMessage]:
    t = Trace()
    t.add(_message(), 0.0)
    t.add(resp(200, "MESSAGE", ttag="b1"), 0.1, reverse=True)
    t.add(_message(cseq=2, branch="z9hG4bK-2"), 5.0)
    t.add(resp(200, "MESSAGE", ttag="b2", cseq=2, branch="z9hG4bK-2"), 5.1, reverse=True)
    return t.messages


def challenged_and_resent() -> list[SipMessage]:
    t = Trace()
    t.add(_message(), 0.0)
    t.add(resp(407, "MESSAGE", ttag="p1"), 0.1, reverse=True)
    t.add(_message(cseq=2, branch="z9hG4bK-2", headers=["Proxy-Authorization: Digest x"]), 0.2)
    t.add(resp(200, "MESSAGE", ttag="b2", cseq=2, branch="z9hG4bK-2"), 0.3, reverse=True)
    return t.messages


def record_route() -> list[SipMessage]:
    return single(_message(headers=["Record-Route: <sip:proxy.example.com;lr>"]))


def overlapping(second_at: float) -> list[SipMessage]:
    """Two MESSAGEs from one sender to one URI; the first is answered at 0.5 s."""
    t = Trace()
    t.add(_message(call="m1"), 0.0)
    t.add(_message(call="m2", branch="z9hG4bK-2"), second_at)
    t.add(resp(200, "MESSAGE", call="m1", ttag="b1"), 0.5, reverse=True)
    t.add(resp(200, "MESSAGE", call="m2", ttag="b2", branch="z9hG4bK-2"), 1.5, reverse=True)
    return t.messages


def answered_after(*steps: tuple[int, float]) -> list[SipMessage]:
    """A MESSAGE at 0 s and responses (status, time) to it."""
    t = Trace()
    t.add(_message(), 0.0)
    for status, at in steps:
        t.add(resp(status, "MESSAGE", ttag="b"), at, reverse=True)
    return t.messages


SIGNED = 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=b'
SIGNED_BODY = "--b\nContent-Type: text/plain\n\nHi\n--b--\n"


def signed(*headers: str) -> list[SipMessage]:
    return single(request("MESSAGE", body=SIGNED_BODY, headers=[SIGNED, *headers]))


VIOLATING = [
    Case("MSG-14", "1400-byte body", lambda: single(_message("x" * 1400), TCP), frames=(1,)),
    Case(
        "MSG-14",
        "limit lowered",
        lambda: single(_message("x" * 100)),
        options={"message_body_limit": 50},
        text="100 bytes",
    ),
    Case("MSG-1", "large over TCP", lambda: big_message(TCP), severity=Severity.WARNING),
    Case("MSG-1", "large over UDP", lambda: big_message(Transport.UDP), severity=Severity.ERROR),
    Case("MSG-1b", "over UDP", lambda: single(_message()), severity=Severity.INFO),
    Case(
        "MSG-2",
        "Contact",
        lambda: single(_message(headers=["Contact: <sip:alice@10.0.0.1>"])),
        text="Contact",
    ),
    Case("MSG-2", "compact m", lambda: single(_message(headers=["m: <sip:alice@10.0.0.1>"]))),
    Case(
        "MSG-3",
        "2xx with Contact",
        lambda: exchange(
            _message(), resp(200, "MESSAGE", ttag="b", headers=["Contact: <sip:b@10.0.0.2>"])
        ),
        frames=(2,),
        severity=Severity.ERROR,
    ),
    Case(
        "MSG-3",
        "1xx with Contact",
        lambda: exchange(
            _message(), resp(180, "MESSAGE", ttag="b", headers=["Contact: <sip:b@10.0.0.2>"])
        ),
        severity=Severity.WARNING,
    ),
    Case(
        "MSG-4",
        "2xx with body",
        lambda: exchange(
            _message(),
            resp(202, "MESSAGE", ttag="b", headers=["Content-Type: text/plain"], body="ok"),
        ),
        frames=(2,),
    ),
    Case("MSG-5", "tags reused", tags_reused, frames=(2, 3), severity=Severity.ERROR),
    Case("MSG-5", "Record-Route", record_route, severity=Severity.WARNING),
    Case("MSG-5", "pseudo-session", pseudo_session, severity=Severity.INFO, text="CSeq 1, 2"),
    Case(
        "MSG-6",
        "no Content-Type",
        lambda: single(request("MESSAGE", body="Hello")),
        text="5-byte body",
    ),
    Case("MSG-7", "Expires no Date", lambda: single(_message(headers=["Expires: 60"]))),
    Case(
        "MSG-8",
        "second before first answered",
        lambda: overlapping(0.2),
        frames=(1, 2, 3),
    ),
    Case(
        "MSG-11",
        "im: Route",
        lambda: single(_message(headers=["Route: <im:bob@example.com>"])),
        text="'im:bob@example.com'",
    ),
    Case(
        "MSG-13",
        "405 without Allow",
        lambda: exchange(_message(), resp(405, "MESSAGE", ttag="b")),
        frames=(2,),
    ),
    Case(
        "MSG-9",
        "final after 3 s",
        lambda: answered_after((200, 3.0)),
        frames=(1, 2),
        severity=Severity.INFO,
        text="3.0 s",
    ),
    Case(
        "MSG-9",
        "provisional first",
        lambda: answered_after((100, 0.05), (200, 0.1)),
        frames=(1, 2),
        severity=Severity.INFO,
        text="answered 100",
    ),
    Case(
        "MSG-9",
        "final after Timer F",
        lambda: answered_after((200, 40.0)),
        severity=Severity.WARNING,
        text="timed out",
    ),
    Case("MSG-12", "signed without Date", signed, frames=(1,), severity=Severity.ERROR),
]

COMPLIANT = [
    Case("MSG-14", "small body", lambda: single(_message("x" * 100))),
    Case(
        "MSG-14",
        "limit raised",
        lambda: single(_message("x" * 1400), TCP),
        options={"message_body_limit": 2000},
    ),
    Case("MSG-1", "small", lambda: single(_message())),
    Case("MSG-1", "inside an INVITE dialog", message_in_invite_dialog),
    Case("MSG-1b", "over TCP", lambda: single(_message(), TCP)),
    Case("MSG-2", "no Contact", lambda: single(_message())),
    Case(
        "MSG-3", "2xx without Contact", lambda: exchange(_message(), resp(200, "MESSAGE", ttag="b"))
    ),
    Case(
        "MSG-3",
        "Contact in a 4xx",
        lambda: exchange(
            _message(), resp(486, "MESSAGE", ttag="b", headers=["Contact: <sip:b@10.0.0.2>"])
        ),
    ),
    Case("MSG-4", "2xx without body", lambda: exchange(_message(), resp(200, "MESSAGE", ttag="b"))),
    Case(
        "MSG-4",
        "body in a 4xx",
        lambda: exchange(
            _message(),
            resp(415, "MESSAGE", ttag="b", headers=["Content-Type: text/plain"], body="no"),
        ),
    ),
    Case("MSG-5", "one MESSAGE", lambda: exchange(_message(), resp(200, "MESSAGE", ttag="b"))),
    Case("MSG-5", "challenge and retry", challenged_and_resent),
    Case("MSG-5", "in an INVITE dialog", message_in_invite_dialog),
    Case("MSG-6", "Content-Type", lambda: single(_message())),
    Case(
        "MSG-6",
        "compact c",
        lambda: single(request("MESSAGE", body="Hi", headers=["c: text/plain"])),
    ),
    Case("MSG-6", "no body", lambda: single(request("MESSAGE"))),
    Case(
        "MSG-7",
        "Expires and Date",
        lambda: single(_message(headers=["Expires: 60", "Date: Sat, 13 Nov 2010 23:29:00 GMT"])),
    ),
    Case("MSG-7", "Expires 0", lambda: single(_message(headers=["Expires: 0"]))),
    Case("MSG-8", "second after first answered", lambda: overlapping(1.0)),
    Case(
        "MSG-11",
        "sip: Route",
        lambda: single(_message(headers=["Route: <sip:proxy.example.com;lr>"])),
    ),
    Case(
        "MSG-13",
        "405 with Allow",
        lambda: exchange(_message(), resp(405, "MESSAGE", ttag="b", headers=["Allow: INVITE"])),
    ),
    Case("MSG-9", "answered at once", lambda: answered_after((200, 0.05))),
    Case("MSG-12", "signed with Date", lambda: signed("Date: Sat, 13 Nov 2010 23:29:00 GMT")),
    Case("MSG-12", "unsigned without Date", lambda: single(_message())),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)
