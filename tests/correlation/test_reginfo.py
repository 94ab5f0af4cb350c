"""reginfo documents (RFC 3680): parsing hostile bodies and merging partial state."""

from __future__ import annotations

import time

import pytest

from analyzer.correlation import (
    MAX_REGINFO_BYTES,
    ReginfoError,
    correlate,
    correlate_group,
    parse_reginfo,
)
from analyzer.correlation.reginfo import parse_reginfo_bodies
from tests.correlation.test_subscriptions import notify, sub_ok, subscribe
from tests.sipmsg import Trace

NS = "urn:ietf:params:xml:ns:reginfo"


def contact(cid: str, state: str, event: str, uri: str, extra: str = "") -> str:
    return f'<contact id="{cid}" state="{state}" event="{event}"{extra}><uri>{uri}</uri></contact>'


def doc(version: int, state: str, *registrations: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<reginfo xmlns="{NS}" version="{version}" '
        f'state="{state}">{"".join(registrations)}</reginfo>'
    )


def registration(aor: str, rid: str, state: str, *contacts: str) -> str:
    return (
        f'<registration aor="{aor}" id="{rid}" state="{state}">{"".join(contacts)}</registration>'
    )


def test_parse_full_document() -> None:
    body = doc(
        0,
        "full",
        registration(
            "sip:user@example.com",
            "as9",
            "active",
            contact(
                "76",
                "active",
                "registered",
                "sip:user@pc887.example.com",
                ' duration-registered="7322" q="0.8" expires="3600" callid="x" cseq="3"',
            ),
            contact("77", "terminated", "expired", "sip:user@university.edu"),
        ),
    )
    d = parse_reginfo(body.encode())
    assert (d.version, d.state, d.problems) == (0, "full", ())
    (reg,) = d.registrations
    assert (reg.aor, reg.id, reg.state) == ("sip:user@example.com", "as9", "active")
    c76, c77 = reg.contacts
    assert (c76.id, c76.state, c76.event, c76.uri) == (
        "76",
        "active",
        "registered",
        "sip:user@pc887.example.com",
    )
    assert (c76.duration_registered, c76.q, c76.expires, c76.callid, c76.cseq) == (
        7322,
        "0.8",
        3600,
        "x",
        3,
    )
    assert (c77.state, c77.event, c77.expires) == ("terminated", "expired", None)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (f'<reginfo xmlns="{NS}" state="full"/>', "reginfo has no version attribute"),
        (f'<reginfo xmlns="{NS}" version="x" state="full"/>', "reginfo version 'x' is not"),
        (f'<reginfo xmlns="{NS}" version="1"/>', "reginfo has no state attribute"),
        (
            f'<reginfo xmlns="{NS}" version="1" state="full"><registration aor="a" id="r" '
            'state="active"><contact id="c" state="active" event="shortened" expires="-5">'
            "<uri>sip:a@b</uri></contact></registration></reginfo>",
            "contact 'c' expires '-5' is not an unsigned integer",
        ),
    ],
)
def test_schema_problems_are_recorded(body: str, problem: str) -> None:
    assert any(p.startswith(problem) for p in parse_reginfo(body.encode()).problems)


@pytest.mark.parametrize(
    ("attributes", "field", "value"),
    [
        ('expires="60"', "expires", 60),
        ('expires=" 60 "', "expires", 60),
        ('retry-after="30"', "retry_after", 30),
        ('duration-registered="7322"', "duration_registered", 7322),
        ('cseq="12"', "cseq", 12),
        ('q="0.5"', "q", "0.5"),
        ('callid="abc@h"', "callid", "abc@h"),
        ('expires="x"', "expires", None),
    ],
)
def test_contact_attributes(attributes: str, field: str, value: object) -> None:
    body = doc(
        1,
        "full",
        registration(
            "sip:a@b",
            "r",
            "active",
            contact("c", "active", "registered", "sip:a@h", " " + attributes),
        ),
    )
    (c,) = parse_reginfo(body.encode()).registrations[0].contacts
    assert getattr(c, field) == value


