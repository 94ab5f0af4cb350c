"""SIP message framing on stream transports: TCP (RFC 3261 §18.3) and WebSocket (RFC 7118).

:class:`StreamFramer` consumes the events of one reassembled stream direction
(:mod:`analyzer.net.tcpstream`) and cuts them into SIP messages.  It first
decides what the flow carries (``mode``):

``detect``  nothing decided yet (only keep-alives, or a partial first line);
``sip``     SIP directly on the stream, framed by Content-Length;
``ws``      a WebSocket connection (RFC 6455) carrying one SIP message per
            WebSocket message (RFC 7118 §5);
``tls``     TLS records: encrypted, reported once and not decoded;
``other``   not SIP (or a WebSocket stream that became undecodable).

Nothing is dropped silently.  Keep-alives are the only bytes passed over
without a :class:`~analyzer.errors.Diagnostic` (CRLFs between messages,
WebSocket ping, pong and close frames, WebSocket messages of nothing but
CRLFs); anything else that does not end up in a :class:`FramedMessage` is
named, with its frames, in :attr:`StreamFramer.diagnostics`, and so is every
gap in the stream.  A flow found to be TLS or not SIP is reported once, after
which :attr:`StreamFramer.wants_data` is False.

The buffer follows h11's ``_receivebuffer.py``: each search resumes where the
previous one stopped, so feeding a message one byte at a time costs linear,
not quadratic, time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.errors import Diagnostic, Level
from analyzer.net.flow import Transport
from analyzer.net.tcpstream import REORDER_WINDOW_NS, StreamData, StreamEvent, StreamGap
from analyzer.net.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_TEXT,
    WebSocketError,
    decode_frame,
    decode_frame_header,
    handshake_start,
    is_upgrade_request,
    is_upgrade_response,
)

# The longest header block (start line included) waited for.  h11 allows 16 KiB
# for HTTP; SIP header blocks are larger (long Via/Record-Route chains through
# proxies, IMS P- headers) but a real one past 64 KiB is unheard of, and the
# bound stops a flow without a blank line from growing the buffer forever.
MAX_HEADER_BYTES = 64 * 1024

# The largest Content-Length framed.  Bodies are SDP, XML (presence, conference
# info), or multipart; large RLMI/resource lists run to a few hundred KiB.  A
# larger value is more likely a corrupt header, and waiting for its bytes would
# swallow every message after it.
MAX_BODY_BYTES = 1024 * 1024

# How far into a flow that does not start with SIP to look for a SIP start line
# before calling it "not SIP".  A capture that starts in the middle of a SIP
# message finds the next start line within one message (header + body, rarely
# beyond a few KiB); 64 KiB covers even large bodies, and keeps the cost of
# scanning a non-SIP flow small.
MAX_DETECT_BYTES = 64 * 1024

# The largest WebSocket message (all fragments) taken as one SIP message: the
# same budget as a header block plus the largest body.
MAX_WS_MESSAGE_BYTES = MAX_HEADER_BYTES + MAX_BODY_BYTES

# Diagnostics about skipped or dropped bytes name their frames; past this many
# the list keeps the first ones and the last, so a 64 KiB stretch of one-byte
# segments does not make a diagnostic of 65,536 frame numbers.  The byte count
# in the text still says how much was affected.
MAX_DIAGNOSTIC_FRAMES = 64

_LAYER = "sip-framing"
_TCP = Transport.TCP

# -- Grammar used for framing ---------------------------------------------------
#
# RFC 3261 §25.1:
#   Request-Line  =  Method SP Request-URI SP SIP-Version CRLF
#   Status-Line   =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
#   SIP-Version   =  "SIP" "/" 1*DIGIT "." 1*DIGIT
# This recognises the same prefixes as abnf.START_LINE_BYTES_RE (what
# message.match_start_line and the parser accept: several blanks, TAB or NBSP
# between the parts, "sip/2.0" in any case, a status line without a reason),
# and tests/sip/test_framing.py checks that the two agree.  It is spelled with
# a greedy Request-URI instead of a lazy one: same language, but the lazy form
# tries the separator after every URI byte and costs about four times as
# much, once per framed message.
_BSEP = rb"(?:[ \t]|\xc2\xa0)+"
_SIP_VERSION = rb"[Ss][Ii][Pp]/[0-9]+\.[0-9]+"
_START_LINE_RE = (
    rb"(?:[A-Za-z0-9\-.!%*_+`'~]+"
    + _BSEP
    + rb"[^ \t\r\n\x00]+"
    + _BSEP
    + _SIP_VERSION
    + rb"(?:[ \t\r\n]|\xc2\xa0|$)"
    rb"|" + _SIP_VERSION + _BSEP + rb"[0-9]{3}(?:[ \t\r\n]|\xc2\xa0|$))"
)
# A start line at buf[pos:], matched with endpos at the end of its line, so
# only complete lines are judged.
_START_LINE = re.compile(_START_LINE_RE)
# The next start line after a line end; the literal "\n" prefix lets the regex
# engine skip quickly between line ends.
_NEXT_START_LINE = re.compile(rb"\n(?=" + _START_LINE_RE + rb")")
# RFC 3261 §7.5: "Implementations processing SIP messages over stream-oriented
# transports MUST ignore any CRLF appearing before the start-line".  RFC 5626
# §3.5.1 keep-alives ("ping" CRLFCRLF, "pong" CRLF) are exactly that.
_CRLFS = re.compile(rb"[\r\n]*")
# RFC 3261 §7.3.1: header-name HCOLON value, HCOLON = *( SP / HTAB ) ":" SWS,
# names case-insensitive, values may be folded onto continuation lines;
# §7.3.3 / §20.14: "l" is the compact form of Content-Length.  Searched from a
# line end, so the first header (which follows the start line) is covered.
_CONTENT_LENGTH = re.compile(rb"\n(?:[Cc](?i:ontent-length)|[Ll])[ \t]*:((?:[^\r\n]|\r?\n[ \t])*)")

_GAP_REASONS = {
    "snaplen": "cut by the snapshot length",
    "timeout": f"not retransmitted within {REORDER_WINDOW_NS // 1_000_000_000} s",
    "reorder-limit": "not retransmitted before the reordering buffer filled up",
    "capture-end": "not in the capture",
    "rst": "not in the capture before the connection was reset",
    "after-fin": "sent after the FIN",
    "after-rst": "sent after the RST",
    "missing": "not delivered",
}

# Parser states.
_DETECT = 0  # deciding what the flow carries
_HTTP = 1  # waiting for the rest of a WebSocket handshake
_HEAD = 2  # SIP: at the start of a message, waiting for its header block
_BODY = 3  # SIP: header block done, waiting for Content-Length body bytes
_RESYNC = 4  # SIP: looking for the next start line at a line start
_SKIP = 5  # dropping bytes up to a known stream offset
_WS = 6  # decoding WebSocket frames
_WS_PROBE = 7  # WebSocket framing lost: does a frame start here?
_DONE = 8  # TLS, not SIP, or undecodable: nothing more is read


@dataclass(frozen=True, slots=True)
class FramedMessage:
    """The bytes of one SIP message cut from a stream, and where they came from.

    ``frames`` are the frames that carried the message's bytes (sorted);
    ``frame``/``ts_ns`` those of the stream data that supplied its last byte.
    ``incomplete``: the stream ended or lost bytes before the body announced by
    Content-Length arrived; ``data`` holds what there is.  ``truncated``: one of
    the contributing frames was cut by the snapshot length.  ``transport`` is
    :attr:`Transport.TCP` or :attr:`Transport.WS`.
    """

    data: bytes
    frames: tuple[int, ...]
    frame: int
    ts_ns: int
    truncated: bool
    incomplete: bool
    transport: Transport


class StreamFramer:
    """Cuts ONE direction of a reassembled stream into SIP messages.

    Feed it the :mod:`~analyzer.net.tcpstream` events of that direction and
    call :meth:`flush` at the end of the capture.  ``flow_label`` (such as
    ``"10.0.0.1:5060 -> 10.0.0.2:40000"``) names the flow in diagnostics.
    """

    __slots__ = (
        "flow_label",
        "diagnostics",
        "mode",
        "_wants",
        "_state",
        "_buf",
        "_base",
        "_spans",
        "_scan",
        "_start_ok",
        "_body_end",
        "_http_kind",
        "_midline",
        "_skip_to",
        "_after_skip",
        "_skip_counts",
        "_ep_active",
        "_ep_bytes",
        "_ep_frames",
        "_ep_level",
        "_ep_what",
        "_detect_bytes",
        "_seen",
        "_ws_parts",
        "_ws_size",
        "_ws_frames",
        "_ws_truncated",
        "_ws_discard",
        "_ws_closed",
        "_ws_after_close",
        "_ws_after_close_frames",
        "_ended",
        "_flushed",
        "_late_bytes",
        "_late_frames",
        "_last_frame",
    )

    def __init__(self, flow_label: str) -> None:
        self.flow_label = flow_label
        self.diagnostics: list[Diagnostic] = []
        self.mode = "detect"
        self._wants = True
        self._state = _DETECT
        # Unconsumed bytes; _buf[0] is at stream offset _base.  Plain bytes when
        # they are exactly one event's data (no copy), a bytearray once appended to.
        self._buf: bytes | bytearray = b""
        self._base = 0
        # The events whose bytes are in _buf: (start offset, end offset, event).
        self._spans: list[tuple[int, int, StreamData]] = []
        # Index in _buf where the current search resumes (h11 _receivebuffer).
        self._scan = 0
        self._start_ok = False  # _HEAD: the start line at _buf[0] was checked
        self._body_end = 0  # _BODY: index in _buf where the message ends
        self._http_kind = ""  # _HTTP: "request" or "response"
        self._midline = False  # _RESYNC: _buf[0] is not at a line start
        self._skip_to = 0  # _SKIP: stream offset where skipping stops
        self._after_skip = _RESYNC  # _SKIP: the state that follows
        self._skip_counts = True  # _SKIP: skipped bytes belong to a resync episode
        # A resynchronisation episode: bytes skipped while looking for a start line.
        self._ep_active = False
        self._ep_bytes = 0
        self._ep_frames: list[int] = []
        self._ep_level = Level.INFO
        self._ep_what = ""
        self._detect_bytes = 0  # bytes skipped while still in mode "detect"
        self._seen = 0  # bytes received
        # A WebSocket message being assembled from fragments.
        self._ws_parts: list[bytes] | None = None
        self._ws_size = 0
        self._ws_frames: set[int] = set()
        self._ws_truncated = False
        self._ws_discard = False  # skipping the fragments of an oversized message
        self._ws_closed = False
        self._ws_after_close = 0
        self._ws_after_close_frames: list[int] = []
        self._ended = False
        self._flushed = False
        self._late_bytes = 0
        self._late_frames: list[int] = []
        self._last_frame = 0

    @property
    def wants_data(self) -> bool:
        """False once the flow is known to be TLS or not SIP: the caller may stop feeding it."""
        return self._wants

    def feed(self, event: StreamEvent) -> list[FramedMessage]:
        """Take one stream event; return the SIP messages it completes."""
        if isinstance(event, StreamData):
            return self._on_data(event)
        out: list[FramedMessage] = []
        if isinstance(event, StreamGap):
            self._on_gap(event, out)
        else:
            self._finish(event.reason, out)
        return out

    def flush(self) -> list[FramedMessage]:
        """End of capture: emit or report whatever is still buffered."""
        out: list[FramedMessage] = []
        if not self._ended:
            self._finish("capture-end", out)
        self._flushed = True
        self._report_late()
        return out

    # -- events ----------------------------------------------------------------

    def _on_data(self, ev: StreamData) -> list[FramedMessage]:
        out: list[FramedMessage] = []
        data = ev.data
        self._last_frame = ev.frame
        if self._ended:
            self._late(len(data), ev.frames)
            return out
        if not self._wants or not data:
            return out
        off = ev.offset
        expected = self._base + len(self._buf)
        if off != expected:
            # The reassembler delivers contiguous offsets; anything else is made
            # consistent here rather than trusted: a jump is a gap, an overlap is
            # trimmed (the bytes already held win, as in the reassembler).
            if off > expected:
                self._on_gap(
                    StreamGap(expected, off - expected, ev.frame, ev.ts_ns, "missing"), out
                )
            else:
                data = data[expected - off :]
                off = expected
                if not data:
                    return out
        self._seen += len(data)
        buf = self._buf
        if buf:
            if type(buf) is bytes:
                buf = bytearray(buf)
            buf += data
            self._buf = buf
        else:
            self._buf = data
            self._base = off
        self._spans.append((off, off + len(data), ev))
        self._run(out)
        return out

    def _on_gap(self, gap: StreamGap, out: list[FramedMessage]) -> None:
        self._last_frame = gap.frame
        if self._ended:
            self._late(gap.length, (gap.frame,))
            return
        if not self._wants:
            return
        gap_end = gap.offset + gap.length
        missing = f"{gap.length} bytes missing ({_GAP_REASONS.get(gap.reason, gap.reason)})"
        buf = self._buf
        n = len(buf)
        state = self._state
        next_state = _RESYNC
        if state == _BODY:
            # The header block is complete: emit what there is, flagged incomplete,
            # and skip the rest of its body if the gap ends inside it.
            hlen = self._header_len(buf)
            msg_end = self._base + self._body_end
            self._emit(buf, 0, n, out, True, Transport.TCP)
            self._diag(
                self._frames_in(0, n) + (gap.frame,),
                f"SIP message incomplete: {n - hlen} of {self._body_end - hlen} body bytes, "
                f"then {missing}",
            )
            if gap_end < msg_end:
                self._enter_skip(msg_end, _RESYNC, counts=True)
                next_state = _SKIP
        elif self.mode == "ws":
            next_state = self._ws_gap(gap, gap_end, missing)
        elif state == _SKIP:
            self._diag((gap.frame,), missing)
            if gap_end < self._skip_to:
                next_state = _SKIP
        elif n:
            what = {
                _HEAD: "an incomplete SIP header block",
                _HTTP: "an incomplete HTTP header block",
            }.get(state, "an incomplete line")
            self._diag(
                self._frames_in(0, n) + (gap.frame,), f"dropped {n} bytes of {what}, then {missing}"
            )
        else:
            self._diag((gap.frame,), missing)
        if next_state == _RESYNC or (next_state == _SKIP and self._skip_counts):
            self._begin_episode(Level.WARNING, "after a gap, before the next SIP start line")
            if self.mode == "detect":
                # Nothing decided yet: what follows the gap may still be a TLS
                # record or a WebSocket frame, so look at it as at a stream start.
                next_state = _DETECT
        self._midline = False
        self._state = next_state
        self._buf = b""
        self._spans.clear()
        self._base = max(gap_end, self._base + n)
        self._scan = 0
        self._start_ok = False

    def _ws_gap(self, gap: StreamGap, gap_end: int, missing: str) -> int:
        """A gap in WebSocket mode: report what it cut; return the state that follows."""
        buf = self._buf
        n = len(buf)
        in_message = self._ws_parts is not None or self._ws_discard
        dropped = n + self._ws_size
        frames = self._frames_in(0, n) + tuple(sorted(self._ws_frames))
        self._ws_parts = None
        self._ws_size = 0
        self._ws_frames = set()
        self._ws_truncated = False
        if self._state == _SKIP:
            # Inside an oversized frame being skipped: its end is known.
            self._diag((gap.frame,), missing)
            return _SKIP if gap_end < self._skip_to else _WS_PROBE
        if dropped:
            self._diag(
                frames + (gap.frame,),
                f"dropped {dropped} bytes of an incomplete WebSocket message, then {missing}",
            )
        else:
            self._diag((gap.frame,), missing)
        if self._state == _WS and n:
            # The header of the cut frame says where it ends: if the gap ends
            # before that, framing resumes right after it without guessing.
            # (This header was decoded once already, so it is valid.)
            head = decode_frame_header(buf, 0)
            if head is not None:
                frame_end = self._base + head[0] + head[1]
                if gap_end <= frame_end:
                    # The rest of the cut message is dropped too: its later
                    # fragments, or those of the message a control frame interrupted.
                    b0 = buf[0]
                    if b0 & 0x0F >= OP_CLOSE:
                        self._ws_discard = in_message
                    else:
                        self._ws_discard = not b0 & 0x80
                    self._enter_skip(frame_end, _WS, counts=False)
                    return _SKIP
        self._ws_discard = False
        return _WS_PROBE

    def _finish(self, reason: str, out: list[FramedMessage]) -> None:
        """The stream ended (``reason`` from StreamEnd, or ``capture-end``)."""
        if self._ended:
            return
        self._ended = True
        buf = self._buf
        n = len(buf)
        state = self._state
        at_end = f"at the end of the stream ({reason})"
        if state == _BODY:
            hlen = self._header_len(buf)
            short = self._body_end - n
            self._emit(buf, 0, n, out, True, Transport.TCP)
            self._diag(
                self._frames_in(0, n),
                f"stream ended {short} bytes short of Content-Length "
                f"({self._body_end - hlen}) {at_end}",
            )
        elif state == _HEAD and n:
            self._diag(self._frames_in(0, n), f"incomplete SIP header block of {n} bytes {at_end}")
        elif state in (_WS, _WS_PROBE) and (n or self._ws_parts is not None):
            self._diag(
                self._frames_in(0, n) + tuple(sorted(self._ws_frames)),
                f"incomplete WebSocket message of {n + self._ws_size} bytes {at_end}",
            )
        elif state in (_DETECT, _HTTP, _RESYNC) and n:
            self._skip_bytes(0, n)
        if self._ws_after_close:
            self._diag(
                _cap_frames(self._ws_after_close_frames),
                f"{self._ws_after_close} bytes after the WebSocket close frame ignored",
            )
        if self.mode == "detect" and self._detect_bytes:
            self._not_sip()
        else:
            self._end_episode("before the end of the stream")
        self._buf = b""
        self._spans.clear()
        self._state = _DONE

    # -- the parser loop ---------------------------------------------------------

    def _run(self, out: list[FramedMessage]) -> None:
        """Consume as much of the buffer as the current state allows."""
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            state = self._state
            # Each step returns the position to continue from, or ~position when
            # it needs more data (keeping the bytes from that position on).
            if state == _HEAD:
                r = self._head(buf, pos, n, out)
            elif state == _BODY:
                end = self._body_end
                if end > n:
                    r = ~pos
                else:
                    self._emit(buf, pos, end, out, False, Transport.TCP)
                    self._state = _HEAD
                    self._scan = end
                    r = end
            elif state == _RESYNC:
                r = self._resync(buf, pos, n)
            elif state == _WS:
                r = self._ws(buf, pos, n, out)
            elif state == _DETECT:
                r = self._detect(buf, pos, n)
            elif state == _HTTP:
                r = self._http(buf, pos, n)
            elif state == _WS_PROBE:
                r = self._ws_probe_step(buf, pos, n)
            else:
                # _SKIP.  (_DONE never gets here: it stops feeding, see _stop.)
                r = self._skip_in_buffer(pos, n)
            if r < 0:
                pos = ~r
                break
            pos = r
        if not pos:
            return
        # Drop the consumed bytes (h11 _receivebuffer: one compaction per feed).
        base = self._base + pos
        self._base = base
        spans = self._spans
        if pos >= n:
            self._buf = b""
            spans.clear()
        else:
            if isinstance(buf, bytearray):
                del buf[:pos]
            else:
                self._buf = bytearray(memoryview(buf)[pos:])
            k = 0
            while spans[k][1] <= base:
                k += 1
            if k:
                del spans[:k]
        self._scan = max(self._scan - pos, 0)
        self._body_end -= pos

    def _head(self, buf: bytes | bytearray, pos: int, n: int, out: list[FramedMessage]) -> int:
        """At a message start: find the start line, the header block and Content-Length."""
        # This is the hot path (once per message): plain conditionals instead of
        # max(), and the common single-event message built inline.
        scan = self._scan
        if not self._start_ok:
            c = buf[pos]
            if c == 13 or c == 10:
                pos = _skip_crlf(buf, pos)
                scan = pos
                if pos >= n:
                    self._scan = pos
                    return pos
            nl = buf.find(b"\n", scan if scan > pos else pos)
            if nl < 0:
                if n - pos > MAX_HEADER_BYTES:
                    return self._oversized_header(buf, pos, n)
                self._scan = n
                return ~pos
            if _START_LINE.match(buf, pos, nl + 1) is None:
                self._begin_episode(
                    Level.WARNING, "of non-SIP data where a SIP message should start"
                )
                self._state = _RESYNC
                self._midline = False
                self._scan = pos
                return pos
            self._start_ok = True
            scan = nl
        hend = _headers_end(buf, scan, n)
        if hend < 0 or hend - pos > MAX_HEADER_BYTES:
            # (The limit applies whether the header end is still to come or is
            # already here, so that the result does not depend on segmentation.)
            if n - pos > MAX_HEADER_BYTES:
                return self._oversized_header(buf, pos, n)
            # Resume two bytes back: the empty line may be split across events.
            self._scan = n - 2 if n - 2 > scan else scan
            return ~pos
        clen = self._content_length(buf, pos, hend)
        self._start_ok = False
        if clen < 0:
            # Skip the header block; the body (of unknown extent) is resynchronised over.
            self._begin_episode(Level.WARNING, "after a message with an oversized body")
            self._skip_bytes(pos, hend)
            self._state = _RESYNC
            self._midline = False
            self._scan = hend
            return hend
        end = hend + clen
        if end > n:
            self._state = _BODY
            self._body_end = end
            self._scan = scan
            return ~pos
        self._scan = end
        spans = self._spans
        if len(spans) == 1:
            ev = spans[0][2]
            data = buf[pos:end] if type(buf) is bytes else bytes(buf[pos:end])
            out.append(
                FramedMessage(data, ev.frames, ev.frame, ev.ts_ns, ev.truncated, False, _TCP)
            )
        else:
            self._emit(buf, pos, end, out, False, _TCP)
        return end

    def _content_length(self, buf: bytes | bytearray, pos: int, hend: int) -> int:
        """Body length from the header block buf[pos:hend]; -1 if over MAX_BODY_BYTES."""
        m = _CONTENT_LENGTH.search(buf, pos, hend)
        if m is None:
            # RFC 3261 §20.14: "If a stream-based protocol (such as TCP) is used as
            # transport, the header field MUST be used."  Framing goes on with an
            # empty body; the missing header is the message parser's finding.
            return 0
        value = m.group(1).strip()
        if value.isdigit():
            # Leading zeros are allowed (1*DIGIT).  More than 12 significant digits
            # is over any sensible limit and is not handed to int() (which refuses
            # strings of over 4300 digits).
            digits = value.lstrip(b"0")
            if len(digits) <= 12:
                clen = int(digits or b"0")
                if clen <= MAX_BODY_BYTES:
                    return clen
            self._diag(
                self._frames_in(pos, hend),
                f"Content-Length {_shown(value)} exceeds the {MAX_BODY_BYTES}-byte limit: "
                "header block skipped",
            )
            return -1
        self._diag(
            self._frames_in(pos, hend),
            f"Content-Length {_shown(value)!r} is not a number: framed with an empty body",
        )
        return 0

    def _oversized_header(self, buf: bytes | bytearray, pos: int, n: int) -> int:
        stop = min(n, pos + MAX_HEADER_BYTES + 1)
        self._diag(
            self._frames_in(pos, stop),
            f"no end of SIP header block within {MAX_HEADER_BYTES} bytes: skipped",
        )
        self._begin_episode(Level.WARNING, "after an oversized SIP header block")
        self._skip_bytes(pos, stop)
        self._state = _RESYNC
        self._start_ok = False
        # Unless the skipped part ended a line, what follows continues a line whose
        # start was skipped, and is not a start line.
        self._midline = buf[stop - 1] != 10
        self._scan = stop
        return stop

    def _resync(self, buf: bytes | bytearray, pos: int, n: int) -> int:
        """Look for a SIP start line at a line start; skip (and count) what precedes it."""
        i = pos
        if self._midline:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                self._skip_bytes(pos, n)
                return self._check_detect(n)
            self._midline = False
            i = nl + 1
            self._skip_bytes(pos, i)
            self._scan = i
        # Only complete lines can be judged; a partial last line is kept until its
        # line end arrives (searching only the new bytes for it).
        last = buf.rfind(b"\n", max(self._scan, i))
        if last < 0:
            if n - i > MAX_HEADER_BYTES:
                self._skip_bytes(i, n)
                self._midline = True
                return self._check_detect(n)
            self._scan = n
            return ~self._check_detect(i)
        nl = buf.find(b"\n", i)
        if _START_LINE.match(buf, i, nl + 1):
            found = i
        else:
            m = _NEXT_START_LINE.search(buf, nl, last + 1)
            if m is None:
                self._skip_bytes(i, last + 1)
                self._scan = n
                return ~self._check_detect(last + 1)
            found = m.start() + 1
            nl = buf.find(b"\n", found)
        self._skip_bytes(i, found)
        if self.mode == "detect":
            self.mode = "sip"
        self._end_episode("")
        self._detect_bytes = 0
        self._state = _HEAD
        self._start_ok = True
        self._scan = nl
        return found

    def _check_detect(self, pos: int) -> int:
        """After skipping in mode "detect": give up once MAX_DETECT_BYTES are skipped."""
        if self.mode == "detect" and self._detect_bytes > MAX_DETECT_BYTES:
            self._not_sip()
            return len(self._buf)
        return pos

    def _detect(self, buf: bytes | bytearray, pos: int, n: int) -> int:
        """At the start of the stream: TLS, a WebSocket handshake or stream, SIP, or other."""
        c = buf[pos]
        if c == 13 or c == 10:
            pos = _skip_crlf(buf, pos)
            self._scan = pos
            if pos >= n:
                return pos
            c = buf[pos]
        if 0x14 <= c <= 0x17:
            # A TLS record header (RFC 8446 §5.1): ContentType change_cipher_spec(20),
            # alert(21), handshake(22) or application_data(23), then a
            # legacy_record_version of 3.0 (SSL 3) to 3.4.
            if n - pos < 3:
                return ~pos
            if buf[pos + 1] == 3 and buf[pos + 2] <= 4:
                self.diagnostics.append(
                    Diagnostic(
                        "tls",
                        self._frames_in(pos, pos + 1),
                        f"TLS flow {self.flow_label}: encrypted, not decoded",
                        Level.WARNING,
                    )
                )
                self.mode = "tls"
                self._stop()
                return n
        elif c in _WS_DATA_FIRST_BYTES:
            # A WebSocket frame with no handshake before it: the capture started
            # after the upgrade.  Accepted only if it carries a SIP start line.
            probe = _probe_ws(buf, pos)
            if probe is None:
                return ~pos
            if probe:
                self.mode = "ws"
                self._end_episode("")
                self._state = _WS
                self._diag(
                    self._frames_in(pos, pos + 1),
                    "WebSocket flow whose handshake is not in the capture",
                    Level.INFO,
                )
                return pos
        nl = buf.find(b"\n", max(self._scan, pos))
        if nl < 0:
            if n - pos <= MAX_HEADER_BYTES:
                self._scan = n
                return ~pos
            nl = n - 1
        elif _START_LINE.match(buf, pos, nl + 1):
            self.mode = "sip"
            self._end_episode("")
            self._state = _HEAD
            self._start_ok = True
            self._scan = nl
            return pos
        else:
            kind = handshake_start(buf[pos : nl + 1])
            if kind is not None:
                # RFC 6455 §4: the opening handshake is an HTTP Upgrade exchange.
                self._http_kind = kind
                self._state = _HTTP
                self._scan = nl
                return pos
        self._begin_episode(
            Level.INFO,
            "before the first SIP start line (the capture started in the middle of a message)",
        )
        self._state = _RESYNC
        self._midline = False
        self._scan = pos
        return pos

    def _http(self, buf: bytes | bytearray, pos: int, n: int) -> int:
        """The HTTP header block of a possible WebSocket opening handshake."""
        hend = _headers_end(buf, max(self._scan, pos), n)
        if hend < 0 and n - pos <= MAX_HEADER_BYTES:
            self._scan = max(n - 2, self._scan)
            return ~pos
        if hend >= 0:
            head = buf[pos:hend]
            if (self._http_kind == "request" and is_upgrade_request(head)) or (
                self._http_kind == "response" and is_upgrade_response(head)
            ):
                # RFC 6455 §4.2.2: once the server has sent its 101 response the
                # connection carries WebSocket frames (RFC 7118: SIP messages).
                self.mode = "ws"
                self._end_episode("")
                self._state = _WS
                return hend
        # Plain HTTP (or an oversized head): not a handshake; look for SIP after it.
        self._begin_episode(Level.INFO, "of HTTP that is not a WebSocket handshake")
        self._state = _RESYNC
        self._midline = False
        self._scan = pos
        return pos

    def _ws(self, buf: bytes | bytearray, pos: int, n: int, out: list[FramedMessage]) -> int:
        """Decode WebSocket frames; each complete data message is one SIP message."""
        while pos < n:
            if self._ws_closed:
                # RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST NOT
                # send any further data frames."
                self._ws_after_close += n - pos
                _add_frames(self._ws_after_close_frames, self._frames_in(pos, n))
                return n
            try:
                head = decode_frame_header(buf, pos)
            except WebSocketError as e:
                self._ws_fail(e.reason, pos, n)
                return n
            if head is None:
                return ~pos
            total = head[0] + head[1]
            fin = bool(buf[pos] & 0x80)
            if head[1] > MAX_WS_MESSAGE_BYTES - self._ws_size:
                if not (self._ws_discard and buf[pos] & 0x0F == OP_CONTINUATION):
                    # (A later fragment of a message already reported is just skipped.)
                    self._diag(
                        self._frames_in(pos, min(n, pos + total)) + tuple(sorted(self._ws_frames)),
                        f"WebSocket message larger than {MAX_WS_MESSAGE_BYTES} bytes: skipped",
                    )
                self._ws_parts = None
                self._ws_size = 0
                self._ws_frames = set()
                self._ws_discard = not fin
                if pos + total <= n:
                    pos += total
                    continue
                self._enter_skip(self._base + pos + total, _WS, counts=False)
                return n
            decoded = decode_frame(buf, pos)
            if decoded is None:
                return ~pos
            frame, end = decoded
            op = frame.opcode
            if op in (OP_TEXT, OP_BINARY):
                if self._ws_parts is not None or self._ws_discard:
                    # RFC 6455 §5.4: fragments of one message are not interleaved
                    # with another's; only control frames may come between them.
                    self._ws_fail("a new data frame inside a fragmented message", pos, n)
                    return n
                if fin:
                    self._ws_message(frame.payload, self._origin(pos, end), out)
                else:
                    self._ws_parts = [frame.payload]
                    self._ws_size = len(frame.payload)
                    self._ws_add_frames(pos, end)
            elif op == OP_CONTINUATION:
                if self._ws_discard:
                    self._ws_discard = not fin
                elif self._ws_parts is None:
                    self._ws_fail("a continuation frame with no message to continue", pos, n)
                    return n
                else:
                    self._ws_parts.append(frame.payload)
                    self._ws_size += len(frame.payload)
                    self._ws_add_frames(pos, end)
                    if fin:
                        payload = b"".join(self._ws_parts)
                        _, last_frame, ts, truncated = self._origin(pos, end)
                        all_frames = tuple(sorted(self._ws_frames))
                        self._ws_message(
                            payload,
                            (all_frames, last_frame, ts, truncated or self._ws_truncated),
                            out,
                        )
                        self._ws_parts = None
                        self._ws_size = 0
                        self._ws_frames = set()
                        self._ws_truncated = False
            elif op == OP_CLOSE:
                self._ws_closed = True
                if self._ws_parts is not None:
                    self._diag(
                        tuple(sorted(self._ws_frames)),
                        "WebSocket closed in the middle of a message: "
                        f"{self._ws_size} bytes dropped",
                    )
                    self._ws_parts = None
                    self._ws_size = 0
                    self._ws_frames = set()
            # Ping and pong (RFC 6455 §5.5.2, §5.5.3) are keep-alives, not messages.
            pos = end
        return pos

    def _ws_add_frames(self, a: int, b: int) -> None:
        frames, _, _, truncated = self._origin(a, b)
        self._ws_frames.update(frames)
        self._ws_truncated = self._ws_truncated or truncated

    def _ws_message(
        self,
        payload: bytes,
        origin: tuple[tuple[int, ...], int, int, bool],
        out: list[FramedMessage],
    ) -> None:
        # RFC 7118 §5: each SIP message is carried in exactly one WebSocket
        # message, and a WebSocket message carries exactly one SIP message; so
        # there is no Content-Length framing here.  A message of nothing but line
        # ends is a keep-alive (as CRLFs are on TCP, RFC 5626 §3.5.1).
        if not payload.strip(b"\r\n"):
            return
        frames, frame, ts, truncated = origin
        out.append(FramedMessage(payload, frames, frame, ts, truncated, False, Transport.WS))

    def _ws_fail(self, reason: str, pos: int, n: int) -> None:
        dropped = (
            f" ({self._ws_size} bytes of a fragmented message dropped)" if self._ws_size else ""
        )
        self._diag(
            self._frames_in(pos, n) + tuple(sorted(self._ws_frames)),
            f"invalid WebSocket frame: {reason}{dropped}; rest of flow not decoded",
            layer="websocket",
        )
        self.mode = "other"
        self._ws_parts = None
        self._stop()

    def _ws_probe_step(self, buf: bytes | bytearray, pos: int, n: int) -> int:
        probe = _probe_ws(buf, pos)
        if probe is None:
            return ~pos
        if probe:
            self._state = _WS
            return pos
        self._diag(
            self._frames_in(pos, min(n, pos + 1)),
            "WebSocket framing lost after a gap (no frame carrying a SIP start line "
            "follows it); rest of flow not decoded",
            layer="websocket",
        )
        self.mode = "other"
        self._stop()
        return n

    def _skip_in_buffer(self, pos: int, n: int) -> int:
        """Drop bytes up to the stream offset _skip_to, then go on in the state after it."""
        end = self._skip_to - self._base
        stop = max(pos, min(end, n))
        if self._skip_counts:
            self._skip_bytes(pos, stop)
        if stop >= end:
            self._state = self._after_skip
        return stop

    # -- bookkeeping -------------------------------------------------------------

    def _enter_skip(self, to: int, after: int, *, counts: bool) -> None:
        self._skip_to = to
        self._after_skip = after
        self._skip_counts = counts
        self._state = _SKIP

    def _stop(self) -> None:
        self._wants = False
        self._state = _DONE
        self._end_episode("")

    def _not_sip(self) -> None:
        """Give up on a flow that never showed a SIP start line."""
        frames = _cap_frames(self._ep_frames) if self._ep_frames else self._frames_in(0, 1)
        self._ep_active = False
        self._diag(
            frames,
            f"not SIP: {self._seen} bytes without a SIP start line; rest of flow not decoded",
        )
        self.mode = "other"
        self._stop()

    def _begin_episode(self, level: Level, what: str) -> None:
        if self._ep_active:
            return
        self._ep_active = True
        self._ep_bytes = 0
        self._ep_frames = []
        self._ep_level = level
        self._ep_what = what

    def _end_episode(self, suffix: str) -> None:
        if self._ep_active and self._ep_bytes:
            text = f"skipped {self._ep_bytes} bytes {self._ep_what}"
            if suffix:
                text += f" ({suffix})"
            self._diag(_cap_frames(self._ep_frames), text, self._ep_level)
        self._ep_active = False

    def _skip_bytes(self, a: int, b: int) -> None:
        """Count buf[a:b] as skipped in the current episode."""
        if b <= a:
            return
        self._ep_bytes += b - a
        if self.mode == "detect":
            self._detect_bytes += b - a
        _add_frames(self._ep_frames, self._frames_in(a, b))

    def _late(self, count: int, frames: tuple[int, ...]) -> None:
        self._late_bytes += count
        _add_frames(self._late_frames, frames)
        if self._flushed:
            self._report_late()

    def _report_late(self) -> None:
        if self._late_bytes:
            self._diag(
                _cap_frames(self._late_frames),
                f"{self._late_bytes} bytes after the end of the stream ignored",
            )
            self._late_bytes = 0
            self._late_frames = []

    def _diag(
        self,
        frames: tuple[int, ...],
        text: str,
        level: Level = Level.WARNING,
        layer: str = _LAYER,
    ) -> None:
        if len(frames) > 1:
            frames = _cap_frames(sorted(set(frames)))
        self.diagnostics.append(Diagnostic(layer, frames, f"{self.flow_label}: {text}", level))

    def _header_len(self, buf: bytes | bytearray) -> int:
        return _headers_end(buf, 0, len(buf))

    def _emit(
        self,
        buf: bytes | bytearray,
        a: int,
        b: int,
        out: list[FramedMessage],
        incomplete: bool,
        transport: Transport,
    ) -> None:
        data = buf[a:b] if type(buf) is bytes else bytes(buf[a:b])
        frames, frame, ts, truncated = self._origin(a, b)
        out.append(FramedMessage(data, frames, frame, ts, truncated, incomplete, transport))

    def _origin(self, a: int, b: int) -> tuple[tuple[int, ...], int, int, bool]:
        """Frames, completing frame, its time and truncation for buf[a:b]."""
        spans = self._spans
        if len(spans) == 1:
            ev = spans[0][2]
            return ev.frames, ev.frame, ev.ts_ns, ev.truncated
        a += self._base
        b += self._base
        frames: set[int] = set()
        truncated = False
        last = spans[0][2]
        for start, end, ev in spans:
            if start >= b:
                break
            if end > a:
                frames.update(ev.frames)
                truncated = truncated or ev.truncated
                last = ev
        return tuple(sorted(frames)), last.frame, last.ts_ns, truncated

    def _frames_in(self, a: int, b: int) -> tuple[int, ...]:
        """The frames of buf[a:b] (for diagnostics)."""
        if not self._spans:
            return (self._last_frame,) if self._last_frame else ()
        return self._origin(a, max(b, a + 1))[0]


# First byte of a FIN or non-FIN text/binary frame with no reserved bits: 0x01,
# 0x02, 0x81, 0x82.  None of them can start SIP, HTTP or a TLS record.
_WS_DATA_FIRST_BYTES = frozenset((OP_TEXT, OP_BINARY, 0x80 | OP_TEXT, 0x80 | OP_BINARY))


def _probe_ws(buf: bytes | bytearray, pos: int) -> bool | None:
    """Does a WebSocket data frame carrying a SIP start line begin at buf[pos]?  None: need more."""
    try:
        head = decode_frame_header(buf, pos)
    except WebSocketError:
        return False
    if head is None:
        return None
    if head[1] > MAX_WS_MESSAGE_BYTES or buf[pos] & 0x0F not in (OP_TEXT, OP_BINARY):
        return False
    decoded = decode_frame(buf, pos)
    if decoded is None:
        return None
    payload = decoded[0].payload
    nl = payload.find(b"\n")
    return nl >= 0 and _START_LINE.match(payload, 0, nl + 1) is not None


def _headers_end(buf: bytes | bytearray, start: int, n: int) -> int:
    """End of the header block (just after its empty line) searching from buf[start:], or -1.

    The empty line is CRLF CRLF; bare LF line ends are tolerated here (the
    message parser records that defect), so the end is the first "\\n\\r\\n"
    or "\\n\\n".  Two C-speed finds instead of a regex: this runs once per message.
    """
    a = buf.find(b"\n\r\n", start)
    b = buf.find(b"\n\n", start, a + 1 if a >= 0 else n)
    if b >= 0:
        return b + 2
    return a + 3 if a >= 0 else -1


def _shown(value: bytes | bytearray) -> str:
    """A header value for a diagnostic: at most 40 bytes of it, as a bytes literal's text."""
    text = repr(bytes(value[:40]))[2:-1]
    return text + "..." if len(value) > 40 else text


def _skip_crlf(buf: bytes | bytearray, pos: int) -> int:
    m = _CRLFS.match(buf, pos)
    return m.end() if m else pos


def _add_frames(acc: list[int], frames: tuple[int, ...]) -> None:
    """Collect frame numbers for a diagnostic, bounded by MAX_DIAGNOSTIC_FRAMES."""
    for f in frames:
        if acc and acc[-1] == f:
            continue
        if len(acc) < MAX_DIAGNOSTIC_FRAMES:
            if f not in acc:
                acc.append(f)
        else:
            acc[-1] = max(acc[-1], f)


def _cap_frames(frames: list[int]) -> tuple[int, ...]:
    frames = sorted(set(frames))
    if len(frames) > MAX_DIAGNOSTIC_FRAMES:
        frames = frames[: MAX_DIAGNOSTIC_FRAMES - 1] + frames[-1:]
    return tuple(frames)
