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
:func:`read_messages` is the streaming convenience that opens a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from .capture import Capture, Frame, open_capture
from .errors import Diagnostic, Level, SipParseError, TunnelError
from .net.flow import Origin, Transport, endpoint
from .net.hep import decode_hep
from .net.packet import PacketDecoder
from .net.tcpstream import StreamReassembler
from .net.transport import FIN, RST, SYN, SctpData, TcpSegment, UdpDatagram
from .sip.framing import FramedMessage, StreamFramer
from .sip.message import SipMessage, match_start_line, parse_message

# A capture may hold a very large number of TCP connections (port scans, busy
# proxies).  Each tracked direction holds at most its reassembly and framing
# buffers, which are bounded by their own limits; this bounds how many there
# are.  When exceeded, the least recently started connection is flushed (its
# pending data is delivered and reported) and forgotten.
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


@dataclass(slots=True)
class ExtractionStats:
    """Counts a report shows next to the messages."""

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


class _TcpDirection:
    __slots__ = ("reassembler", "framer", "label", "reported_mode", "closing")

    def __init__(self, label: str) -> None:
        self.reassembler = StreamReassembler()
        self.framer = StreamFramer(label)
        self.label = label
        self.reported_mode = "detect"
        # Set once a FIN or RST was seen: a later SYN on the same addresses and
        # ports is a new connection (clients such as IMS phones reuse their
        # port for every connection), not data after the end of this one.
        self.closing = False