def test_missing_attributes_are_none() -> None:
    body = (
        f'<reginfo xmlns="{NS}" version="1" state="partial">'
        "<registration><contact/></registration></reginfo>"
    )
    (reg,) = parse_reginfo(body.encode()).registrations
    assert (reg.aor, reg.id, reg.state) == (None, None, None)
    (c,) = reg.contacts
    assert (c.id, c.state, c.event, c.uri, c.expires) == (None, None, None, None, None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<reginfo", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (
            b'<reginfo xmlns="urn:other" version="0" state="full"/>',
            "expected 'reginfo' in namespace",
        ),
        (b'<reginfo version="0" state="full"/>', "expected 'reginfo' in namespace"),
        (f'<registration xmlns="{NS}"/>'.encode(), "expected 'reginfo' in namespace"),
        (b" " * (MAX_REGINFO_BYTES + 1), "exceeds the"),
    ],
)
def test_unusable_documents_raise(body: bytes, reason: str) -> None:
    with pytest.raises(ReginfoError, match=reason):
        parse_reginfo(body)


def test_external_entity_is_not_resolved() -> None:
    body = (
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        f'<reginfo xmlns="{NS}" version="0" state="full"><registration aor="sip:a@b" id="r" '
        'state="active"><contact id="c" state="active" event="registered">'
        "<uri>&xxe;</uri></contact></registration></reginfo>"
    )
    d = parse_reginfo(body.encode())
    (c,) = d.registrations[0].contacts
    assert c.uri is None
    assert any("DOCTYPE" in p for p in d.problems)
    assert any("unexpanded entity" in p for p in d.problems)


def test_billion_laughs_is_not_expanded() -> None:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    ]
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [{"".join(entities)}]>\n'
        f'<reginfo xmlns="{NS}" version="0" state="full"><registration aor="&lol9;" id="r" '
        'state="active"/></reginfo>'
    )
    start = time.perf_counter()
    with pytest.raises(ReginfoError):
        parse_reginfo(body.encode())
    assert time.perf_counter() - start < 1.0


def reginfo_trace(*docs: tuple[float, str]) -> Trace:
    t = Trace()
    t.add(subscribe("z9hG4bK-s", 1, 3600), 0.0)
    t.add(sub_ok("z9hG4bK-s", 1, 3600), 0.1, reverse=True)
    for k, (at, body) in enumerate(docs):
        t.add(
            notify(
                f"z9hG4bK-n{k}",
                k + 1,
                "active;expires=3000",
                body=body,
                ctype="application/reginfo+xml",
            ),
            at,
            reverse=True,
        )
    return t


AOR = "sip:joe@example.com"


def test_partial_documents_merge_onto_full_state() -> None:
    t = reginfo_trace(
        (
            1.0,
            doc(
                0,
                "full",
                registration(
                    AOR,
                    "a7",
                    "active",
                    contact("1", "active", "registered", "sip:joe@pc1"),
                    contact("2", "active", "registered", "sip:joe@pc2"),
                ),
            ),
        ),
        (
            2.0,
            doc(
                1,
                "partial",
                registration(
                    AOR, "a7", "active", contact("2", "terminated", "expired", "sip:joe@pc2")
                ),
            ),
        ),
        (
            3.0,
            doc(
                2,
                "partial",
                registration(AOR, "a7", "active", contact("3", "active", "created", "sip:joe@pc3")),
            ),
        ),
        (
            4.0,
            doc(
                5,
                "partial",
                registration(
                    AOR, "a7", "active", contact("1", "active", "refreshed", "sip:joe@pc1")
                ),
            ),
        ),
        (5.0, doc(4, "partial", registration(AOR, "a7", "terminated"))),
    )
    corr = correlate(t.messages)
    (s,) = corr.subscriptions
    docs = corr.reginfo
    assert [d.id for d in docs] == [2, 3, 4, 5, 6]
    assert [n.document for n in s.notifications] == [2, 3, 4, 5, 6]
    assert all(d.subscription == s.id for d in docs)
    assert [(d.version, d.previous_version, d.version_delta, d.applied) for d in docs] == [
        (0, None, None, True),
        (1, 0, 1, True),
        (2, 1, 1, True),
        (5, 2, 3, True),
        # RFC 3680 §5.2: lower than the local version: discarded.
        (4, 5, -1, False),
    ]
    (aor,) = corr.reginfo_aors
    assert (aor.subscription, aor.aor) == (s.id, AOR)
    assert aor.messages == (2, 3, 4, 5)
    states = [[(c.id, c.state, c.event) for c in snap.contacts] for snap in aor.history]
    assert states == [
        [("1", "active", "registered"), ("2", "active", "registered")],
        [("1", "active", "registered"), ("2", "terminated", "expired")],
        [("1", "active", "registered"), ("2", "terminated", "expired"), ("3", "active", "created")],
        [("1", "active", "refreshed"), ("2", "terminated", "expired"), ("3", "active", "created")],
    ]
    assert [(h.document, h.version, h.full, h.state) for h in aor.history] == [
        (2, 0, True, "active"),
        (3, 1, False, "active"),
        (4, 2, False, "active"),
        (5, 5, False, "active"),
    ]


