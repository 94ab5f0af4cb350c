"""REGISTER (RFC 3261 §10): attempts, challenges, bindings per AoR."""

from __future__ import annotations

import pytest

from analyzer.correlation import RegisterOutcome, canonical_aor, correlate
from tests.sipmsg import Trace, req, resp

AOR = "sip:alice@example.com"
CONTACT = "sip:alice@10.0.0.1:5060"


def register(
    branch: str,
    cseq: int,
    contact: str | None = f"<{CONTACT}>",
    expires: int | None = None,
    call: str = "reg-1",
) -> str:
    headers = []
    if contact is not None:
        headers.append(f"Contact: {contact}")
    if expires is not None:
        headers.append(f"Expires: {expires}")
    return req(
        "REGISTER",
        call=call,
        branch=branch,
        cseq=cseq,
        uri="sip:example.com",
        from_uri=AOR,
        to_uri=AOR,
        headers=headers,
    )


def reply(
    status: int,
    branch: str,
    cseq: int,
    contacts: str | None = None,
    call: str = "reg-1",
    extra: tuple[str, ...] = (),
) -> str:
    headers = list(extra)
    if contacts is not None:
        headers.append(f"Contact: {contacts}")
    return resp(
        status,
        "REGISTER",
        call=call,
        branch=branch,
        cseq=cseq,
        ttag="reg",
        from_uri=AOR,
        to_uri=AOR,
        headers=headers,
    )


def test_challenge_refresh_and_deregistration() -> None:
    t = Trace()
    t.add(register("z9hG4bK-1", 1, expires=3600), 0.0)  # 0
    t.add(reply(401, "z9hG4bK-1", 1, extra=('WWW-Authenticate: Digest realm="x", nonce="y"',)),
          0.1, reverse=True)  # fmt: skip  # 1
    t.add(register("z9hG4bK-2", 2, expires=3600), 0.2)  # 2
    t.add(reply(200, "z9hG4bK-2", 2, f"<{CONTACT}>;expires=3600"), 0.3, reverse=True)  # 3
    t.add(register("z9hG4bK-3", 3, contact=f"<{CONTACT}>;expires=1800"), 1800.0)  # 4
    t.add(reply(200, "z9hG4bK-3", 3, f"<{CONTACT}>;expires=1200"), 1800.1, reverse=True)  # 5
    t.add(register("z9hG4bK-4", 4, expires=0), 2000.0)  # 6
    t.add(reply(200, "z9hG4bK-4", 4), 2000.1, reverse=True)  # 7
    corr = correlate(t.messages)
    (reg,) = corr.registrations
    assert reg.id == 0 and reg.aor == AOR and reg.call_ids == ("reg-1",)
    assert [a.outcome for a in reg.attempts] == [
        RegisterOutcome.CHALLENGED,
        RegisterOutcome.REGISTERED,
        RegisterOutcome.REGISTERED,
        RegisterOutcome.DEREGISTERED,
    ]
    assert [a.retry_of for a in reg.attempts] == [None, 0, None, None]
    first, second, refresh, dereg = reg.attempts
    assert (first.transaction, first.final_status, first.final, first.final_frame) == (0, 401, 1, 2)
    assert [(b.contact, b.expires, b.source) for b in second.requested] == [
        (CONTACT, 3600, "header")
    ]
    assert [(b.contact, b.expires, b.source) for b in refresh.requested] == [
        (CONTACT, 1800, "contact")
    ]
    assert [(g.contact, g.expires) for g in refresh.granted] == [(CONTACT, 1200)]
    assert [(b.contact, b.expires) for b in dereg.requested] == [(CONTACT, 0)]
    assert [(e.event, e.contact, e.expires, e.attempt, e.message, e.frame) for e in reg.events] == [
        ("registered", CONTACT, 3600, 2, 3, 4),
        ("refreshed", CONTACT, 1200, 4, 5, 6),
        ("deregistered", CONTACT, 0, 6, 7, 8),
    ]
    assert reg.bindings == ()
    assert reg.messages == tuple(range(8)) and reg.frames == tuple(range(1, 9))
    assert corr.dialogs == () and corr.exchanges == ()


