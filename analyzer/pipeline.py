"""The only module that knows the order of the stages.

capture frames -> :class:`~analyzer.net.packet.PacketDecoder` (link, IP,
fragments, tunnels, UDP/TCP/SCTP) -> per transport:

* UDP: one datagram is one message (RFC 3261 §18.3); HEP-encapsulated
  datagrams are unwrapped first and attributed to the inner addresses;
* TCP: :class:`~analyzer.net.tcpstream.StreamReassembler` then
  :class:`~analyzer.sip.framing.StreamFramer` per direction (which also
  handles WebSocket and recognises TLS);
* SCTP: DATA chunks, fragmented user messages joined by their B/E flags;

-> :func:`~analyzer.sip.message.parse_message`.

:class:`MessageExtractor` is sans-IO: it takes frames and returns messages.
:func:`read_messages` is the streaming convenience that opens a file; it asks
the capture reader to skip the RTP frames the decoder would reject anyway
(:data:`~analyzer.net.packet.PREFILTERS`).

Shares.  An extractor built with a :class:`Share` decodes every frame (IP
reassembly and TCP sequence state need them all) but keeps only its share of
the transport units: UDP and HEP datagrams by the number of the frame that
completed them, TCP by connection and SCTP by association
(:func:`flow_share`, the same for both directions).  The extractors of all
the shares of a capture, run side by side (:mod:`analyzer.parallel`),
produce each message exactly once, and every message and diagnostic comes
with an *order key* (:func:`order_key`) saying where a single extractor would
have emitted it, so that their outputs can be merged into exactly the
single extractor's order.  The one place where shares interact, the limit on
tracked TCP directions, is kept identical in every share: each extractor
tracks every direction's existence, and its state only for its own.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zlib import crc32

from .capture import Capture, Frame, open_capture
from .errors import Diagnostic, Level, SipParseError, TunnelError
from .net.flow import TRANSPORT_NAMES, Endpoint, Origin, Transport, endpoint
from .net.hep import decode_hep
from .net.packet import PREFILTERS, PacketDecoder
from .net.tcpstream import StreamReassembler
from .net.transport import FIN, RST, SYN, SctpData, TcpSegment, UdpDatagram, Unit
from .sip.framing import FramedMessage, StreamFramer
from .sip.message import MAX_START_LINE, SipMessage, match_start_line, parse_message

# A capture may hold a very large number of TCP connections (port scans, busy
# proxies).  Each tracked direction holds at most its reassembly and framing
# buffers, which are bounded by their own limits; this bounds how many there
# are.  When exceeded, the least recently started direction is flushed (its
# pending data is delivered and reported) and forgotten.  A direction that
# ended (FIN or RST) after its flow was found not to be SIP stays tracked, as
# a small marker, until a SYN reopens it, the limit pushes it out, or the
# capture ends: which directions are tracked then depends only on what every
# share of a capture sees (see the module docstring).
MAX_TCP_FLOWS = 20_000

# SCTP user messages fragmented over several DATA chunks are joined per
# association and stream; SIP messages are rarely above a few kilobytes, and
# RFC 4168 gives no other bound, so this caps memory per stream.
MAX_SCTP_MESSAGE_BYTES = 1 << 20

# HEP protocol-type 1 is SIP (HEP3 chunk 0x000b); other types (RTCP, logs,
# ...) are counted, not decoded.
HEP_PROTO_SIP = 1

_HEP_TRANSPORTS = {17: Transport.HEP_UDP, 6: Transport.HEP_TCP, 132: Transport.HEP_SCTP}

FlowKey = tuple[bytes, int, bytes, int]
SctpKey = tuple[bytes, int, bytes, int, int]

# Order keys (see order_key): the unit index and the phase sit in the low
# bits.  2**23 units per frame is far above what a frame can carry (the
# largest record is 256 KiB, an SCTP DATA chunk at least 16 bytes), and above
# MAX_TCP_FLOWS, which numbers the steps of the TCP flush at the end.
_KEY_SHIFT = 24

_UDP = Transport.UDP

# The Endpoint pairs of UDP messages, by addresses and ports: one lookup per
# message instead of two calls to endpoint().  Bounded like the endpoint
# cache itself (analyzer.net.flow.MAX_CACHED_ENDPOINTS).
MAX_CACHED_ENDPOINT_PAIRS = 65536

# What may follow the status code of a status line in the shape
# _is_sip_start settles itself (abnf.START_LINE_BYTES_RE allows these, NBSP
# and the end of the data).
_AFTER_STATUS = (b" ", b"\t", b"\r", b"\n")
# Bytes a Request-URI cannot hold (START_LINE_BYTES_RE: [^\x00-\x20\x7f]).
_NOT_IN_URI = bytes(range(0x21)) + b"\x7f"


def _is_sip_start(payload: bytes) -> bool:
    """Same answer as match_start_line, settling the common shapes faster.

    match_start_line's regular expression tries the separator after every
    byte of the Request-URI, which costs about a quarter of parsing the
    message.  "METHOD uri SIP/2.0" and "SIP/2.0 NNN ..." with single spaces
    and a CRLF within MAX_START_LINE bytes are recognised here with a few
    bytes methods; each is a shape the expression matches (tests compare
    both on every sample), and anything else is left to it.
    """
    if payload.startswith(b"SIP/2.0 "):
        if payload[8:11].isdigit() and payload[11:12] in _AFTER_STATUS:
            return True
        return match_start_line(payload)
    nl = payload.find(b"\r\n", 0, MAX_START_LINE)
    if nl > 0:
        parts = payload[:nl].split(b" ")
        if (
            len(parts) == 3
            and parts[2] == b"SIP/2.0"
            and parts[0].isalpha()
            and parts[1]
            and len(parts[1].translate(None, _NOT_IN_URI)) == len(parts[1])
        ):
            return True
    return match_start_line(payload)


# Origin records are made for every message.  As for the transport units
# (see analyzer.net.transport), a twin class with the same slots is filled
# and then switched to Origin, which is 3-4 times faster than the frozen
# dataclass's own __init__ and gives an identical record.
_OriginBuilder: Any = type("_OriginBuilder", (), {"__slots__": Origin.__dict__["__slots__"]})


def make_origin(
    frame: int,
    frames: tuple[int, ...],
    ts_ns: int,
    src: Endpoint,
    dst: Endpoint,
    transport: Transport,
    truncated: bool,
) -> Origin:
    """Same as ``Origin(...)`` with every field given, built faster."""
    o = _OriginBuilder()
    o.frame = frame
    o.frames = frames
    o.ts_ns = ts_ns
    o.src = src
    o.dst = dst
    o.transport = transport
    o.truncated = truncated
    o.__class__ = Origin
    record: Origin = o
    return record


@dataclass(frozen=True, slots=True)
class Share:
    """Share ``index`` (from 0) of ``count``: the part of a capture one extractor produces."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"share {self.index} of {self.count} does not exist")


