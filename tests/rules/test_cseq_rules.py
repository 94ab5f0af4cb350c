"""CSeq rules: one violating and one compliant case (at least) per rule."""

from __future__ import annotations

import pytest

from analyzer.rules import Severity
from analyzer.sip.message import SipMessage
from tests.rules import Case, check_compliant, check_violating, request
from tests.sipmsg import Trace, resp

CONTACT_A = "Contact: <sip:alice@10.0.0.1>"
CONTACT_B = "Contact: <sip:bob@10.0.0.2>"


def subscribe(resp_cseq: int) -> list[SipMessage]:
    """SUBSCRIBE CSeq 9887 answered with ``resp_cseq`` (RFC 3680 §6 has 9987)."""
    t = Trace()
    t.add(request("SUBSCRIBE", cseq=9887, headers=["Event: reg", CONTACT_A]), 0.0)
    t.add(resp(200, "SUBSCRIBE", cseq=resp_cseq, ttag="n1"), 0.04, reverse=True)
    return t.messages


def wrong_cseq_method() -> list[SipMessage]:
    """An OPTIONS answered with CSeq method INFO: the response matches no transaction."""
    t = Trace()
    t.add(request("OPTIONS"), 0.0)
    t.add(resp(200, "INFO", ttag="b"), 0.04, reverse=True)
    return t.messages


def cancel_response_without_cancel() -> list[SipMessage]:
    """The 200 to a CANCEL that was not captured shares the INVITE's branch: not a CSEQ-1."""
    t = Trace()
    t.add(request("INVITE", headers=[CONTACT_A]), 0.0)
    t.add(resp(180, ttag="b"), 0.1, reverse=True)
    t.add(resp(200, "CANCEL", ttag="b"), 0.3, reverse=True)
    t.add(resp(487, ttag="b"), 0.31, reverse=True)
    return t.messages


def single(text: str) -> list[SipMessage]:
    t = Trace()
    t.add(text, 0.0)
    return t.messages


def rejected_invite(ack_cseq: int, ack_to_tag: str = "b") -> list[SipMessage]:
    t = Trace()
    t.add(request("INVITE", headers=[CONTACT_A]), 0.0)
    t.add(resp(486, ttag="b"), 0.1, reverse=True)
    t.add(request("ACK", cseq=ack_cseq, ttag=ack_to_tag), 0.11)
    return t.messages


def answered_invite(ack_cseq: int | None, *, retransmit: bool = False) -> list[SipMessage]:
    """INVITE CSeq 1 answered 200; the ACK for it (new branch) with ``ack_cseq``."""
    t = Trace()
    t.add(request("INVITE", headers=[CONTACT_A]), 0.0)
    t.add(resp(200, ttag="b", headers=[CONTACT_B]), 0.1, reverse=True)
    if retransmit:
        t.add(resp(200, ttag="b", headers=[CONTACT_B]), 0.6, reverse=True)
    if ack_cseq is not None:
        t.add(request("ACK", cseq=ack_cseq, ttag="b", branch="z9hG4bK-ack"), 0.7)
    # Something 40 s later, so the capture covers the ACK wait of 64*T1.
    t.add(request("OPTIONS", call="other", branch="z9hG4bK-o"), 40.0)
    return t.messages


def cancelled(*, provisional: bool = True, cancel_cseq: int = 1, **kw: str) -> list[SipMessage]:
    t = Trace()
    t.add(request("INVITE", headers=[CONTACT_A]), 0.0)
    if provisional:
        t.add(resp(180, ttag="b"), 0.1, reverse=True)
    t.add(request("CANCEL", cseq=cancel_cseq, **kw), 0.2)
    t.add(resp(200, "CANCEL", cseq=cancel_cseq, ttag="b"), 0.21, reverse=True)
    return t.messages


def cancel_of_options() -> list[SipMessage]:
    t = Trace()
    t.add(request("OPTIONS"), 0.0)
    t.add(request("CANCEL"), 0.2)
    return t.messages


def dialog(*requests: tuple[str, int, bool]) -> list[SipMessage]:
    """An INVITE dialog (caller tag "caller", callee tag "b"), then requests
    (method, CSeq, sent by the caller?) each answered 200."""
    t = Trace()
    t.add(request("INVITE", headers=[CONTACT_A]), 0.0)
    t.add(resp(200, ttag="b", headers=[CONTACT_B]), 0.1, reverse=True)
    t.add(request("ACK", ttag="b", branch="z9hG4bK-ack"), 0.2)
    at = 1.0
    for n, (method, cseq, caller) in enumerate(requests):
        branch = f"z9hG4bK-d{n}"
        if caller:
            t.add(request(method, ttag="b", cseq=cseq, branch=branch), at)
            t.add(resp(200, method, ttag="b", cseq=cseq, branch=branch), at + 0.05, reverse=True)
        else:
            text = request(
                method, ftag="b", ttag="caller", cseq=cseq, branch=branch, via="10.0.0.2"
            )
            t.add(text, at, reverse=True)
            t.add(
                resp(
                    200, method, ftag="b", ttag="caller", cseq=cseq, branch=branch, via="10.0.0.2"
                ),
                at + 0.05,
            )
        at += 1.0
    return t.messages


def registers(*cseqs: int, challenge_first: bool = False) -> list[SipMessage]:
    t = Trace()
    for n, cseq in enumerate(cseqs):
        branch = f"z9hG4bK-r{n}"
        t.add(
            request("REGISTER", uri="sip:example.com", ttag=None, cseq=cseq, branch=branch),
            n * 10.0,
        )
        status = 401 if challenge_first and n == 0 else 200
        t.add(resp(status, "REGISTER", cseq=cseq, branch=branch, ttag="reg"), n * 10.0 + 0.05)
    return t.messages


