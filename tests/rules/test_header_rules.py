"""Header, syntax and transaction-Via rules: violating and compliant cases per rule."""

from __future__ import annotations

import pytest

from analyzer.errors import Diagnostic
from analyzer.net.flow import Transport
from analyzer.rules import Severity
from analyzer.sip.message import SipMessage
from tests.rules import Case, check_compliant, check_violating, request, wire
from tests.sipmsg import Trace, msg, resp

TCP = Transport.TCP
UDP = Transport.UDP

CONTACT_A = "Contact: <sip:alice@10.0.0.1>"

# A request written line by line, so that cases can drop or change one line.
OPTIONS_LINES = (
    "OPTIONS sip:bob@example.com SIP/2.0",
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1",
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=a1",
    "To: <sip:bob@example.com>",
    "Call-ID: c1@example.com",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
)
OK_LINES = (
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1",
    "From: <sip:alice@example.com>;tag=a1",
    "To: <sip:bob@example.com>;tag=b1",
    "Call-ID: c1@example.com",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
)


def lines(
    base: tuple[str, ...], *, drop: tuple[str, ...] = (), replace: dict[str, str] | None = None
) -> bytes:
    """``base`` as CRLF wire bytes, without lines starting with ``drop``, with replacements."""
    out = []
    for line in base:
        if any(line.startswith(d) for d in drop):
            continue
        for old, new in (replace or {}).items():
            line = line.replace(old, new)
        out.append(line)
    return ("\r\n".join(out) + "\r\n\r\n").encode()


def one(data: bytes, transport: Transport = UDP, truncated: bool = False) -> list[SipMessage]:
    return [wire(data, transport=transport, truncated=truncated)]


def options(
    *, drop: tuple[str, ...] = (), replace: dict[str, str] | None = None
) -> list[SipMessage]:
    return one(lines(OPTIONS_LINES, drop=drop, replace=replace))


def ok(*, drop: tuple[str, ...] = (), replace: dict[str, str] | None = None) -> list[SipMessage]:
    return one(lines(OK_LINES, drop=drop, replace=replace))


def text(t: str, transport: Transport = UDP) -> list[SipMessage]:
    return [msg(t, transport=transport)]


def body_request(
    length: str, body: bytes, transport: Transport = UDP, truncated: bool = False
) -> list[SipMessage]:
    head = lines(OPTIONS_LINES, replace={"Content-Length: 0": f"Content-Length: {length}"})
    head = head.replace(b"CSeq: 1 OPTIONS\r\n", b"CSeq: 1 OPTIONS\r\nContent-Type: text/plain\r\n")
    return one(head + body, transport, truncated)


GLUED_XML = (
    b"NOTIFY sip:app@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:joe@example.com>;tag=n1\r\n"
    b"To: <sip:app@example.com>;tag=s1\r\n"
    b"Call-ID: c1@example.com\r\n"
    b"CSeq: 1 NOTIFY\r\n"
    b"Content=Length: 60\r\n"
    b'<?xml version="1.0"?>\r\n'
    b'  <reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full"/>\r\n'
    b"\r\n"
)


def exchange(
    req_text: str, resp_text: str, *, reverse: bool = True, src: str | None = None
) -> list[SipMessage]:
    t = Trace()
    t.add(req_text, 0.0)
    if src is None:
        t.add(resp_text, 0.05, reverse=reverse)
    else:
        t.add(resp_text, 0.05, src=src, dst="10.0.0.1:5060")
    return t.messages


def branch_changed() -> list[SipMessage]:
    """RFC-seed MESSAGE flow: Bob's 200 carries another branch (message.pcap frame 5)."""
    t = Trace()
    t.add(request("MESSAGE", branch="z9hG4bK776asegma"), 0.0, transport=TCP)
    t.add(resp(200, "MESSAGE", branch="z9hG4bKnashds7", ttag="b"), 0.04, reverse=True)
    return t.messages


def orphan_response() -> list[SipMessage]:
    """A response whose request was not captured, no other request like it."""
    t = Trace()
    t.add(resp(200, "MESSAGE", branch="z9hG4bKnashds7", ttag="b"), 0.04, reverse=True)
    return t.messages


