"""Byte builders for packet-decoding tests, and a minimal capture-file reader.

Each builder returns the bytes of one header with its payload, so packets
read inside out::

    ether(MAC_B, MAC_A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp(5060, 5060, SIP)))

Addresses are given as text (``"10.0.0.1"``, ``"2001:db8::1"``, ``"02:00:00:00:00:01"``)
or as packed bytes.  Lengths and checksums are filled in unless a test
overrides them to build a malformed packet.
"""

from __future__ import annotations

import gzip
import ipaddress
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"

SIP_INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@example.com>\r\n"
    b"From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)
SIP_OPTIONS = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"
RTP = bytes([0x80, 0x00, 0x12, 0x34]) + bytes(8) + bytes(160)


def mac(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        assert len(value) == 6
        return value
    return bytes(int(part, 16) for part in value.split(":"))


def addr(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return ipaddress.ip_address(value).packed


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# -- link layers ---------------------------------------------------------------


def ether(
    dst: str | bytes,
    src: str | bytes,
    type: int,
    payload: bytes,
    vlans: Sequence[int | tuple[int, int]] = (),
) -> bytes:
    """Ethernet II; ``vlans`` are VLAN ids (802.1Q tags) or ``(tpid, vid)`` pairs, outer first."""
    out = mac(dst) + mac(src)
    for tag in vlans:
        tpid, vid = (0x8100, tag) if isinstance(tag, int) else tag
        out += struct.pack(">H", tpid) + struct.pack(">H", vid & 0x0FFF)
    return out + struct.pack(">H", type) + payload


def sll(
    type: int, payload: bytes, pkttype: int = 0, hatype: int = 1, src: str | bytes = MAC_A
) -> bytes:
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16 bytes)."""
    address = mac(src) + b"\0\0"
    return struct.pack(">HHH8sH", pkttype, hatype, 6, address, type) + payload


def sll2(
    type: int,
    payload: bytes,
    ifindex: int = 2,
    hatype: int = 1,
    pkttype: int = 0,
    src: str | bytes = MAC_A,
) -> bytes:
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20 bytes)."""
    address = mac(src) + b"\0\0"
    return struct.pack(">HHIHBB8s", type, 0, ifindex, hatype, pkttype, 6, address) + payload


def null_loop(family: int, payload: bytes, byteorder: Literal["little", "big"] = "little") -> bytes:
    """BSD loopback (LINKTYPE_NULL/LOOP): 4-byte address family."""
    return family.to_bytes(4, byteorder) + payload


def mpls(labels: Sequence[int], payload: bytes) -> bytes:
    """An MPLS label stack (RFC 3032), bottom-of-stack set on the last label."""
    out = b""
    for i, label in enumerate(labels):
        bottom = 1 if i == len(labels) - 1 else 0
        out += struct.pack(">I", (label << 12) | (bottom << 8) | 64)
    return out + payload


# -- IP ------------------------------------------------------------------------


def ipv4(
    src: str | bytes,
    dst: str | bytes,
    proto: int,
    payload: bytes,
    ident: int = 1,
    frag_offset: int = 0,
    mf: bool = False,
    options: bytes = b"",
    df: bool = False,
    ttl: int = 64,
    total_length: int | None = None,
) -> bytes:
    """IPv4; ``frag_offset`` in bytes (a multiple of 8), ``options`` padded to 4 bytes."""
    options += b"\0" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(payload) if total_length is None else total_length
    assert frag_offset % 8 == 0
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset >> 3)
    header = struct.pack(
        ">BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, flags, ttl, proto, 0, addr(src), addr(dst)
    )
    header += options
    header = header[:10] + struct.pack(">H", checksum(header)) + header[12:]
    return header + payload


