"""Synthetic flows for ladder tests, as Analysis objects (no capture file needed).

``proxy_calls(n)`` is ``n`` calls from Alice through a proxy to Bob, 14
messages each (INVITE, 100, 180, 200, ACK, BYE and its 200 at both hops),
with every fifth call's first INVITE retransmitted and every seventh call's
BYE missing Max-Forwards (an HDR-8 finding).
"""

from __future__ import annotations

from pathlib import Path

from analyzer.analysis import Analysis
from analyzer.correlation import correlate
from analyzer.sip.message import SipMessage
from tests.builders import pcap_bytes
from tests.packets import ether, ipv4, udp
from tests.sipmsg import Trace, req, resp, sip_bytes

ALICE = "10.0.0.1:5060"
PROXY = "10.0.0.2:5060"
BOB = "10.0.0.3:5060"
MF = ("Max-Forwards: 70",)
ALICE_CONTACT = "Contact: <sip:alice@10.0.0.1>"
BOB_CONTACT = ("Contact: <sip:bob@10.0.0.3>",)


def analysis_of(messages: list[SipMessage], name: str = "test.pcap") -> Analysis:
    """An Analysis of already parsed messages, as ``analyze()`` would build it."""
    return Analysis(messages, correlate(messages), [], [], [name])


def _call(t: Trace, k: int, at: float) -> None:
    call = f"call-{k}@alice"
    a_br, p_br = f"z9hG4bK-a{k}", f"z9hG4bK-p{k}"
    common = {"call": call, "ftag": f"a{k}", "from_uri": "sip:alice@example.com"}
    invite = req("INVITE", branch=a_br, via=ALICE, headers=(*MF, ALICE_CONTACT), **common)
    t.add(invite, at, src=ALICE, dst=PROXY)
    if k % 5 == 0:
        t.add(invite, at + 0.5, src=ALICE, dst=PROXY)  # retransmission (Timer A)
    t.add(resp(100, branch=a_br, via=ALICE, **common), at + 0.51, src=PROXY, dst=ALICE)
    fwd_headers = ("Max-Forwards: 69", ALICE_CONTACT)
    fwd = req("INVITE", branch=p_br, via=PROXY, headers=fwd_headers, **common)
    t.add(fwd, at + 0.52, src=PROXY, dst=BOB)
    t.add(resp(100, branch=p_br, via=PROXY, **common), at + 0.53, src=BOB, dst=PROXY)
    for status, dt in ((180, 0.6), (200, 3.0)):
        answer = resp(status, branch=p_br, via=PROXY, ttag=f"b{k}", headers=BOB_CONTACT, **common)
        t.add(answer, at + dt, src=BOB, dst=PROXY)
        t.add(
            resp(status, branch=a_br, via=ALICE, ttag=f"b{k}", headers=BOB_CONTACT, **common),
            at + dt + 0.01,
            src=PROXY,
            dst=ALICE,
        )
    uri = "sip:bob@10.0.0.3"
    ack = req(
        "ACK", branch=f"z9hG4bK-ack{k}", via=ALICE, ttag=f"b{k}", headers=MF, uri=uri, **common
    )
    t.add(ack, at + 3.1, src=ALICE, dst=PROXY)
    ack2 = req(
        "ACK", branch=f"z9hG4bK-pack{k}", via=PROXY, ttag=f"b{k}", headers=MF, uri=uri, **common
    )
    t.add(ack2, at + 3.11, src=PROXY, dst=BOB)
    bye_common = {
        "call": call,
        "ftag": f"b{k}",
        "ttag": f"a{k}",
        "from_uri": "sip:bob@example.com",
        "to_uri": "sip:alice@example.com",
        "cseq": 1,
        "uri": "sip:alice@10.0.0.1",
    }
    bye_headers = () if k % 7 == 0 else MF
    t.add(
        req("BYE", branch=f"z9hG4bK-bye{k}", via=BOB, headers=bye_headers, **bye_common),
        at + 9.0,
        src=BOB,
        dst=PROXY,
    )
    t.add(
        req("BYE", branch=f"z9hG4bK-pbye{k}", via=PROXY, headers=MF, **bye_common),
        at + 9.01,
        src=PROXY,
        dst=ALICE,
    )
    del bye_common["uri"]
    ok = resp(200, "BYE", branch=f"z9hG4bK-pbye{k}", via=PROXY, **bye_common)
    t.add(ok, at + 9.04, src=ALICE, dst=PROXY)
    ok = resp(200, "BYE", branch=f"z9hG4bK-bye{k}", via=BOB, **bye_common)
    t.add(ok, at + 9.05, src=PROXY, dst=BOB)


def proxy_calls(n: int) -> Analysis:
    """``n`` proxied calls, one every 10 seconds (see the module docstring)."""
    t = Trace()
    for k in range(n):
        _call(t, k, 10.0 * k)
    return analysis_of(t.messages)


def write_capture(path: Path, messages: list[tuple[float, str, str, str]]) -> Path:
    """A pcap of UDP datagrams: ``(seconds, "ip:port", "ip:port", text)`` each (see sip_bytes)."""
    frames = []
    for at, src, dst, text in messages:
        (sip, sport), (dip, dport) = (
            (ep.rpartition(":")[0], int(ep.rpartition(":")[2])) for ep in (src, dst)
        )
        payload = udp(sport, dport, sip_bytes(text))
        packet = ether(
            "02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, ipv4(sip, dip, 17, payload)
        )
        frames.append((round((1_709_283_600 + at) * 1e9), packet))
    path.write_bytes(pcap_bytes(frames))
    return path


#: From display name and body that try to run script in an HTML report.
HOSTILE_INVITE = """\
    INVITE sip:bob@example.com SIP/2.0
    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-x1
    Max-Forwards: 70
    From: "<script>alert(1)</script>" <sip:alice@example.com>;tag=x1
    To: <sip:bob@example.com>
    Call-ID: hostile@example.com
    CSeq: 1 INVITE
    Contact: <sip:alice@10.0.0.1>
    Content-Type: text/plain

    </script><script>alert(2)</script><!-- & -->
    """
HOSTILE_OK = """\
    SIP/2.0 486 Busy <img src=x onerror=alert(3)>
    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-x1
    From: "<script>alert(1)</script>" <sip:alice@example.com>;tag=x1
    To: <sip:bob@example.com>;tag=y1
    Call-ID: hostile@example.com
    CSeq: 1 INVITE

    """


def hostile_capture(path: Path) -> Path:
    """A two-message capture whose text tries to break out of HTML and JSON."""
    return write_capture(
        path,
        [(0.0, ALICE, BOB, HOSTILE_INVITE), (0.1, BOB, ALICE, HOSTILE_OK)],
    )