def other_path() -> list[SipMessage]:
    """Same Call-ID/From tag/CSeq, other branch, but another hop (G-4): not TXN-3."""
    t = Trace()
    t.add(request("MESSAGE", branch="z9hG4bK-hop1"), 0.0)
    t.add(
        resp(200, "MESSAGE", branch="z9hG4bK-hop2", ttag="b", via="10.0.0.9"),
        0.04,
        src="10.0.0.3:5060",
        dst="10.0.0.9:5060",
    )
    return t.messages


VIA2 = "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-p"


PROXY = "10.0.0.3:5060"


def zero_max_forwards(forwarded: bool) -> list[SipMessage]:
    """An OPTIONS with Max-Forwards 0 reaches a proxy, which forwards it or answers 483."""
    t = Trace()
    zero = request("OPTIONS", uri="sip:bob@example.com").replace(
        "Max-Forwards: 70", "Max-Forwards: 0"
    )
    t.add(zero, 0.0, dst=PROXY)
    if forwarded:
        on = request(
            "OPTIONS",
            via="10.0.0.3:5060",
            branch="z9hG4bK-p",
            headers=["Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1"],
        ).replace("Max-Forwards: 70", "Max-Forwards: 0")
        t.add(on, 0.01, src=PROXY, dst="10.0.0.2:5060")
    else:
        t.add(resp(483, "OPTIONS", ttag="p"), 0.01, src=PROXY, dst="10.0.0.1:5060")
    return t.messages


def two_vias_to(dst: str) -> list[SipMessage]:
    """A 200 carrying a proxy's Via above the UAC's (10.0.0.1), sent to ``dst``."""
    t = Trace()
    ok = resp(
        200,
        "OPTIONS",
        ttag="b",
        via="10.0.0.3:5060",
        branch="z9hG4bK-p",
        headers=["Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1"],
    )
    t.add(ok, 0.0, src="10.0.0.2:5060", dst=dst)
    return t.messages