def flow_share(src: bytes, sport: int, dst: bytes, dport: int, count: int) -> int:
    """The share a TCP connection or SCTP association belongs to, among ``count``.

    Symmetric in its two ends, so that both directions land in the same
    share, and the same in every process (CRC-32, not the salted ``hash``).
    """
    return (crc32(src) + crc32(dst) + sport + dport) % count


def order_key(frame: int, unit: int, phase: int = 1) -> int:
    """Where a single extractor emits something: sorting by it gives its order.

    ``frame`` is the frame being processed, ``unit`` the index of the
    transport unit in what the decoder returned for it, ``phase`` 0 for
    what a unit causes before its own processing (a TCP direction flushed to
    make room for a new one) and 1 for the rest.  At the end of the capture
    (:meth:`MessageExtractor.flush`) the frame numbers after the last frame
    stand for the steps of the flush.
    """
    return (frame << _KEY_SHIFT) | (unit << 1) | phase


@dataclass(slots=True)
class ExtractionStats:
    """Counts a report shows next to the messages.

    ``frames_read`` is the number of frames (packets) of the capture file,
    filled in by :class:`MessageReader` once the file has been read to its
    end; None for an extractor fed by other means.
    """

    sip_messages: int = 0
    unparsed: int = 0
    udp_not_sip: int = 0
    tcp_flows: int = 0
    tls_flows: int = 0
    websocket_flows: int = 0
    hep_packets: int = 0
    sctp_chunks: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    by_transport: dict[str, int] = field(default_factory=dict)
    frames_read: int | None = None


