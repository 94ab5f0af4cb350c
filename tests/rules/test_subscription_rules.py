"""SUBSCRIBE / NOTIFY rules: one violating and one compliant case (at least) per rule.

The subscriber is 10.0.0.1 (From tag ``caller``), the notifier 10.0.0.2
(tag ``ntf``); times are seconds from the first message.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from analyzer.rules import Severity
from analyzer.rules.subscription_rules import accepts
from analyzer.sip.message import SipMessage
from tests.rules import Case, Step, check_compliant, check_violating, flow, request
from tests.sipmsg import resp

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO
NOTIFIER = "10.0.0.2:5060"
CONTACT_SUB = "Contact: <sip:app@10.0.0.1>"
CONTACT_NTF = "Contact: <sip:ntf@10.0.0.2>"
LEGACY = {"events_rfc": "3265"}


def subscribe(
    branch: str = "z9hG4bK-s1",
    cseq: int = 1,
    expires: int | None = 600,
    *,
    ttag: str | None = None,
    event: str | None = "reg",
    contact: bool = True,
    headers: Sequence[str] = (),
) -> str:
    h: list[str] = []
    if event is not None:
        h.append(f"Event: {event}")
    if contact:
        h.append(CONTACT_SUB)
    if expires is not None:
        h.append(f"Expires: {expires}")
    return request("SUBSCRIBE", branch=branch, cseq=cseq, ttag=ttag, headers=[*h, *headers])


def sub_ok(
    branch: str = "z9hG4bK-s1",
    cseq: int = 1,
    expires: int | None = 600,
    *,
    status: int = 200,
    ttag: str = "ntf",
    contact: bool = True,
    headers: Sequence[str] = (),
) -> str:
    h: list[str] = []
    if contact:
        h.append(CONTACT_NTF)
    if expires is not None:
        h.append(f"Expires: {expires}")
    return resp(status, "SUBSCRIBE", branch=branch, cseq=cseq, ttag=ttag, headers=[*h, *headers])


def notify(
    branch: str = "z9hG4bK-n1",
    cseq: int = 10,
    state: str | None = "active;expires=599",
    *,
    ftag: str | None = "ntf",
    ttag: str | None = "caller",
    event: str | None = "reg",
    contact: bool = True,
    method: str = "NOTIFY",
    body: str = "",
    ctype: str | None = None,
    headers: Sequence[str] = (),
) -> str:
    h: list[str] = []
    if state is not None:
        h.append(f"Subscription-State: {state}")
    if event is not None:
        h.append(f"Event: {event}")
    if contact:
        h.append(CONTACT_NTF)
    if ctype is not None:
        h.append(f"Content-Type: {ctype}")
    return request(
        method,
        branch=branch,
        cseq=cseq,
        cseq_method="NOTIFY",
        ftag=ftag,
        ttag=ttag,
        via=NOTIFIER,
        uri="sip:app@10.0.0.1",
        from_uri="sip:bob@example.com",
        to_uri="sip:alice@example.com",
        body=body,
        headers=[*h, *headers],
    )


def notify_ok(branch: str = "z9hG4bK-n1", cseq: int = 10, *, status: int = 200) -> str:
    return resp(
        status,
        "NOTIFY",
        branch=branch,
        cseq=cseq,
        ftag="ntf",
        ttag="caller",
        via=NOTIFIER,
        from_uri="sip:bob@example.com",
        to_uri="sip:alice@example.com",
    )


def accepted(*later: Step, expires: int = 600, state: str = "active;expires=599") -> list[Step]:
    """SUBSCRIBE, 200, NOTIFY, 200 at 0.0-0.3 s, then ``later``."""
    return [
        (subscribe(expires=expires), 0.0, False),
        (sub_ok(expires=expires), 0.1, True),
        (notify(state=state), 0.2, True),
        (notify_ok(), 0.3, False),
        *later,
    ]


def ping(at: float) -> Step:
    """An OPTIONS in another Call-ID: the capture goes on until ``at``."""
    return (request("OPTIONS", call="other", branch="z9hG4bK-ping"), at, False)


def reginfo_notify() -> str:
    body = (
        '<?xml version="1.0"?>\n'
        '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">\n'
        '  <registration aor="sip:alice@example.com" id="a1" state="init"/>\n'
        "</reginfo>\n"
    )
    return notify(body=body, ctype="application/reginfo+xml")


def new_call_id_subscribe(at: float) -> list[SipMessage]:
    """A subscription granted 600 s, then an initial SUBSCRIBE in another Call-ID at ``at``."""
    second = request(
        "SUBSCRIBE",
        call="call-2",
        ftag="caller2",
        branch="z9hG4bK-s9",
        headers=["Event: reg", CONTACT_SUB, "Expires: 600"],
    )
    return flow(*accepted(), (second, at, False))


def late_refresh(at: float) -> list[SipMessage]:
    """A subscription granted 60 s (NOTIFY expires=59 at 0.2 s), refreshed at ``at``."""
    return flow(
        *accepted(expires=60, state="active;expires=59"),
        (subscribe("z9hG4bK-s2", 2, 60, ttag="ntf"), at, False),
        (sub_ok("z9hG4bK-s2", 2, 60), at + 0.1, True),
    )


def bad_event(*later: Step, advertised: str | None = None) -> list[SipMessage]:
    """(An OPTIONS answered with Allow-Events ``advertised``,) a SUBSCRIBE answered 489."""
    steps: list[Step] = []
    if advertised is not None:
        steps += [
            (request("OPTIONS", call="o", branch="z9hG4bK-o"), 0.0, False),
            (
                resp(
                    200,
                    "OPTIONS",
                    call="o",
                    ttag="x",
                    branch="z9hG4bK-o",
                    headers=[f"Allow-Events: {advertised}"],
                ),
                0.05,
                True,
            ),
        ]
    steps += [
        (subscribe(), 1.0, False),
        (sub_ok(expires=None, status=489, headers=["Allow-Events: presence"]), 1.1, True),
        *later,
    ]
    return flow(*steps)


VIOLATING: list[Case] = [
    # SUB-1
    Case("SUB-1", "no Event", lambda: flow((subscribe(event=None), 0.0, False)), (1,), E),
    Case(
        "SUB-1",
        "two Event values",
        lambda: flow((subscribe(event="reg, presence"), 0.0, False)),
        (1,),
        E,
        "2 Event values",
    ),
    Case(
        "SUB-1",
        "two Event headers",
        lambda: flow((subscribe(headers=["Event: presence"]), 0.0, False)),
        (1,),
        E,
    ),
    # SUB-2
    Case(
        "SUB-2",
        "NOTIFY of another package",
        lambda: flow(*accepted((notify("z9hG4bK-n2", 11, event="presence"), 5.0, True))),
        (1, 5),
        E,
        "'presence'",
    ),
    Case(
        "SUB-2",
        "NOTIFY without Event",
        lambda: flow(*accepted((notify("z9hG4bK-n2", 11, event=None), 5.0, True))),
        (5,),
        E,
        "no Event",
    ),
    # SUB-3
    Case(
        "SUB-3",
        "reg without Expires",
        lambda: flow((subscribe(expires=None), 0.0, False)),
        (1,),
        W,
        "3761 s",
    ),
    Case(
        "SUB-3",
        "Expires not a number",
        lambda: flow((subscribe(expires=None, headers=["Expires: soon"]), 0.0, False)),
        (1,),
        W,
        "not delta-seconds",
    ),
    # SUB-4
    Case(
        "SUB-4",
        "200 without Expires",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(expires=None), 0.1, True)),
        (2,),
        E,
    ),
    # SUB-5
    Case(
        "SUB-5",
        "600 asked, 3600 granted",
        lambda: flow((subscribe(expires=600), 0.0, False), (sub_ok(expires=3600), 0.1, True)),
        (1, 2),
        E,
        "3600 s",
    ),
    Case(
        "SUB-5",
        "reg default exceeded",
        lambda: flow((subscribe(expires=None), 0.0, False), (sub_ok(expires=4000), 0.1, True)),
        (1, 2),
        E,
        "3761",
    ),
    # SUB-6
    Case(
        "SUB-6",
        "NOTIFY without Subscription-State",
        lambda: flow(*accepted(state="active;expires=599")[:2], (notify(state=None), 0.2, True)),
        (3,),
        E,
    ),
    Case(
        "SUB-6",
        "misspelt method, CSeq NOTIFY",
        lambda: flow((notify(state=None, method="NOFITY"), 0.0, True)),
        (1,),
        E,
        "NOFITY",
    ),
    # SUB-7
    Case(
        "SUB-7",
        "unreadable expires",
        lambda: flow((notify(state="active;expires=soon"), 0.0, True)),
        (1,),
        E,
        "unreadable",
    ),
    Case(
        "SUB-7",
        "extension substate",
        lambda: flow((notify(state="waiting;expires=10"), 0.0, True)),
        (1,),
        W,
        "'waiting'",
    ),
    Case(
        "SUB-7",
        "in a response",
        lambda: flow(
            (subscribe(), 0.0, False),
            (sub_ok(headers=["Subscription-State: active;expires=600"]), 0.1, True),
        ),
        (2,),
        E,
        "200 response",
    ),
    Case(
        "SUB-7",
        "twice",
        lambda: flow(
            (notify(headers=["Subscription-State: terminated;reason=timeout"]), 0.0, True)
        ),
        (1,),
        E,
        "2 Subscription-State",
    ),
    # SUB-8
    Case(
        "SUB-8",
        "active without expires",
        lambda: flow((notify(state="active"), 0.0, True)),
        (1,),
        E,
    ),
    Case(
        "SUB-8",
        "pending without expires, RFC 3265 mode",
        lambda: flow((notify(state="pending"), 0.0, True)),
        (1,),
        W,
        options=LEGACY,
    ),
    # SUB-9
    Case(
        "SUB-9",
        "NOTIFY longer than the 2xx grant",
        lambda: flow(*accepted(state="active;expires=3600")),
        (2, 3),
        E,
        "expires=3600",
    ),
    Case(
        "SUB-9",
        "NOTIFY longer than the previous NOTIFY",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "active;expires=100"), 10.0, True),
                (notify("z9hG4bK-n3", 12, "active;expires=500"), 50.0, True),
                state="active;expires=599",
            )
        ),
        (5, 6),
        E,
    ),
    Case(
        "SUB-9",
        "SUBSCRIBE never captured (G-1)",
        lambda: flow(
            (notify(state="active;expires=100"), 0.0, True),
            (notify("z9hG4bK-n2", 11, "active;expires=100"), 10.0, True),
        ),
        (1, 2),
        W,
    ),
    # SUB-10
    Case(
        "SUB-10",
        "terminated without reason",
        lambda: flow((notify(state="terminated"), 0.0, True)),
        (1,),
        W,
        "no reason",
    ),
    Case(
        "SUB-10",
        "terminated with expires",
        lambda: flow((notify(state="terminated;reason=timeout;expires=30"), 0.0, True)),
        (1,),
        W,
        "expires",
    ),
    Case(
        "SUB-10",
        "unregistered reason",
        lambda: flow((notify(state="terminated;reason=bored"), 0.0, True)),
        (1,),
        N,
    ),
    Case(
        "SUB-10",
        "retry-after with rejected",
        lambda: flow((notify(state="terminated;reason=rejected;retry-after=60"), 0.0, True)),
        (1,),
        N,
        "no semantics",
    ),
    # SUB-11
    Case(
        "SUB-11",
        "no NOTIFY, capture long enough",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(), 0.1, True), ping(40.0)),
        (1, 2),
        W,
    ),
    Case(
        "SUB-11",
        "refresh without NOTIFY",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, ttag="ntf"), 300.0, False),
                (sub_ok("z9hG4bK-s2", 2), 300.1, True),
                ping(340.0),
            )
        ),
        (5, 6),
        W,
        "refresh",
    ),
    # SUB-12
    Case(
        "SUB-12",
        "unsubscribe answered with active",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, 0, ttag="ntf"), 100.0, False),
                (sub_ok("z9hG4bK-s2", 2, 0), 100.1, True),
                (notify("z9hG4bK-n2", 11, "active;expires=500"), 100.2, True),
            )
        ),
        (5, 6, 7),
        E,
        "says active",
    ),
    Case(
        "SUB-12",
        "unsubscribe without NOTIFY",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, 0, ttag="ntf"), 100.0, False),
                (sub_ok("z9hG4bK-s2", 2, 0), 100.1, True),
                ping(140.0),
            )
        ),
        (5, 6),
        W,
    ),
    # SUB-13
    Case(
        "SUB-13",
        "NOTIFY long after expiry",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "active;expires=10"), 200.0, True),
                expires=60,
                state="active;expires=59",
            )
        ),
        (3, 5),
        E,
        "after the subscription expired",
    ),
    Case(
        "SUB-13",
        "NOTIFY after terminated",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "terminated;reason=noresource"), 1.0, True),
                (notify_ok("z9hG4bK-n2", 11), 1.1, False),
                (notify("z9hG4bK-n3", 12, "active;expires=500"), 2.0, True),
            )
        ),
        (5, 7),
        E,
        "terminated the subscription",
    ),
    Case(
        "SUB-13",
        "NOTIFY after terminated, its 200 not captured",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "terminated;reason=noresource"), 1.0, True),
                (notify("z9hG4bK-n3", 12, "active;expires=500"), 2.0, True),
            )
        ),
        (5, 6),
        W,
    ),
    Case(
        "SUB-13",
        "expired by a NOTIFY, SUBSCRIBE never captured (G-1)",
        lambda: flow(
            (notify(state="active;expires=10"), 0.0, True),
            (notify("z9hG4bK-n2", 11, "active;expires=10"), 100.0, True),
        ),
        (1, 2),
        W,
    ),
    # SUB-14
    Case(
        "SUB-14",
        "NOTIFY after a 481 to NOTIFY",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "active;expires=500"), 10.0, True),
                (notify_ok("z9hG4bK-n2", 11, status=481), 10.1, False),
                (notify("z9hG4bK-n3", 12, "active;expires=400"), 20.0, True),
            )
        ),
        (6, 7),
        E,
        "481",
    ),
    Case(
        "SUB-14",
        "489 in RFC 3265 mode",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "active;expires=500"), 10.0, True),
                (notify_ok("z9hG4bK-n2", 11, status=489), 10.1, False),
                (notify("z9hG4bK-n3", 12, "active;expires=400"), 20.0, True),
            )
        ),
        (6, 7),
        W,
        options=LEGACY,
    ),
    Case(
        "SUB-14",
        "refresh after a 481 to a refresh",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, ttag="ntf"), 100.0, False),
                (sub_ok("z9hG4bK-s2", 2, None, status=481), 100.1, True),
                (subscribe("z9hG4bK-s3", 3, ttag="ntf"), 200.0, False),
            )
        ),
        (6, 7),
        W,
        "new Call-ID",
    ),
    # SUB-15
    Case(
        "SUB-15",
        "id dropped in NOTIFY",
        lambda: flow(
            (subscribe(event="reg;id=7"), 0.0, False),
            (sub_ok(), 0.1, True),
            (notify(event="reg"), 0.2, True),
        ),
        (1, 3),
        E,
        "no id",
    ),
    # SUB-16
    Case(
        "SUB-16",
        "Event in INVITE",
        lambda: flow((request("INVITE", headers=[CONTACT_SUB, "Event: reg"]), 0.0, False)),
        (1,),
        E,
        "INVITE",
    ),
    Case(
        "SUB-16",
        "Event in REGISTER with CSeq NOTIFY",
        lambda: flow((notify(method="REGISTER"), 0.0, True)),
        (1,),
        E,
        "REGISTER",
    ),
    Case(
        "SUB-16",
        "Event in a 200 to SUBSCRIBE",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(headers=["Event: reg"]), 0.1, True)),
        (2,),
        E,
        "200 response",
    ),
    Case(
        "SUB-16",
        "Event in a response, RFC 3265 mode",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(headers=["o: reg"]), 0.1, True)),
        (2,),
        W,
        options=LEGACY,
    ),
    # SUB-17
    Case(
        "SUB-17",
        "489 without Allow-Events",
        lambda: flow(
            (subscribe(event="nonsense"), 0.0, False),
            (sub_ok(expires=None, status=489, contact=False), 0.1, True),
        ),
        (2,),
        W,
    ),
    # SUB-18
    Case(
        "SUB-18",
        "202 to SUBSCRIBE",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(status=202), 0.1, True)),
        (2,),
        E,
    ),
    Case(
        "SUB-18",
        "202 to NOTIFY, RFC 3265 mode",
        lambda: flow((notify(), 0.0, True), (notify_ok(status=202), 0.1, False)),
        (2,),
        N,
        options=LEGACY,
    ),
    # SUB-19
    Case(
        "SUB-19",
        "NOTIFYs from two notifiers",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-f1", 20, ftag="other"), 0.4, True),
                (notify_ok("z9hG4bK-f1", 20), 0.5, False),
            )
        ),
        (1, 5),
        N,
        "'other'",
    ),
    # SUB-21
    Case(
        "SUB-21",
        "CANCEL of a SUBSCRIBE",
        lambda: flow(
            (subscribe(), 0.0, False),
            (request("CANCEL", branch="z9hG4bK-s1", cseq=1), 0.5, False),
        ),
        (1, 2),
        W,
    ),
    # SUB-22
    Case(
        "SUB-22",
        "reg NOTIFY body is not the default type",
        lambda: flow(
            *accepted()[:2],
            (notify(body="<presence/>", ctype="application/pidf+xml"), 0.2, True),
        ),
        (1, 3),
        E,
        "default",
    ),
    Case(
        "SUB-22",
        "body type not in Accept",
        lambda: flow(
            (subscribe(event="presence", headers=["Accept: application/pidf+xml"]), 0.0, False),
            (sub_ok(), 0.1, True),
            (notify(event="presence", body="x", ctype="text/plain"), 0.2, True),
        ),
        (1, 3),
        E,
        "application/pidf+xml",
    ),
    # SUB-23
    Case(
        "SUB-23",
        "423 without Min-Expires",
        lambda: flow(
            (subscribe(expires=60), 0.0, False),
            (sub_ok(expires=None, status=423, contact=False), 0.1, True),
        ),
        (2,),
        E,
        "Min-Expires",
    ),
    Case(
        "SUB-23",
        "423 to an hour",
        lambda: flow(
            (subscribe(expires=3600), 0.0, False),
            (
                sub_ok(expires=None, status=423, contact=False, headers=["Min-Expires: 7200"]),
                0.1,
                True,
            ),
        ),
        (1, 2),
        E,
        "under one hour",
    ),
    # SUB-24
    Case(
        "SUB-24",
        "SUBSCRIBE without Contact",
        lambda: flow((subscribe(contact=False), 0.0, False)),
        (1,),
        E,
    ),
    Case(
        "SUB-24",
        "200 to SUBSCRIBE without Contact",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(contact=False), 0.1, True)),
        (2,),
        E,
    ),
    Case(
        "SUB-24",
        "first NOTIFY without Contact",
        lambda: flow(*accepted()[:2], (notify(contact=False), 0.2, True)),
        (3,),
        E,
    ),
    Case(
        "SUB-24",
        "later NOTIFY without Contact",
        lambda: flow(*accepted((notify("z9hG4bK-n2", 11, contact=False), 9.0, True))),
        (5,),
        W,
        "a later NOTIFY",
    ),
    Case(
        "SUB-24",
        "Contact not SIP",
        lambda: flow((subscribe(contact=False, headers=["Contact: <tel:+15551234>"]), 0.0, False)),
        (1,),
        E,
        "not a SIP or SIPS URI",
    ),
    # SUB-25
    Case(
        "SUB-25",
        "200 to SUBSCRIBE after 40 s",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(), 40.0, True)),
        (1, 2),
        N,
    ),
    # SUB-26
    Case(
        "SUB-26",
        "NOTIFY without From tag",
        lambda: flow(*accepted()[:2], (notify(ftag=None), 0.2, True)),
        (3,),
        E,
        "no From tag",
    ),
    Case(
        "SUB-26",
        "NOTIFY to another tag, accepted",
        lambda: flow(
            *accepted()[:2],
            (notify(ttag="someone"), 0.2, True),
            (notify_ok(), 0.3, False),
        ),
        (3,),
        E,
        "answered 200",
    ),
    Case(
        "SUB-26",
        "NOTIFY to another tag, unanswered",
        lambda: flow(*accepted()[:2], (notify(ttag="someone"), 0.2, True)),
        (3,),
        W,
    ),
    # SUB-20
    Case("SUB-20", "refresh after expiry", lambda: late_refresh(100.0), (5,), W, "expired"),
    Case(
        "SUB-20",
        "new Call-ID while the subscription is active",
        lambda: new_call_id_subscribe(30.0),
        (1, 5),
        N,
        "still active",
    ),
    # SUB-27
    Case("SUB-27", "489 to SUBSCRIBE", bad_event, (1, 2), N, "does not support"),
    Case(
        "SUB-27",
        "NOTIFY after the 489",
        lambda: bad_event((notify(), 2.0, True)),
        (2, 3),
        None,
        "after the 489",
    ),
    Case(
        "SUB-27",
        "489 for an advertised package",
        lambda: bad_event(advertised="reg, presence"),
        (3, 4),
        None,
        "listed in its Allow-Events",
    ),
    Case(
        "SUB-27",
        "subscriber refuses the NOTIFY's package",
        lambda: flow(*accepted()[:3], (notify_ok(status=489), 0.3, False)),
        (3, 4),
        N,
        "489",
    ),
]


COMPLIANT: list[Case] = [
    Case("SUB-1", "one Event", lambda: flow((subscribe(), 0.0, False))),
    Case(
        "SUB-1", "compact o", lambda: flow((subscribe(event=None, headers=["o: reg"]), 0.0, False))
    ),
    Case("SUB-2", "matching Event", lambda: flow(*accepted())),
    Case(
        "SUB-2",
        "SUBSCRIBE not captured (G-1)",
        lambda: flow((notify(event="presence"), 0.0, True), (notify_ok(), 0.1, False)),
    ),
    Case("SUB-3", "Expires present", lambda: flow((subscribe(), 0.0, False))),
    Case("SUB-4", "200 with Expires", lambda: flow(*accepted()[:2])),
    Case("SUB-4", "489 needs none", lambda: flow((sub_ok(expires=None, status=489), 0.1, True))),
    Case(
        "SUB-5",
        "shortened",
        lambda: flow((subscribe(expires=600), 0.0, False), (sub_ok(expires=300), 0.1, True)),
    ),
    Case(
        "SUB-5",
        "shortened to zero",
        lambda: flow((subscribe(expires=600), 0.0, False), (sub_ok(expires=0), 0.1, True)),
    ),
    Case(
        "SUB-5",
        "unknown package default",
        lambda: flow(
            (subscribe(expires=None, event="x-private"), 0.0, False),
            (sub_ok(expires=7200), 0.1, True),
        ),
    ),
    Case("SUB-6", "Subscription-State present", lambda: flow(*accepted())),
    Case(
        "SUB-7",
        "terminated with reason",
        lambda: flow((notify(state="terminated;reason=timeout"), 0.0, True)),
    ),
    Case("SUB-7", "pending", lambda: flow((notify(state="pending;expires=30"), 0.0, True))),
    Case("SUB-8", "active with expires", lambda: flow(*accepted())),
    Case("SUB-8", "terminated needs none", lambda: flow((notify(state="terminated"), 0.0, True))),
    Case("SUB-9", "expires within the grant", lambda: flow(*accepted())),
    Case(
        "SUB-9",
        "rounding within the tolerance",
        lambda: flow(*accepted(state="active;expires=600")),
    ),
    Case(
        "SUB-9",
        "NOTIFY before the 2xx of its SUBSCRIBE",
        lambda: flow(
            (subscribe(), 0.0, False),
            (notify(state="active;expires=600"), 0.05, True),
            (sub_ok(), 0.1, True),
        ),
    ),
    Case(
        "SUB-9",
        "refresh extends the subscription",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, ttag="ntf"), 500.0, False),
                (notify("z9hG4bK-n2", 11, "active;expires=600"), 500.05, True),
                (sub_ok("z9hG4bK-s2", 2), 500.1, True),
            )
        ),
    ),
    Case(
        "SUB-10",
        "terminated with a reason",
        lambda: flow((notify(state="terminated;reason=probation;retry-after=60"), 0.0, True)),
    ),
    Case("SUB-11", "NOTIFY sent", lambda: flow(*accepted(ping(40.0)))),
    Case(
        "SUB-11",
        "capture ends too early",
        lambda: flow((subscribe(), 0.0, False), (sub_ok(), 0.1, True), ping(10.0)),
    ),
    Case(
        "SUB-11",
        "NOTIFY from a forked notifier",
        lambda: flow(
            (subscribe(), 0.0, False),
            (sub_ok(), 0.1, True),
            (notify(ftag="other"), 0.2, True),
            ping(40.0),
        ),
    ),
    Case(
        "SUB-11",
        "rejected SUBSCRIBE",
        lambda: flow(
            (subscribe(), 0.0, False), (sub_ok(status=403, expires=None), 0.1, True), ping(40.0)
        ),
    ),
    Case(
        "SUB-12",
        "unsubscribe answered with terminated",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, 0, ttag="ntf"), 100.0, False),
                (sub_ok("z9hG4bK-s2", 2, 0), 100.1, True),
                (notify("z9hG4bK-n2", 11, "terminated;reason=timeout"), 100.2, True),
                ping(140.0),
            )
        ),
    ),
    Case(
        "SUB-12",
        "capture ends before the window",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, 0, ttag="ntf"), 100.0, False),
                (sub_ok("z9hG4bK-s2", 2, 0), 100.1, True),
            )
        ),
    ),
    Case(
        "SUB-13",
        "refreshed in time",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, 60, ttag="ntf"), 50.0, False),
                (sub_ok("z9hG4bK-s2", 2, 60), 50.1, True),
                (notify("z9hG4bK-n2", 11, "active;expires=59"), 50.2, True),
                (notify("z9hG4bK-n3", 12, "active;expires=10"), 100.0, True),
                expires=60,
                state="active;expires=59",
            )
        ),
    ),
    Case(
        "SUB-13",
        "terminated NOTIFY at expiry",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "terminated;reason=timeout"), 61.0, True),
                expires=60,
                state="active;expires=59",
            )
        ),
    ),
    Case(
        "SUB-13",
        "refresh outstanding (its 2xx lost)",
        lambda: flow(
            *accepted(
                (subscribe("z9hG4bK-s2", 2, 60, ttag="ntf"), 50.0, False),
                (notify("z9hG4bK-n2", 11, "active;expires=10"), 200.0, True),
                expires=60,
                state="active;expires=59",
            )
        ),
    ),
    Case(
        "SUB-14",
        "500 to NOTIFY keeps the subscription",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "active;expires=500"), 10.0, True),
                (notify_ok("z9hG4bK-n2", 11, status=500), 10.1, False),
                (notify("z9hG4bK-n3", 12, "active;expires=400"), 20.0, True),
            )
        ),
    ),
    Case(
        "SUB-14",
        "481 to the terminated NOTIFY",
        lambda: flow(
            *accepted(
                (notify("z9hG4bK-n2", 11, "terminated;reason=timeout"), 10.0, True),
                (notify_ok("z9hG4bK-n2", 11, status=481), 10.1, False),
            )
        ),
    ),
    Case(
        "SUB-15",
        "same id",
        lambda: flow(
            (subscribe(event="reg;id=7"), 0.0, False),
            (sub_ok(), 0.1, True),
            (notify(event="reg;id=7"), 0.2, True),
        ),
    ),
    Case("SUB-16", "Event in SUBSCRIBE and NOTIFY", lambda: flow(*accepted())),
    Case(
        "SUB-16",
        "Event in PUBLISH",
        lambda: flow((request("PUBLISH", headers=["Event: presence"]), 0.0, False)),
    ),
    Case(
        "SUB-16",
        "misspelt NOTIFY (HDR-12's)",
        lambda: flow((notify(method="NOFITY"), 0.0, True)),
    ),
    Case(
        "SUB-17",
        "489 with Allow-Events",
        lambda: flow(
            (subscribe(event="nonsense"), 0.0, False),
            (sub_ok(expires=None, status=489, headers=["Allow-Events: reg"]), 0.1, True),
        ),
    ),
    Case("SUB-18", "200 to SUBSCRIBE", lambda: flow(*accepted())),
    Case(
        "SUB-18",
        "202 to MESSAGE",
        lambda: flow(
            (request("MESSAGE", body="hi", headers=["Content-Type: text/plain"]), 0.0, False),
            (resp(202, "MESSAGE", ttag="b"), 0.1, True),
        ),
    ),
    Case("SUB-19", "one notifier", lambda: flow(*accepted())),
    Case(
        "SUB-21",
        "CANCEL of an INVITE",
        lambda: flow(
            (request("INVITE", headers=[CONTACT_SUB]), 0.0, False),
            (resp(180, ttag="b"), 0.1, True),
            (request("CANCEL"), 0.5, False),
        ),
    ),
    Case(
        "SUB-22", "reg default type", lambda: flow(*accepted()[:2], (reginfo_notify(), 0.2, True))
    ),
    Case(
        "SUB-22",
        "Accept by wildcard",
        lambda: flow(
            (subscribe(headers=["Accept: application/*"]), 0.0, False),
            (sub_ok(), 0.1, True),
            (notify(body="<presence/>", ctype="application/pidf+xml"), 0.2, True),
        ),
    ),
    Case(
        "SUB-22",
        "no body",
        lambda: flow((subscribe(headers=["Accept: text/plain"]), 0.0, False), *accepted()[1:]),
    ),
    Case(
        "SUB-23",
        "423 with Min-Expires for 60 s",
        lambda: flow(
            (subscribe(expires=60), 0.0, False),
            (
                sub_ok(expires=None, status=423, contact=False, headers=["Min-Expires: 600"]),
                0.1,
                True,
            ),
        ),
    ),
    Case("SUB-24", "Contacts everywhere", lambda: flow(*accepted())),
    Case(
        "SUB-24",
        "compact m",
        lambda: flow((subscribe(contact=False, headers=["m: <sip:app@10.0.0.1>"]), 0.0, False)),
    ),
    Case("SUB-25", "prompt 200", lambda: flow(*accepted())),
    Case("SUB-26", "NOTIFY matches", lambda: flow(*accepted())),
    Case(
        "SUB-26",
        "mismatch answered 481",
        lambda: flow(
            *accepted()[:2],
            (notify(ttag="someone"), 0.2, True),
            (notify_ok(status=481), 0.3, False),
        ),
    ),
    Case(
        "SUB-26",
        "SUBSCRIBE not captured (G-1)",
        lambda: flow((notify(ttag="someone"), 0.0, True), (notify_ok(), 0.1, False)),
    ),
    Case("SUB-20", "refresh in time", lambda: late_refresh(50.0)),
    Case("SUB-20", "new Call-ID after expiry", lambda: new_call_id_subscribe(700.0)),
    Case(
        "SUB-20",
        "another line of the same phone subscribes",
        lambda: flow(
            *accepted(),
            (
                request(
                    "SUBSCRIBE",
                    call="call-2",
                    ftag="line2",
                    branch="z9hG4bK-s9",
                    from_uri="sip:alice-line2@example.com",
                    headers=["Event: reg", CONTACT_SUB, "Expires: 600"],
                ),
                30.0,
                False,
            ),
        ),
    ),
    Case(
        "SUB-20",
        "refresh of a subscription older than the capture (G-1)",
        lambda: flow(
            *accepted(),
            (
                request(
                    "SUBSCRIBE",
                    call="call-2",
                    ftag="old",
                    ttag="ntf-old",
                    branch="z9hG4bK-s9",
                    headers=["Event: reg", CONTACT_SUB, "Expires: 600"],
                ),
                30.0,
                False,
            ),
        ),
    ),
    Case("SUB-27", "accepted", lambda: flow(*accepted())),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)


@pytest.mark.parametrize(
    ("ranges", "media", "expected"),
    [
        (["application/reginfo+xml"], "application/reginfo+xml", True),
        (["Application/RegInfo+XML;q=0.5"], "application/reginfo+xml", True),
        (["application/*"], "application/pidf+xml", True),
        (["*/*"], "text/plain", True),
        (["text/*", "application/sdp"], "application/pidf+xml", False),
        ([], "text/plain", False),
    ],
)
def test_accept_ranges(ranges: list[str], media: str, expected: bool) -> None:
    assert accepts(ranges, media) is expected


def test_retransmitted_notify_is_judged_once() -> None:
    """A NOTIFY retransmission (same branch, same CSeq) is one NOTIFY (G-3)."""
    from tests.rules import findings

    msgs = flow(
        (subscribe(), 0.0, False),
        (sub_ok(), 0.1, True),
        (notify(state="active"), 0.2, True),
        (notify(state="active"), 0.7, True),
    )
    assert len(findings(msgs, "SUB-8")) == 1


def test_bad_event_for_a_package_not_advertised_is_only_noted() -> None:
    """A 489 for a package the notifier never listed in Allow-Events: no warning (SUB-27)."""
    from tests.rules import findings

    found = findings(bad_event(advertised="presence"), "SUB-27")
    assert [f.severity for f in found] == [N]
