"""Transport-layer units handed up from packet decoding.

Addresses stay packed (``bytes`` of 4 or 16) on this path: these records are
made for every SIP candidate and every TCP segment, and converting addresses is
left to the moment a SIP message is built (:func:`analyzer.net.flow.endpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass

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