class _TcpEntry:
    """A tracked TCP direction without state: of another share, or closed."""

    __slots__ = ("closing",)

    def __init__(self, closing: bool = False) -> None:
        # Set once a FIN or RST was seen: a later SYN on the same addresses and
        # ports is a new connection (clients such as IMS phones reuse their
        # port for every connection), not data after the end of this one.
        self.closing = closing


class _TcpDirection(_TcpEntry):
    """A tracked TCP direction of this extractor's share, being decoded."""

    __slots__ = ("reassembler", "framer", "label", "reported_mode")

    def __init__(self, label: str) -> None:
        super().__init__()
        self.reassembler = StreamReassembler()
        self.framer = StreamFramer(label)
        self.label = label
        self.reported_mode = "detect"


def _flow_label(key: FlowKey) -> str:
    src, sport, dst, dport = key
    return f"{endpoint(src, sport)} -> {endpoint(dst, dport)}"


class MessageExtractor:
    """Turns capture frames into SIP messages.  Feed frames in file order.

    ``feed`` returns the messages completed by that frame, ``flush`` those
    completed by the end of the capture (streams still open, fragments still
    pending).  Problems that are not SIP messages end up in ``diagnostics``.

    With a ``share`` (see the module docstring), only that share's messages
    are produced; ``message_keys`` then gets the order key of each message
    returned, and ``diagnostic_keys`` that of each entry of ``diagnostics``
    (complete after ``flush``).  The packet decoder's own diagnostics, the
    same in every share, are then left in ``decoder.diagnostics`` for the
    caller to take from one share, instead of being appended at ``flush``.
    """

    def __init__(self, share: Share | None = None) -> None:
        self.decoder = PacketDecoder()
        self.diagnostics: list[Diagnostic] = []
        self.stats = ExtractionStats()
        self.share = share
        self.message_keys: list[int] | None = None if share is None else []
        self.diagnostic_keys: list[int] = []
        # Every tracked TCP direction, in the order they were started (the
        # order of the flush at the end, and of eviction at MAX_TCP_FLOWS).
        self._tcp: dict[FlowKey, _TcpEntry] = {}
        # Fragmented SCTP user messages: the order key of the chunk that began
        # each (its place in the flush at the end) and the chunks so far.
        self._sctp: dict[SctpKey, tuple[int, list[SctpData]]] = {}
        # The order key of what is being emitted (with a share only).
        self._key = 0
        self._endpoint_pairs: dict[FlowKey, tuple[Endpoint, Endpoint]] = {}
        if share is not None:
            # Plain datagrams of other shares' frames need not even be built.
            self.decoder.only_udp_frames(share.count, share.index)
        self.last_frame = 0
        """The number of the last frame fed (kept with a share only)."""

    # -- frames ------------------------------------------------------------

    def feed(self, frame: Frame) -> list[SipMessage]:
        frame_no, ts_ns, linktype, buf, off, caplen, orig_len = frame
        units = self.decoder.feed(frame_no, ts_ns, linktype, buf, off, caplen, orig_len)
        if self.share is not None:
            self.last_frame = frame_no
            if not units:
                return []
            return self._feed_share(units, frame_no)
        if not units:
            return []
        out: list[SipMessage] = []
        for unit in units:
            if type(unit) is UdpDatagram:
                self._udp(unit, frame_no, out)
            elif type(unit) is TcpSegment:
                self._tcp_segment(unit, out)
            elif type(unit) is SctpData:
                self._sctp_chunk(unit, frame_no, out)
        return out

    def _feed_share(self, units: list[Unit], frame_no: int) -> list[SipMessage]:
        assert self.share is not None
        index, count = self.share.index, self.share.count
        out: list[SipMessage] = []
        # order_key(frame_no, i), inlined: this runs for every unit.
        key = (frame_no << _KEY_SHIFT) | 1
        for unit in units:
            if type(unit) is UdpDatagram:
                if frame_no % count == index:
                    self._begin(key)
                    self._udp(unit, frame_no, out)
            elif type(unit) is TcpSegment:
                # Every share tracks every direction (see MAX_TCP_FLOWS).
                self._begin(key)
                if flow_share(unit.src, unit.sport, unit.dst, unit.dport, count) == index:
                    self._tcp_segment(unit, out)
                else:
                    self._tcp_elsewhere(unit, out)
            elif (
                type(unit) is SctpData
                and flow_share(unit.src, unit.sport, unit.dst, unit.dport, count) == index
            ):
                self._begin(key)
                self._sctp_chunk(unit, frame_no, out)
            key += 2
        return out

    def _begin(self, key: int) -> None:
        """Emit under ``key`` from now on: what came before belongs to the previous key."""
        if self.share is None:
            return
        keys = self.diagnostic_keys
        missing = len(self.diagnostics) - len(keys)
        if missing:
            keys.extend([self._key] * missing)
        self._key = key

    def _owns(self, src: bytes, sport: int, dst: bytes, dport: int) -> bool:
        share = self.share
        return share is None or flow_share(src, sport, dst, dport, share.count) == share.index

    def flush(self) -> list[SipMessage]:
        share = self.share
        # The steps of the flush, ordered after every frame (see order_key).
        end = self.last_frame + 1
        out: list[SipMessage] = []
        for i, unit in enumerate(self.decoder.flush()):
            self._begin(order_key(end, i))
            if type(unit) is UdpDatagram:
                if share is None or unit.frames[-1] % share.count == share.index:
                    self._udp(unit, unit.frames[-1], out)
            elif type(unit) is TcpSegment:
                if self._owns(unit.src, unit.sport, unit.dst, unit.dport):
                    self._tcp_segment(unit, out)
                else:
                    self._tcp_elsewhere(unit, out)
            elif type(unit) is SctpData and self._owns(unit.src, unit.sport, unit.dst, unit.dport):
                self._sctp_chunk(unit, unit.frames[-1], out)
        for position, (key, entry) in enumerate(list(self._tcp.items())):
            if type(entry) is _TcpDirection:
                self._begin(order_key(end + 1, position))
                self._close_tcp(key, out)
        self._tcp.clear()
        for skey, (first_key, chunks) in self._sctp.items():
            # In the order the user messages began: after the TCP flush, one
            # step per frame, as the frames are ordered.
            self._begin(first_key + ((end + 2) << _KEY_SHIFT))
            self.diagnostics.append(
                Diagnostic(
                    "sctp",
                    tuple(f for c in chunks for f in c.frames),
                    f"SCTP user message on stream {skey[4]} never completed "
                    f"({sum(len(c.payload) for c in chunks)} bytes without an end fragment)",
                )
            )
        self._sctp.clear()
        self._begin(self._key)
        if share is None:
            self.diagnostics.extend(self.decoder.diagnostics)
            self.decoder.diagnostics.clear()
        return out

    # -- UDP ---------------------------------------------------------------

    def _udp(self, dg: UdpDatagram, frame_no: int, out: list[SipMessage]) -> None:
        # The path of most messages, written out: no helper calls beyond the
        # start-line check, the endpoints and the parser.
        payload = dg.payload
        first = payload[0] if payload else 0
        if (first == 1 or first == 2 or (first == 72 and payload[:4] == b"HEP3")) and self._hep(
            dg, frame_no, out
        ):
            return
        stats = self.stats
        if not _is_sip_start(payload):
            stats.udp_not_sip += 1
            return
        pairs = self._endpoint_pairs
        addresses = (dg.src, dg.sport, dg.dst, dg.dport)
        pair = pairs.get(addresses)
        if pair is None:
            if len(pairs) >= MAX_CACHED_ENDPOINT_PAIRS:
                pairs.clear()
            pair = pairs[addresses] = (endpoint(dg.src, dg.sport), endpoint(dg.dst, dg.dport))
        ts_ns = dg.ts_ns
        o = _OriginBuilder()
        o.frame = frame_no
        o.frames = dg.frames
        o.ts_ns = ts_ns
        o.src, o.dst = pair
        o.transport = _UDP
        o.truncated = dg.truncated
        o.__class__ = Origin
        try:
            msg = parse_message(payload, o)
        except SipParseError as exc:
            self._unparsed(exc, o)
            return
        stats.sip_messages += 1
        if stats.first_ts_ns is None or ts_ns < stats.first_ts_ns:
            stats.first_ts_ns = ts_ns
        if stats.last_ts_ns is None or ts_ns > stats.last_ts_ns:
            stats.last_ts_ns = ts_ns
        by_transport = stats.by_transport
        by_transport["udp"] = by_transport.get("udp", 0) + 1
        out.append(msg)
        keys = self.message_keys
        if keys is not None:
            keys.append(self._key)

    def _hep(self, dg: UdpDatagram, frame_no: int, out: list[SipMessage]) -> bool:
        """Unwrap a HEP packet; False when the datagram is not HEP after all."""
        try:
            hep = decode_hep(dg.payload)
        except TunnelError as exc:
            if dg.payload[:4] == b"HEP3":
                self.diagnostics.append(Diagnostic("hep", dg.frames, exc.reason))
                return True
            return False  # a first byte of 1 or 2 is not proof of HEP v1/v2
        self.stats.hep_packets += 1
        if hep.proto_type != HEP_PROTO_SIP:
            return True
        if not _is_sip_start(hep.payload):
            self.diagnostics.append(
                Diagnostic(
                    "hep",
                    dg.frames,
                    "HEP packet says SIP but its payload does not start with a SIP start line",
                )
            )
            return True
        origin = make_origin(
            frame_no,
            dg.frames,
            # HEPv1 carries no time of its own: the frame's time is the best there is.
            hep.ts_ns or dg.ts_ns,
            endpoint(hep.src, hep.sport),
            endpoint(hep.dst, hep.dport),
            _HEP_TRANSPORTS.get(hep.ip_proto, Transport.HEP_OTHER),
            dg.truncated,
        )
        self._parse(hep.payload, origin, out)
        return True

    # -- TCP ---------------------------------------------------------------

    def _tcp_segment(self, seg: TcpSegment, out: list[SipMessage]) -> None:
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        flags = seg.flags
        entry = self._tcp.get(key)
        if entry is not None and entry.closing and flags & SYN:
            self._close_tcp(key, out)
            entry = None
        if entry is None:
            if not seg.payload and not flags & SYN:
                return  # a bare ACK/FIN/RST of a connection we never saw data on
            self._make_room(seg, out)
            label = _flow_label(key)
            direction = _TcpDirection(label)
            self._tcp[key] = direction
            self.stats.tcp_flows += 1
        elif type(entry) is _TcpDirection:
            direction = entry
        else:
            # Ended after its flow was found not to be SIP (see MAX_TCP_FLOWS):
            # nothing after that end would be decoded.
            return
        if flags & (FIN | RST):
            direction.closing = True
        framer = direction.framer
        if not framer.wants_data:
            if flags & (FIN | RST):
                # Report what is left and keep a marker in its place.
                self._finish_tcp(direction, key, out)
                self._tcp[key] = _TcpEntry(closing=True)
            return
        for event in direction.reassembler.feed(seg):
            for framed in framer.feed(event):
                self._framed(framed, key, out)
        self._note_mode(direction)
        self._collect_framer(direction)

    def _tcp_elsewhere(self, seg: TcpSegment, out: list[SipMessage]) -> None:
        """Track a direction of another share exactly as _tcp_segment would, without its state.

        What _tcp_segment does to the table depends only on the addresses,
        the flags and whether there is data, except for the marker it leaves
        at the end of a flow that is not SIP, which keeps the direction's
        place: so every share's table holds the same directions in the same
        order, and evicts the same one.
        """
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        flags = seg.flags
        entry = self._tcp.get(key)
        if entry is not None and entry.closing and flags & SYN:
            del self._tcp[key]
            entry = None
        if entry is None:
            if not seg.payload and not flags & SYN:
                return
            self._make_room(seg, out)
            entry = self._tcp[key] = _TcpEntry()
        if flags & (FIN | RST):
            entry.closing = True

    def _make_room(self, seg: TcpSegment, out: list[SipMessage]) -> None:
        """Before a new direction is tracked: forget the oldest one if the table is full."""
        if len(self._tcp) < MAX_TCP_FLOWS:
            return
        oldest = next(iter(self._tcp))
        key = self._key
        # What the flush emits comes before whatever the new segment completes.
        self._begin(key & ~1)
        if self._owns(*oldest):
            self.diagnostics.append(
                Diagnostic(
                    "tcp",
                    (seg.frame,),
                    f"more than {MAX_TCP_FLOWS} TCP directions open at once: "
                    f"flushing the oldest ({_flow_label(oldest)})",
                    Level.INFO,
                )
            )
            self._close_tcp(oldest, out)
        else:
            del self._tcp[oldest]
        self._begin(key)

    def _close_tcp(self, key: FlowKey, out: list[SipMessage]) -> None:
        entry = self._tcp.pop(key)
        if type(entry) is _TcpDirection:
            self._finish_tcp(entry, key, out)

    def _finish_tcp(self, direction: _TcpDirection, key: FlowKey, out: list[SipMessage]) -> None:
        if direction.framer.wants_data:
            for event in direction.reassembler.flush():
                for framed in direction.framer.feed(event):
                    self._framed(framed, key, out)
        for framed in direction.framer.flush():
            self._framed(framed, key, out)
        self._note_mode(direction)
        self._collect_framer(direction)

    def _note_mode(self, direction: _TcpDirection) -> None:
        mode = direction.framer.mode
        if mode != direction.reported_mode:
            if mode == "tls":
                self.stats.tls_flows += 1
            elif mode == "ws":
                self.stats.websocket_flows += 1
            direction.reported_mode = mode

    def _collect_framer(self, direction: _TcpDirection) -> None:
        diags = direction.framer.diagnostics
        if diags:
            self.diagnostics.extend(diags)
            diags.clear()

    def _framed(self, framed: FramedMessage, key: FlowKey, out: list[SipMessage]) -> None:
        src, sport, dst, dport = key
        origin = make_origin(
            framed.frame,
            framed.frames,
            framed.ts_ns,
            endpoint(src, sport),
            endpoint(dst, dport),
            framed.transport,
            framed.truncated,
        )
        self._parse(framed.data, origin, out)

    # -- SCTP --------------------------------------------------------------

    def _sctp_chunk(self, chunk: SctpData, frame_no: int, out: list[SipMessage]) -> None:
        self.stats.sctp_chunks += 1
        begin, end = chunk.flags & 0x02, chunk.flags & 0x01
        key = (chunk.src, chunk.sport, chunk.dst, chunk.dport, chunk.stream)
        if begin and end:
            data, frames, truncated = chunk.payload, chunk.frames, chunk.truncated
        else:
            pending = self._sctp.get(key)
            if begin or pending is None:
                if pending is not None:
                    self._sctp_drop(pending[1], "a new user message began before it ended")
                if not begin:
                    self.diagnostics.append(
                        Diagnostic(
                            "sctp",
                            chunk.frames,
                            "SCTP DATA fragment without its beginning (capture started late "
                            "or a chunk was lost)",
                        )
                    )
                    return
                # A message replacing a dropped one keeps its place in the
                # table, and so in the flush order.
                first_key = self._key if pending is None else pending[0]
                pending = self._sctp[key] = (first_key, [])
            chunks = pending[1]
            chunks.append(chunk)
            if sum(len(c.payload) for c in chunks) > MAX_SCTP_MESSAGE_BYTES:
                del self._sctp[key]
                self._sctp_drop(chunks, f"user message above {MAX_SCTP_MESSAGE_BYTES} bytes")
                return
            if not end:
                return
            del self._sctp[key]
            chunks.sort(key=lambda c: c.tsn)
            data = b"".join(c.payload for c in chunks)
            frames = tuple(sorted({f for c in chunks for f in c.frames}))
            truncated = any(c.truncated for c in chunks)
        if not _is_sip_start(data):
            self.diagnostics.append(
                Diagnostic("sctp", frames, "SCTP user message is not SIP", Level.INFO)
            )
            return
        origin = make_origin(
            frame_no,
            frames,
            chunk.ts_ns,
            endpoint(chunk.src, chunk.sport),
            endpoint(chunk.dst, chunk.dport),
            Transport.SCTP,
            truncated,
        )
        self._parse(data, origin, out)

    def _sctp_drop(self, chunks: list[SctpData], why: str) -> None:
        self.diagnostics.append(
            Diagnostic("sctp", tuple(f for c in chunks for f in c.frames), f"SCTP: {why}")
        )

    # -- SIP ---------------------------------------------------------------

    def _parse(self, data: bytes, origin: Origin, out: list[SipMessage]) -> None:
        try:
            msg = parse_message(data, origin)
        except SipParseError as exc:
            self._unparsed(exc, origin)
            return
        stats = self.stats
        stats.sip_messages += 1
        ts_ns = origin.ts_ns
        if stats.first_ts_ns is None or ts_ns < stats.first_ts_ns:
            stats.first_ts_ns = ts_ns
        if stats.last_ts_ns is None or ts_ns > stats.last_ts_ns:
            stats.last_ts_ns = ts_ns
        name = TRANSPORT_NAMES[origin.transport]
        stats.by_transport[name] = stats.by_transport.get(name, 0) + 1
        out.append(msg)
        keys = self.message_keys
        if keys is not None:
            keys.append(self._key)

    def _unparsed(self, exc: SipParseError, origin: Origin) -> None:
        self.stats.unparsed += 1
        self.diagnostics.append(
            Diagnostic("sip", origin.frames, f"undecodable SIP message: {exc.reason}")
        )


