"""Dialog rules: one violating and one compliant case (at least) per rule.

The caller is 10.0.0.1 (From tag ``caller``, Contact ``sip:alice@10.0.0.1``),
the callee 10.0.0.2 (To tag ``b``, Contact ``sip:bob@10.0.0.2``); times are
seconds from the first message, frames count from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from analyzer.rules import Severity
from analyzer.sip.message import SipMessage
from tests.rules import Case, Step, check_compliant, check_violating, flow, request
from tests.sipmsg import resp

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO
CONTACT_A = "Contact: <sip:alice@10.0.0.1>"
CONTACT_B = "Contact: <sip:bob@10.0.0.2>"
CALLEE = "10.0.0.2:5060"


def invite(headers: Sequence[str] = (CONTACT_A,)) -> str:
    return request("INVITE", headers=list(headers))


def answer(status: int = 200, ttag: str | None = "b", headers: Sequence[str] = (CONTACT_B,)) -> str:
    return resp(status, ttag=ttag, headers=list(headers))


def call(*later: Step) -> list[Step]:
    """INVITE, 200, ACK at 0.0-0.2 s, then ``later``."""
    return [
        (invite(), 0.0, False),
        (answer(), 0.1, True),
        (request("ACK", ttag="b", branch="z9hG4bK-ack", uri="sip:bob@10.0.0.2"), 0.2, False),
        *later,
    ]


def caller_request(
    method: str, cseq: int, branch: str, *, uri: str = "sip:bob@10.0.0.2", **kw: Any
) -> str:
    return request(method, ttag="b", cseq=cseq, branch=branch, uri=uri, **kw)


def caller_ok(method: str, cseq: int, branch: str, status: int = 200) -> str:
    return resp(status, method, ttag="b", cseq=cseq, branch=branch)


def callee_request(
    method: str,
    cseq: int,
    branch: str,
    *,
    uri: str = "sip:alice@10.0.0.1",
    from_uri: str = "sip:bob@example.com",
    to_uri: str = "sip:alice@example.com",
) -> str:
    return request(
        method,
        ftag="b",
        ttag="caller",
        cseq=cseq,
        branch=branch,
        via=CALLEE,
        uri=uri,
        from_uri=from_uri,
        to_uri=to_uri,
    )


def callee_ok(method: str, cseq: int, branch: str, status: int = 200) -> str:
    return resp(status, method, ftag="b", ttag="caller", cseq=cseq, branch=branch, via=CALLEE)


def forked(second_contact: str) -> list[SipMessage]:
    """An INVITE answered 180 by two To tags; the second with ``second_contact``."""
    return flow(
        (invite(), 0.0, False),
        (answer(180, "b1"), 0.1, True),
        (answer(180, "b2", [second_contact]), 0.2, True),
    )


def tagless_notify() -> list[SipMessage]:
    """SUBSCRIBE, its 200 (To tag ntf), a NOTIFY to the subscriber without From tag."""
    notify = request(
        "NOTIFY",
        ftag=None,
        ttag="caller",
        cseq=10,
        branch="z9hG4bK-n1",
        via=CALLEE,
        uri="sip:alice@10.0.0.1",
        from_uri="sip:bob@example",
        to_uri="sip:alice@example.com",
        headers=["Event: reg", "Subscription-State: active;expires=60", CONTACT_B],
    )
    return flow(
        (request("SUBSCRIBE", headers=["Event: reg", "Expires: 60", CONTACT_A]), 0.0, False),
        (resp(200, "SUBSCRIBE", ttag="ntf", headers=["Expires: 60", CONTACT_B]), 0.1, True),
        (notify, 0.2, True),
    )


def unknown_dialog(status: int) -> list[SipMessage]:
    """A call, then a BYE naming a To tag no response created, answered ``status``."""
    return flow(
        *call(),
        (request("BYE", ttag="zzz", cseq=2, branch="z9hG4bK-bye"), 5.0, False),
        (resp(status, "BYE", ttag="zzz", cseq=2, branch="z9hG4bK-bye"), 5.1, True),
    )


def after_481(method: str) -> list[SipMessage]:
    """A call whose re-INVITE is answered 481, then ``method`` from the caller."""
    return flow(
        *call(
            (caller_request("INVITE", 2, "z9hG4bK-re", headers=[CONTACT_A]), 1.0, False),
            (caller_ok("INVITE", 2, "z9hG4bK-re", 481), 1.1, True),
            (caller_request(method, 3, "z9hG4bK-after"), 3.0, False),
            (caller_ok(method, 3, "z9hG4bK-after"), 3.1, True),
        )
    )


def early_then_rejected(request_at: float) -> list[SipMessage]:
    """INVITE, 183 (To tag b), 486 at 1.0 s, and an UPDATE in the early dialog."""
    return flow(
        (invite(), 0.0, False),
        (answer(183), 0.1, True),
        (caller_request("UPDATE", 2, "z9hG4bK-up"), request_at, False),
        (answer(486, headers=()), 1.0, True),
    )


def bye_to(uri: str, *, record_route: bool = False, received: str | None = None) -> list[Step]:
    """A call; the callee hangs up with a BYE to ``uri``."""
    rr = ["Record-Route: <sip:proxy.example.com;lr>"] if record_route else []
    via = "10.0.0.1:5060" + (f";received={received}" if received else "")
    return [
        (invite([CONTACT_A, *rr]), 0.0, False),
        (resp(200, ttag="b", via=via, headers=[CONTACT_B, *rr]), 0.1, True),
        (request("ACK", ttag="b", branch="z9hG4bK-ack", uri="sip:bob@10.0.0.2"), 0.2, False),
        (callee_request("BYE", 1, "z9hG4bK-bye", uri=uri), 5.0, True),
    ]


VIOLATING: list[Case] = [
    Case("DLG-2", "two To tags", lambda: forked("Contact: <sip:carol@10.0.0.3>"), (1, 2, 3), N),
    Case("DLG-3", "NOTIFY without From tag", tagless_notify, (3,), E, "no From tag"),
    Case(
        "DLG-3",
        "To URI of another user",
        lambda: flow(
            *call(
                (caller_request("INFO", 2, "z9hG4bK-i", to_uri="sip:carol@example.com"), 1, False)
            )
        ),
        (4,),
        W,
        "'sip:carol@example.com'",
    ),
    Case(
        "DLG-3",
        "callee changes its identity",
        lambda: flow(
            *call(
                (callee_request("INFO", 1, "z9hG4bK-i", from_uri="sip:bob2@example.com"), 1, True)
            )
        ),
        (4,),
        N,
        "RFC 4916",
    ),
    Case("DLG-4", "unknown dialog answered 404", lambda: unknown_dialog(404), (1, 4, 5), W, "404"),
    Case("DLG-4", "unknown dialog recreated", lambda: unknown_dialog(200), None, N, "recreated"),
    Case("DLG-5", "INFO after a 481", lambda: after_481("INFO"), (5, 6), W, "481"),
    Case("DLG-6", "INVITE without Contact", lambda: flow((invite(()), 0.0, False)), (1,), E),
    Case(
        "DLG-6",
        "two Contacts",
        lambda: flow((invite([CONTACT_A, "Contact: <sip:a2@10.0.0.1>"]), 0.0, False)),
        (1,),
        E,
        "2 Contact values",
    ),
    Case(
        "DLG-6",
        "200 without Contact",
        lambda: flow((invite(), 0.0, False), (answer(headers=()), 0.1, True)),
        (2,),
        E,
    ),
    Case(
        "DLG-6",
        "180 with a To tag without Contact",
        lambda: flow((invite(), 0.0, False), (answer(180, headers=()), 0.1, True)),
        (2,),
        W,
    ),
    Case(
        "DLG-6",
        "REFER outside a dialog without Contact",
        lambda: flow((request("REFER", headers=["Refer-To: <sip:c@x>"]), 0.0, False)),
        (1,),
        E,
    ),
    Case("DLG-7", "UPDATE after the 486", lambda: early_then_rejected(3.0), (3, 4), N),
    Case(
        "DLG-8",
        "BYE to the AoR, not the Contact",
        lambda: flow(*bye_to("sip:alice@example.com")),
        (4,),
        W,
        "'sip:alice@10.0.0.1'",
    ),
    Case(
        "DLG-8",
        "NOTIFY to a Contact with a typo (seed 004)",
        lambda: flow(
            (
                request(
                    "SUBSCRIBE",
                    headers=["Event: reg", "Expires: 60", "Contact: <sip:app@excample.com>"],
                ),
                0.0,
                False,
            ),
            (resp(200, "SUBSCRIBE", ttag="b", headers=["Expires: 60", CONTACT_B]), 0.1, True),
            (
                callee_request("NOTIFY", 1, "z9hG4bK-n", uri="sip:app@example.com"),
                0.2,
                True,
            ),
        ),
        (3,),
        W,
    ),
]

COMPLIANT: list[Case] = [
    Case("DLG-2", "one To tag", lambda: flow(*call())),
    Case("DLG-2", "one UAS changing its tag", lambda: forked(CONTACT_B)),
    Case(
        "DLG-3",
        "requests from both sides",
        lambda: flow(
            *call(
                (caller_request("INFO", 2, "z9hG4bK-i"), 1.0, False),
                (callee_request("BYE", 1, "z9hG4bK-bye"), 2.0, True),
            )
        ),
    ),
    Case(
        "DLG-3",
        "capture starts mid-dialog (G-1)",
        lambda: flow((caller_request("INFO", 5, "z9hG4bK-i", to_uri="sip:x@y"), 0.0, False)),
    ),
    Case(
        "DLG-3",
        "the callee's 200 rewrote its To URI, its BYE uses that URI",
        lambda: flow(
            (invite(), 0.0, False),
            (
                resp(200, ttag="b", to_uri="sip:bob@example.com:5070", headers=[CONTACT_B]),
                0.1,
                True,
            ),
            (callee_request("BYE", 1, "z9hG4bK-bye", from_uri="sip:bob@example.com:5070"), 5, True),
        ),
    ),
    Case("DLG-4", "unknown dialog answered 481", lambda: unknown_dialog(481)),
    Case(
        "DLG-4",
        "creating request not captured (G-1)",
        lambda: flow(
            (caller_request("BYE", 2, "z9hG4bK-bye"), 0.0, False),
            (caller_ok("BYE", 2, "z9hG4bK-bye", 404), 0.1, True),
        ),
    ),
    Case("DLG-5", "BYE after a 481", lambda: after_481("BYE")),
    Case(
        "DLG-5",
        "481 to a NOTIFY ends only the subscription (SUB-14)",
        lambda: flow(
            *call(
                (callee_request("NOTIFY", 1, "z9hG4bK-n"), 1.0, True),
                (callee_ok("NOTIFY", 1, "z9hG4bK-n", 481), 1.1, False),
                (caller_request("INFO", 2, "z9hG4bK-i"), 3.0, False),
            )
        ),
    ),
    Case("DLG-6", "INVITE and 200 with Contact", lambda: flow(*call())),
    Case(
        "DLG-6",
        "100 and 183 of a re-INVITE need none",
        lambda: flow(
            *call(
                (caller_request("INVITE", 2, "z9hG4bK-re", headers=[CONTACT_A]), 1.0, False),
                (resp(100, ttag=None, cseq=2, branch="z9hG4bK-re"), 1.1, True),
                (resp(183, ttag="b", cseq=2, branch="z9hG4bK-re"), 1.2, True),
            )
        ),
    ),
    Case(
        "DLG-6",
        "REFER inside a dialog",
        lambda: flow(*call((caller_request("REFER", 2, "z9hG4bK-r"), 1.0, False))),
    ),
    Case("DLG-7", "UPDATE before the final response", lambda: early_then_rejected(0.5)),
    Case("DLG-8", "BYE to the Contact", lambda: flow(*bye_to("sip:alice@10.0.0.1;transport=udp"))),
    Case(
        "DLG-8",
        "route set not empty",
        lambda: flow(*bye_to("sip:alice@example.com", record_route=True)),
    ),
    Case(
        "DLG-8",
        "NAT: the Contact at the address the caller was seen from (G-6)",
        lambda: flow(*bye_to("sip:alice@192.0.2.7", received="192.0.2.7")),
    ),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)