def test_wildcard_deregistration_removes_every_binding() -> None:
    t = Trace()
    t.add(register("z9hG4bK-1", 1, contact="<sip:a@h1>, <sip:a@h2>", expires=600), 0.0)
    t.add(
        reply(200, "z9hG4bK-1", 1, "<sip:a@h1>;expires=600, <sip:a@h2>;expires=600"),
        0.1,
        reverse=True,
    )
    t.add(register("z9hG4bK-2", 2, contact="*", expires=0), 10.0)
    t.add(reply(200, "z9hG4bK-2", 2), 10.1, reverse=True)
    (reg,) = correlate(t.messages).registrations
    assert reg.attempts[1].wildcard
    assert reg.attempts[1].outcome is RegisterOutcome.DEREGISTERED
    assert [(e.event, e.contact) for e in reg.events] == [
        ("registered", "sip:a@h1"),
        ("registered", "sip:a@h2"),
        ("deregistered", "sip:a@h1"),
        ("deregistered", "sip:a@h2"),
    ]
    assert reg.bindings == ()


def test_binding_expires_by_time_before_the_capture_ends() -> None:
    t = Trace()
    t.add(register("z9hG4bK-1", 1, expires=60), 0.0)
    t.add(reply(200, "z9hG4bK-1", 1, f"<{CONTACT}>;expires=60"), 0.1, reverse=True)
    t.add(req("OPTIONS", call="other", branch="z9hG4bK-o"), 100.0)
    (reg,) = correlate(t.messages).registrations
    assert [(e.event, e.ts_ns, e.message) for e in reg.events] == [
        ("registered", 100_000_000, 1),
        ("expired", 60_100_000_000, None),
    ]
    assert reg.bindings == ()
    (reg,) = correlate(t.messages[:2]).registrations
    (b,) = reg.bindings
    assert (b.contact, b.expires, b.since_ts_ns, b.expires_at_ns) == (
        CONTACT,
        60,
        100_000_000,
        60_100_000_000,
    )


def test_registrations_span_call_ids_and_list_other_bindings() -> None:
    t = Trace()
    t.add(register("z9hG4bK-1", 1, expires=600, call="boot-1"), 0.0)
    t.add(reply(200, "z9hG4bK-1", 1, f"<{CONTACT}>;expires=600", call="boot-1"), 0.1, reverse=True)
    t.add(register("z9hG4bK-2", 1, contact="<sip:alice@10.9.9.9>", expires=600, call="boot-2"), 5.0)
    t.add(
        reply(200, "z9hG4bK-2", 1, "<sip:alice@10.9.9.9>;expires=600", call="boot-2"),
        5.1,
        reverse=True,
    )
    (reg,) = correlate(t.messages).registrations
    assert reg.call_ids == ("boot-1", "boot-2")
    # The second 2xx no longer lists the first binding: the registrar dropped it.
    assert [(e.event, e.contact) for e in reg.events] == [
        ("registered", CONTACT),
        ("registered", "sip:alice@10.9.9.9"),
        ("removed", CONTACT),
    ]


def test_query_and_no_final() -> None:
    t = Trace()
    t.add(register("z9hG4bK-1", 1, contact=None), 0.0)
    t.add(reply(200, "z9hG4bK-1", 1, f"<{CONTACT}>;expires=100"), 0.1, reverse=True)
    t.add(register("z9hG4bK-2", 2, expires=600), 1.0)
    (reg,) = correlate(t.messages).registrations
    assert [a.outcome for a in reg.attempts] == [
        RegisterOutcome.QUERIED,
        RegisterOutcome.NO_FINAL,
    ]
    assert [(e.event, e.expires) for e in reg.events] == [("listed", 100)]


@pytest.mark.parametrize(
    ("uri", "aor"),
    [
        ("sip:Alice@Example.COM", "sip:Alice@example.com"),
        ("SIP:alice@example.com;transport=tcp", "sip:alice@example.com"),
        ("sip:alice@example.com?subject=x", "sip:alice@example.com"),
        ("tel:+15551234", "tel:+15551234"),
        ("sip:example.com", "sip:example.com"),
    ],
)
def test_canonical_aor(uri: str, aor: str) -> None:
    assert canonical_aor(uri) == aor
