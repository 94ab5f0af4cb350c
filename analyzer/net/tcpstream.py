"""TCP stream reassembly: one direction of one connection, segments to in-order bytes.

:class:`StreamReassembler` turns the :class:`~analyzer.net.transport.TcpSegment`
records of one direction into a sequence of events over *stream offsets*
(64-bit byte positions counted from the first data byte):

* :class:`StreamData`: contiguous bytes, delivered in stream order;
* :class:`StreamGap`: bytes the capture does not have, at a known offset;
* :class:`StreamEnd`: the stream is over (FIN, RST or end of capture).

Up to the end of the stream, every byte position from 0 on is covered by
exactly one :class:`StreamData` or :class:`StreamGap`, in order, so the
consumer (the SIP framer) never looks at sequence numbers and always knows
where a loss is.  Bytes that arrive after the end are reported as gaps too.

The design follows the offset-range reassembly of aioquic
(``quic/stream.py: QuicStreamReceiver.handle_frame`` with its ``RangeSet``):
a fast path for in-order data, out-of-order data kept by offset and released
once the hole before it is filled, duplicate prefixes trimmed.  Unlike a QUIC
receiver, a capture point may never see a lost segment at all, so holes are
also given up on (after :data:`REORDER_WINDOW_NS` of capture time, or when the
buffer limits are reached, or at the end of the capture) and reported as gaps.

Gap reasons (:attr:`StreamGap.reason`):

``snaplen``         the snapshot length cut the segment's payload;
``timeout``         a hole was not filled within :data:`REORDER_WINDOW_NS`;
``reorder-limit``   out-of-order data exceeded :data:`MAX_REORDER_BYTES` or
                    :data:`MAX_REORDER_SEGMENTS` while a hole was open;
``capture-end``     a hole was still open when the capture ended;
``rst``             a hole was still open when the connection was reset;
``after-fin`` / ``after-rst``   bytes sent beyond the end of the stream.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from analyzer.net.transport import FIN, RST, SYN, TcpSegment

# Out-of-order data held while waiting for a hole to be filled.  A sender
# cannot have more bytes in flight than the receiver's window, and signalling
# connections rarely open windows beyond a few hundred KiB; 1 MiB beyond a hole
# therefore means the missing segment will not come (the capture point missed
# it), and holding more would only let one hostile flow pin memory.
MAX_REORDER_BYTES = 1 << 20

# The same bound counted in segments: tiny segments would otherwise make the
# out-of-order list (and the cost of inserting into it) grow to a million
# entries within the byte limit.  1024 full-sized segments is ~1.5 MB of
# Ethernet payload, comparable to MAX_REORDER_BYTES.
MAX_REORDER_SEGMENTS = 1024

# How long (capture time) a hole may stay open before it is reported as a gap.
# RFC 6298 §2.1 starts the retransmission timer at 1 s and §5.5 doubles it on
# each expiry, so a segment lost before the capture point is normally resent
# within 1 s, and again 2 s later: 3 s covers the first two retransmissions.
# A segment lost *after* the capture point was seen already and leaves no hole;
# one the capture point missed while the receiver got it is never resent, and
# waiting longer would only delay (never improve) what follows the hole.  The
# age is checked whenever a segment of this direction arrives (a sans-IO stage
# has no clock of its own), and at flush().
REORDER_WINDOW_NS = 3_000_000_000

_SEQ_MOD = 1 << 32
_SEQ_MASK = _SEQ_MOD - 1
_SEQ_HALF = 1 << 31
_SYN_FIN_RST = SYN | FIN | RST


@dataclass(frozen=True, slots=True)
class StreamData:
    """Contiguous, in-order stream bytes starting at stream offset ``offset``.

    Offset 0 is the first byte after the ISN, or the first byte seen when the
    capture starts in the middle of the connection.  ``frames`` are the frames
    whose bytes these are; ``frame`` and ``ts_ns`` are those of the frame whose
    arrival made them available in order (with reordering, the one that filled
    the hole; after a hole that was given up, the latest-arriving segment among
    those released).  ``truncated`` is set when the snapshot length cut the segment
    these bytes come from (the cut part follows as a ``snaplen`` gap).
    """

    offset: int
    data: bytes
    frames: tuple[int, ...]
    frame: int
    ts_ns: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class StreamGap:
    """``length`` bytes at stream offset ``offset`` that the capture does not have.

    ``frame``/``ts_ns`` point at the evidence: the cut segment for ``snaplen``,
    otherwise the first segment received beyond the hole (or the segment sent
    after the end of the stream).  ``reason`` is one of the tokens listed in
    the module documentation.
    """

    offset: int
    length: int
    frame: int
    ts_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The stream ended: ``reason`` is ``"fin"``, ``"rst"`` or ``"capture-end"``."""

    frame: int
    ts_ns: int
    reason: str


