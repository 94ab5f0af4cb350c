"""Transaction rules (branches, RFC 2543 matching, merged requests, missing responses):
one violating and one compliant case (at least) per rule."""

from __future__ import annotations

import pytest

from analyzer.rules import Severity
from analyzer.sip.message import SipMessage
from tests.rules import Case, Step, check_compliant, check_violating, flow, request
from tests.sipmsg import Trace, resp

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO
CONTACT_A = "Contact: <sip:alice@10.0.0.1>"
CONTACT_B = "Contact: <sip:bob@10.0.0.2>"
PROXY = "10.0.0.3:5060"


def ping(at: float) -> Step:
    """An OPTIONS in another Call-ID: the capture goes on until ``at``."""
    return (request("OPTIONS", call="other", branch="z9hG4bK-ping"), at, False)


def branch_reused() -> list[SipMessage]:
    """A NOTIFY and then a REGISTER with its branch and sent-by (seed 004)."""
    return flow(
        (request("NOTIFY", cseq=1288, branch="z9hG4bKnasaii"), 0.0, False),
        (request("REGISTER", cseq=1289, cseq_method="NOTIFY", branch="z9hG4bKnasaii"), 14, False),
    )


def invite_family() -> list[SipMessage]:
    """INVITE, 180, CANCEL, 200 (CANCEL), 487, ACK: one branch, as RFC 3261 allows."""
    return flow(
        (request("INVITE", headers=[CONTACT_A]), 0.0, False),
        (resp(180, ttag="b"), 0.1, True),
        (request("CANCEL"), 0.2, False),
        (resp(200, "CANCEL", ttag="b"), 0.25, True),
        (resp(487, ttag="b"), 0.3, True),
        (request("ACK", ttag="b"), 0.35, False),
    )


def ack_with_invite_branch() -> list[SipMessage]:
    return flow(
        (request("INVITE", headers=[CONTACT_A]), 0.0, False),
        (resp(200, ttag="b", headers=[CONTACT_B]), 0.1, True),
        (request("ACK", ttag="b", uri="sip:bob@10.0.0.2"), 0.2, False),
    )


def merged(second_status: int | None, *, ttag: str | None = None) -> list[SipMessage]:
    """The same INVITE reaches 10.0.0.2 from a forking proxy twice, by two branches."""
    t = Trace()
    first = request("INVITE", ttag=ttag, via=PROXY, branch="z9hG4bK-p1", headers=[CONTACT_A])
    again = request("INVITE", ttag=ttag, via=PROXY, branch="z9hG4bK-p2", headers=[CONTACT_A])
    t.add(first, 0.0, src=PROXY)
    t.add(again, 0.1, src=PROXY)
    if second_status is not None:
        answer = resp(second_status, ttag="b2", via=PROXY, branch="z9hG4bK-p2")
        t.add(answer, 0.15, src="10.0.0.2:5060", dst=PROXY)
    t.add(resp(200, ttag="b1", via=PROXY, branch="z9hG4bK-p1"), 0.2, src="10.0.0.2:5060", dst=PROXY)
    return t.messages


def branch_changed() -> list[SipMessage]:
    """A MESSAGE whose only response carries another branch (seed 000)."""
    return flow(
        (request("MESSAGE", branch="z9hG4bK776asegma"), 0.0, False),
        (resp(200, "MESSAGE", ttag="b", branch="z9hG4bKnashds7"), 0.04, True),
    )


VIOLATING: list[Case] = [
    Case("TXN-2", "REGISTER with a NOTIFY's branch", branch_reused, (1, 2), E, "'z9hG4bKnasaii'"),
    Case(
        "TXN-2",
        "new CSeq with the same branch",
        lambda: flow(
            (request("REGISTER", cseq=1, branch="z9hG4bK-r"), 0.0, False),
            (request("REGISTER", cseq=2, branch="z9hG4bK-r"), 60.0, False),
        ),
        (1, 2),
        E,
        "REGISTER (CSeq 2)",
    ),
    Case("TXN-2", "ACK for a 200 with the INVITE's branch", ack_with_invite_branch, (1, 3), E),
    Case(
        "TXN-5",
        "RFC 2543 branch",
        lambda: flow((request("OPTIONS", branch="1"), 0.0, False)),
        (1,),
        N,
        "RFC 2543",
    ),
    Case("TXN-8", "merged INVITE answered 200", lambda: merged(200), (1, 2), N, "482"),
    Case("TXN-8", "merged INVITE unanswered", lambda: merged(None), (1, 2), N, "not answered"),
    Case(
        "TXN-9",
        "no response in 40 s",
        lambda: flow((request("OPTIONS"), 0.0, False), ping(40.0)),
        (1,),
        N,
        "no response",
    ),
    Case(
        "TXN-9",
        "INVITE without any response",
        lambda: flow((request("INVITE", headers=[CONTACT_A]), 0.0, False), ping(40.0)),
        (1,),
        N,
    ),
    Case("TXN-9", "the response has another branch", branch_changed, (1, 2), N, "another Via"),
]

COMPLIANT: list[Case] = [
    Case("TXN-2", "INVITE, CANCEL and non-2xx ACK share a branch", invite_family),
    Case(
        "TXN-2",
        "retransmission",
        lambda: flow(
            (request("OPTIONS"), 0.0, False),
            (request("OPTIONS"), 0.5, False),
        ),
    ),
    Case(
        "TXN-2",
        "two UAs, one branch, different sent-by",
        lambda: flow(
            (request("OPTIONS", call="a", branch="z9hG4bK-x"), 0.0, False),
            (request("OPTIONS", call="b", branch="z9hG4bK-x", via="10.0.0.2:5060"), 1.0, True),
        ),
    ),
    Case(
        "TXN-2",
        "a damaged copy with an unreadable CSeq",
        lambda: flow(
            (request("OPTIONS", call="a"), 0.0, False),
            (request("OPTIONS", call="b").replace("CSeq: 1 OPTIONS", "CSeq: 1x OPTIONS"), 1, False),
        ),
    ),
    Case("TXN-5", "magic cookie", lambda: flow((request("OPTIONS"), 0.0, False))),
    Case("TXN-8", "merged INVITE answered 482", lambda: merged(482)),
    Case(
        "TXN-8",
        "requests of two early dialogs (To tags differ)",
        lambda: merged(200, ttag="b1"),
    ),
    Case(
        "TXN-9",
        "capture ends within 32 s (G-2)",
        lambda: flow((request("OPTIONS"), 0.0, False), ping(20.0)),
    ),
    Case(
        "TXN-9",
        "INVITE ringing",
        lambda: flow(
            (request("INVITE", headers=[CONTACT_A]), 0.0, False),
            (resp(180, ttag="b", headers=[CONTACT_B]), 0.1, True),
            ping(90.0),
        ),
    ),
    Case(
        "TXN-9",
        "answered",
        lambda: flow(
            (request("OPTIONS"), 0.0, False),
            (resp(200, "OPTIONS", ttag="b"), 0.05, True),
            ping(40.0),
        ),
    ),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)