def ipv6(
    src: str | bytes,
    dst: str | bytes,
    nh: int,
    payload: bytes,
    ext: Sequence[tuple[int, bytes]] = (),
    payload_length: int | None = None,
) -> bytes:
    """IPv6 with extension headers.

    ``ext`` lists ``(header type, body)`` in order; the builder adds each
    header's Next Header (and length byte, padding the body to the header's
    unit) so the chain ends with ``nh``.  Use :func:`ipv6_frag` for a
    Fragment header.
    """
    types = [t for t, _ in ext] + [nh]
    chain = b""
    for (htype, body), next_type in zip(ext, types[1:], strict=True):
        if htype == 44:
            chain += bytes([next_type]) + body
        elif htype == 51:
            body += b"\0" * (-(len(body) + 2) % 4)
            chain += bytes([next_type, (len(body) + 2) // 4 - 2]) + body
        else:
            body += b"\0" * (-(len(body) + 2) % 8)
            chain += bytes([next_type, (len(body) + 2) // 8 - 1]) + body
    plen = len(chain) + len(payload) if payload_length is None else payload_length
    first = types[0]
    header = struct.pack(">IHBB16s16s", 6 << 28, plen, first, 64, addr(src), addr(dst))
    return header + chain + payload


def ipv6_frag(offset: int, more: bool, ident: int) -> tuple[int, bytes]:
    """A Fragment extension header entry for :func:`ipv6` (offset in bytes)."""
    assert offset % 8 == 0
    return 44, struct.pack(">BHI", 0, offset | (1 if more else 0), ident)


def fragment_ipv4(
    src: str, dst: str, proto: int, payload: bytes, size: int, ident: int = 7
) -> list[bytes]:
    """Split ``payload`` into IPv4 fragments carrying ``size`` bytes each (a multiple of 8)."""
    out = []
    for start in range(0, len(payload), size):
        piece = payload[start : start + size]
        more = start + size < len(payload)
        out.append(ipv4(src, dst, proto, piece, ident=ident, frag_offset=start, mf=more))
    return out


def fragment_ipv6(
    src: str, dst: str, nh: int, payload: bytes, size: int, ident: int = 7
) -> list[bytes]:
    """Split ``payload`` into IPv6 fragments carrying ``size`` bytes each."""
    out = []
    for start in range(0, len(payload), size):
        piece = payload[start : start + size]
        more = start + size < len(payload)
        out.append(ipv6(src, dst, nh, piece, ext=[ipv6_frag(start, more, ident)]))
    return out


# -- transport -----------------------------------------------------------------


def udp(sport: int, dport: int, payload: bytes, length: int | None = None) -> bytes:
    ulen = 8 + len(payload) if length is None else length
    return struct.pack(">HHHH", sport, dport, ulen, 0) + payload


def tcp(
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    options: bytes = b"",
) -> bytes:
    options += b"\x01" * (-len(options) % 4)  # NOP padding
    offset = (20 + len(options)) // 4
    header = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, 65535, 0, 0)
    return header + options + payload


def sctp_data(
    tsn: int, stream: int, ppid: int, data: bytes, flags: int = 0x03, ssn: int = 0
) -> bytes:
    """One SCTP DATA chunk (RFC 9260 §3.3.1), padded to 4 bytes."""
    chunk = struct.pack(">BBHIHHI", 0, flags, 16 + len(data), tsn, stream, ssn, ppid) + data
    return chunk + b"\0" * (-len(chunk) % 4)


def sctp_idata(
    tsn: int, stream: int, mid: int, ppid_or_fsn: int, data: bytes, flags: int = 0x03
) -> bytes:
    """One SCTP I-DATA chunk (RFC 8260 §2.1), padded to 4 bytes."""
    chunk = struct.pack(">BBHIHHII", 64, flags, 20 + len(data), tsn, stream, 0, mid, ppid_or_fsn)
    chunk += data
    return chunk + b"\0" * (-len(chunk) % 4)


def sctp_chunk(ctype: int, flags: int, value: bytes) -> bytes:
    chunk = struct.pack(">BBH", ctype, flags, 4 + len(value)) + value
    return chunk + b"\0" * (-len(chunk) % 4)


def sctp(sport: int, dport: int, *chunks: bytes, vtag: int = 0x01020304) -> bytes:
    return struct.pack(">HHII", sport, dport, vtag, 0) + b"".join(chunks)


# -- tunnels -------------------------------------------------------------------


def gre(
    protocol: int,
    payload: bytes,
    key: int | None = None,
    seq: int | None = None,
    checksum_present: bool = False,
    version: int = 0,
) -> bytes:
    flags = version
    rest = b""
    if checksum_present:
        flags |= 0x8000
        rest += b"\0\0\0\0"
    if key is not None:
        flags |= 0x2000
        rest += struct.pack(">I", key)
    if seq is not None:
        flags |= 0x1000
        rest += struct.pack(">I", seq)
    return struct.pack(">HH", flags, protocol) + rest + payload


def gre_pptp(payload: bytes, seq: int | None = 1, ack: int | None = 2) -> bytes:
    """Enhanced GRE (PPTP, RFC 2637 §4.1) carrying PPP: Key always, Sequence and Ack optional."""
    flags = 0x2001 | (0x1000 if seq is not None else 0) | (0x0080 if ack is not None else 0)
    out = struct.pack(">HHHH", flags, 0x880B, len(payload), 38992)
    if seq is not None:
        out += struct.pack(">I", seq)
    if ack is not None:
        out += struct.pack(">I", ack)
    return out + payload


def erspan2(payload: bytes, session: int = 1, vlan: int = 0, index: int = 0) -> bytes:
    """ERSPAN type II header (version 1) + the mirrored frame."""
    word1 = (1 << 28) | (vlan << 16) | session
    return struct.pack(">II", word1, index & 0xFFFFF) + payload


def erspan3(
    payload: bytes,
    session: int = 1,
    timestamp: int = 0,
    frame_type: int = 0,
    subheader: bytes | None = None,
    hw_id: int = 0,
) -> bytes:
    """ERSPAN type III header (version 2), optional 8-byte platform subheader + the frame."""
    word1 = (2 << 28) | session
    last = (frame_type << 10) | (hw_id << 4) | (1 if subheader is not None else 0)
    out = struct.pack(">IIHH", word1, timestamp, 0, last)
    if subheader is not None:
        assert len(subheader) == 8
        out += subheader
    return out + payload


def vxlan(vni: int, payload: bytes, flags: int = 0x08) -> bytes:
    return struct.pack(">BxxxI", flags, vni << 8) + payload


def gtpu(
    payload: bytes,
    teid: int = 1,
    msg_type: int = 255,
    seq: int | None = None,
    ext: Sequence[tuple[int, bytes]] = (),
    flags: int | None = None,
) -> bytes:
    """GTPv1-U; ``ext`` lists extension headers as ``(type, content)``.

    The content of each extension header is padded so that the header
    (length byte + content + next-type byte) is a multiple of 4 bytes.
    """
    optional = b""
    bits = 0x30  # version 1, PT 1
    if seq is not None or ext:
        bits |= 0x02 if seq is not None else 0
        bits |= 0x04 if ext else 0
        first_type = ext[0][0] if ext else 0
        optional = struct.pack(">HBB", seq or 0, 0, first_type)
        types = [t for t, _ in ext[1:]] + [0]
        for (_, content), next_type in zip(ext, types[: len(ext)], strict=True):
            content += b"\0" * (-(len(content) + 2) % 4)
            optional += bytes([(len(content) + 2) // 4]) + content + bytes([next_type])
    if flags is not None:
        bits = flags
    body = optional + payload
    return struct.pack(">BBHI", bits, msg_type, len(body), teid) + body


# -- HEP -----------------------------------------------------------------------


def hep_chunk(ctype: int, value: bytes, vendor: int = 0) -> bytes:
    return struct.pack(">HHH", vendor, ctype, 6 + len(value)) + value


def hep3(
    src: str | bytes,
    dst: str | bytes,
    sport: int,
    dport: int,
    payload: bytes,
    ts_sec: int = 1_700_000_000,
    ts_usec: int = 123456,
    proto: int = 17,
    proto_type: int = 1,
    capture_id: int | None = 2001,
    compress: str | None = None,
    extra: Sequence[bytes] = (),
    skip: Sequence[int] = (),
) -> bytes:
    """A HEPv3 packet; ``compress`` 'zlib' or 'gzip' sends chunk 16; ``skip`` omits chunk types."""
    src_b, dst_b = addr(src), addr(dst)
    v6 = len(src_b) == 16
    chunks = [
        (1, bytes([10 if v6 else 2])),
        (2, bytes([proto])),
        (5 if v6 else 3, src_b),
        (6 if v6 else 4, dst_b),
        (7, struct.pack(">H", sport)),
        (8, struct.pack(">H", dport)),
        (9, struct.pack(">I", ts_sec)),
        (10, struct.pack(">I", ts_usec)),
        (11, bytes([proto_type])),
    ]
    if capture_id is not None:
        chunks.append((12, struct.pack(">I", capture_id)))
    if compress == "zlib":
        chunks.append((16, zlib.compress(payload)))
    elif compress == "gzip":
        chunks.append((16, gzip.compress(payload)))
    else:
        chunks.append((15, payload))
    body = b"".join(hep_chunk(t, v) for t, v in chunks if t not in skip) + b"".join(extra)
    return b"HEP3" + struct.pack(">H", 6 + len(body)) + body


def hep2(
    src: str | bytes,
    dst: str | bytes,
    sport: int,
    dport: int,
    payload: bytes,
    ts_sec: int = 1_700_000_000,
    ts_usec: int = 654321,
    capture_id: int = 101,
    proto: int = 17,
    version: int = 2,
) -> bytes:
    """A HEPv2 (or, with ``version=1``, HEPv1) packet as captagent writes it."""
    src_b, dst_b = addr(src), addr(dst)
    family = 10 if len(src_b) == 16 else 2
    hlen = 8 + 2 * len(src_b)
    out = struct.pack(">BBBBHH", version, hlen, family, proto, sport, dport) + src_b + dst_b
    if version == 2:
        out += struct.pack("<IIH2x", ts_sec, ts_usec, capture_id)
    return out + payload


# -- capture files -------------------------------------------------------------

CaptureRecord = tuple[int, int, int, bytes, int]  # frame, ts_ns, linktype, data, orig_len


def read_capture(path: Path) -> Iterator[CaptureRecord]:
    """Frames of a pcap or pcapng file (optionally gzipped), for tests over real captures."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:4] == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(raw)
    else:
        yield from _read_pcap(raw)


def _read_pcap(raw: bytes) -> Iterator[CaptureRecord]:
    magic = raw[:4]
    orders = {
        b"\xd4\xc3\xb2\xa1": ("<", 1000),
        b"\xa1\xb2\xc3\xd4": (">", 1000),
        b"\x4d\x3c\xb2\xa1": ("<", 1),
        b"\xa1\xb2\x3c\x4d": (">", 1),
    }
    order, scale = orders[magic]
    (linktype,) = struct.unpack_from(order + "I", raw, 20)
    linktype &= 0x0FFFFFFF
    pos = 24
    frame = 0
    while pos + 16 <= len(raw):
        sec, frac, caplen, orig = struct.unpack_from(order + "IIII", raw, pos)
        pos += 16
        frame += 1
        yield frame, sec * 1_000_000_000 + frac * scale, linktype, raw[pos : pos + caplen], orig
        pos += caplen


def _read_pcapng(raw: bytes) -> Iterator[CaptureRecord]:
    pos = 0
    order = "<"
    interfaces: list[tuple[int, int]] = []  # (linktype, ns per tick)
    frame = 0
    while pos + 12 <= len(raw):
        btype = struct.unpack_from(order + "I", raw, pos)[0]
        if btype == 0x0A0D0D0A:
            order = "<" if raw[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        (blen,) = struct.unpack_from(order + "I", raw, pos + 4)
        body = raw[pos + 8 : pos + blen - 4]
        if btype == 1:  # IDB
            linktype = struct.unpack_from(order + "H", body, 0)[0]
            tick = 1000  # microseconds by default
            opos = 8
            while opos + 4 <= len(body):
                code, olen = struct.unpack_from(order + "HH", body, opos)
                if code == 0:
                    break
                if code == 9:
                    res = body[opos + 4]
                    tick = 10 ** (9 - res) if not res & 0x80 else max(1, 10**9 >> (res & 0x7F))
                opos += 4 + olen + (-olen % 4)
            interfaces.append((linktype, tick))
        elif btype == 6:  # EPB
            iface, high, low, caplen, orig = struct.unpack_from(order + "IIIII", body, 0)
            linktype, tick = interfaces[iface]
            frame += 1
            yield frame, ((high << 32) | low) * tick, linktype, body[20 : 20 + caplen], orig
        elif btype == 3:  # SPB
            (orig,) = struct.unpack_from(order + "I", body, 0)
            linktype, _ = interfaces[0]
            frame += 1
            yield frame, 0, linktype, body[4 : 4 + orig], orig
        pos += blen
