"""REGISTER rules: one violating and one compliant case (at least) per rule.

The UA is 10.0.0.1 registering ``sip:alice@example.com`` with the Contact
``sip:alice@10.0.0.1``; the registrar is 10.0.0.2.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from analyzer.rules import Severity
from analyzer.sip.message import SipMessage
from tests.rules import Case, Step, check_compliant, check_violating, flow, request
from tests.sipmsg import resp

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO
AOR = "sip:alice@example.com"
CONTACT = "<sip:alice@10.0.0.1>"
DATE = "Date: Sat, 13 Nov 2010 23:29:00 GMT"


def register(
    cseq: int = 1,
    *,
    call: str = "reg-1",
    contact: str | None = CONTACT,
    expires: str | None = "3600",
    uri: str = "sip:example.com",
    to_uri: str = AOR,
    ttag: str | None = None,
    headers: Sequence[str] = (),
) -> str:
    h = [f"Contact: {contact}"] if contact is not None else []
    if expires is not None:
        h.append(f"Expires: {expires}")
    return request(
        "REGISTER",
        call=call,
        cseq=cseq,
        branch=f"z9hG4bK-r{call}-{cseq}",
        uri=uri,
        from_uri=AOR,
        to_uri=to_uri,
        ttag=ttag,
        headers=[*h, *headers],
    )


def registered(
    cseq: int = 1,
    *,
    call: str = "reg-1",
    status: int = 200,
    contacts: Sequence[str] = (f"{CONTACT};expires=3600",),
    headers: Sequence[str] = (DATE,),
) -> str:
    return resp(
        status,
        "REGISTER",
        call=call,
        cseq=cseq,
        ttag="r1",
        branch=f"z9hG4bK-r{call}-{cseq}",
        from_uri=AOR,
        to_uri=AOR,
        headers=[*(f"Contact: {c}" for c in contacts), *headers],
    )


def exchange(req: str, ok: str) -> list[SipMessage]:
    return flow((req, 0.0, False), (ok, 0.05, True))


def two_call_ids(first_expires: str = "3600") -> list[SipMessage]:
    """Two REGISTERs from one UA and Contact, each in its own Call-ID, 60 s apart."""
    return flow(
        (register(call="a", expires=first_expires), 0.0, False),
        (registered(call="a"), 0.05, True),
        (register(call="b"), 60.0, False),
        (registered(call="b"), 60.05, True),
    )


def overlapping(second_at: float, *, answered: bool = True) -> list[SipMessage]:
    """REGISTER CSeq 1 answered at 0.5 s; CSeq 2 (same Call-ID) sent at ``second_at``."""
    steps: list[Step] = [(register(1), 0.0, False), (register(2), second_at, False)]
    if answered:
        steps.append((registered(1), 0.5, True))
    steps.append((registered(2), second_at + 0.5, True))
    return flow(*sorted(steps, key=lambda s: s[1]))


VIOLATING: list[Case] = [
    Case(
        "REG-1",
        "user part in the Request-URI",
        lambda: flow((register(uri="sip:alice@example.com"), 0.0, False)),
        (1,),
        E,
        "user part",
    ),
    Case(
        "REG-1",
        "tel: To",
        lambda: flow((register(to_uri="tel:+15551234"), 0.0, False)),
        (1,),
        E,
        "'tel:+15551234'",
    ),
    Case("REG-2", "new Call-ID per REGISTER", two_call_ids, (3,), N, "2 Call-IDs"),
    Case(
        "REG-3",
        "wildcard without Expires",
        lambda: flow((register(contact="*", expires=None), 0.0, False)),
        (1,),
        E,
        "no Expires",
    ),
    Case(
        "REG-3",
        "wildcard with another Contact, accepted",
        lambda: exchange(
            register(contact="*", expires="0", headers=[f"Contact: {CONTACT}"]),
            registered(contacts=()),
        ),
        (1, 2),
        E,
        "accepted it (200)",
    ),
    Case(
        "REG-5",
        "Contact without expires",
        lambda: exchange(
            register(), registered(contacts=(CONTACT,), headers=[DATE, "Expires: 60"])
        ),
        (1, 2),
        E,
        "without an expires parameter",
    ),
    Case(
        "REG-5",
        "binding not listed",
        lambda: exchange(register(), registered(contacts=("<sip:x@10.9.9.9>;expires=60",))),
        (1, 2),
        E,
        "does not list",
    ),
    Case(
        "REG-5",
        "no Date",
        lambda: exchange(register(), registered(headers=())),
        (1, 2),
        N,
        "Date",
    ),
    Case(
        "REG-6",
        "longer than asked",
        lambda: exchange(register(), registered(contacts=(f"{CONTACT};expires=7200",))),
        (1, 2),
        W,
        "7200 s",
    ),
    Case(
        "REG-6",
        "423 without Min-Expires",
        lambda: exchange(register(expires="60"), registered(status=423, contacts=())),
        (1, 2),
        E,
        "Min-Expires",
    ),
    Case(
        "REG-6",
        "423 to an hour",
        lambda: exchange(
            register(), registered(status=423, contacts=(), headers=["Min-Expires: 7200"])
        ),
        (1, 2),
        E,
        "3600 s",
    ),
    Case("REG-7", "second REGISTER before the 200", lambda: overlapping(0.2), (1, 2, 3), W),
    Case(
        "REG-8",
        "To tag",
        lambda: flow((register(ttag="t1"), 0.0, False)),
        (1,),
        W,
        "'t1'",
    ),
    Case(
        "REG-8",
        "Record-Route in the 200",
        lambda: exchange(
            register(), registered(headers=[DATE, "Record-Route: <sip:p.example.com;lr>"])
        ),
        (2,),
        N,
    ),
]

COMPLIANT: list[Case] = [
    Case("REG-1", "domain Request-URI, SIP To", lambda: flow((register(), 0.0, False))),
    Case(
        "REG-2",
        "one Call-ID",
        lambda: flow(
            (register(1), 0.0, False),
            (registered(1), 0.05, True),
            (register(2), 60.0, False),
            (registered(2), 60.05, True),
        ),
    ),
    Case("REG-2", "new Call-ID after unregistering", lambda: two_call_ids("0")),
    Case(
        "REG-3",
        "wildcard with Expires: 0",
        lambda: exchange(register(contact="*", expires="0"), registered(contacts=())),
    ),
    Case("REG-5", "expires and Date", lambda: exchange(register(), registered())),
    Case(
        "REG-5",
        "unregistered binding not listed",
        lambda: exchange(register(expires="0"), registered(contacts=())),
    ),
    Case(
        "REG-5",
        "bindings of other UAs listed too",
        lambda: exchange(
            register(),
            registered(contacts=(f"{CONTACT};expires=3600", "<sip:a@10.0.0.7>;expires=99")),
        ),
    ),
    Case(
        "REG-6",
        "shorter than asked",
        lambda: exchange(register(), registered(contacts=(f"{CONTACT};expires=600",))),
    ),
    Case(
        "REG-6",
        "no expiry asked",
        lambda: exchange(register(expires=None), registered()),
    ),
    Case(
        "REG-6",
        "423 with Min-Expires to 60 s",
        lambda: exchange(
            register(expires="60"),
            registered(status=423, contacts=(), headers=["Min-Expires: 600"]),
        ),
    ),
    Case("REG-7", "second REGISTER after the 200", lambda: overlapping(1.0)),
    Case(
        "REG-7",
        "final response not captured (G-2)",
        lambda: overlapping(0.2, answered=False),
    ),
    Case("REG-8", "no To tag", lambda: exchange(register(), registered())),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)
