"""Build the sample captures bundled in ``samples/``.

Run from the repository root::

    python samples/build_samples.py          # (re)write every samples/*.pcap
    python samples/build_samples.py --list   # also print each capture's frame table

Everything is fixed (timestamps, MAC and IP addresses, ports, IP identifications, TCP initial
sequence numbers), so every run writes byte-identical files. Packets are built with ``struct``
(Ethernet II / IPv4 / UDP / TCP, correct checksums) and written as classic little-endian pcap
with microsecond timestamps and link type 1 (Ethernet).

Two kinds of SIP text are used:

* *As published*: the text of a message exactly as one of the seed tutorials prints it
  (typos, odd spacing, U+00A0 NO-BREAK SPACE from HTML, ``...`` placeholders), with only the
  line endings turned into CRLF. See ``published()`` for the exact conversion.
* *Built*: conformant messages whose ``Content-Length`` is computed from the body.

``samples/README.md`` documents every capture, its frames and the defects it carries.
"""

from __future__ import annotations

import argparse
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent

# 2024-03-01 09:00:00 UTC. A fixed epoch keeps the files reproducible; every capture starts here.
EPOCH_S = 1_709_283_600
MS = 1_000  # microseconds per millisecond
SEC = 1_000_000  # microseconds per second

CRLF = "\r\n"
NBSP = "\u00a0"  # what HTML pages put where the original text had a space

# pcap global header: magic, version 2.4, thiszone, sigfigs, snaplen, linktype 1 (Ethernet).
PCAP_HEADER = struct.Struct("<IHHiIII")
PCAP_RECORD = struct.Struct("<IIII")
PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_SNAPLEN = 65_535
LINKTYPE_ETHERNET = 1

ETHERTYPE_IPV4 = 0x0800
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
UDP_HEADER = struct.Struct("!HHHH")
TCP_HEADER = struct.Struct("!HHIIBBHHH")
IP_TTL = 64
# Ethernet MTU 1500 minus the 20-byte IPv4 header: the largest fragment payload, a multiple of 8.
FRAGMENT_PAYLOAD = 1_480
TCP_WINDOW = 64_240
TCP_MSS = 1_460

FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


# --------------------------------------------------------------------------------------------
# Packet building
# --------------------------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip_bytes(ip: str) -> bytes:
    return bytes(int(part) for part in ip.split("."))


@dataclass(frozen=True)
class Host:
    """A participant: a name for the listings, an IPv4 address and a MAC derived from it."""

    name: str
    ip: str

    @property
    def mac(self) -> bytes:
        # Locally administered unicast MAC 02:00:<IPv4 address>: stable and unique per host.
        return b"\x02\x00" + _ip_bytes(self.ip)


@dataclass(frozen=True)
class Frame:
    ts_us: int
    data: bytes
    summary: str