class MessageReader:
    """Streams the SIP messages of one capture file.

    Iterate it for :data:`~analyzer.sip.message.SipMessage` records in the
    order they were completed; after (or during) iteration, ``diagnostics``
    holds what could not be decoded and ``capture`` the reader's own notes.

    While it works between two messages it pauses the cyclic garbage
    collector, and gives it back as it found it at each message it hands
    out: the records and the temporaries that make them form no cycles, and
    on the 1M-packet benchmark capture the collections they triggered made
    ``list(read_messages(path))`` take 7.6-8.5 s instead of 3.9-4.5 s.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.capture: Capture = open_capture(path, PREFILTERS)
        self.extractor = MessageExtractor()

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.capture.diagnostics + self.extractor.diagnostics

    @property
    def stats(self) -> ExtractionStats:
        return self.extractor.stats

    def __iter__(self) -> Iterator[SipMessage]:
        # The collector's state as the consumer left it, and whether this
        # generator has paused it.  It is given back at each yield, with
        # nothing allocated in between (an allocation would start the
        # collection the work since the last yield has made due), and on
        # the way out when an error or close() comes from inside.
        enabled = gc.isenabled()
        gc.disable()
        paused = enabled
        try:
            for msgs in self._batches():
                for msg in msgs:
                    if paused:
                        gc.enable()
                        paused = False
                    yield msg
                    enabled = gc.isenabled()
                    gc.disable()
                    paused = enabled
        finally:
            if paused:
                gc.enable()
            self.capture.close()
            self.extractor.decoder.set_prefiltered(self.capture.frames_skipped)
            self.extractor.stats.frames_read = self.capture.frames_read

    def _batches(self) -> Iterator[list[SipMessage]]:
        """The messages each frame completes, then those of the end of the capture."""
        feed = self.extractor.feed
        for frame in self.capture:
            msgs = feed(frame)
            if msgs:
                yield msgs
        yield self.extractor.flush()


def read_messages(path: str | os.PathLike[str]) -> MessageReader:
    """Open a capture (pcap, pcapng, either gzip-compressed) and stream its SIP messages.

    Raises :class:`~analyzer.errors.CaptureError` at once when the file is not
    a usable capture.
    """
    return MessageReader(path)
