"""Transport-layer units handed up from packet decoding.

Addresses stay packed (``bytes`` of 4 or 16) on this path: these records are
made for every SIP candidate and every TCP segment, and converting addresses is
left to the moment a SIP message is built (:func:`analyzer.net.flow.endpoint`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from analyzer.errors import TransportError

# TCP flag bits (RFC 9293 §3.1).
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """A UDP datagram that may carry SIP (or HEP), after IP reassembly.

    ``frames`` lists every frame that carried a fragment of it; the last one
    completed it.  ``truncated`` means the capture's snapshot length cut the
    payload, so ``payload`` is shorter than the datagram on the wire.
    """

    frames: tuple[int, ...]
    ts_ns: int
    src: bytes
    sport: int
    dst: bytes
    dport: int
    payload: bytes
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """One TCP segment.

    ``wire_len`` is the payload length the IP header announces; when the
    snapshot length cut the frame, ``len(payload) < wire_len`` and the missing
    bytes are a gap in the stream.
    """

    frame: int
    ts_ns: int
    src: bytes
    sport: int
    dst: bytes
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes
    wire_len: int

    @property
    def truncated(self) -> bool:
        return len(self.payload) < self.wire_len


@dataclass(frozen=True, slots=True)
class SctpData:
    """The user data of one SCTP DATA chunk (RFC 9260 §3.3.1)."""

    frames: tuple[int, ...]
    ts_ns: int
    src: bytes
    sport: int
    dst: bytes
    dport: int
    stream: int
    tsn: int
    ppid: int
    # Chunk flags: bit 0 E (ending fragment), bit 1 B (beginning), bit 2 U (unordered).
    flags: int
    payload: bytes
    truncated: bool = False


Unit = UdpDatagram | TcpSegment | SctpData


# -- decoding ------------------------------------------------------------------

UDP_HEADER_LEN = 8
TCP_HEADER_LEN = 20
SCTP_COMMON_HEADER_LEN = 12
SCTP_CHUNK_DATA = 0  # RFC 9260 §3.3.1
SCTP_CHUNK_IDATA = 64  # RFC 8260 §2.1
_SCTP_DATA_HEADER_LEN = 16
_SCTP_IDATA_HEADER_LEN = 20

_UDP = struct.Struct(">HHH")
_TCP = struct.Struct(">HHIIBB")
_SCTP_PORTS = struct.Struct(">HH")
_SCTP_CHUNK = struct.Struct(">BBH")
_SCTP_DATA = struct.Struct(">IHxxI")  # TSN, stream id, (stream seq), PPID
_SCTP_IDATA = struct.Struct(">IHxxxxxxI")  # TSN, stream id, (reserved, MID), PPID/FSN


def decode_udp(buf: bytes, pos: int, end: int, wire_end: int) -> tuple[int, int, int, int, bool]:
    """Decode the UDP header at ``buf[pos:end]``.

    ``end`` is the end of the IP payload as captured, ``wire_end`` where the
    IP header says it ends (beyond ``end`` when the capture cut the packet).
    Returns ``(sport, dport, payload_off, payload_end, truncated)`` with the
    payload trimmed to the UDP Length (RFC 768: "the length in octets of this
    user datagram including this header and the data") and ``truncated`` set
    when the capture holds less of it.  Raises :class:`TransportError` when
    the header is cut or the Length is impossible.
    """
    have = end - pos
    if have < UDP_HEADER_LEN:
        raise TransportError(f"UDP header cut: {have} of {UDP_HEADER_LEN} bytes captured")
    sport, dport, length = _UDP.unpack_from(buf, pos)
    if length == 0:
        # An IPv6 jumbogram (RFC 2675 §4): the IP length stands.
        stop = wire_end
    elif length < UDP_HEADER_LEN:
        raise TransportError(f"UDP length {length} is shorter than the UDP header")
    elif length > wire_end - pos:
        raise TransportError(
            f"UDP length {length} exceeds the {wire_end - pos} bytes of its IP payload"
        )
    else:
        stop = pos + length
    if stop > end:
        return sport, dport, pos + UDP_HEADER_LEN, end, True
    return sport, dport, pos + UDP_HEADER_LEN, stop, False


def decode_tcp(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int, int, int]:
    """Decode the TCP header at ``buf[pos:end]`` (RFC 9293 §3.1).

    Returns ``(sport, dport, seq, ack, flags, payload_off)``; ``flags`` is the
    low byte of the flags field (CWR ECE URG ACK PSH RST SYN FIN).  Raises
    :class:`TransportError` when the header (with its options) is cut or its
    Data Offset is below 5.
    """
    have = end - pos
    if have < TCP_HEADER_LEN:
        raise TransportError(f"TCP header cut: {have} of {TCP_HEADER_LEN} bytes captured")
    sport, dport, seq, ack, offset, flags = _TCP.unpack_from(buf, pos)
    hlen = (offset >> 4) * 4
    if hlen < TCP_HEADER_LEN:
        raise TransportError(f"TCP data offset {hlen} is below the minimum of 20")
    if have < hlen:
        raise TransportError(f"TCP header with options cut: {have} of {hlen} bytes captured")
    return sport, dport, seq, ack, flags, pos + hlen


def decode_sctp(
    frames: tuple[int, ...],
    ts_ns: int,
    src: bytes,
    dst: bytes,
    buf: bytes,
    pos: int,
    end: int,
    wire_end: int,
) -> tuple[list[SctpData], int]:
    """Decode an SCTP packet: one :class:`SctpData` per DATA (and I-DATA) chunk.

    RFC 9260 §3.2: chunks follow the 12-byte common header, each "Chunk
    Length ... includes Chunk Type, Chunk Flags, Chunk Length, and Chunk Value
    fields" but not the padding to a multiple of four bytes.  For I-DATA
    (RFC 8260 §2.1) the PPID is only present on the first fragment (B flag);
    later fragments carry 0.  Returns the DATA records and the number of other
    chunks.  ``end`` and ``wire_end`` are as for :func:`decode_udp`: when the
    capture cut the packet, the chunk that runs past ``end`` is returned cut
    and marked; otherwise a chunk running past the end is an error.  Raises
    :class:`TransportError` for a cut header or a bad chunk length.
    """
    have = end - pos
    if have < SCTP_COMMON_HEADER_LEN:
        raise TransportError(
            f"SCTP common header cut: {have} of {SCTP_COMMON_HEADER_LEN} bytes captured"
        )
    sport, dport = _SCTP_PORTS.unpack_from(buf, pos)
    pos += SCTP_COMMON_HEADER_LEN
    out: list[SctpData] = []
    others = 0
    truncated = wire_end > end
    # Each chunk consumes at least four bytes, so this ends with the packet.
    while end - pos >= 4:
        ctype, cflags, clen = _SCTP_CHUNK.unpack_from(buf, pos)
        if clen < 4:
            raise TransportError(f"SCTP chunk type {ctype} with length {clen}")
        cut = pos + clen > end
        if cut and not truncated:
            raise TransportError(
                f"SCTP chunk type {ctype} of {clen} bytes runs past the packet end"
            )
        if ctype in (SCTP_CHUNK_DATA, SCTP_CHUNK_IDATA):
            hlen = _SCTP_DATA_HEADER_LEN if ctype == SCTP_CHUNK_DATA else _SCTP_IDATA_HEADER_LEN
            if clen < hlen:
                raise TransportError(f"SCTP DATA chunk length {clen} is below {hlen}")
            if end - pos < hlen:
                raise TransportError(f"SCTP DATA chunk header cut: {end - pos} of {hlen} bytes")
            if ctype == SCTP_CHUNK_DATA:
                tsn, stream, ppid = _SCTP_DATA.unpack_from(buf, pos + 4)
            else:
                tsn, stream, ppid = _SCTP_IDATA.unpack_from(buf, pos + 4)
                if not cflags & 0x02:
                    ppid = 0  # the field is the Fragment Sequence Number here
            stop = end if cut else pos + clen
            out.append(
                make_sctp_data(
                    frames,
                    ts_ns,
                    src,
                    sport,
                    dst,
                    dport,
                    stream,
                    tsn,
                    ppid,
                    cflags & 0x07,
                    buf[pos + hlen : stop],
                    cut,
                )
            )
        else:
            others += 1
        if cut:
            break
        pos += (clen + 3) & ~3
    return out, others


# -- fast construction ---------------------------------------------------------
#
# A frozen dataclass's __init__ sets each field through object.__setattr__,
# 1-2 us for these records, and they are built for every SIP candidate and TCP
# segment of captures with millions of packets.  The make_* functions below
# fill a plain (unfrozen) class with exactly the same __slots__ through
# ordinary attribute stores, then switch the object's class to the record
# class.  CPython allows __class__ assignment between heap types of identical
# layout (same base, same __slots__), and the result is the same record as
# the constructor's: equal, hashable, frozen from then on.  The builders are
# derived from the records' own __slots__, so a field added to a record is
# added to its builder too (and a make_* that forgets to set it fails its
# test, which compares every make_* with the plain constructor).


def _builder(cls: type) -> Any:
    return type(f"_{cls.__name__}Builder", (), {"__slots__": cls.__dict__["__slots__"]})


_UdpBuilder = _builder(UdpDatagram)
_TcpBuilder = _builder(TcpSegment)


def make_udp_datagram(
    frames: tuple[int, ...],
    ts_ns: int,
    src: bytes,
    sport: int,
    dst: bytes,
    dport: int,
    payload: bytes,
    truncated: bool,
) -> UdpDatagram:
    """Same as ``UdpDatagram(...)`` with every field given, built faster."""
    unit = _UdpBuilder()
    unit.frames = frames
    unit.ts_ns = ts_ns
    unit.src = src
    unit.sport = sport
    unit.dst = dst
    unit.dport = dport
    unit.payload = payload
    unit.truncated = truncated
    unit.__class__ = UdpDatagram
    record: UdpDatagram = unit  # (no typing.cast: a call per record)
    return record


def make_tcp_segment(
    frame: int,
    ts_ns: int,
    src: bytes,
    sport: int,
    dst: bytes,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes,
    wire_len: int,
) -> TcpSegment:
    """Same as ``TcpSegment(...)``, built faster."""
    unit = _TcpBuilder()
    unit.frame = frame
    unit.ts_ns = ts_ns
    unit.src = src
    unit.sport = sport
    unit.dst = dst
    unit.dport = dport
    unit.seq = seq
    unit.ack = ack
    unit.flags = flags
    unit.payload = payload
    unit.wire_len = wire_len
    unit.__class__ = TcpSegment
    record: TcpSegment = unit
    return record


def make_sctp_data(
    frames: tuple[int, ...],
    ts_ns: int,
    src: bytes,
    sport: int,
    dst: bytes,
    dport: int,
    stream: int,
    tsn: int,
    ppid: int,
    flags: int,
    payload: bytes,
    truncated: bool,
) -> SctpData:
    """Same as ``SctpData(...)`` with every field given (rare enough to build plainly)."""
    return SctpData(
        frames, ts_ns, src, sport, dst, dport, stream, tsn, ppid, flags, payload, truncated
    )