@dataclass
class Capture:
    """An in-memory capture: frames in capture order, written out by ``write()``."""

    name: str
    frames: list[Frame] = field(default_factory=list)
    _ident: dict[str, int] = field(default_factory=dict)

    def add(self, ts_us: int, data: bytes, summary: str) -> int:
        """Append one frame; returns its 1-based frame number."""
        self.frames.append(Frame(EPOCH_S * SEC + ts_us, data, summary))
        return len(self.frames)

    def next_ident(self, src: Host) -> int:
        # Per-source IP identification counter with a fixed, host-specific start value.
        ident = self._ident.get(src.ip, (_ip_bytes(src.ip)[3] * 0x101 + 0x1000) & 0xFFFF)
        self._ident[src.ip] = (ident + 1) & 0xFFFF
        return ident

    def ipv4(
        self,
        ts_us: int,
        src: Host,
        dst: Host,
        proto: int,
        payload: bytes,
        summary: str,
        *,
        ident: int | None = None,
        offset: int = 0,
        more_fragments: bool = False,
    ) -> int:
        """Add one Ethernet/IPv4 frame carrying ``payload`` (a whole datagram or a fragment)."""
        if ident is None:
            ident = self.next_ident(src)
        flags_frag = (0x2000 if more_fragments else 0) | (offset // 8)
        if offset == 0 and not more_fragments:
            flags_frag |= 0x4000  # DF on unfragmented datagrams, as Linux sends them
        header = IPV4_HEADER.pack(
            0x45,
            0,
            20 + len(payload),
            ident,
            flags_frag,
            IP_TTL,
            proto,
            0,
            _ip_bytes(src.ip),
            _ip_bytes(dst.ip),
        )
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        ether = dst.mac + src.mac + struct.pack("!H", ETHERTYPE_IPV4)
        return self.add(ts_us, ether + header + payload, summary)

    def udp(
        self,
        ts_us: int,
        src: Host,
        sport: int,
        dst: Host,
        dport: int,
        payload: bytes,
        summary: str,
    ) -> list[int]:
        """Add a UDP datagram; above the MTU it is sent as IPv4 fragments (all in order)."""
        length = UDP_HEADER.size + len(payload)
        pseudo = _ip_bytes(src.ip) + _ip_bytes(dst.ip) + struct.pack("!BBH", 0, IPPROTO_UDP, length)
        header = UDP_HEADER.pack(sport, dport, length, 0)
        csum = _checksum(pseudo + header + payload) or 0xFFFF
        datagram = UDP_HEADER.pack(sport, dport, length, csum) + payload
        if len(datagram) <= FRAGMENT_PAYLOAD:
            return [self.ipv4(ts_us, src, dst, IPPROTO_UDP, datagram, summary)]
        ident = self.next_ident(src)
        chunks = [
            datagram[start : start + FRAGMENT_PAYLOAD]
            for start in range(0, len(datagram), FRAGMENT_PAYLOAD)
        ]
        frames = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            note = f"{summary} (IPv4 fragment {index + 1}/{len(chunks)})"
            frames.append(
                self.ipv4(
                    ts_us + index * 12,  # back-to-back on the wire, 12 us apart
                    src,
                    dst,
                    IPPROTO_UDP,
                    chunk,
                    note,
                    ident=ident,
                    offset=index * FRAGMENT_PAYLOAD,
                    more_fragments=not last,
                )
            )
        return frames

    def write(self, directory: Path) -> Path:
        path = directory / self.name
        out = bytearray(
            PCAP_HEADER.pack(PCAP_MAGIC_USEC, 2, 4, 0, 0, PCAP_SNAPLEN, LINKTYPE_ETHERNET)
        )
        for frame in self.frames:
            seconds, micros = divmod(frame.ts_us, SEC)
            out += PCAP_RECORD.pack(seconds, micros, len(frame.data), len(frame.data))
            out += frame.data
        path.write_bytes(bytes(out))
        return path

    def listing(self) -> str:
        """Frame table (number, time since the first frame, summary) for the README."""
        first = self.frames[0].ts_us
        rows = [f"{self.name}"]
        for number, frame in enumerate(self.frames, 1):
            rows.append(f"  {number:3d}  {(frame.ts_us - first) / SEC:9.6f}  {frame.summary}")
        return "\n".join(rows)


class TcpConnection:
    """One TCP connection with real sequence/acknowledgement numbers in both directions.

    ``send()`` emits the next in-order segment. ``reserve()`` + ``emit()`` allow a segment to
    appear in the capture out of order or twice (retransmission) with its original numbers.
    """

    def __init__(
        self,
        capture: Capture,
        client: Host,
        client_port: int,
        server: Host,
        server_port: int,
        client_isn: int,
        server_isn: int,
    ) -> None:
        self.capture = capture
        self.hosts = {"c": (client, client_port), "s": (server, server_port)}
        # Next sequence number each side will send (SYN and FIN each consume one).
        self.next_seq = {"c": client_isn, "s": server_isn}

    @staticmethod
    def _other(side: str) -> str:
        return "s" if side == "c" else "c"

    def emit(
        self,
        ts_us: int,
        side: str,
        seq: int,
        flags: int,
        data: bytes,
        summary: str,
        *,
        ack: int | None = None,
    ) -> int:
        """Add one segment from ``side`` with explicit sequence number."""
        (src, sport), (dst, dport) = self.hosts[side], self.hosts[self._other(side)]
        if ack is None:
            ack = self.next_seq[self._other(side)] if flags & ACK else 0
        options = struct.pack("!BBH", 2, 4, TCP_MSS) if flags & SYN else b""
        offset_words = (TCP_HEADER.size + len(options)) // 4
        header = TCP_HEADER.pack(
            sport,
            dport,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            offset_words << 4,
            flags,
            TCP_WINDOW,
            0,
            0,
        )
        segment = header + options + data
        pseudo = (
            _ip_bytes(src.ip)
            + _ip_bytes(dst.ip)
            + struct.pack("!BBH", 0, IPPROTO_TCP, len(segment))
        )
        csum = _checksum(pseudo + segment)
        segment = segment[:16] + struct.pack("!H", csum) + segment[18:]
        return self.capture.ipv4(ts_us, src, dst, IPPROTO_TCP, segment, summary)

    def reserve(self, side: str, data: bytes) -> int:
        """Allocate sequence space for ``data`` from ``side``; returns its first sequence number."""
        seq = self.next_seq[side]
        self.next_seq[side] += len(data)
        return seq

    def send(self, ts_us: int, side: str, data: bytes, summary: str) -> int:
        seq = self.reserve(side, data)
        return self.emit(ts_us, side, seq, PSH | ACK, data, summary)

    def ack(self, ts_us: int, side: str) -> int:
        return self.emit(ts_us, side, self.next_seq[side], ACK, b"", "TCP ACK")

    def open(self, ts_us: int, rtt_us: int) -> int:
        """Three-way handshake starting at ``ts_us``; returns the time of the final ACK."""
        self.emit(ts_us, "c", self.next_seq["c"], SYN, b"", "TCP SYN", ack=0)
        self.next_seq["c"] += 1
        self.emit(ts_us + rtt_us // 2, "s", self.next_seq["s"], SYN | ACK, b"", "TCP SYN/ACK")
        self.next_seq["s"] += 1
        self.ack(ts_us + rtt_us, "c")
        return ts_us + rtt_us

    def close(self, ts_us: int, side: str, rtt_us: int) -> int:
        """FIN from ``side``, FIN/ACK from the peer, final ACK; returns the time of the last ACK."""
        other = self._other(side)
        self.emit(ts_us, side, self.next_seq[side], FIN | ACK, b"", "TCP FIN/ACK")
        self.next_seq[side] += 1
        self.emit(ts_us + rtt_us // 2, other, self.next_seq[other], FIN | ACK, b"", "TCP FIN/ACK")
        self.next_seq[other] += 1
        self.ack(ts_us + rtt_us, side)
        return ts_us + rtt_us


# --------------------------------------------------------------------------------------------
# SIP text
# --------------------------------------------------------------------------------------------


def published(lines: Sequence[str]) -> bytes:
    """Wire bytes of a message as a seed prints it: each line (start-line, header or body line)
    is terminated by CRLF and the text is UTF-8 encoded (U+00A0 becomes C2 A0).

    The first empty line separates headers from body, so further empty lines belong to the
    body. A block without any empty line (no body, or a body glued to the headers) gets the
    one CRLF that ends the header section: the pages end the code block there.
    """
    text = list(lines)
    if "" not in text:
        text.append("")
    return (CRLF.join(text) + CRLF).encode("utf-8")


def body_of(lines: Sequence[str]) -> bytes:
    """A body made of text lines, each terminated by CRLF."""
    return (CRLF.join(lines) + CRLF).encode("utf-8")


def build(head: Sequence[str], body: bytes = b"") -> bytes:
    """A conformant message: header lines (``{len}`` is replaced by the body's octet count),
    the empty line, then the body."""
    text = CRLF.join(line.replace("{len}", str(len(body))) for line in head)
    return (text + CRLF + CRLF).encode("utf-8") + body


def http_date(ts_us: int) -> str:
    """RFC 3261 §20.17 Date value (RFC 1123 form, always GMT) for a capture time."""
    return formatdate(EPOCH_S + ts_us // SEC, usegmt=True)


def response_to(
    request: bytes,
    status: str,
    *,
    received: str | None,
    to_tag: str | None = None,
    extra: Sequence[str] = (),
) -> bytes:
    """A bodiless response built the way a UAS does (RFC 3261 §8.2.6.2): the Via, From, To,
    Call-ID and CSeq lines are copied byte for byte from the request, ``received`` is added to
    the Via when the sent-by is a host name (§18.2.1), and a To tag when the request had none.
    """
    head, _, _ = request.decode("utf-8").partition(CRLF + CRLF)
    copied = []
    for line in head.split(CRLF)[1:]:
        name = line.partition(":")[0].strip().lower()
        if name in ("via", "v") and received is not None:
            copied.append(f"{line};received={received}")
        elif name in ("to", "t") and to_tag is not None:
            copied.append(f"{line};tag={to_tag}")
        elif name in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"):
            copied.append(line)
    return build([f"SIP/2.0 {status}", *copied, *extra, "Content-Length: {len}"])


# --------------------------------------------------------------------------------------------
# Seed text, as published
#
# 000 = 000_6b5d7546d3659d94.txt (Markdown; the list indentation of the fenced blocks removed
# as CommonMark does), 001 = 001_a01173c8f18295b4.txt (brunch.co.kr page, U+00A0 from HTML),
# 004 = 004_7539d53a04baaa2a.txt (wiki page). Trailing spaces are part of the published text.
# --------------------------------------------------------------------------------------------

# Seed 000 §"SIP MESSAGE 메시지 분석" 1. Alice's MESSAGE (seed 001 differs only where noted).
ALICE_MESSAGE_000 = (
    "MESSAGE sip:bob@biloxi.com  SIP/2.0 ",
    "Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asegma",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@biloxi.com>",
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
    "Call-ID:a84b4c76e66710@pc33.atlanta.com",
    "CSeq: 22756 MESSAGE",
    "Content-Type: text/plain",
    "Content-Disposition: render",
    "Content-Length: 37",
    "",
    "",
    "Hello! Bob",
)
ALICE_MESSAGE_001 = (
    f"MESSAGE sip:bob@biloxi.com{NBSP}{NBSP}SIP/2.0{NBSP}",
    *ALICE_MESSAGE_000[1:-1],
    f"Hello!{NBSP}Bob",
)
# 2. Bob's 200 OK (identical in 000 and 001).
BOB_200_OK = (
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bKnashds7 ;received=10.1.3.33",
    "To: Bob <sip:bob@biloxi.com>",
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
    "Call-ID:a84b4c76e66710@pc33.atlanta.com",
    "CSeq: 22756 MESSAGE",
    "Content-Length: 0",
)

# Seed 000 §"환영인사 (Welcome Notice) 예제 시나리오" (RFC 3680 §6), steps 1 to 6.
WN_SUBSCRIBE_000 = (
    "SUBSCRIBE sip:joe@example.com SIP/2.0",
    "Via: SIP/2.0/UDP app.example.com;branch=z9hG4bKnashds7",
    "From: sip:app.example.com;tag=123aa9",
    "To: sip:joe@example.com",
    "Call-ID:9987@app.example.com",
    "CSeq: 9887 SUBSCRIBE",
    "Contact: sip:app.example.com",
    "Event: reg",
    "Max-Forwards: 70",
    "Accept: application/reginfo+xml",
)
WN_SUBSCRIBE_001 = (f"SUBSCRIBE sip:joe@example.com{NBSP}SIP/2.0", *WN_SUBSCRIBE_000[1:])
WN_SUBSCRIBE_200 = (  # identical in 000 and 001
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP app.example.com;branch=z9hG4bKnashds7;received=192.0.2.1",
    "From: sip:app.example.com;tag=123aa9",
    "To: sip:joe@example.com;tag=xyzygg",
    "Call-ID:9987@app.example.com",
    "CSeq: 9987 SUBSCRIBE",
    "Contact: sip:server19.example.com",
    "Expires: 3600",
)
WN_NOTIFY1_HEAD = (  # identical in 000 and 001
    "NOTIFY sip:app.example.com SIP/2.0",
    "Via: SIP/2.0/UDP server19.example.com;branch=z9hG4bKnasaii",
    "From: sip:joe@example.com;tag=xyzygg",
    "To: sip:app.example.com;tag=123aa9",
    "Call-ID:9987@app.example.com",
    "CSeq: 1288 NOTIFY",
    "Contact: sip:server19.example.com",
    "Event: reg",
    "Max-Forwards: 70",
    "Content-Type: application/reginfo+xml",
    "Content-Length:...",
)
WN_NOTIFY1_XML_000 = (
    '<?xml version="1.0"?>',
    '    <reginfo xmlns="urn:ietf:params:xml:ns:reginfo"',
    '                    version="0" state="full">',
    '     <registration aor="sip:joe@example.com" id="a7" state="init" /> ',
    "</reginfo>",
)
WN_NOTIFY1_XML_001 = (
    '<?xml version="1.0"?>',
    NBSP * 4 + '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo"',
    NBSP * 20 + 'version="0" state="full">',
    NBSP * 5 + '<registration aor="sip:joe@example.com" id="a7" state="init" />' + NBSP,
    "</reginfo>",
)
WN_NOTIFY1_000 = (*WN_NOTIFY1_HEAD, "", *WN_NOTIFY1_XML_000)
WN_NOTIFY1_001 = (*WN_NOTIFY1_HEAD, "", *WN_NOTIFY1_XML_001)
WN_REGISTER = (  # identical in 000 and 001
    "REGISTER sip:example.com SIP/2.0",
    "Via: SIP/2.0/UDP pc34.example.com;branch=z9hG4bKnaaff",
    "From: sip:joe@example.com;tag=99a8s",
    "To: sip:joe@example.com",
    "Call-ID:88askjda9@pc34.example.com",
    "CSeq: 9976 REGISTER",
    "Contact: sip:joe@pc34.example.com",
)
WN_NOTIFY2_000 = (
    "NOTIFY sip:app.example.com SIP/2.0 ",
    "Via: SIP/2.0/UDP server19.example.com;branch=z9hG4bKnasaij ",
    "From: sip:joe@example.com;tag=xyzygg ",
    "To: sip:app.example.com;tag=123aa9",
    "Call-ID:9987@app.example.com",
    "CSeq: 1289 NOTIFY",
    "Contact: sip:server19.example.com",
    "Event: reg",
    "Max-Forwards: 70",
    "Content-Type: application/reginfo+xml",
    "Content-Length:...",
    "",
    "",
    '<?xml version="1.0"?>',
    '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" ',
    '           version="1" state="partial">',
    '     <registration aor="sip:joe@example.com" id="a7" state="active">',
    '             <contact id="76" state="active" event="registered"',
    '             duration-registered="0">',
    "             <uri>sip:joe@pc34.example.com </uri>",
    "             </contact>",
    "       </registration>",
    "</reginfo>",
)
WN_NOTIFY2_001 = (
    f"NOTIFY sip:app.example.com SIP/2.0{NBSP}",
    f"Via: SIP/2.0/UDP server19.example.com;branch=z9hG4bKnasaij{NBSP}",
    f"From: sip:joe@example.com;tag=xyzygg{NBSP}",
    *WN_NOTIFY2_000[3:14],
    f'<reginfo xmlns="urn:ietf:params:xml:ns:reginfo"{NBSP}',
    NBSP * 11 + 'version="1" state="partial">',
    NBSP * 5 + '<registration aor="sip:joe@example.com" id="a7" state="active">',
    NBSP * 13 + '<contact id="76" state="active" event="registered"',
    NBSP * 13 + 'duration-registered="0">',
    NBSP * 13 + f"<uri>sip:joe@pc34.example.com{NBSP}</uri>",
    NBSP * 13 + "</contact>",
    NBSP * 7 + "</registration>",
    "</reginfo>",
)
WN_MESSAGE_000 = (
    "MESSAGE sip:joe@pc34.example.com SIP/2.0",
    "Via: SIP/2.0/UDP app.example.com;branch=z9hG4bKnashds8",
    "From: sip:app.example.com;tag=123aa10 ",
    "To: sip:Joe@example.com",
    "Call-ID:9988@app.example.com",
    "CSeq: 82779 MESSAGE",
    "Max-Forwards: 70",
    "Content-Type: text/plain",
    "Content-Length: ...",
    "",
    "",
    "Welcome to the example.com service!",
)
WN_MESSAGE_001 = (
    f"MESSAGE sip:joe@pc34.example.com{NBSP}SIP/2.0",
    WN_MESSAGE_000[1],
    f"From: sip:app.example.com;tag=123aa10{NBSP}",
    *WN_MESSAGE_000[3:],
)

# Seed 004, "SUBSCRIBE 메시지 분석": the Alice subscription over TCP.
ALICE_SUBSCRIBE_004 = (
    "SUBSCRIBE sip:alice@atlanta.com SIP/2.0",
    "Via: SIP/2.0/TCP app_IM.atlanta.com;branch=z9hG4bKnashds7",
    f"From: sip:app_IM.atlanta.com{NBSP};tag=123aa9",
    "To: sip:alice@atlanta.com",
    "Call-ID: 9987@app_IM.atlanta.com",
    "CSeq: 9887 SUBSCRIBE",
    "Contact: sip:app_IM.atlanta.com",
    "Event: reg",
    "Max-Forwards: 70",
    "Expires: 21600",
    "Accept: application/reginfo+xml",
)
ALICE_SUBSCRIBE_200_004 = (
    "SIP/2.0 200 OK",
    f"Via: SIP/2.0/TCP app_IM.atlanta.com;branch=z9hG4bKnashds7{NBSP}; received=10.1.3.2",
    f"From: sip:app_IM.atlanta.com{NBSP};tag=123aa9",
    f"To: sip:alice@atlanta.com{NBSP}; tag=xyzygg",
    "Call-ID: 9987@app_IM.atlanta.com",
    "CSeq: 9887 SUBSCRIBE",
    "Contact: sip:server19.atlanta.com",
    "Expires: 3600",
)
ALICE_NOTIFY_004 = (
    "NOFITY sip:app_IM.atlanta.com SIP/2.0",
    "Via: SIP/2.0/TCP server1.atlanta.com;branch=z9G4bKnasaii",
    f"From: sip:alice@atlanta.com{NBSP};tab=xyzygg",
    f"To: sip:app_IM.atlanta.com{NBSP};tag=123aa9",
    "Max-Forwards: 70",
    "Call-ID: 9987@app_IM.atlanta.com",
    "CSeq:1288 NOTIFY",
    "Contatct: sip:server19.atlanta.com",
    "Event: reg",
    "Subscription-State: active",
    "Content-Type: application/reginfo+xml",
    "Content-Length: 223",
    '<?xml version="1.0"?>',
    '  <reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">',
    '    <registration aor="sip:alice@atlanta.com" id="a7" state="init" />',
    "  </reginfo>",
)

# Seed 004, "Welcome Notice 서비스 예제": RFC 3680 §6 retyped.
WIKI_SUBSCRIBE_004 = (
    "SUBSCRIBE sip:joe@example.com SIP/2.0",
    "Via: SIP/2.0/UDP app.example.com;branch=z9hG4bKnashds7",
    "From: sip:app.example.com;tag=123aa9",
    "To: sip:joe@example.com",
    "Call-ID: 9987@app.example.com",
    "CSeq: 9887 SUBSCRIBE",
    "Contact: sip:app.excample.com",
    "Event: reg",
    "Max-Forwards: 70",
    "Accept: application/reginfo+xml",
)
WIKI_SUBSCRIBE_200_004 = (
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP app.example.com;branch=z9hG4bKnashds7;received=192.0.2.1",
    "From: sip:app.example.com;tag=123aa9",
    "To: sip:joe@example.com;tag=xyzygg",
    "Call-ID: 9987@app.example.com",
    "CSeq: 9987 SUBSCRIBE",
    "Contact: sip:server19.example.com",
    "Expires: 3600",
)
WIKI_NOTIFY_004 = (
    "NOTIFY sip:app.example.com SIP/2.0",
    "Via: SIP/2.0/UDP server19.example.com;branch=z9hG4bKnasaii",
    "From: sip:joe@example",
    "To: sip:app.example.com;tag=123aa9",
    "Call-ID: 9987@app.example.com",
    "CSeq: 1288 NOTIFY",
    "Contact: sip:server19.example.com",
    "Event: reg",
    "Max-Forwards: 70",
    "Content-Type: application/reginfo+xml",
    "Content-Length: ...",
    '<?xml version="1.0"?>',
    '  <reginfo xmlns="um:ietf:params:xml:ns:reginfo" version="0" state="full">',
    '    <registration aor="sip:joe@example.com" id="a7" state="init" />',
    "  </reginfo>",
)
WIKI_REGISTER_004 = (
    "REGISTER sip:example.com SIP/2.0",
    "Via: SIP/2.0/UDP server19.example.com;branch=z9hG4bKnasaii",
    "From: sip:joe@example.com;tag=xyzygg",
    "To: sip:app.example.com;tag=123aa9",
    "Call-ID: 9987@app.example.com",
    "CSeq: 1289 NOTIFY",
    "Contact: sip:server19.example.com",
    "Event: reg",
    "Max-Forwards: 70",
    "Content-Type: application/reginfo+xml",
    "Content=Length: ...",
    '<?xml version="1.0"?>',
    '  <reginfo xmlns="um:ietf:params:xml:ns:reginfo" version="1" state="partial">',
    '    <registration aor="sip:joe@example.com" id="a7" state="active">',
    '      <contact id="76" state="active" event="registered" duration-registered="0">',
    "        <uri>sip:joe@pc34.example.com</uri>",
    "      </contact>",
    "    </registration>",
    "  </reginfo>",
)
WIKI_MESSAGE_004 = (
    "MESSAGE sip:joe@pc34.example.com SIP/2.0",
    "Via: SIP/2.0/UDP app.example.com;branch=z9hG4bKnashds8",
    "From: sip:app.example.com;tag=123aa10",
    "To: sip:joe@example.com",
    "Call-ID: 9988@app.example.com",
    "CSeq: 82779 MESSAGE",
    "Max-Forwards: 70",
    "Content-Type: text/plain",
    "Content-Length: ...",
    "",
    "Welcome to the example.com service!",
)

# --------------------------------------------------------------------------------------------
# Participants
# --------------------------------------------------------------------------------------------

# Welcome notice (RFC 3680 §6). app.example.com is 192.0.2.1 because the seeds' 200 OK to the
# SUBSCRIBE says received=192.0.2.1; Joe's phone is roaming, hence a different network.
APP = Host("app.example.com (messaging application, subscriber)", "192.0.2.1")
REGISTRAR = Host("example.com = server19.example.com (registrar, notifier)", "192.0.2.19")
JOE = Host("pc34.example.com (Joe's phone)", "198.51.100.34")
SIP_PORT = 5060

# Alice -> Bob MESSAGE: the seeds' 200 OK says received=10.1.3.33.
ALICE_PC = Host("pc33.atlanta.com (Alice)", "10.1.3.33")
BOB_PC = Host("biloxi.com (Bob)", "10.1.4.4")
ALICE_PORT = 50233

# Seed 004 Alice subscription: received=10.1.3.2 for app_IM.atlanta.com.
APP_IM = Host("app_IM.atlanta.com (IM application, subscriber)", "10.1.3.2")
ATLANTA_REG = Host("server19.atlanta.com (registrar, notifier)", "10.1.3.19")

# Basic call: the addresses RFC 3261 §24 uses for Alice's and Bob's user agents.
ALICE_UA = Host("pc33.atlanta.com (Alice's UA)", "192.0.2.101")
BOB_UA = Host("Bob's UA", "192.0.2.4")

# TCP framing capture.
CAROL = Host("Carol's UA", "10.0.0.10")
PROXY = Host("example.org registrar/proxy", "10.0.0.1")
AS_HOST = Host("as.example.org (application server)", "10.0.0.20")
CAROL_PORT = 49500


# --------------------------------------------------------------------------------------------
# Captures
# --------------------------------------------------------------------------------------------


def message_flow(name: str, request: bytes, response: bytes) -> Capture:
    """Alice -> Bob MESSAGE and 200 over one TCP connection (seed 000 / 001 §2)."""
    cap = Capture(name)
    tcp = TcpConnection(cap, ALICE_PC, ALICE_PORT, BOB_PC, SIP_PORT, 0x3A1C_0000, 0x7B20_0000)
    t = tcp.open(0, 2 * MS)
    tcp.send(t + 1 * MS, "c", request, "SIP MESSAGE sip:bob@biloxi.com")
    tcp.send(t + 38 * MS, "s", response, "SIP/2.0 200 OK (CSeq 22756 MESSAGE)")
    tcp.ack(t + 39 * MS, "c")
    tcp.close(t + 2 * SEC, "c", 2 * MS)
    return cap


def build_message() -> Capture:
    return message_flow("message.pcap", published(ALICE_MESSAGE_000), published(BOB_200_OK))


def build_message_nbsp() -> Capture:
    return message_flow("message-nbsp.pcap", published(ALICE_MESSAGE_001), published(BOB_200_OK))


def build_message_corrected() -> Capture:
    request = build(
        [
            "MESSAGE sip:bob@biloxi.com SIP/2.0",
            *ALICE_MESSAGE_000[1:9],
            "Content-Length: {len}",
        ],
        b"Hello! Bob",
    )
    response = build(
        [
            "SIP/2.0 200 OK",
            "Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asegma ;received=10.1.3.33",
            "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf",
            *BOB_200_OK[3:6],
            "Content-Length: {len}",
        ]
    )
    return message_flow("message-corrected.pcap", request, response)


# Welcome-notice timeline (microseconds from the first frame). Requests and their responses are
# tens of milliseconds apart; Joe switches his phone on 14 s after the subscription started.
T_SUBSCRIBE = 0
T_SUBSCRIBE_200 = 42 * MS
T_NOTIFY1 = 71 * MS
T_NOTIFY1_200 = 98 * MS
T_REGISTER = 14_200 * MS
T_REGISTER_200 = 14_268 * MS
T_NOTIFY2 = 14_301 * MS
T_NOTIFY2_200 = 14_329 * MS
T_MESSAGE = 15_550 * MS
T_MESSAGE_200 = 15_812 * MS


def welcome_flow(
    name: str,
    subscribe: bytes,
    subscribe_200: bytes,
    notify1: bytes,
    register: bytes,
    notify2: bytes,
    message: bytes,
) -> Capture:
    """RFC 3680 §6 over UDP: the six messages given plus the four 200 OKs the flow implies
    (to both NOTIFYs, the REGISTER and the MESSAGE), built by ``response_to``."""
    cap = Capture(name)

    def udp(ts: int, src: Host, dst: Host, payload: bytes, summary: str) -> None:
        cap.udp(ts, src, SIP_PORT, dst, SIP_PORT, payload, summary)

    udp(T_SUBSCRIBE, APP, REGISTRAR, subscribe, "SIP SUBSCRIBE sip:joe@example.com")
    udp(T_SUBSCRIBE_200, REGISTRAR, APP, subscribe_200, "SIP/2.0 200 OK (SUBSCRIBE)")
    udp(T_NOTIFY1, REGISTRAR, APP, notify1, "SIP NOTIFY sip:app.example.com (CSeq 1288)")
    udp(
        T_NOTIFY1_200,
        APP,
        REGISTRAR,
        response_to(notify1, "200 OK", received=REGISTRAR.ip),
        "SIP/2.0 200 OK (NOTIFY 1288) [synthesized]",
    )
    udp(T_REGISTER, JOE, REGISTRAR, register, "SIP REGISTER sip:example.com")
    udp(
        T_REGISTER_200,
        REGISTRAR,
        JOE,
        response_to(
            register,
            "200 OK",
            received=JOE.ip,
            to_tag="8f3c1a",
            extra=(
                "Contact: <sip:joe@pc34.example.com>;expires=3600",
                f"Date: {http_date(T_REGISTER_200)}",
            ),
        ),
        "SIP/2.0 200 OK (REGISTER) [synthesized]",
    )
    udp(T_NOTIFY2, REGISTRAR, APP, notify2, "SIP NOTIFY sip:app.example.com (CSeq 1289)")
    udp(
        T_NOTIFY2_200,
        APP,
        REGISTRAR,
        response_to(notify2, "200 OK", received=REGISTRAR.ip),
        "SIP/2.0 200 OK (NOTIFY 1289) [synthesized]",
    )
    udp(T_MESSAGE, APP, JOE, message, "SIP MESSAGE sip:joe@pc34.example.com")
    udp(
        T_MESSAGE_200,
        JOE,
        APP,
        response_to(message, "200 OK", received=APP.ip, to_tag="j0e7b2"),
        "SIP/2.0 200 OK (MESSAGE) [synthesized]",
    )
    return cap


def build_welcome_notice() -> Capture:
    return welcome_flow(
        "welcome-notice.pcap",
        published(WN_SUBSCRIBE_000),
        published(WN_SUBSCRIBE_200),
        published(WN_NOTIFY1_000),
        published(WN_REGISTER),
        published(WN_NOTIFY2_000),
        published(WN_MESSAGE_000),
    )


def build_welcome_notice_nbsp() -> Capture:
    return welcome_flow(
        "welcome-notice-nbsp.pcap",
        published(WN_SUBSCRIBE_001),
        published(WN_SUBSCRIBE_200),
        published(WN_NOTIFY1_001),
        published(WN_REGISTER),
        published(WN_NOTIFY2_001),
        published(WN_MESSAGE_001),
    )


def _ceil_seconds(micros: int) -> int:
    return -(-micros // SEC)


def build_welcome_notice_corrected() -> Capture:
    subscribe = build([*WN_SUBSCRIBE_000, "Expires: 3761", "Content-Length: {len}"])
    subscribe_200 = build(
        [
            *WN_SUBSCRIBE_200[:5],
            "CSeq: 9887 SUBSCRIBE",
            *WN_SUBSCRIBE_200[6:],
            "Content-Length: {len}",
        ]
    )
    notify1 = build(
        [
            *WN_NOTIFY1_HEAD[:8],
            "Subscription-State: active;expires=3600",
            *WN_NOTIFY1_HEAD[8:10],
            "Content-Length: {len}",
        ],
        body_of(WN_NOTIFY1_XML_000),
    )
    register = build([*WN_REGISTER, "Max-Forwards: 70", "Content-Length: {len}"])
    # RFC 6665 §4.2.2: "expires" is the time remaining, which must not grow (SUB-9).
    remaining = 3600 - _ceil_seconds(T_NOTIFY2 - T_SUBSCRIBE_200)
    notify2 = build(
        [
            "NOTIFY sip:app.example.com SIP/2.0",
            "Via: SIP/2.0/UDP server19.example.com;branch=z9hG4bKnasaij",
            "From: sip:joe@example.com;tag=xyzygg",
            *WN_NOTIFY2_000[3:8],
            f"Subscription-State: active;expires={remaining}",
            *WN_NOTIFY2_000[8:10],
            "Content-Length: {len}",
        ],
        body_of(
            [
                *WN_NOTIFY2_000[13:19],
                "             <uri>sip:joe@pc34.example.com</uri>",
                *WN_NOTIFY2_000[20:],
            ]
        ),
    )
    message = build(
        [
            *WN_MESSAGE_000[:2],
            "From: sip:app.example.com;tag=123aa10",
            "To: sip:joe@example.com",
            *WN_MESSAGE_000[4:8],
            "Content-Length: {len}",
        ],
        b"Welcome to the example.com service!",
    )
    return welcome_flow(
        "welcome-notice-corrected.pcap",
        subscribe,
        subscribe_200,
        notify1,
        register,
        notify2,
        message,
    )


def build_welcome_notice_wiki() -> Capture:
    """Seed 004's retyped welcome notice: only the five messages the page prints."""
    cap = Capture("welcome-notice-wiki.pcap")

    def udp(ts: int, src: Host, dst: Host, lines: Sequence[str], summary: str) -> None:
        cap.udp(ts, src, SIP_PORT, dst, SIP_PORT, published(lines), summary)

    udp(T_SUBSCRIBE, APP, REGISTRAR, WIKI_SUBSCRIBE_004, "SIP SUBSCRIBE sip:joe@example.com")
    udp(T_SUBSCRIBE_200, REGISTRAR, APP, WIKI_SUBSCRIBE_200_004, "SIP/2.0 200 OK (SUBSCRIBE)")
    udp(T_NOTIFY1, REGISTRAR, APP, WIKI_NOTIFY_004, "SIP NOTIFY sip:app.example.com (CSeq 1288)")
    # The page presents this text as Joe's registration, so it travels from Joe's phone to the
    # registrar (the Request-URI's host), whatever its Via and CSeq say.
    udp(T_REGISTER, JOE, REGISTRAR, WIKI_REGISTER_004, "SIP REGISTER sip:example.com")
    udp(T_MESSAGE, APP, JOE, WIKI_MESSAGE_004, "SIP MESSAGE sip:joe@pc34.example.com")
    return cap


def subscribe_tcp_flow(
    name: str,
    subscribe: bytes,
    subscribe_200: bytes,
    notify: bytes,
    notify_200: bytes | None,
) -> Capture:
    """Seed 004's Alice subscription over TCP: the SUBSCRIBE connection from the subscriber,
    and a second connection from the notifier for the NOTIFY (its Via names TCP)."""
    cap = Capture(name)
    sub = TcpConnection(cap, APP_IM, 49731, ATLANTA_REG, SIP_PORT, 0x51B0_0000, 0x0C40_0000)
    t = sub.open(0, 1 * MS)
    sub.send(t + 1 * MS, "c", subscribe, "SIP SUBSCRIBE sip:alice@atlanta.com")
    sub.send(t + 36 * MS, "s", subscribe_200, "SIP/2.0 200 OK (SUBSCRIBE)")
    sub.ack(t + 37 * MS, "c")
    note = "SIP " + notify.split(b" SIP/2.0", 1)[0].decode()  # request line minus version
    ntf = TcpConnection(cap, ATLANTA_REG, 40312, APP_IM, SIP_PORT, 0x2D70_0000, 0x6E90_0000)
    t = ntf.open(t + 52 * MS, 1 * MS)
    ntf.send(t + 1 * MS, "c", notify, note)
    if notify_200 is None:
        ntf.ack(t + 2 * MS, "s")
    else:
        ntf.send(t + 29 * MS, "s", notify_200, "SIP/2.0 200 OK (NOTIFY)")
        ntf.ack(t + 30 * MS, "c")
    t = ntf.close(t + 3 * SEC, "c", 1 * MS)
    sub.close(t + 2 * SEC, "c", 1 * MS)
    return cap


def build_subscribe_tcp() -> Capture:
    return subscribe_tcp_flow(
        "subscribe-tcp.pcap",
        published(ALICE_SUBSCRIBE_004),
        published(ALICE_SUBSCRIBE_200_004),
        published(ALICE_NOTIFY_004),
        None,
    )


def build_subscribe_tcp_corrected() -> Capture:
    def fix(line: str) -> str:
        # The underscore is not allowed in a hostname (RFC 3261 §25 domainlabel); U+00A0 was
        # an ordinary space before the page went through HTML.
        return line.replace("app_IM", "app-IM").replace(NBSP, " ")

    subscribe = build([*map(fix, ALICE_SUBSCRIBE_004), "Content-Length: {len}"])
    subscribe_200 = build([*map(fix, ALICE_SUBSCRIBE_200_004), "Content-Length: {len}"])
    notify = build(
        [
            "NOTIFY sip:app-IM.atlanta.com SIP/2.0",
            "Via: SIP/2.0/TCP server1.atlanta.com;branch=z9hG4bKnasaii",
            "From: sip:alice@atlanta.com ;tag=xyzygg",
            *map(fix, ALICE_NOTIFY_004[3:7]),
            "Contact: sip:server19.atlanta.com",
            "Event: reg",
            "Subscription-State: active;expires=3600",
            "Content-Type: application/reginfo+xml",
            "Content-Length: {len}",
        ],
        body_of(ALICE_NOTIFY_004[12:]),
    )
    notify_200 = response_to(notify, "200 OK", received=ATLANTA_REG.ip)
    return subscribe_tcp_flow(
        "subscribe-tcp-corrected.pcap", subscribe, subscribe_200, notify, notify_200
    )


SDP_OFFER = (
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
    "s=-",
    "c=IN IP4 192.0.2.101",
    "t=0 0",
    "m=audio 49172 RTP/AVP 0 8 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=sendrecv",
)
SDP_ANSWER = (
    "v=0",
    "o=bob 2808844564 2808844564 IN IP4 192.0.2.4",
    "s=-",
    "c=IN IP4 192.0.2.4",
    "t=0 0",
    "m=audio 3456 RTP/AVP 0 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=sendrecv",
)


def build_basic_call() -> Capture:
    """A direct UA-to-UA call over UDP (RFC 3261 §4 messages, no proxies): INVITE / 100 /
    180 / 200 / ACK, then Bob hangs up: BYE / 200."""
    cap = Capture("basic-call.pcap")
    call_id = "Call-ID: a84b4c76e66710@pc33.atlanta.com"
    alice_from = "From: Alice <sip:alice@atlanta.com>;tag=1928301774"
    bob_to = "To: Bob <sip:bob@biloxi.com>"
    via = "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"
    via_rcvd = via + ";received=192.0.2.101"
    allow = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"
    invite = build(
        [
            "INVITE sip:bob@biloxi.com SIP/2.0",
            via,
            "Max-Forwards: 70",
            bob_to,
            alice_from,
            call_id,
            "CSeq: 314159 INVITE",
            "Contact: <sip:alice@pc33.atlanta.com>",
            allow,
            "Content-Type: application/sdp",
            "Content-Length: {len}",
        ],
        body_of(SDP_OFFER),
    )
    trying = build(
        [
            "SIP/2.0 100 Trying",
            via_rcvd,
            bob_to,
            alice_from,
            call_id,
            "CSeq: 314159 INVITE",
            "Content-Length: {len}",
        ]
    )
    bob_to_tagged = bob_to + ";tag=a6c85cf"
    ringing = build(
        [
            "SIP/2.0 180 Ringing",
            via_rcvd,
            bob_to_tagged,
            alice_from,
            call_id,
            "CSeq: 314159 INVITE",
            "Contact: <sip:bob@192.0.2.4>",
            "Content-Length: {len}",
        ]
    )
    ok = build(
        [
            "SIP/2.0 200 OK",
            via_rcvd,
            bob_to_tagged,
            alice_from,
            call_id,
            "CSeq: 314159 INVITE",
            "Contact: <sip:bob@192.0.2.4>",
            allow,
            "Content-Type: application/sdp",
            "Content-Length: {len}",
        ],
        body_of(SDP_ANSWER),
    )
    ack = build(
        [
            "ACK sip:bob@192.0.2.4 SIP/2.0",
            "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8",
            "Max-Forwards: 70",
            bob_to_tagged,
            alice_from,
            call_id,
            "CSeq: 314159 ACK",
            "Content-Length: {len}",
        ]
    )
    bye_via = "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10"
    bye_from = "From: Bob <sip:bob@biloxi.com>;tag=a6c85cf"
    bye_to = "To: Alice <sip:alice@atlanta.com>;tag=1928301774"
    bye = build(
        [
            "BYE sip:alice@pc33.atlanta.com SIP/2.0",
            bye_via,
            "Max-Forwards: 70",
            bye_from,
            bye_to,
            call_id,
            "CSeq: 231 BYE",
            "Content-Length: {len}",
        ]
    )
    bye_ok = build(
        [
            "SIP/2.0 200 OK",
            bye_via,
            bye_from,
            bye_to,
            call_id,
            "CSeq: 231 BYE",
            "Content-Length: {len}",
        ]
    )
    a, b, port = ALICE_UA, BOB_UA, SIP_PORT
    cap.udp(0, a, port, b, port, invite, "SIP INVITE sip:bob@biloxi.com (SDP offer)")
    cap.udp(18 * MS, b, port, a, port, trying, "SIP/2.0 100 Trying")
    cap.udp(64 * MS, b, port, a, port, ringing, "SIP/2.0 180 Ringing")
    cap.udp(4_210 * MS, b, port, a, port, ok, "SIP/2.0 200 OK (INVITE, SDP answer)")
    cap.udp(4_236 * MS, a, port, b, port, ack, "SIP ACK sip:bob@192.0.2.4")
    cap.udp(31_870 * MS, b, port, a, port, bye, "SIP BYE sip:alice@pc33.atlanta.com")
    cap.udp(31_902 * MS, a, port, b, port, bye_ok, "SIP/2.0 200 OK (BYE)")
    return cap


def helpdesk_reginfo(contacts: int) -> bytes:
    """Full-state reginfo for a shared AoR with many registered devices (a large body)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">',
        '  <registration aor="sip:helpdesk@example.org" id="hd" state="active">',
    ]
    for i in range(1, contacts + 1):
        duration = 600 + 137 * i  # fixed, distinct registration ages
        lines += [
            f'    <contact id="hd{i:02d}" state="active" event="registered"'
            f' duration-registered="{duration}" expires="{3600 - duration}">',
            f"      <uri>sip:agent{i:02d}@10.0.1.{10 + i}:5060</uri>",
            f'      <display-name xml:lang="en">Help desk agent {i:02d}</display-name>',
            "    </contact>",
        ]
    lines += ["  </registration>", "</reginfo>"]
    return body_of(lines)


def build_tcp_mixed() -> Capture:
    """TCP framing and IP reassembly exercises (see README): Carol's UA over one TCP
    connection to her registrar, plus a fragmented UDP NOTIFY to an application server."""
    cap = Capture("tcp-mixed.pcap")
    tcp = TcpConnection(cap, CAROL, CAROL_PORT, PROXY, SIP_PORT, 0x1F00_0000, 0x9A00_0000)
    carol_contact = "<sip:carol@10.0.0.10:49500;transport=tcp>"
    carol = "Carol <sip:carol@example.org>"
    reg_call_id = "7e2b1a90c4d3@10.0.0.10"

    register = build(
        [
            "REGISTER sip:example.org SIP/2.0",
            "Via: SIP/2.0/TCP 10.0.0.10:49500;branch=z9hG4bK7f3a01",
            "Max-Forwards: 70",
            f"From: {carol};tag=c4r0l1",
            f"To: {carol}",
            f"Call-ID: {reg_call_id}",
            "CSeq: 1 REGISTER",
            f"Contact: {carol_contact}",
            "Expires: 3600",
            "Content-Length: {len}",
        ]
    )
    t = tcp.open(0, 400)
    # One message in three segments. The cuts fall inside the Via branch parameter and between
    # the CR and the LF ending the CSeq line, the two places a line-based framer gets wrong.
    cut1 = register.index(b"branch=") + len(b"bran")
    cut2 = register.index(b"CSeq: 1 REGISTER\r\n") + len(b"CSeq: 1 REGISTER\r")
    tcp.send(t + 300, "c", register[:cut1], "SIP REGISTER sip:example.org (segment 1/3)")
    tcp.send(t + 320, "c", register[cut1:cut2], "SIP REGISTER (segment 2/3)")
    tcp.send(t + 340, "c", register[cut2:], "SIP REGISTER (segment 3/3)")
    tcp.ack(t + 700, "s")
    t_reg_ok = t + 31 * MS
    register_ok = build(
        [
            "SIP/2.0 200 OK",
            "Via: SIP/2.0/TCP 10.0.0.10:49500;branch=z9hG4bK7f3a01",
            f"From: {carol};tag=c4r0l1",
            f"To: {carol};tag=r3g1",
            f"Call-ID: {reg_call_id}",
            "CSeq: 1 REGISTER",
            f"Contact: {carol_contact};expires=3600",
            f"Date: {http_date(t_reg_ok)}",
            "Content-Length: {len}",
        ]
    )
    tcp.send(t_reg_ok, "s", register_ok, "SIP/2.0 200 OK (REGISTER)")
    tcp.ack(t_reg_ok + 400, "c")

    # UDP: an application server subscribes to a shared AoR; the first NOTIFY is ~3.3 kB and
    # leaves the registrar as three IPv4 fragments.
    as_sub = build(
        [
            "SUBSCRIBE sip:helpdesk@example.org SIP/2.0",
            "Via: SIP/2.0/UDP 10.0.0.20:5060;branch=z9hG4bK51d2a0",
            "Max-Forwards: 70",
            "From: <sip:as.example.org>;tag=a5s1",
            "To: <sip:helpdesk@example.org>",
            "Call-ID: 5b6c7d8e@10.0.0.20",
            "CSeq: 101 SUBSCRIBE",
            "Contact: <sip:10.0.0.20:5060>",
            "Event: reg",
            "Accept: application/reginfo+xml",
            "Expires: 3600",
            "Content-Length: {len}",
        ]
    )
    as_sub_ok = response_to(
        as_sub,
        "200 OK",
        received=None,
        to_tag="h3lp",
        extra=("Contact: <sip:10.0.0.1:5060>", "Expires: 3600"),
    )
    big_notify = build(
        [
            "NOTIFY sip:10.0.0.20:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK90e4c1",
            "Max-Forwards: 70",
            "From: <sip:helpdesk@example.org>;tag=h3lp",
            "To: <sip:as.example.org>;tag=a5s1",
            "Call-ID: 5b6c7d8e@10.0.0.20",
            "CSeq: 7001 NOTIFY",
            "Contact: <sip:10.0.0.1:5060>",
            "Event: reg",
            "Subscription-State: active;expires=3600",
            "Content-Type: application/reginfo+xml",
            "Content-Length: {len}",
        ],
        helpdesk_reginfo(13),
    )
    big_notify_ok = response_to(big_notify, "200 OK", received=None)
    t_as = 2 * SEC
    cap.udp(t_as, AS_HOST, SIP_PORT, PROXY, SIP_PORT, as_sub, "SIP SUBSCRIBE sip:helpdesk@...")
    cap.udp(t_as + 24 * MS, PROXY, SIP_PORT, AS_HOST, SIP_PORT, as_sub_ok, "SIP/2.0 200 OK")
    fragments = cap.udp(
        t_as + 41 * MS,
        PROXY,
        SIP_PORT,
        AS_HOST,
        SIP_PORT,
        big_notify,
        f"SIP NOTIFY sip:10.0.0.20:5060 ({len(big_notify)} bytes)",
    )
    if len(fragments) != 3:
        raise RuntimeError(f"big NOTIFY should need 3 IPv4 fragments, got {len(fragments)}")
    cap.udp(
        t_as + 67 * MS,
        AS_HOST,
        SIP_PORT,
        PROXY,
        SIP_PORT,
        big_notify_ok,
        "SIP/2.0 200 OK (NOTIFY 7001)",
    )

    # RFC 5626 §3.5.1 keep-alive: CRLFCRLF ping, CRLF pong, then the next message.
    t_ka = 15 * SEC
    tcp.send(t_ka, "c", b"\r\n\r\n", "keep-alive CRLFCRLF (ping)")
    tcp.send(t_ka + 500, "s", b"\r\n", "keep-alive CRLF (pong)")

    t_sub = 16 * SEC
    sub_call_id = "0c1d5e6f7a8b@10.0.0.10"
    subscribe = build(
        [
            "SUBSCRIBE sip:carol@example.org SIP/2.0",
            "Via: SIP/2.0/TCP 10.0.0.10:49500;branch=z9hG4bK7f3a02",
            "Max-Forwards: 70",
            f"From: {carol};tag=5u8c1",
            f"To: {carol}",
            f"Call-ID: {sub_call_id}",
            "CSeq: 1 SUBSCRIBE",
            f"Contact: {carol_contact}",
            "Event: reg",
            "Accept: application/reginfo+xml",
            "Expires: 3600",
            "Content-Length: {len}",
        ]
    )
    tcp.send(t_sub, "c", subscribe, "SIP SUBSCRIBE sip:carol@example.org")
    subscribe_ok = response_to(
        subscribe,
        "200 OK",
        received=None,
        to_tag="n0t1",
        extra=("Contact: <sip:10.0.0.1:5060;transport=tcp>", "Expires: 3600"),
    )
    # The registrar bound Carol's contact at the REGISTER (t_reg_ok); the document reports it
    # with the REGISTER's Call-ID and CSeq (RFC 3680 §5.1 callid / cseq attributes).
    age = round((t_sub + 20 * MS - t_reg_ok) / SEC)
    reginfo = body_of(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">',
            '  <registration aor="sip:carol@example.org" id="c" state="active">',
            f'    <contact id="c1" state="active" event="registered" duration-registered="{age}"'
            f' expires="{3600 - age}" callid="{reg_call_id}" cseq="1">',
            "      <uri>sip:carol@10.0.0.10:49500;transport=tcp</uri>",
            "    </contact>",
            "  </registration>",
            "</reginfo>",
        ]
    )
    # Compact header forms (RFC 3261 §7.3.3, RFC 6665 §8.4 for "o"), including "l".
    notify = build(
        [
            "NOTIFY sip:carol@10.0.0.10:49500;transport=tcp SIP/2.0",
            "v: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK90e4c2",
            "Max-Forwards: 70",
            f"f: {carol};tag=n0t1",
            f"t: {carol};tag=5u8c1",
            f"i: {sub_call_id}",
            "CSeq: 1 NOTIFY",
            "m: <sip:10.0.0.1:5060;transport=tcp>",
            "o: reg",
            "Subscription-State: active;expires=3600",
            "c: application/reginfo+xml",
            "l: {len}",
        ],
        reginfo,
    )
    # Two messages in one segment: the notifier writes the 200 and the NOTIFY back to back.
    tcp.send(
        t_sub + 20 * MS,
        "s",
        subscribe_ok + notify,
        "SIP/2.0 200 OK (SUBSCRIBE) + SIP NOTIFY (one segment)",
    )
    notify_ok = response_to(notify, "200 OK", received=None)
    message = build(
        [
            "MESSAGE sip:bob@example.org SIP/2.0",
            "Via: SIP/2.0/TCP 10.0.0.10:49500;branch=z9hG4bK7f3a03",
            "Max-Forwards: 70",
            f"From: {carol};tag=m5g1",
            "To: <sip:bob@example.org>",
            "Call-ID: 4a5b6c7d8e9f@10.0.0.10",
            "CSeq: 1 MESSAGE",
            "Content-Type: text/plain",
            "Content-Length: {len}",
        ],
        b"Registered and subscribed; see you at 10.",
    )
    # Out of order: the 200 to the NOTIFY is sent first, but the capture sees the MESSAGE
    # (higher sequence numbers) 80 us before it.
    t_out = t_sub + 22 * MS
    seq_ok = tcp.reserve("c", notify_ok)
    seq_msg = tcp.reserve("c", message)
    tcp.emit(
        t_out, "c", seq_msg, PSH | ACK, message, "SIP MESSAGE sip:bob@example.org [out of order]"
    )
    tcp.emit(t_out + 80, "c", seq_ok, PSH | ACK, notify_ok, "SIP/2.0 200 OK (NOTIFY)")
    tcp.ack(t_out + 500, "s")
    # Retransmission: the 200 to the MESSAGE is lost beyond the capture point and resent after
    # the retransmission timeout with the same sequence number.
    message_ok = response_to(message, "200 OK", received=None, to_tag="b0b1")
    t_mok = t_out + 48 * MS
    seq_mok = tcp.reserve("s", message_ok)
    tcp.emit(t_mok, "s", seq_mok, PSH | ACK, message_ok, "SIP/2.0 200 OK (MESSAGE)")
    tcp.emit(
        t_mok + 214 * MS,
        "s",
        seq_mok,
        PSH | ACK,
        message_ok,
        "SIP/2.0 200 OK (MESSAGE) [TCP retransmission]",
    )
    tcp.ack(t_mok + 215 * MS, "c")
    tcp.close(t_mok + 5 * SEC, "c", 400)
    return cap


BUILDERS = (
    build_welcome_notice,
    build_welcome_notice_nbsp,
    build_welcome_notice_wiki,
    build_welcome_notice_corrected,
    build_message,
    build_message_nbsp,
    build_message_corrected,
    build_subscribe_tcp,
    build_subscribe_tcp_corrected,
    build_basic_call,
    build_tcp_mixed,
)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print each capture's frames")
    args = parser.parse_args(argv)
    for builder in BUILDERS:
        capture = builder()
        path = capture.write(OUT_DIR)
        print(f"wrote {path.name}: {len(capture.frames)} frames, {path.stat().st_size} bytes")
        if args.list:
            print(capture.listing())


if __name__ == "__main__":
    main()