def test_full_document_flushes_previous_tables() -> None:
    other = "sip:ann@example.com"
    t = reginfo_trace(
        (
            1.0,
            doc(
                0,
                "full",
                registration(AOR, "a", "active", contact("1", "active", "registered", "sip:j")),
                registration(other, "b", "active", contact("9", "active", "registered", "sip:a")),
            ),
        ),
        (
            2.0,
            doc(
                1,
                "full",
                registration(AOR, "a", "active", contact("2", "active", "registered", "sip:j2")),
            ),
        ),
    )
    corr = correlate(t.messages)
    joe, ann = sorted(corr.reginfo_aors, key=lambda a: a.aor != AOR)
    assert [[c.id for c in h.contacts] for h in joe.history] == [["1"], ["2"]]
    assert [(h.state, h.contacts) for h in ann.history][-1] == (None, ())
    assert ann.messages == (2, 3)


def test_unusable_document_is_recorded_not_raised() -> None:
    t = reginfo_trace((1.0, "<reginfo"))
    corr = correlate(t.messages)
    (d,) = corr.reginfo
    assert d.error is not None and "not well-formed" in d.error
    assert d.registrations == () and not d.applied and d.version is None
    assert [n.code for n in corr.notes] == ["reginfo"]
    assert corr.reginfo_aors == ()


def test_bodies_read_ahead_give_what_parse_reginfo_gives() -> None:
    good = doc(
        3, "full", registration(AOR, "r1", "active", contact("1", "active", "x", "sip:a"))
    ).encode()
    other = doc(4, "partial").encode()
    bad = b"<reginfo"
    large = b" " * (MAX_REGINFO_BYTES + 1)
    parsed = parse_reginfo_bodies([good, bad, other, good, large, bad])
    assert list(parsed) == [good, bad, other, large]
    assert parsed[good] == parse_reginfo(good) and parsed[other] == parse_reginfo(other)
    for body in (bad, large):
        with pytest.raises(ReginfoError) as exc:
            parse_reginfo(body)
        assert parsed[body] == exc.value.reason


def test_documents_read_ahead_or_when_met_are_the_same() -> None:
    # correlate() and correlate_groups() read the reginfo bodies of all
    # NOTIFYs first; correlate_group() reads each when it meets it.
    body = doc(0, "full", registration(AOR, "r1", "active", contact("1", "active", "x", "sip:a")))
    t = reginfo_trace((1.0, body), (2.0, "<reginfo"), (3.0, body))
    whole = correlate(t.messages)
    alone = correlate_group(t.messages, range(len(t.messages)))
    assert alone.reginfo == whole.reginfo and alone.reginfo_aors == whole.reginfo_aors
    assert alone.notes == whole.notes
    good, bad, repeat = whole.reginfo
    assert good.applied and good.registrations == parse_reginfo(body.encode()).registrations
    assert repeat.registrations == good.registrations and repeat.version_delta == 0
    assert bad.error is not None and "not well-formed" in bad.error
    assert [n.code for n in whole.notes] == ["reginfo"]
