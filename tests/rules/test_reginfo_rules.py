"""reginfo rules (RFC 3680): one violating and one compliant case (at least) per rule.

A subscriber (10.0.0.1, tag ``caller``) subscribes to ``reg`` at a notifier
(10.0.0.2, tag ``ntf``); each NOTIFY carries a document built by :func:`doc`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from analyzer.rules import Severity
from analyzer.rules.reginfo_rules import glued_xml
from analyzer.sip.message import SipMessage
from tests.rules import Case, check_compliant, check_violating, findings, request, wire
from tests.sipmsg import Trace, msg, resp

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO
NOTIFIER = "10.0.0.2:5060"
AOR = "sip:joe@example.com"
NS = "urn:ietf:params:xml:ns:reginfo"
REGINFO = "application/reginfo+xml"


def contact(
    cid: str = "c1",
    state: str | None = "active",
    event: str | None = "registered",
    uri: str | None = "sip:joe@10.0.0.9",
    **attrs: str,
) -> str:
    parts = [f'id="{cid}"']
    if state is not None:
        parts.append(f'state="{state}"')
    if event is not None:
        parts.append(f'event="{event}"')
    parts += [f'{k.replace("_", "-")}="{v}"' for k, v in attrs.items()]
    inner = f"<uri>{uri}</uri>" if uri is not None else ""
    return f"<contact {' '.join(parts)}>{inner}</contact>"


def registration(
    state: str | None = "active",
    contacts: Sequence[str] = (),
    *,
    aor: str | None = AOR,
    rid: str | None = "a7",
) -> str:
    parts = []
    if aor is not None:
        parts.append(f'aor="{aor}"')
    if rid is not None:
        parts.append(f'id="{rid}"')
    if state is not None:
        parts.append(f'state="{state}"')
    return f"<registration {' '.join(parts)}>{''.join(contacts)}</registration>"


def doc(
    version: int | str | None = 0,
    state: str | None = "full",
    regs: Sequence[str] = (),
    *,
    ns: str = NS,
    decl: str = '<?xml version="1.0"?>',
) -> str:
    attrs = [f'xmlns="{ns}"']
    if version is not None:
        attrs.append(f'version="{version}"')
    if state is not None:
        attrs.append(f'state="{state}"')
    if not regs:
        regs = [registration("init")]
    return f"{decl}\n<reginfo {' '.join(attrs)}>\n" + "\n".join(regs) + "\n</reginfo>\n"


def subscribe(
    branch: str = "z9hG4bK-s1",
    cseq: int = 1,
    *,
    ttag: str | None = None,
    headers: Sequence[str] = ("Expires: 600",),
) -> str:
    return request(
        "SUBSCRIBE",
        branch=branch,
        cseq=cseq,
        ttag=ttag,
        headers=["Event: reg", "Contact: <sip:app@10.0.0.1>", *headers],
    )


def sub_ok(branch: str = "z9hG4bK-s1", cseq: int = 1, ttag: str = "ntf") -> str:
    return resp(
        200,
        "SUBSCRIBE",
        branch=branch,
        cseq=cseq,
        ttag=ttag,
        headers=["Expires: 600", "Contact: <sip:ntf@10.0.0.2>"],
    )


def notify(body: str, cseq: int = 10, *, ftag: str = "ntf", method: str = "NOTIFY") -> str:
    return request(
        method,
        branch=f"z9hG4bK-n{cseq}-{ftag}",
        cseq=cseq,
        cseq_method="NOTIFY",
        ftag=ftag,
        ttag="caller",
        via=NOTIFIER,
        uri="sip:app@10.0.0.1",
        body=body,
        headers=[
            "Event: reg",
            "Subscription-State: active;expires=500",
            "Contact: <sip:ntf@10.0.0.2>",
            f"Content-Type: {REGINFO}",
        ],
    )


def notify_ok(cseq: int = 10, *, ftag: str = "ntf", status: int = 200) -> str:
    return resp(
        status,
        "NOTIFY",
        branch=f"z9hG4bK-n{cseq}-{ftag}",
        cseq=cseq,
        ftag=ftag,
        ttag="caller",
        via=NOTIFIER,
    )


def subscription(*bodies: str, gap: float = 10.0, subscribed: bool = True) -> list[SipMessage]:
    """SUBSCRIBE + 200 at 0.0/0.1 (unless not ``subscribed``), then one NOTIFY per body.

    NOTIFY k (CSeq 10 + k) is sent at 0.2 + k * ``gap`` s; frames: 1 SUBSCRIBE,
    2 its 200, 3.. the NOTIFYs (1.. without the SUBSCRIBE).
    """
    t = Trace()
    if subscribed:
        t.add(subscribe(), 0.0)
        t.add(sub_ok(), 0.1, reverse=True)
    for k, body in enumerate(bodies):
        t.add(notify(body, 10 + k), 0.2 + k * gap, reverse=True)
    return t.messages


def single(body: str) -> list[SipMessage]:
    return subscription(body)


def active(cid: str = "c1", **kw: str) -> str:
    return registration("active", [contact(cid, **kw)])


# A NOTIFY whose XML follows the headers with no empty line (seed 004).
GLUED = (
    "NOTIFY sip:app@10.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-g\r\n"
    "From: <sip:joe@example.com>;tag=ntf\r\n"
    "To: <sip:app@example.com>;tag=caller\r\n"
    "Call-ID: call-1\r\n"
    "CSeq: 10 NOTIFY\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:ntf@10.0.0.2>\r\n"
    "Event: reg\r\n"
    "Subscription-State: active;expires=500\r\n"
    f"Content-Type: {REGINFO}\r\n"
    "Content-Length: 0\r\n"
    '<?xml version="1.0"?>\r\n'
    '  <reginfo xmlns="{ns}" version="0" state="full">\r\n'
    '    <registration aor="sip:joe@example.com" id="a7" state="init" />\r\n'
    "  </reginfo>\r\n"
    "\r\n"
)


def glued(ns: str) -> list[SipMessage]:
    return [wire(GLUED.replace("{ns}", ns).encode())]


def reregistered() -> list[SipMessage]:
    """c1 active, then terminated (expired), then a new binding c1 registered."""
    return subscription(
        doc(0, "full", [active()]),
        doc(
            1,
            "partial",
            [registration("terminated", [contact(state="terminated", event="expired")])],
        ),
        doc(2, "partial", [active()]),
    )


def restated() -> list[SipMessage]:
    """c2 registers; the partial document restates the unchanged c1 (common practice)."""
    return subscription(
        doc(0, "full", [active()]),
        doc(1, "partial", [registration("active", [contact(), contact("c2", uri="sip:j@h")])]),
    )


def forked(second_status: int) -> list[SipMessage]:
    t = Trace()
    t.add(subscribe(), 0.0)
    t.add(sub_ok(), 0.1, reverse=True)
    t.add(notify(doc(0)), 0.2, reverse=True)
    t.add(notify_ok(), 0.3)
    t.add(notify(doc(0), 20, ftag="other"), 0.4, reverse=True)
    t.add(notify_ok(20, ftag="other", status=second_status), 0.5)
    return t.messages


def refreshed(second: str, at: float = 100.0) -> list[SipMessage]:
    """Full document, a refresh SUBSCRIBE at ``at`` s, and the NOTIFY after it."""
    t = Trace()
    t.add(subscribe(), 0.0)
    t.add(sub_ok(), 0.1, reverse=True)
    t.add(notify(doc(0, "full", [active()])), 0.2, reverse=True)
    t.add(subscribe("z9hG4bK-s2", 2, ttag="ntf"), at)
    t.add(sub_ok("z9hG4bK-s2", 2), at + 0.1, reverse=True)
    t.add(notify(doc(1, second, [active()]), 11), at + 0.2, reverse=True)
    return t.messages


def retransmitted() -> list[SipMessage]:
    """The second NOTIFY is sent twice (same branch and CSeq): one document (G-3)."""
    t = Trace()
    t.add(subscribe(), 0.0)
    t.add(sub_ok(), 0.1, reverse=True)
    t.add(notify(doc(0)), 0.2, reverse=True)
    t.add(notify(doc(1, "partial", [active()]), 11), 10.0, reverse=True)
    t.add(notify(doc(1, "partial", [active()]), 11), 10.5, reverse=True)
    return t.messages


def reg_subscribe(*headers: str) -> list[SipMessage]:
    t = Trace()
    t.add(subscribe(headers=headers), 0.0)
    return t.messages


def stale_cseq(cseq: str) -> list[SipMessage]:
    """REGISTER CSeq 5 of Call-ID reg-x accepted, then a NOTIFY naming that Call-ID and ``cseq``."""
    t = Trace()
    reg = request("REGISTER", call="reg-x", cseq=5, branch="z9hG4bK-r", uri="sip:example.com")
    t.add(reg, 0.0)
    t.add(
        resp(200, "REGISTER", call="reg-x", cseq=5, ttag="r", branch="z9hG4bK-r"),
        0.05,
        reverse=True,
    )
    t.add(subscribe(), 1.0)
    t.add(sub_ok(), 1.1, reverse=True)
    t.add(notify(doc(0, "full", [active(callid="reg-x", cseq=cseq)])), 1.2, reverse=True)
    return t.messages


def durations(second: str, event: str = "refreshed") -> list[SipMessage]:
    return subscription(
        doc(0, "full", [active(duration_registered="100")]),
        doc(1, "partial", [active(event=event, duration_registered=second)]),
    )


VIOLATING: list[Case] = [
    # RI-1
    Case(
        "RI-1",
        "not well-formed",
        lambda: single(doc().replace("</reginfo>", "</reginfo")),
        (3,),
        E,
        "not well-formed",
    ),
    Case(
        "RI-1",
        "namespace typo um:",
        lambda: single(doc(ns="um:ietf:params:xml:ns:reginfo")),
        (3,),
        E,
        "um:ietf",
    ),
    Case(
        "RI-1",
        "white space before the declaration",
        lambda: single("\n" + doc()),
        (3,),
        E,
        "white space come before",
    ),
    Case(
        "RI-1",
        "glued to the headers, wrong namespace",
        lambda: glued("um:ietf:params:xml:ns:reginfo"),
        (1,),
        E,
        "without an empty line",
    ),
    Case(
        "RI-1",
        "schema: a number that is not one",
        lambda: single(doc(0, "full", [active(expires="soon")])),
        (3,),
        W,
        "not an unsigned integer",
    ),
    Case(
        "RI-1",
        "REGISTER request line, CSeq NOTIFY",
        lambda: [msg(notify(doc(ns="um:x")).replace("NOTIFY sip", "REGISTER sip", 1))],
        (1,),
        E,
        "REGISTER",
    ),
    # RI-2
    Case(
        "RI-2",
        "Latin-1 declared",
        lambda: single(doc(decl='<?xml version="1.0" encoding="ISO-8859-1"?>')),
        (3,),
        E,
        "ISO-8859-1",
    ),
    Case(
        "RI-2",
        "XML 1.1",
        lambda: single(doc(decl='<?xml version="1.1"?>')),
        (3,),
        E,
        "'1.1'",
    ),
    # RI-3
    Case("RI-3", "no version", lambda: single(doc(None)), (3,), E, "no version"),
    Case("RI-3", "version not a number", lambda: single(doc("x")), (3,), E, "'x'"),
    Case("RI-3", "state delta", lambda: single(doc(0, "delta")), (3,), E, "'delta'"),
    Case("RI-3", "version over 32 bits", lambda: single(doc(2**32)), (3,), E, "32 bits"),
    # RI-4
    Case(
        "RI-4",
        "gap",
        lambda: subscription(doc(0), doc(2, "partial", [active()])),
        (3, 4),
        W,
        "missing",
    ),
    Case(
        "RI-4",
        "repeat",
        lambda: subscription(doc(0), doc(1, "partial", [active()]), doc(1, "partial")),
        (4, 5),
        E,
        "does not increase",
    ),
    Case(
        "RI-4",
        "backwards",
        lambda: subscription(doc(0), doc(1, "full"), doc(0, "full")),
        (4, 5),
        E,
    ),
    Case(
        "RI-4",
        "first version not 0 after a SUBSCRIBE",
        lambda: single(doc(4)),
        (3,),
        N,
        "not 0",
    ),
    # RI-5
    Case(
        "RI-5",
        "first document partial",
        lambda: single(doc(0, "partial", [active()])),
        (3,),
        W,
        "partial",
    ),
    Case(
        "RI-5",
        "partial after a refresh",
        lambda: refreshed("partial"),
        (4, 6),
        W,
        "refresh",
    ),
    # RI-6
    Case(
        "RI-6",
        "registration without id",
        lambda: single(doc(0, "full", [registration("init", rid=None)])),
        (3,),
        E,
        "no id",
    ),
    Case(
        "RI-6",
        "registration state unknown",
        lambda: single(doc(0, "full", [registration("gone")])),
        (3,),
        E,
        "'gone'",
    ),
    Case(
        "RI-6",
        "AoR twice",
        lambda: single(doc(0, "full", [registration("init"), registration("init", rid="a8")])),
        (3,),
        E,
        "two registration",
    ),
    Case(
        "RI-6",
        "id changes",
        lambda: subscription(doc(0), doc(1, "partial", [registration("active", rid="b9")])),
        (4,),
        E,
        "changed",
    ),
    # RI-7
    Case(
        "RI-7",
        "terminated -> init reported",
        lambda: subscription(
            doc(0, "full", [active()]),
            doc(1, "partial", [registration("terminated")]),
            doc(2, "partial", [registration("init")]),
        ),
        (5,),
        E,
        "terminated -> init",
    ),
    Case(
        "RI-7",
        "active -> init reported",
        lambda: subscription(doc(0, "full", [active()]), doc(1, "partial", [registration("init")])),
        (4,),
        E,
    ),
    # RI-8
    Case(
        "RI-8",
        "active without active contact",
        lambda: single(doc(0, "full", [registration("active")])),
        (3,),
        W,
    ),
    Case(
        "RI-8",
        "init with an active contact",
        lambda: single(doc(0, "partial", [registration("init", [contact()])])),
        (3,),
        W,
        "is init",
    ),
    # RI-9
    Case(
        "RI-9",
        "contact without event",
        lambda: single(doc(0, "full", [registration("active", [contact(event=None)])])),
        (3,),
        E,
        "no event",
    ),
    Case(
        "RI-9",
        "contact without uri",
        lambda: single(doc(0, "full", [registration("active", [contact(uri=None)])])),
        (3,),
        E,
        "<uri>",
    ),
    Case(
        "RI-9",
        "unknown state and event",
        lambda: single(doc(0, "full", [active(state="gone", event="vanished")])),
        (3,),
        E,
        "'vanished'",
    ),
    # RI-10
    Case(
        "RI-10",
        "active with expired",
        lambda: single(doc(0, "full", [active(event="expired")])),
        (3,),
        E,
        "'expired'",
    ),
    Case(
        "RI-10",
        "refreshed for an unknown contact",
        lambda: subscription(doc(0), doc(1, "partial", [active(event="refreshed")])),
        (4,),
        W,
        "not known",
    ),
    Case(
        "RI-10",
        "registered again while active",
        lambda: subscription(
            doc(0, "full", [active(event="refreshed")]),
            doc(1, "partial", [active(event="registered")]),
        ),
        (4,),
        W,
        "already active",
    ),
    Case(
        "RI-10",
        "event after terminated",
        lambda: subscription(
            doc(
                0,
                "full",
                [registration("terminated", [contact(state="terminated", event="expired")])],
            ),
            doc(
                1,
                "partial",
                [registration("terminated", [contact(state="terminated", event="rejected")])],
            ),
        ),
        (4,),
        W,
        "after it terminated",
    ),
    # RI-11
    Case(
        "RI-11",
        "shortened without expires",
        lambda: single(doc(0, "full", [active(event="shortened")])),
        (3,),
        E,
        "shortened",
    ),
    Case(
        "RI-11",
        "probation without retry-after",
        lambda: single(
            doc(
                0,
                "full",
                [registration("terminated", [contact(state="terminated", event="probation")])],
            )
        ),
        (3,),
        E,
        "retry-after",
    ),
    Case(
        "RI-11",
        "expires on a terminated contact",
        lambda: single(
            doc(
                0,
                "full",
                [
                    registration(
                        "terminated", [contact(state="terminated", event="expired", expires="30")]
                    )
                ],
            )
        ),
        (3,),
        W,
    ),
    # RI-13
    Case(
        "RI-13",
        "Accept without reginfo",
        lambda: reg_subscribe("Accept: application/pidf+xml"),
        (1,),
        E,
    ),
    # RI-14
    Case("RI-14", "no Expires", lambda: reg_subscribe(), (1,), N, "3761"),
    # RI-15
    Case(
        "RI-15",
        "NOTIFYs 2 s apart",
        lambda: subscription(doc(0), doc(1, "full"), doc(2, "full"), gap=2.0),
        (4, 5),
        N,
        "2 reg NOTIFY",
    ),
    # RI-16
    Case("RI-16", "second notifier accepted", lambda: forked(200), (3, 5, 6), E),
    # RI-17
    Case(
        "RI-17",
        "trailing space",
        lambda: single(doc(0, "full", [active(uri="sip:joe@10.0.0.9 ")])),
        (3,),
        N,
        "trailing",
    ),
    Case(
        "RI-17",
        "U+00A0",
        lambda: single(doc(0, "full", [active(uri="sip:joe@10.0.0.9\u00a0")])),
        (3,),
        E,
        "NO-BREAK SPACE",
    ),
    Case(
        "RI-17",
        "in a document that is not well-formed",
        lambda: single("\n" + doc(0, "full", [active(uri=" sip:joe@10.0.0.9")])),
        (3,),
        N,
    ),
    Case(
        "RI-12",
        "duration-registered goes down",
        lambda: durations("50"),
        (4,),
        Severity.INFO,
        "from 100",
    ),
    Case(
        "RI-12",
        "cseq older than an accepted REGISTER",
        lambda: stale_cseq("3"),
        (1, 5),
        Severity.INFO,
        "CSeq 5",
    ),
]


COMPLIANT: list[Case] = [
    Case("RI-1", "valid document", lambda: single(doc())),
    Case("RI-1", "NOTIFY without body", lambda: single("")),
    Case(
        "RI-1",
        "extension namespace",
        lambda: single(
            doc(0, "full", [registration("init")]).replace(
                "</reginfo>", '<x:ext xmlns:x="urn:example:ext"/></reginfo>'
            )
        ),
    ),
    Case("RI-1", "glued, valid", lambda: glued(NS)),
    Case("RI-2", "UTF-8", lambda: single(doc(decl='<?xml version="1.0" encoding="UTF-8"?>'))),
    Case("RI-2", "no declaration", lambda: single(doc(decl=""))),
    Case("RI-3", "version and state", lambda: single(doc())),
    Case(
        "RI-4",
        "0, 1, 2",
        lambda: subscription(doc(0), doc(1, "partial", [active()]), doc(2, "full", [active()])),
    ),
    Case("RI-4", "retransmission is not a repeat", retransmitted),
    Case(
        "RI-4",
        "mid-subscription baseline (G-1)",
        lambda: subscription(doc(5, "partial", [active()]), doc(6, "full"), subscribed=False),
    ),
    Case(
        "RI-4",
        "new subscription restarts at 0",
        lambda: forked(481),
    ),
    Case("RI-5", "full, then partial", lambda: subscription(doc(0), doc(1, "partial", [active()]))),
    Case("RI-5", "full after a refresh", lambda: refreshed("full")),
    Case(
        "RI-5",
        "mid-subscription partial (G-1)",
        lambda: subscription(doc(7, "partial", [active()]), subscribed=False),
    ),
    Case(
        "RI-6", "complete and stable", lambda: subscription(doc(0), doc(1, "partial", [active()]))
    ),
    Case(
        "RI-6",
        "two AoRs",
        lambda: single(
            doc(0, "full", [registration("init"), registration("init", aor="sip:x@h", rid="a8")])
        ),
    ),
    Case(
        "RI-7",
        "init -> active -> terminated -> active",
        reregistered,
    ),
    Case(
        "RI-7",
        "init in a full document",
        lambda: subscription(doc(0, "full", [active()]), doc(1, "full", [registration("init")])),
    ),
    Case("RI-8", "consistent", lambda: single(doc(0, "full", [active()]))),
    Case(
        "RI-8",
        "partial lists only the change",
        lambda: subscription(
            doc(
                0,
                "full",
                [
                    active(),
                ],
            ),
            doc(1, "partial", [registration("active", [contact("c2", "terminated", "expired")])]),
        ),
    ),
    Case("RI-9", "complete contact", lambda: single(doc(0, "full", [active()]))),
    Case("RI-10", "pairs and sequence", reregistered),
    Case("RI-10", "unchanged contact restated", restated),
    Case(
        "RI-10",
        "refresh of a known contact",
        lambda: subscription(
            doc(0, "full", [active()]), doc(1, "partial", [active(event="refreshed")])
        ),
    ),
    Case(
        "RI-11",
        "shortened with expires",
        lambda: single(doc(0, "full", [active(event="shortened", expires="60")])),
    ),
    Case(
        "RI-11",
        "probation with retry-after",
        lambda: single(
            doc(
                0,
                "full",
                [
                    registration(
                        "terminated",
                        [contact(state="terminated", event="probation", retry_after="300")],
                    )
                ],
            )
        ),
    ),
    Case(
        "RI-13", "Accept with reginfo", lambda: reg_subscribe(f"Accept: {REGINFO}", "Expires: 60")
    ),
    Case("RI-13", "Accept by wildcard", lambda: reg_subscribe("Accept: application/*")),
    Case("RI-14", "Expires present", lambda: reg_subscribe("Expires: 3761")),
    Case(
        "RI-15", "NOTIFYs 10 s apart", lambda: subscription(doc(0), doc(1, "full"), doc(2, "full"))
    ),
    Case("RI-15", "the NOTIFY answering a refresh", lambda: refreshed("full", at=2.0)),
    Case("RI-16", "second notifier rejected with 481", lambda: forked(481)),
    Case("RI-17", "clean URI", lambda: single(doc(0, "full", [active()]))),
    Case("RI-12", "duration-registered goes up", lambda: durations("110")),
    Case("RI-12", "registered anew", lambda: durations("0", "registered")),
    Case("RI-12", "cseq of the last REGISTER", lambda: stale_cseq("5")),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)


def test_glued_xml_is_found_only_where_the_empty_line_is_missing() -> None:
    (msg,) = glued(NS)
    xml = glued_xml(msg)
    assert xml is not None and xml.startswith(b"<?xml") and xml.rstrip().endswith(b"</reginfo>")
    (good,) = subscription(doc(), subscribed=False)
    assert glued_xml(good) is None


def test_folded_contact_is_not_taken_for_xml() -> None:
    """A continuation line starting with '<sip:' is a header, not glued XML."""
    data = GLUED.replace("{ns}", NS).replace(
        "Contact: <sip:ntf@10.0.0.2>\r\n", 'Contact: "Notifier"\r\n <sip:ntf@10.0.0.2>\r\n'
    )
    head, _, _ = data.partition('<?xml version="1.0"?>')
    msg = wire((head + "Content-Type: text/plain\r\nX-Bad header\r\n\r\n").encode())
    assert glued_xml(msg) is None


def test_rfc3680_example_document_is_clean() -> None:
    """The two documents of RFC 3680 §6, as the corrected welcome notice sends them."""
    first = doc(0, "full", [registration("init")])
    second = doc(
        1,
        "partial",
        [
            registration(
                "active",
                [
                    contact(
                        "76",
                        "active",
                        "registered",
                        "sip:joe@pc34.example.com",
                        duration_registered="0",
                    )
                ],
            )
        ],
    )
    msgs = subscription(first, second, gap=14.0)
    found = [f for rid in ("RI-*",) for f in findings(msgs, rid)]
    assert found == [], [(f.rule, f.message) for f in found]
