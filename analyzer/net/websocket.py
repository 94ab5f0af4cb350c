"""WebSocket framing (RFC 6455) and handshake recognition, for SIP over WebSocket (RFC 7118).

Strict decoders only: :func:`decode_frame` returns ``None`` when more bytes are
needed and raises :class:`WebSocketError` on a frame RFC 6455 says must fail
the connection.  Assembling frames into messages, and what to do about bad
input, is the business of the stream framer (:mod:`analyzer.sip.framing`).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from analyzer.errors import TransportError

# RFC 6455 §5.2 opcodes.
OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_KNOWN_OPCODES = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG))

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class WebSocketError(TransportError):
    """A WebSocket frame (or frame sequence) that RFC 6455 says must fail the connection."""

    layer = "websocket"


@dataclass(frozen=True, slots=True)
class WsFrame:
    """One WebSocket frame; ``payload`` is already unmasked."""

    fin: bool
    opcode: int
    masked: bool
    payload: bytes


def decode_frame_header(buf: bytes | bytearray, off: int) -> tuple[int, int] | None:
    """Decode the frame header at ``buf[off:]``: ``(header_length, payload_length)``.

    ``header_length`` includes the masking key.  Returns ``None`` while the
    length fields are incomplete.  Raises :class:`WebSocketError` on reserved
    bits, unknown opcodes and malformed control frames.
    """
    n = len(buf)
    if n - off < 2:
        return None
    b0 = buf[off]
    b1 = buf[off + 1]
    if b0 & 0x70:
        # RFC 6455 §5.2: "RSV1, RSV2, RSV3 ... MUST be 0 unless an extension is
        # negotiated that defines meanings for non-zero values".  The usual one is
        # permessage-deflate (RFC 7692, RSV1), which SIP servers rarely accept.
        raise WebSocketError(
            f"reserved bits 0x{b0 & 0x70:02x} set (an extension such as "
            "permessage-deflate is in use; not decoded)"
        )
    opcode = b0 & 0x0F
    if opcode not in _KNOWN_OPCODES:
        # §5.2: "If an unknown opcode is received, the receiving endpoint MUST
        # _Fail the WebSocket Connection_."
        raise WebSocketError(f"reserved opcode 0x{opcode:x}")
    length = b1 & 0x7F
    header = 2
    if length == 126:
        if n - off < 4:
            return None
        length = _U16.unpack_from(buf, off + 2)[0]
        header = 4
    elif length == 127:
        if n - off < 10:
            return None
        length = _U64.unpack_from(buf, off + 2)[0]
        if length >> 63:
            # §5.2: "the most significant bit MUST be 0".
            raise WebSocketError(f"64-bit payload length 0x{length:016x} has its top bit set")
        header = 10
    # §5.2 also says "the minimal number of bytes MUST be used to encode the
    # length"; a longer encoding is unambiguous, so it is accepted rather than
    # losing the rest of the flow over it.
    if opcode >= OP_CLOSE:
        # §5.5: "All control frames MUST have a payload length of 125 bytes or
        # less and MUST NOT be fragmented."
        if not b0 & 0x80:
            raise WebSocketError(f"fragmented control frame (opcode 0x{opcode:x})")
        if length > 125:
            raise WebSocketError(f"control frame (opcode 0x{opcode:x}) of {length} bytes")
    if b1 & 0x80:
        header += 4
    return header, length


def decode_frame(buf: bytes | bytearray, off: int) -> tuple[WsFrame, int] | None:
    """Decode the frame at ``buf[off:]``: ``(frame, offset after it)``, or ``None`` if incomplete.

    Raises :class:`WebSocketError` (see :func:`decode_frame_header`).  Whether a
    frame is masked is reported, not enforced: RFC 6455 §5.1 has clients mask
    and servers not, but the direction is the caller's knowledge.
    """
    head = decode_frame_header(buf, off)
    if head is None:
        return None
    header, length = head
    start = off + header
    end = start + length
    if end > len(buf):
        return None
    b0 = buf[off]
    masked = bool(buf[off + 1] & 0x80)
    payload = bytes(buf[start:end])
    if masked and payload:
        payload = unmask(payload, bytes(buf[start - 4 : start]))
    return WsFrame(bool(b0 & 0x80), b0 & 0x0F, masked, payload), end


def unmask(data: bytes, key: bytes) -> bytes:
    """XOR ``data`` with the 4-byte masking ``key`` repeated (RFC 6455 §5.3)."""
    n = len(data)
    # One big-integer XOR instead of a per-byte loop: C speed at any size.
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


# -- The opening handshake (RFC 6455 §4) ------------------------------------------

# §4.1: "The method of the request MUST be GET, and the HTTP version MUST be at
# least 1.1."
_UPGRADE_REQUEST_LINE = re.compile(rb"GET [^ \r\n]+ HTTP/1\.[1-9]\r?\n")
# §4.2.2: "HTTP/1.1 101 Switching Protocols" accepts the upgrade.
_SWITCHING_PROTOCOLS_LINE = re.compile(rb"HTTP/1\.[1-9] 101(?: [^\r\n]*)?\r?\n")
# §4.1: the request "MUST contain an |Upgrade| header field whose value MUST
# include the "websocket" keyword" (case-insensitive, as all of HTTP's tokens).
# The header may list other protocols too, and its value may be folded.
_UPGRADE_WEBSOCKET = re.compile(rb"\n(?i:upgrade)[ \t]*:(?:[^\r\n]|\r?\n[ \t])*?(?i:websocket)")


def handshake_start(line: bytes | bytearray) -> str | None:
    """Classify a complete first line (with its line end) of a stream.

    Returns ``"request"`` for an HTTP/1.1 ``GET`` request line (a possible
    WebSocket upgrade request), ``"response"`` for an ``HTTP/1.x 101`` status
    line, ``None`` otherwise.
    """
    if _UPGRADE_REQUEST_LINE.fullmatch(line):
        return "request"
    if _SWITCHING_PROTOCOLS_LINE.fullmatch(line):
        return "response"
    return None


def is_upgrade_request(head: bytes | bytearray) -> bool:
    """True if the HTTP header block ``head`` is a WebSocket upgrade request."""
    return bool(_UPGRADE_REQUEST_LINE.match(head)) and bool(_UPGRADE_WEBSOCKET.search(head))


def is_upgrade_response(head: bytes | bytearray) -> bool:
    """True if the HTTP header block ``head`` is a ``101 Switching Protocols`` response."""
    return bool(_SWITCHING_PROTOCOLS_LINE.match(head))