class MessageExtractor:
    """Turns capture frames into SIP messages.  Feed frames in file order.

    ``feed`` returns the messages completed by that frame, ``flush`` those
    completed by the end of the capture (streams still open, fragments still
    pending).  Problems that are not SIP messages end up in ``diagnostics``.
    """

    def __init__(self) -> None:
        self.decoder = PacketDecoder()
        self.diagnostics: list[Diagnostic] = []
        self.stats = ExtractionStats()
        self._tcp: dict[FlowKey, _TcpDirection] = {}
        self._sctp: dict[tuple[bytes, int, bytes, int, int], list[SctpData]] = {}
        self._framer_diag_seen: dict[int, int] = {}

    # -- frames ------------------------------------------------------------

    def feed(self, frame: Frame) -> list[SipMessage]:
        frame_no, ts_ns, linktype, buf, off, caplen, orig_len = frame
        units = self.decoder.feed(frame_no, ts_ns, linktype, buf, off, caplen, orig_len)
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

    def flush(self) -> list[SipMessage]:
        out: list[SipMessage] = []
        for unit in self.decoder.flush():
            if type(unit) is UdpDatagram:
                self._udp(unit, unit.frames[-1], out)
            elif type(unit) is TcpSegment:
                self._tcp_segment(unit, out)
            elif type(unit) is SctpData:
                self._sctp_chunk(unit, unit.frames[-1], out)
        for key in list(self._tcp):
            self._close_tcp(key, out)
        for skey, chunks in self._sctp.items():
            self.diagnostics.append(
                Diagnostic(
                    "sctp",
                    tuple(f for c in chunks for f in c.frames),
                    f"SCTP user message on stream {skey[4]} never completed "
                    f"({sum(len(c.payload) for c in chunks)} bytes without an end fragment)",
                )
            )
        self._sctp.clear()
        self.diagnostics.extend(self.decoder.diagnostics)
        self.decoder.diagnostics.clear()
        return out

    # -- UDP ---------------------------------------------------------------

    def _udp(self, dg: UdpDatagram, frame_no: int, out: list[SipMessage]) -> None:
        payload = dg.payload
        first = payload[:1]
        hep_like = first == b"H" and payload[:4] == b"HEP3" or first in (b"\x01", b"\x02")
        if hep_like and self._hep(dg, frame_no, out):
            return
        if not match_start_line(payload):
            self.stats.udp_not_sip += 1
            return
        origin = Origin(
            frame_no,
            dg.frames,
            dg.ts_ns,
            endpoint(dg.src, dg.sport),
            endpoint(dg.dst, dg.dport),
            Transport.UDP,
            dg.truncated,
        )
        self._parse(payload, origin, out)

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
        if not match_start_line(hep.payload):
            self.diagnostics.append(
                Diagnostic(
                    "hep",
                    dg.frames,
                    "HEP packet says SIP but its payload does not start with a SIP start line",
                )
            )
            return True
        origin = Origin(
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
        direction = self._tcp.get(key)
        if direction is not None and direction.closing and seg.flags & SYN:
            self._close_tcp(key, out)
            direction = None
        if direction is None:
            if not seg.payload and not seg.flags & SYN:
                return  # a bare ACK/FIN/RST of a connection we never saw data on
            if len(self._tcp) >= MAX_TCP_FLOWS:
                oldest = next(iter(self._tcp))
                self.diagnostics.append(
                    Diagnostic(
                        "tcp",
                        (seg.frame,),
                        f"more than {MAX_TCP_FLOWS} TCP directions open at once: "
                        f"flushing the oldest ({self._tcp[oldest].label})",
                        Level.INFO,
                    )
                )
                self._close_tcp(oldest, out)
            label = f"{endpoint(seg.src, seg.sport)} -> {endpoint(seg.dst, seg.dport)}"
            direction = self._tcp[key] = _TcpDirection(label)
            self.stats.tcp_flows += 1
        if seg.flags & (FIN | RST):
            direction.closing = True
        framer = direction.framer
        if not framer.wants_data:
            if seg.flags & (FIN | RST):
                self._close_tcp(key, out)
            return
        for event in direction.reassembler.feed(seg):
            for framed in framer.feed(event):
                self._framed(framed, seg, out)
        self._note_mode(direction)
        self._collect_framer(direction)

    def _close_tcp(self, key: FlowKey, out: list[SipMessage]) -> None:
        direction = self._tcp.pop(key)
        if direction.framer.wants_data:
            for event in direction.reassembler.flush():
                for framed in direction.framer.feed(event):
                    self._framed(framed, None, out, key)
        for framed in direction.framer.flush():
            self._framed(framed, None, out, key)
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

    def _framed(
        self,
        framed: FramedMessage,
        seg: TcpSegment | None,
        out: list[SipMessage],
        key: FlowKey | None = None,
    ) -> None:
        if seg is not None:
            src, sport, dst, dport = seg.src, seg.sport, seg.dst, seg.dport
        else:
            assert key is not None
            src, sport, dst, dport = key
        origin = Origin(
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
                if pending:
                    self._sctp_drop(pending, "a new user message began before it ended")
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
                pending = self._sctp[key] = []
            pending.append(chunk)
            if sum(len(c.payload) for c in pending) > MAX_SCTP_MESSAGE_BYTES:
                self._sctp_drop(
                    self._sctp.pop(key), f"user message above {MAX_SCTP_MESSAGE_BYTES} bytes"
                )
                return
            if not end:
                return
            del self._sctp[key]
            pending.sort(key=lambda c: c.tsn)
            data = b"".join(c.payload for c in pending)
            frames = tuple(sorted({f for c in pending for f in c.frames}))
            truncated = any(c.truncated for c in pending)
        if not match_start_line(data):
            self.diagnostics.append(
                Diagnostic("sctp", frames, "SCTP user message is not SIP", Level.INFO)
            )
            return
        origin = Origin(
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
            self.stats.unparsed += 1
            self.diagnostics.append(
                Diagnostic("sip", origin.frames, f"undecodable SIP message: {exc.reason}")
            )
            return
        stats = self.stats
        stats.sip_messages += 1
        if stats.first_ts_ns is None:
            stats.first_ts_ns = origin.ts_ns
        stats.last_ts_ns = origin.ts_ns
        name = origin.transport.value
        stats.by_transport[name] = stats.by_transport.get(name, 0) + 1
        out.append(msg)


class MessageReader:
    """Streams the SIP messages of one capture file.

    Iterate it for :data:`~analyzer.sip.message.SipMessage` records in the
    order they were completed; after (or during) iteration, ``diagnostics``
    holds what could not be decoded and ``capture`` the reader's own notes.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.capture: Capture = open_capture(path)
        self.extractor = MessageExtractor()

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.capture.diagnostics + self.extractor.diagnostics

    @property
    def stats(self) -> ExtractionStats:
        return self.extractor.stats

    def __iter__(self) -> Iterator[SipMessage]:
        feed = self.extractor.feed
        try:
            for frame in self.capture:
                msgs = feed(frame)
                if msgs:
                    yield from msgs
            yield from self.extractor.flush()
        finally:
            self.capture.close()


def read_messages(path: str | os.PathLike[str]) -> MessageReader:
    """Open a capture (pcap, pcapng, either gzip-compressed) and stream its SIP messages.

    Raises :class:`~analyzer.errors.CaptureError` at once when the file is not
    a usable capture.
    """
    return MessageReader(path)