VIOLATING = [
    Case("HDR-1", "no To", lambda: options(drop=("To:",)), text="no To"),
    Case("HDR-1", "no Via", lambda: options(drop=("Via:",)), text="Via"),
    Case(
        "HDR-1",
        "misspelt Call-ID",
        lambda: options(replace={"Call-ID:": "Cal-ID:"}),
        text="Call-ID",
    ),
    Case("HDR-2", "no Call-ID", lambda: ok(drop=("Call-ID:",)), text="Call-ID"),
    Case(
        "HDR-3",
        "TCP without Content-Length",
        lambda: one(lines(OPTIONS_LINES, drop=("Content-Length",)), TCP),
    ),
    Case(
        "HDR-3b",
        "UDP without Content-Length",
        lambda: options(drop=("Content-Length",)),
        severity=Severity.WARNING,
    ),
    Case("HDR-4", "not a number", lambda: body_request("...", b"Hello"), text="'...'"),
    Case(
        "HDR-4",
        "TCP body short",
        lambda: body_request("37", b"Hello! Bob", TCP),
        severity=Severity.ERROR,
        text="10 of 37",
    ),
    Case(
        "HDR-4",
        "capture stopped",
        lambda: body_request("37", b"Hello! Bob", TCP),
        severity=Severity.INFO,
        diagnostics=(Diagnostic("sip-framing", (1,), "stream ended ... (capture-end)"),),
    ),
    Case(
        "HDR-4",
        "connection reset",
        lambda: body_request("37", b"Hello! Bob", TCP),
        severity=Severity.WARNING,
        diagnostics=(Diagnostic("sip-framing", (1,), "stream ended ... (rst)"),),
    ),
    Case(
        "HDR-4",
        "snapshot cut",
        lambda: body_request("37", b"Hello! Bob", TCP, truncated=True),
        severity=Severity.INFO,
    ),
    Case("HDR-4b", "datagram short", lambda: body_request("100", b"0123456789"), frames=(1,)),
    Case(
        "HDR-4c",
        "bytes after the body",
        lambda: body_request("2", b"0123456789"),
        severity=Severity.WARNING,
    ),
    Case(
        "HDR-5",
        "body without type",
        lambda: text(request("INVITE", body="v=0\n", headers=[CONTACT_A])),
    ),
    Case(
        "HDR-6",
        "bare LF",
        lambda: one(lines(OPTIONS_LINES).replace(b"CSeq: 1 OPTIONS\r\n", b"CSeq: 1 OPTIONS\n")),
        text="LF",
    ),
    Case("HDR-6", "body glued to headers", lambda: one(GLUED_XML), text="lines 9-10"),
    Case(
        "HDR-7",
        "two spaces",
        lambda: options(replace={"bob@example.com SIP": "bob@example.com  SIP"}),
    ),
    Case(
        "HDR-7",
        "NBSP",
        lambda: options(replace={"bob@example.com SIP": "bob@example.com\xa0SIP"}),
        text="U+00A0",
    ),
    Case(
        "HDR-7",
        "lower-case version",
        lambda: options(replace={"example.com SIP/2.0": "example.com sip/2.0"}),
    ),
    Case("HDR-8", "missing", lambda: options(drop=("Max-Forwards",)), text="no Max-Forwards"),
    Case("HDR-8", "too large", lambda: options(replace={"Max-Forwards: 70": "Max-Forwards: 256"})),
    Case("HDR-8", "not a number", lambda: options(replace={"Max-Forwards: 70": "Max-Forwards: x"})),
    Case("HDR-9", "no branch", lambda: options(replace={";branch=z9hG4bK-1": ""}), text="branch"),
    Case(
        "HDR-9",
        "SIP/3.0",
        lambda: options(replace={"Via: SIP/2.0/UDP": "Via: SIP/3.0/UDP"}),
        text="SIP/3.0",
    ),
    Case(
        "HDR-10",
        "no tag",
        lambda: options(replace={";tag=a1": ""}),
        severity=Severity.ERROR,
    ),
    Case("HDR-10", "tab for tag", lambda: options(replace={";tag=a1": ";tab=a1"}), text="'tab'"),
    Case(
        "HDR-10",
        "RFC 2543 client",
        lambda: options(replace={";tag=a1": "", ";branch=z9hG4bK-1": ""}),
        severity=Severity.WARNING,
    ),
    Case("HDR-11a", "= in a name", lambda: one(GLUED_XML), text="Content=Length"),
    Case(
        "HDR-11b",
        "Contatct",
        lambda: text(request("NOTIFY", headers=["Contatct: <sip:server@example.com>"])),
        text="Contact is effectively missing",
    ),
    Case("HDR-11b", "Exipres", lambda: text(request("SUBSCRIBE", headers=["Exipres: 60"]))),
    Case("HDR-11b", "ContentLength", lambda: options(replace={"Content-Length": "ContentLength"})),
    Case(
        "HDR-11c",
        "underscore host",
        lambda: text(request("SUBSCRIBE", via="app_IM.atlanta.com", headers=[CONTACT_A])),
        text="'app_IM.atlanta.com' (Via)",
        severity=Severity.WARNING,
    ),
    Case("HDR-12", "NOFITY", lambda: text(request("NOFITY")), text="NOTIFY"),
    Case("HDR-12", "case", lambda: text(request("Invite")), text="case-sensitive"),
    Case("HDR-14", "two From tags", lambda: options(replace={";tag=a1": ";tag=a1;tag=a2"})),
    Case(
        "HDR-14",
        "two branches",
        lambda: options(replace={";branch=z9hG4bK-1": ";branch=z9hG4bK-1;rport;branch=z9hG4bK-2"}),
        text="branch",
    ),
    Case(
        "HDR-15",
        "large UDP request",
        lambda: text(request("INFO", headers=["Content-Type: text/plain"], body="x" * 1400)),
        severity=Severity.WARNING,
    ),
    Case(
        "HDR-17",
        "NBSP before the tag",
        lambda: options(replace={";tag=a1": "\xa0;tag=a1"}),
        text="From",
    ),
    Case(
        "TXN-1",
        "misspelt cookie",
        lambda: options(replace={"z9hG4bK-1": "z9G4bKnasaii"}),
        text="misspelt",
    ),
    Case("TXN-1", "RFC 2543 branch", lambda: options(replace={"z9hG4bK-1": "0"})),
    Case("TXN-3", "branch changed", branch_changed, frames=(1, 2), text="'z9hG4bKnashds7'"),
    Case(
        "TXN-6",
        "Via dropped",
        lambda: exchange(
            request("OPTIONS", headers=[VIA2]),
            resp(200, "OPTIONS", ttag="b"),
        ),
        frames=(1, 2),
        text="1 Via values",
    ),
    Case(
        "TXN-6",
        "second Via changed",
        lambda: exchange(
            request("OPTIONS", headers=[VIA2]),
            resp(200, "OPTIONS", ttag="b", headers=[VIA2.replace("proxy", "other")]),
        ),
        text="Via #2",
    ),
    Case(
        "TXN-7",
        "no To tag",
        lambda: exchange(request("OPTIONS"), resp(200, "OPTIONS")),
        frames=(1, 2),
        text="no tag",
    ),
    Case(
        "TXN-7",
        "From tag changed",
        lambda: exchange(request("OPTIONS"), resp(200, "OPTIONS", ftag="other", ttag="b")),
        text="From tag",
    ),
    Case("TXN-7", "orphan without To tag", lambda: text(resp(486, "INVITE")), frames=(1,)),
    Case(
        "TXN-10",
        "sent-by port changed",
        lambda: exchange(
            request("NOTIFY", via="10.0.0.1:5260"),
            resp(200, "NOTIFY", via="10.0.0.1:5860", ttag="b"),
        ),
        text="'10.0.0.1:5860'",
    ),
    Case(
        "HDR-8",
        "Max-Forwards 0 forwarded",
        lambda: zero_max_forwards(True),
        frames=(1, 2),
        text="483",
    ),
    Case(
        "HDR-16",
        "two Vias at the UAC",
        lambda: two_vias_to("10.0.0.1:5060"),
        frames=(1,),
        severity=Severity.INFO,
        text="2 Via values",
    ),
]