StreamEvent = StreamData | StreamGap | StreamEnd

# An out-of-order piece waiting for the hole before it: (start, end, data,
# frame, ts_ns, truncated, arrival).  ``data`` is None for bytes known to be
# missing (a snapshot-length cut), which are delivered as a gap in their turn.
# ``arrival`` numbers the segments in capture order.
_Piece = tuple[int, int, bytes | None, int, int, bool, int]


class StreamReassembler:
    """Reassembles ONE direction of one TCP connection.

    Feed every segment of that direction in capture order; call :meth:`flush`
    at the end of the capture.  Bytes that are never delivered are reported as
    :class:`StreamGap`, except retransmissions of bytes already delivered and
    bytes that precede the start of the stream (a capture that began in the
    middle of the connection), which are counted in :attr:`ignored_segments`
    and :attr:`ignored_bytes`.
    """

    __slots__ = (
        "_started",
        "_seq0",
        "_next_seq",
        "_next_off",
        "_starts",
        "_pieces",
        "_pending_bytes",
        "_hole_since",
        "_fin_off",
        "_fin_frame",
        "_fin_ts",
        "_beyond_fin",
        "_ended",
        "_end_reason",
        "_arrivals",
        "_last_frame",
        "_last_ts",
        "ignored_segments",
        "ignored_bytes",
    )

    def __init__(self) -> None:
        self._started = False
        # Sequence number of stream offset 0; offset of the next byte to deliver.
        self._seq0 = 0
        self._next_off = 0
        # The sequence number that takes the fast path, or -1 (never matches).
        self._next_seq = -1
        # Out-of-order pieces, sorted by start, never overlapping; every start
        # is beyond _next_off (there is a hole before the first one).
        self._starts: list[int] = []
        self._pieces: list[_Piece] = []
        self._pending_bytes = 0
        self._hole_since = 0
        self._fin_off = -1
        self._fin_frame = 0
        self._fin_ts = 0
        # Ranges received beyond the FIN: (start, end, frame, ts_ns), reported
        # as gaps once the stream has ended.
        self._beyond_fin: list[tuple[int, int, int, int]] = []
        self._ended = False
        self._end_reason = ""
        self._arrivals = 0
        self._last_frame = 0
        self._last_ts = 0
        self.ignored_segments = 0
        self.ignored_bytes = 0

    def feed(self, seg: TcpSegment) -> list[StreamEvent]:
        """Take one segment of this direction; return the events it makes available."""
        # Fast path: the next in-order segment while nothing is buffered, with
        # no flag that changes the stream's state and no snapshot-length cut.
        # (_next_seq is -1 whenever anything else needs attention: see _fast_key.)
        payload = seg.payload
        if (
            seg.seq == self._next_seq
            and not seg.flags & _SYN_FIN_RST
            and len(payload) == seg.wire_len
        ):
            self._last_frame = seg.frame
            self._last_ts = seg.ts_ns
            self._arrivals += 1
            if not payload:
                return []
            n = len(payload)
            off = self._next_off
            self._next_off = off + n
            self._next_seq = (seg.seq + n) & _SEQ_MASK
            return [StreamData(off, payload, (seg.frame,), seg.frame, seg.ts_ns, False)]
        return self._feed_slow(seg)

    def flush(self) -> list[StreamEvent]:
        """End of capture: open holes become gaps, buffered data is delivered, then the end.

        A reassembler that never saw a segment with data or flags returns nothing.
        """
        out: list[StreamEvent] = []
        if not self._started or self._ended:
            return out
        while self._pieces:
            self._give_up_hole("capture-end", out)
        self._check_end(out)
        if not self._ended:
            if self._fin_off > self._next_off:
                # The FIN arrived but bytes before it never did.
                out.append(
                    StreamGap(
                        self._next_off,
                        self._fin_off - self._next_off,
                        self._fin_frame,
                        self._fin_ts,
                        "capture-end",
                    )
                )
                self._next_off = self._fin_off
                self._check_end(out)
            else:
                self._end(out, self._last_frame, self._last_ts, "capture-end")
        return out

    # -- internals -------------------------------------------------------------

    def _feed_slow(self, seg: TcpSegment) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        flags = seg.flags
        frame = seg.frame
        ts = seg.ts_ns
        self._last_frame = frame
        self._last_ts = ts
        self._arrivals += 1
        payload = seg.payload
        wire_len = max(seg.wire_len, len(payload))
        # A SYN occupies one sequence number; its data (TCP Fast Open) follows.
        data_seq = (seg.seq + 1) & _SEQ_MASK if flags & SYN else seg.seq
        if not self._started:
            if not (wire_len or flags & _SYN_FIN_RST):
                # A bare ACK says where the sender is but carries nothing; the
                # stream is anchored on the first segment that does.
                return out
            # "SYN sets the ISN": offset 0 is ISN+1.  Without a SYN, the capture
            # began mid-connection and the first byte seen is offset 0; what came
            # before is not reported (the framer resynchronises on its own).
            self._started = True
            self._seq0 = data_seq
        start = self._unwrap(data_seq)
        end = start + wire_len
        if self._ended:
            self._after_end(start, end, frame, ts, out)
            return out
        captured = len(payload)
        if captured:
            self._insert(start, start + captured, payload, frame, ts, captured < wire_len, out)
        if wire_len > captured:
            # The snapshot length cut this segment: the rest of its payload is a
            # loss whose place and size are known (the IP header gave wire_len).
            self._insert(start + captured, end, None, frame, ts, True, out)
        if flags & FIN and self._fin_off < 0:
            self._fin_off = end
            self._fin_frame = frame
            self._fin_ts = ts
            self._clip_to_fin()
        if flags & RST:
            # A reset aborts the connection (RFC 9293 §3.5.3): nothing will be
            # retransmitted any more, so every open hole is final.
            while self._pieces:
                self._give_up_hole("rst", out)
            self._end(out, frame, ts, "rst")
            return out
        self._check_limits(ts, out)
        self._check_end(out)
        self._fast_key()
        return out

    def _fast_key(self) -> None:
        # The fast path applies only while nothing is buffered, no FIN is pending
        # and the stream has not ended; otherwise every segment takes the slow path.
        if self._pieces or self._fin_off >= 0 or self._ended:
            self._next_seq = -1
        else:
            self._next_seq = (self._seq0 + self._next_off) & _SEQ_MASK

    def _unwrap(self, seq: int) -> int:
        # Sequence numbers wrap (RFC 9293 §3.4: "all arithmetic dealing with
        # sequence numbers must be performed modulo 2**32").  Interpret seq as
        # the value nearest to the next expected byte, within +/- 2**31, and
        # turn it into a 64-bit offset.
        delta = (seq - self._seq0 - self._next_off) & _SEQ_MASK
        if delta >= _SEQ_HALF:
            delta -= _SEQ_MOD
        return self._next_off + delta

    def _insert(
        self,
        start: int,
        end: int,
        data: bytes | None,
        frame: int,
        ts: int,
        truncated: bool,
        out: list[StreamEvent],
    ) -> None:
        """Add [start, end) (data, or a known-missing range when data is None)."""
        fin_off = self._fin_off
        if 0 <= fin_off < end:
            # A FIN is the sender's "I have no more data to send" (RFC 9293 §3.6):
            # bytes beyond it are not part of the stream.  They are kept aside
            # and reported as gaps after the end.
            self._beyond_fin.append((max(start, fin_off), end, frame, ts))
            if start >= fin_off:
                return
            if data is not None:
                data = data[: fin_off - start]
            end = fin_off
        next_off = self._next_off
        if end <= next_off:
            # Entirely in the past: a retransmission of delivered bytes, or bytes
            # from before the point where the capture joined the connection.
            self.ignored_segments += 1
            self.ignored_bytes += end - start
            return
        if start < next_off:
            # Partial retransmission: keep only the new bytes (first arrival wins).
            if data is not None:
                data = data[next_off - start :]
            start = next_off
        arrival = self._arrivals
        starts = self._starts
        pieces = self._pieces
        if not pieces:
            if start == next_off:
                self._deliver((start, end, data, frame, ts, truncated, arrival), frame, ts, out)
                return
            starts.append(start)
            pieces.append((start, end, data, frame, ts, truncated, arrival))
            self._pending_bytes += end - start
            self._hole_since = ts
            return
        # Fill only the holes between buffered pieces: bytes already held came
        # first and win, as do delivered ones (aioquic trims the same way).
        new: list[_Piece] = []
        i = bisect_right(starts, start) - 1
        cur = start
        if i >= 0 and pieces[i][1] > cur:
            cur = pieces[i][1]
        i += 1
        while cur < end:
            nxt = starts[i] if i < len(starts) else end
            stop = nxt if nxt < end else end
            if stop > cur:
                piece_data = None if data is None else data[cur - start : stop - start]
                new.append((cur, stop, piece_data, frame, ts, truncated, arrival))
            if i >= len(starts):
                break
            cur = max(cur, pieces[i][1])
            i += 1
        if not new:
            self.ignored_segments += 1
            self.ignored_bytes += end - start
            return
        for piece in new:
            j = bisect_right(starts, piece[0])
            starts.insert(j, piece[0])
            pieces.insert(j, piece)
            self._pending_bytes += piece[1] - piece[0]
        if starts[0] == next_off:
            self._release(out)

    def _deliver(self, piece: _Piece, frame: int, ts: int, out: list[StreamEvent]) -> None:
        start, end, data, src_frame, src_ts, truncated, _ = piece
        if data is None:
            out.append(StreamGap(start, end - start, src_frame, src_ts, "snaplen"))
        else:
            out.append(StreamData(start, data, (src_frame,), frame, ts, truncated))
        self._next_off = end

    def _release(self, out: list[StreamEvent]) -> None:
        """Deliver the buffered pieces that are now contiguous with the delivered bytes.

        The bytes become available in order when the latest-arriving piece of
        the run arrives, so that piece's frame is reported (for a hole just
        filled, it is the segment that filled it).
        """
        starts = self._starts
        pieces = self._pieces
        latest = -1
        frame = ts = 0
        while pieces and starts[0] == self._next_off:
            piece = pieces.pop(0)
            del starts[0]
            self._pending_bytes -= piece[1] - piece[0]
            if piece[6] > latest:
                latest, frame, ts = piece[6], piece[3], piece[4]
            self._deliver(piece, frame, ts, out)
        if pieces:
            # A new hole: it is known to exist since the earliest piece beyond it.
            self._hole_since = min(p[4] for p in pieces)

    def _give_up_hole(self, reason: str, out: list[StreamEvent]) -> None:
        """Report the hole before the first buffered piece as a gap; deliver what follows."""
        first = self._pieces[0]
        out.append(StreamGap(self._next_off, first[0] - self._next_off, first[3], first[4], reason))
        self._next_off = first[0]
        self._release(out)

    def _check_limits(self, ts: int, out: list[StreamEvent]) -> None:
        while self._pieces and (
            self._pending_bytes > MAX_REORDER_BYTES or len(self._pieces) > MAX_REORDER_SEGMENTS
        ):
            self._give_up_hole("reorder-limit", out)
        while self._pieces and ts - self._hole_since > REORDER_WINDOW_NS:
            self._give_up_hole("timeout", out)

    def _check_end(self, out: list[StreamEvent]) -> None:
        if 0 <= self._fin_off <= self._next_off and not self._ended:
            self._end(out, self._fin_frame, self._fin_ts, "fin")

    def _clip_to_fin(self) -> None:
        """Move buffered bytes that lie beyond a newly seen FIN out of the stream."""
        fin_off = self._fin_off
        pieces = self._pieces
        while pieces and pieces[-1][1] > fin_off:
            start, end, data, frame, ts, truncated, arrival = pieces[-1]
            self._beyond_fin.append((max(start, fin_off), end, frame, ts))
            if start >= fin_off:
                pieces.pop()
                self._starts.pop()
                self._pending_bytes -= end - start
            else:
                data = None if data is None else data[: fin_off - start]
                pieces[-1] = (start, fin_off, data, frame, ts, truncated, arrival)
                self._pending_bytes -= end - fin_off

    def _end(self, out: list[StreamEvent], frame: int, ts: int, reason: str) -> None:
        self._ended = True
        self._end_reason = reason
        self._next_seq = -1
        out.append(StreamEnd(frame, ts, reason))
        # Anything buffered beyond the end was sent after it (for a RST nothing
        # is buffered any more: every hole was given up first).
        for start, end, frame_, ts_ in sorted(self._beyond_fin):
            self._after_end(start, end, frame_, ts_, out)
        self._beyond_fin.clear()

    def _after_end(self, start: int, end: int, frame: int, ts: int, out: list[StreamEvent]) -> None:
        # Data beyond a FIN (or sent after a RST) is not part of the stream; it is
        # still reported, once per byte range, so nothing disappears silently.
        # Retransmissions of delivered bytes are ignored like anywhere else.
        if end <= self._next_off:
            if end > start:
                self.ignored_segments += 1
                self.ignored_bytes += end - start
            return
        start = max(start, self._next_off)
        out.append(StreamGap(start, end - start, frame, ts, "after-" + self._end_reason))
        self._next_off = end