def register_at_two_hops() -> list[SipMessage]:
    """One REGISTER seen before and after a proxy (own Via, own source), then the next."""
    t = Trace()
    text = request("REGISTER", uri="sip:example.com", cseq=7, branch="z9hG4bK-u1")
    t.add(text, 0.0)
    hop2 = request("REGISTER", uri="sip:example.com", cseq=7, branch="z9hG4bK-p1", via="10.0.0.9")
    t.add(hop2, 0.01, src="10.0.0.9:5060", dst="10.0.0.3:5060")
    t.add(request("REGISTER", uri="sip:example.com", cseq=8, branch="z9hG4bK-u2"), 60.0)
    return t.messages


VIOLATING = [
    Case("CSEQ-1", "number differs", lambda: subscribe(9987), frames=(1, 2), text="CSeq 9987"),
    Case("CSEQ-1", "method differs", wrong_cseq_method, frames=(1, 2), text="'INFO'"),
    Case(
        "CSEQ-2",
        "misspelt method",
        lambda: single(request("NOFITY", cseq_method="NOTIFY")),
        text="'NOFITY'",
    ),
    Case(
        "CSEQ-2",
        "other method",
        lambda: single(request("REGISTER", cseq_method="NOTIFY")),
        text="'REGISTER'",
    ),
    Case("CSEQ-2", "case", lambda: single(request("INVITE", cseq_method="invite")), text="case"),
    Case("CSEQ-3", "2**31", lambda: single(request("OPTIONS", cseq=2**31)), text="2147483648"),
    Case(
        "CSEQ-3",
        "not a number",
        lambda: single(request("OPTIONS").replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS")),
    ),
    Case("CSEQ-4", "ACK CSeq differs", lambda: rejected_invite(2), frames=(1, 3), text="CSeq"),
    Case("CSEQ-4", "ACK To tag differs", lambda: rejected_invite(1, "x"), text="To tag"),
    Case("CSEQ-5", "ACK CSeq differs", lambda: answered_invite(2), frames=(2, 3)),
    Case(
        "CSEQ-5",
        "no ACK, 2xx retransmitted",
        lambda: answered_invite(None, retransmit=True),
        frames=(2, 3),
        severity=Severity.WARNING,
    ),
    Case(
        "CSEQ-6",
        "CSeq differs",
        lambda: cancelled(cancel_cseq=2),
        frames=(1, 3),
        severity=Severity.ERROR,
    ),
    Case("CSEQ-6", "To differs", lambda: cancelled(to_uri="sip:carol@example.com"), text="To"),
    Case(
        "CSEQ-6",
        "before any 1xx",
        lambda: cancelled(provisional=False),
        severity=Severity.WARNING,
        text="before any provisional",
    ),
    Case("CSEQ-6", "of a non-INVITE", cancel_of_options, severity=Severity.WARNING),
    Case(
        "CSEQ-7",
        "decrease",
        lambda: dialog(("INFO", 2, True), ("INFO", 3, True), ("BYE", 2, True)),
        frames=(6, 8),
        severity=Severity.ERROR,
    ),
    Case("CSEQ-7", "repeat", lambda: dialog(("INFO", 2, True), ("BYE", 2, True)), text="repeats"),
    Case(
        "CSEQ-7",
        "gap",
        lambda: dialog(("BYE", 4, True)),
        severity=Severity.INFO,
        text="2 number(s) skipped",
    ),
    Case("CSEQ-8", "repeat", lambda: registers(1, 1), severity=Severity.ERROR),
    Case("CSEQ-8", "gap", lambda: registers(1, 3), frames=(1, 3), severity=Severity.WARNING),
]

COMPLIANT = [
    Case("CSEQ-1", "same CSeq", lambda: subscribe(9887)),
    Case("CSEQ-1", "200 to an uncaptured CANCEL", cancel_response_without_cancel),
    Case("CSEQ-2", "same method", lambda: single(request("NOTIFY"))),
    Case("CSEQ-3", "2**31 - 1", lambda: single(request("OPTIONS", cseq=2**31 - 1))),
    Case("CSEQ-4", "ACK repeats the INVITE", lambda: rejected_invite(1)),
    Case("CSEQ-5", "ACK CSeq 1", lambda: answered_invite(1)),
    Case("CSEQ-5", "no ACK, 2xx sent once", lambda: answered_invite(None)),
    Case("CSEQ-6", "identical CANCEL after 180", cancelled),
    Case(
        "CSEQ-7",
        "each side counts on",
        lambda: dialog(("INFO", 2, True), ("INFO", 1, False), ("BYE", 3, True)),
    ),
    Case("CSEQ-8", "plus one", lambda: registers(1, 2, 3)),
    Case("CSEQ-8", "retry after 401", lambda: registers(5, 6, challenge_first=True)),
    Case("CSEQ-8", "same REGISTER at two hops", register_at_two_hops),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)


def test_sequences_are_per_hop() -> None:
    """The same in-dialog request seen at two hops (G-4) is not a repeated CSeq."""
    t = Trace()
    t.add(request("INVITE", headers=[CONTACT_A]), 0.0)
    t.add(resp(200, ttag="b", headers=[CONTACT_B]), 0.1, reverse=True)
    t.add(request("ACK", ttag="b", branch="z9hG4bK-ack"), 0.2)
    t.add(request("BYE", ttag="b", cseq=2, branch="z9hG4bK-h1"), 1.0)
    # The proxy forwards it with its own Via and source address.
    t.add(
        request("BYE", ttag="b", cseq=2, branch="z9hG4bK-h2", via="10.0.0.9"),
        1.01,
        src="10.0.0.9:5060",
        dst="10.0.0.3:5060",
    )
    case = Case("CSEQ-7", "two hops", lambda: t.messages)
    check_compliant(case)
