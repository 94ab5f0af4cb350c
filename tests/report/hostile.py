"""A capture whose SIP text tries to inject markup into a report.

A complete call (INVITE, 180, 200, ACK, BYE, 200) from Alice to Bob over
UDP, where the From display name is a ``<script>``, the To display name an
``<img onerror>``, the 180's reason phrase another ``<img>``, and the
Call-ID carries ``<``, ``>``, a backtick and a ``|`` (all legal ``word``
characters except ``|``, which the parser keeps anyway).  A report of it
must show every one of these as text.  A MESSAGE outside any dialog carries
a ``<svg onload>`` in its From.
"""

from __future__ import annotations

from pathlib import Path

from tests.builders import pcap_bytes
from tests.packets import MAC_A, MAC_B, ether, ipv4, udp
from tests.sipmsg import sip_bytes

ALICE = "192.0.2.10"
BOB = "192.0.2.20"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
REASON_IMG = "<img src=y onerror=alert(3)>"
SVG = "<svg onload=alert(4)>"
CALL_ID = "<b>x|`y`</b>@evil.example"
MESSAGE_CALL_ID = "m1@evil.example"

_FROM = f'From: "{SCRIPT}" <sip:alice@example.com>;tag=a1'
_TO = f'To: "{IMG}" <sip:bob@example.com>'
_TO_TAGGED = _TO + ";tag=b2"


def _invite() -> str:
    return f"""\
        INVITE sip:bob@example.com SIP/2.0
        Via: SIP/2.0/UDP {ALICE}:5060;branch=z9hG4bK1
        Max-Forwards: 70
        {_FROM}
        {_TO}
        Call-ID: {CALL_ID}
        CSeq: 1 INVITE
        Contact: <sip:alice@{ALICE}>
        """


def _response(status: str, cseq: str, branch: str, tagged: bool = True) -> str:
    return f"""\
        SIP/2.0 {status}
        Via: SIP/2.0/UDP {ALICE}:5060;branch={branch}
        {_FROM}
        {_TO_TAGGED if tagged else _TO}
        Call-ID: {CALL_ID}
        CSeq: {cseq}
        Contact: <sip:bob@{BOB}>
        """


def _ack() -> str:
    return f"""\
        ACK sip:bob@{BOB} SIP/2.0
        Via: SIP/2.0/UDP {ALICE}:5060;branch=z9hG4bK2
        Max-Forwards: 70
        {_FROM}
        {_TO_TAGGED}
        Call-ID: {CALL_ID}
        CSeq: 1 ACK
        """


def _bye() -> str:
    return f"""\
        BYE sip:alice@{ALICE} SIP/2.0
        Via: SIP/2.0/UDP {BOB}:5060;branch=z9hG4bK3
        Max-Forwards: 70
        From: "{IMG}" <sip:bob@example.com>;tag=b2
        To: "{SCRIPT}" <sip:alice@example.com>;tag=a1
        Call-ID: {CALL_ID}
        CSeq: 7 BYE
        """


def _bye_ok() -> str:
    return f"""\
        SIP/2.0 200 OK
        Via: SIP/2.0/UDP {BOB}:5060;branch=z9hG4bK3
        From: "{IMG}" <sip:bob@example.com>;tag=b2
        To: "{SCRIPT}" <sip:alice@example.com>;tag=a1
        Call-ID: {CALL_ID}
        CSeq: 7 BYE
        """


def _message() -> str:
    return f"""\
        MESSAGE sip:bob@example.com SIP/2.0
        Via: SIP/2.0/UDP {ALICE}:5060;branch=z9hG4bK4
        Max-Forwards: 70
        From: "{SVG}" <sip:alice@example.com>;tag=a9
        To: <sip:bob@example.com>
        Call-ID: {MESSAGE_CALL_ID}
        CSeq: 1 MESSAGE
        Content-Type: text/plain

        {SCRIPT}
        """


def hostile_pcap_bytes() -> bytes:
    """The capture (classic pcap, Ethernet) as bytes."""
    flows = [
        (0.0, ALICE, BOB, _invite()),
        (0.05, BOB, ALICE, _response(f"180 Ringing {REASON_IMG}", "1 INVITE", "z9hG4bK1")),
        (1.0, BOB, ALICE, _response("200 OK", "1 INVITE", "z9hG4bK1")),
        (1.02, ALICE, BOB, _ack()),
        (3.0, BOB, ALICE, _bye()),
        (3.01, ALICE, BOB, _bye_ok()),
        (4.0, ALICE, BOB, _message()),
    ]
    start = 1_700_000_000 * 1_000_000_000
    packets = []
    for n, (at, src, dst, text) in enumerate(flows, 1):
        payload = sip_bytes(text)
        frame = ether(MAC_B, MAC_A, 0x0800, ipv4(src, dst, 17, udp(5060, 5060, payload), ident=n))
        packets.append((start + int(at * 1e9), frame))
    return pcap_bytes(packets)


def write_hostile_pcap(directory: Path) -> Path:
    """Write the capture as ``hostile.pcap`` in ``directory``; returns its path."""
    path = directory / "hostile.pcap"
    path.write_bytes(hostile_pcap_bytes())
    return path