COMPLIANT = [
    Case("HDR-1", "complete", options),
    Case(
        "HDR-1",
        "compact forms",
        lambda: options(
            replace={"Via:": "v:", "From:": "f:", "To:": "t:", "Call-ID:": "i:"},
        ),
    ),
    Case("HDR-2", "complete", ok),
    Case("HDR-2", "compact forms", lambda: ok(replace={"Via:": "v:", "Call-ID:": "i:"})),
    Case(
        "HDR-3",
        "TCP with l: 0",
        lambda: one(lines(OPTIONS_LINES, replace={"Content-Length": "l"}), TCP),
    ),
    Case("HDR-3", "UDP without Content-Length", lambda: options(drop=("Content-Length",))),
    Case("HDR-3b", "with Content-Length", options),
    Case("HDR-3b", "TCP", lambda: one(lines(OPTIONS_LINES, drop=("Content-Length",)), TCP)),
    Case("HDR-4", "exact", lambda: body_request("5", b"Hello", TCP)),
    Case("HDR-4", "UDP short is HDR-4b", lambda: body_request("100", b"0123456789")),
    Case("HDR-4b", "exact", lambda: body_request("10", b"0123456789")),
    Case("HDR-4c", "exact", lambda: body_request("10", b"0123456789")),
    Case(
        "HDR-5",
        "compact c",
        lambda: text(request("INVITE", body="v=0\n", headers=[CONTACT_A, "c: application/sdp"])),
    ),
    Case("HDR-5", "blank body", lambda: body_request("2", b"\r\n")),
    Case("HDR-5", "MESSAGE is MSG-6", lambda: text(request("MESSAGE", body="Hi"))),
    Case("HDR-6", "CRLF and empty line", options),
    Case("HDR-7", "single spaces", options),
    Case("HDR-8", "70", options),
    Case("HDR-8", "0", lambda: options(replace={"Max-Forwards: 70": "Max-Forwards: 0"})),
    Case("HDR-8", "responses need none", ok),
    Case("HDR-9", "branch and SIP/2.0", options),
    Case(
        "HDR-9",
        "branch after other params",
        lambda: options(replace={";branch=z9hG4bK-1": ";rport;branch=z9hG4bK-1"}),
    ),
    Case("HDR-10", "tag", options),
    Case("HDR-10", "TAG in upper case", lambda: options(replace={";tag=a1": ";TAG=a1"})),
    Case("HDR-11a", "well-formed", options),
    Case(
        "HDR-11a",
        "glued body without bad names is HDR-6",
        lambda: one(GLUED_XML.replace(b"Content=Length: 60\r\n", b"")),
    ),
    Case(
        "HDR-11b",
        "extension headers",
        lambda: text(
            request(
                "INVITE",
                headers=[
                    CONTACT_A,
                    "X-Contatct: 1",
                    "P-Asserted-Identity: <sip:a@example.com>",
                    "Session-GUID: 8787",
                    "Diversion: <sip:c@example.com>",
                ],
            )
        ),
    ),
    Case(
        "HDR-11b",
        "allow-listed",
        lambda: text(request("INVITE", headers=[CONTACT_A, "Contatct: 1"])),
        options={"extra_headers": frozenset({"CONTATCT"})},
    ),
    Case(
        "HDR-11c",
        "underscore in the user part",
        lambda: text(request("INVITE", uri="sip:john_doe@example.com", headers=[CONTACT_A])),
    ),
    Case("HDR-12", "NOTIFY", lambda: text(request("NOTIFY"))),
    Case(
        "HDR-12",
        "allow-listed",
        lambda: text(request("XPING")),
        options={"extra_methods": frozenset({"XPING"})},
    ),
    Case("HDR-14", "one of each", lambda: options(replace={";tag=a1": ";tag=a1;x=1"})),
    Case(
        "HDR-14",
        "two Vias on one line",
        lambda: options(
            replace={
                ";branch=z9hG4bK-1": ";branch=z9hG4bK-1;rport, "
                "SIP/2.0/UDP p.example.com;branch=z9hG4bK-p;rport"
            }
        ),
    ),
    Case(
        "HDR-15",
        "large over TCP",
        lambda: text(request("INFO", headers=["Content-Type: text/plain"], body="x" * 1400), TCP),
    ),
    Case(
        "HDR-15",
        "large UDP response",
        lambda: text(
            resp(200, "INFO", ttag="b", headers=["Content-Type: text/plain"], body="x" * 1400)
        ),
    ),
    Case(
        "HDR-17",
        "NBSP in a quoted display name and in Subject",
        lambda: options(
            replace={
                "From: <": 'From: "J\xa0Doe" <',
                "Content-Length: 0": "Subject: Hello\xa0there\r\nContent-Length: 0",
            }
        ),
    ),
    Case("TXN-1", "magic cookie", options),
    Case("TXN-3", "request not captured", orphan_response),
    Case("TXN-3", "other hop", other_path),
    Case(
        "TXN-6",
        "received and rport added",
        lambda: exchange(
            request("OPTIONS", via="pc.example.com;rport", headers=[VIA2]),
            resp(
                200,
                "OPTIONS",
                via="pc.example.com;rport=5060;received=10.0.0.1",
                ttag="b",
                headers=[VIA2],
            ),
        ),
    ),
    Case("TXN-7", "100 without tag", lambda: exchange(request("INVITE"), resp(100))),
    Case(
        "TXN-7", "tag added", lambda: exchange(request("OPTIONS"), resp(200, "OPTIONS", ttag="b"))
    ),
    Case(
        "TXN-10",
        "same sent-by",
        lambda: exchange(
            request("NOTIFY", via="10.0.0.1:5260;rport"),
            resp(200, "NOTIFY", via="10.0.0.1:5260;rport=5260;received=10.0.0.1", ttag="b"),
        ),
    ),
    Case("HDR-8", "Max-Forwards 0 answered 483", lambda: zero_max_forwards(False)),
    Case("HDR-16", "two Vias on the way to a proxy", lambda: two_vias_to(PROXY)),
    Case("HDR-16", "one Via", lambda: exchange(request("OPTIONS"), resp(200, "OPTIONS", ttag="b"))),
]


@pytest.mark.parametrize("case", VIOLATING, ids=str)
def test_violating(case: Case) -> None:
    check_violating(case)


@pytest.mark.parametrize("case", COMPLIANT, ids=str)
def test_compliant(case: Case) -> None:
    check_compliant(case)
