"""HEP (Homer Encapsulation Protocol): SIP mirrored by a capture agent.

Capture agents (captagent, heplify, Kamailio/OpenSIPS siptrace, FreeSWITCH)
send each SIP message they see to a collector, wrapped with the original
addresses, ports and time.  A capture of that collector's traffic holds
HEP packets over UDP (usually port 9060) or TCP; :func:`decode_hep` unwraps
one, :func:`split_hep_stream` cuts a TCP byte stream into packets.

HEPv3 (https://github.com/sipcapture/HEP, "HEP3 Network Protocol
Specification" rev. 12) is a magic ``HEP3``, a total length and a list of
typed chunks, all in network byte order.  HEPv1 and HEPv2 are fixed C
structures with no magic, documented only by the senders' code; see
:func:`decode_hep` for their layout and byte order.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from analyzer.errors import TunnelError

HEP3_MAGIC = b"HEP3"

# A decompressed HEP payload larger than this is refused: SIP messages are a
# few kilobytes, tens with large bodies (SDP with many media, MESSAGE, NOTIFY
# of a big dialog-info), and 1 MiB is the cap the pipeline puts on an SCTP
# user message too; deflate can expand about 1000-fold, so an unbounded
# inflate of one hostile chunk could take a gigabyte.
MAX_HEP_PAYLOAD = 1 << 20

# HEPv3 chunk types of vendor 0 (the generic chunks of the specification).
CHUNK_IP_FAMILY = 1
CHUNK_IP_PROTO = 2
CHUNK_IPV4_SRC = 3
CHUNK_IPV4_DST = 4
CHUNK_IPV6_SRC = 5
CHUNK_IPV6_DST = 6
CHUNK_SRC_PORT = 7
CHUNK_DST_PORT = 8
CHUNK_TS_SEC = 9
CHUNK_TS_USEC = 10
CHUNK_PROTO_TYPE = 11
CHUNK_CAPTURE_ID = 12
CHUNK_AUTH_KEY = 14
CHUNK_PAYLOAD = 15
CHUNK_COMPRESSED_PAYLOAD = 16
CHUNK_CORRELATION_ID = 17

PROTO_TYPE_SIP = 1

# Address families as senders write them (Linux values: AF_INET, AF_INET6).
AF_INET = 2
AF_INET6 = 10

_HEP3_HEADER = struct.Struct(">4sH")
_HEP3_HEADER_LEN = _HEP3_HEADER.size
_CHUNK = struct.Struct(">HHH")
_CHUNK_HEADER_LEN = _CHUNK.size
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

# HEPv1/v2: struct hep_hdr {u8 version, u8 length, u8 family, u8 proto,
# u16 sport, u16 dport} with the ports in network order, then the addresses.
_HEP12_HEADER = struct.Struct(">BBBBHH")
# HEPv2 only: struct hep_timehdr {u32 tv_sec, u32 tv_usec, u16 captid}, 12
# bytes with the C padding, copied from the host's memory without htonl():
# little-endian, as every sender runs on x86 or ARM.  Kamailio's sipcapture
# reads it back the same way, and so does the sipcapture Wireshark plugin
# for the capture id.
_HEP2_TIME = struct.Struct("<IIH2x")


@dataclass(frozen=True, slots=True)
class HepPacket:
    """One decoded HEP packet.

    ``src``/``dst`` are packed addresses (4 or 16 bytes) of the original
    packet, ``ip_proto`` its IP protocol (17 UDP, 6 TCP, 132 SCTP),
    ``ts_ns`` the time the agent captured it, ``proto_type`` what the payload
    is (1: SIP), ``capture_id`` the agent's id when sent.
    """

    version: int
    family: int
    ip_proto: int
    src: bytes
    dst: bytes
    sport: int
    dport: int
    ts_ns: int
    proto_type: int
    capture_id: int | None
    payload: bytes


def decode_hep(payload: bytes) -> HepPacket:
    """Decode one HEP packet (version 1, 2 or 3).

    HEPv3: ``HEP3``, u16 total length (including these 6 bytes), then chunks
    of u16 vendor, u16 type, u16 length (including the 6-byte chunk
    header).  Chunks of other vendors and unknown types are skipped.  The
    addresses, ports, timestamp seconds, protocol type and a payload
    (chunk 15, or 16 compressed with zlib or gzip) are required.

    HEPv1/v2 (captagent 4, Kamailio ``siptrace``): u8 version, u8 header
    length (the 8 fixed bytes plus the addresses: 16 for IPv4, 40 for IPv6),
    u8 family, u8 IP protocol, u16 source and destination port (network
    order), source and destination address; HEPv2 then has u32 seconds, u32
    microseconds, u16 capture id and 2 bytes of padding, in little-endian
    order (see ``_HEP2_TIME``); then the payload.  HEPv1 carries no time:
    its ``ts_ns`` is 0, and the capture time of the frame is the best there is.

    Raises :class:`TunnelError` when the bytes are not a complete, well-formed
    HEP packet.
    """
    if payload[:4] == HEP3_MAGIC:
        return _decode_hep3(payload)
    if payload[:1] in (b"\x01", b"\x02"):
        return _decode_hep12(payload)
    raise TunnelError(f"not a HEP packet (starts with {payload[:4]!r})")


def split_hep_stream(data: bytes) -> tuple[list[bytes], int]:
    """Cut consecutive HEPv3 packets off the front of a TCP byte stream.

    Returns the complete packets and the number of bytes they took; the
    caller keeps the rest for the next call.  Raises :class:`TunnelError`
    when the stream does not start with ``HEP3`` or a packet's length is
    shorter than its header; when that happens after some packets were cut,
    those are returned and the next call raises.
    """
    packets: list[bytes] = []
    pos = 0
    end = len(data)
    while end - pos >= _HEP3_HEADER_LEN:
        magic, length = _HEP3_HEADER.unpack_from(data, pos)
        if magic != HEP3_MAGIC or length < _HEP3_HEADER_LEN:
            if packets:
                break
            if magic != HEP3_MAGIC:
                raise TunnelError(f"HEP stream out of step: {magic!r} where HEP3 was expected")
            raise TunnelError(f"HEP3 packet length {length} is shorter than its header")
        if end - pos < length:
            break
        packets.append(data[pos : pos + length])
        pos += length
    if pos == 0 and not HEP3_MAGIC.startswith(data[:4]):
        raise TunnelError(f"HEP stream out of step: {data[:4]!r} where HEP3 was expected")
    return packets, pos


def _decode_hep3(data: bytes) -> HepPacket:
    have = len(data)
    if have < _HEP3_HEADER_LEN:
        raise TunnelError(f"HEP3 header cut: {have} of {_HEP3_HEADER_LEN} bytes")
    _, total = _HEP3_HEADER.unpack_from(data, 0)
    if total < _HEP3_HEADER_LEN:
        raise TunnelError(f"HEP3 total length {total} is shorter than its header")
    if total > have:
        raise TunnelError(f"HEP3 packet cut: {have} of {total} bytes")
    family = ip_proto = proto_type = -1
    src4 = dst4 = src6 = dst6 = body = None
    sport = dport = ts_sec = -1
    ts_usec = 0
    capture_id: int | None = None
    compressed = False
    pos = _HEP3_HEADER_LEN
    # Each chunk takes at least its 6-byte header, so this ends with the packet.
    while total - pos >= _CHUNK_HEADER_LEN:
        vendor, ctype, clen = _CHUNK.unpack_from(data, pos)
        if clen < _CHUNK_HEADER_LEN:
            raise TunnelError(f"HEP3 chunk type {ctype} with length {clen}")
        stop = pos + clen
        if stop > total:
            raise TunnelError(f"HEP3 chunk type {ctype} runs past the packet end")
        start = pos + _CHUNK_HEADER_LEN
        size = clen - _CHUNK_HEADER_LEN
        pos = stop
        if vendor != 0:
            continue
        if ctype == CHUNK_PAYLOAD:
            body = data[start:stop]
            compressed = False
        elif ctype == CHUNK_COMPRESSED_PAYLOAD:
            body = data[start:stop]
            compressed = True
        elif ctype == CHUNK_IP_FAMILY:
            family = _uint(data, start, size, ctype)
        elif ctype == CHUNK_IP_PROTO:
            ip_proto = _uint(data, start, size, ctype)
        elif ctype == CHUNK_IPV4_SRC:
            src4 = _address(data, start, size, 4)
        elif ctype == CHUNK_IPV4_DST:
            dst4 = _address(data, start, size, 4)
        elif ctype == CHUNK_IPV6_SRC:
            src6 = _address(data, start, size, 16)
        elif ctype == CHUNK_IPV6_DST:
            dst6 = _address(data, start, size, 16)
        elif ctype == CHUNK_SRC_PORT:
            sport = _uint(data, start, size, ctype)
        elif ctype == CHUNK_DST_PORT:
            dport = _uint(data, start, size, ctype)
        elif ctype == CHUNK_TS_SEC:
            ts_sec = _uint(data, start, size, ctype)
        elif ctype == CHUNK_TS_USEC:
            ts_usec = _uint(data, start, size, ctype)
        elif ctype == CHUNK_PROTO_TYPE:
            proto_type = _uint(data, start, size, ctype)
        elif ctype == CHUNK_CAPTURE_ID:
            capture_id = _uint(data, start, size, ctype)
        # Auth key (14), correlation id (17) and anything newer: not needed.
    if pos != total:
        raise TunnelError(f"HEP3 packet ends inside a chunk header ({total - pos} bytes left)")
    # Family: the chunk when present, else whichever address pair was sent.
    if family == AF_INET6 or (family < 0 and src6 is not None):
        src, dst, family = src6, dst6, AF_INET6
    elif family == AF_INET or family < 0:
        src, dst, family = src4, dst4, AF_INET
    else:
        raise TunnelError(f"HEP3 address family {family} is neither IPv4 (2) nor IPv6 (10)")
    missing = [
        name
        for name, value in (
            ("IP protocol", ip_proto),
            ("source port", sport),
            ("destination port", dport),
            ("timestamp", ts_sec),
            ("protocol type", proto_type),
        )
        if value < 0
    ]
    if src is None or dst is None:
        missing.insert(0, "addresses")
    if body is None:
        missing.append("payload")
    if missing or src is None or dst is None or body is None:
        raise TunnelError("HEP3 packet without " + ", ".join(missing))
    if compressed:
        body = _inflate(body)
    return HepPacket(
        3,
        family,
        ip_proto,
        src,
        dst,
        sport,
        dport,
        ts_sec * 1_000_000_000 + ts_usec * 1_000,
        proto_type,
        capture_id,
        body,
    )


def _address(data: bytes, start: int, size: int, want: int) -> bytes:
    if size != want:
        raise TunnelError(f"HEP3 IPv{4 if want == 4 else 6} address chunk of {size} bytes")
    return data[start : start + size]


def _uint(data: bytes, start: int, size: int, ctype: int) -> int:
    # Integer chunks are 1, 2 or 4 bytes by type; senders disagree on the
    # capture id (u16 in older agents, u32 in the specification), so the
    # chunk's own length decides.
    if size == 1:
        return data[start]
    if size == 2:
        return int(_U16.unpack_from(data, start)[0])
    if size == 4:
        return int(_U32.unpack_from(data, start)[0])
    raise TunnelError(f"HEP3 chunk type {ctype} has {size} bytes, not an integer size")


def _inflate(body: bytes) -> bytes:
    # wbits 32 + 15 accepts a zlib or a gzip header.
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_HEP_PAYLOAD)
    except zlib.error as exc:
        raise TunnelError(f"HEP3 compressed payload does not inflate: {exc}") from None
    if inflater.unconsumed_tail:
        raise TunnelError(f"HEP3 compressed payload inflates past {MAX_HEP_PAYLOAD} bytes")
    if not inflater.eof:
        raise TunnelError("HEP3 compressed payload is cut")
    return out


def _decode_hep12(data: bytes) -> HepPacket:
    have = len(data)
    if have < _HEP12_HEADER.size:
        raise TunnelError(f"HEPv1/v2 header cut: {have} bytes")
    version, hlen, family, ip_proto, sport, dport = _HEP12_HEADER.unpack_from(data, 0)
    if family == AF_INET:
        alen = 4
    elif family == AF_INET6:
        alen = 16
    else:
        raise TunnelError(f"HEPv{version} address family {family} is neither 2 nor 10")
    pos = _HEP12_HEADER.size
    if hlen != pos + 2 * alen:
        raise TunnelError(
            f"HEPv{version} header length {hlen} does not match family {family} "
            f"({pos + 2 * alen} expected)"
        )
    if have < hlen:
        raise TunnelError(f"HEPv{version} header cut: {have} of {hlen} bytes")
    src = data[pos : pos + alen]
    dst = data[pos + alen : pos + 2 * alen]
    pos = hlen
    ts_ns = 0
    capture_id: int | None = None
    if version == 2:
        if have < pos + _HEP2_TIME.size:
            raise TunnelError("HEPv2 time header cut")
        sec, usec, capture_id = _HEP2_TIME.unpack_from(data, pos)
        ts_ns = sec * 1_000_000_000 + usec * 1_000
        pos += _HEP2_TIME.size
    return HepPacket(
        version,
        family,
        ip_proto,
        src,
        dst,
        sport,
        dport,
        ts_ns,
        # HEPv1/v2 carried nothing but SIP.
        PROTO_TYPE_SIP,
        capture_id,
        data[pos:],
    )
