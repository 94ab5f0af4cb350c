"""WebSocket frame decoding (RFC 6455 §5) and handshake recognition (§4)."""

from __future__ import annotations

import struct

import pytest

from analyzer.net.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    WebSocketError,
    WsFrame,
    decode_frame,
    decode_frame_header,
    handshake_start,
    is_upgrade_request,
    is_upgrade_response,
    unmask,
)

KEY = b"\x37\xfa\x21\x3d"


def ws_frame(
    payload: bytes,
    opcode: int = OP_TEXT,
    *,
    fin: bool = True,
    key: bytes | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """Build a frame; ``length_bytes`` (0, 2 or 8) forces a length encoding."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    mask_bit = 0x80 if key is not None else 0
    if length_bytes == 0:
        head = bytes((b0, mask_bit | n))
    elif length_bytes == 2:
        head = bytes((b0, mask_bit | 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, mask_bit | 127)) + struct.pack("!Q", n)
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


# RFC 6455 §5.7 examples, then our own for the longer length forms.
FRAMES = [
    (
        "rfc-unmasked-hello",
        b"\x81\x05\x48\x65\x6c\x6c\x6f",
        WsFrame(True, OP_TEXT, False, b"Hello"),
    ),
    (
        "rfc-masked-hello",
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
        WsFrame(True, OP_TEXT, True, b"Hello"),
    ),
    ("rfc-fragment-1", b"\x01\x03\x48\x65\x6c", WsFrame(False, OP_TEXT, False, b"Hel")),
    ("rfc-fragment-2", b"\x80\x02\x6c\x6f", WsFrame(True, OP_CONTINUATION, False, b"lo")),
    ("rfc-ping", b"\x89\x05\x48\x65\x6c\x6c\x6f", WsFrame(True, OP_PING, False, b"Hello")),
    ("empty", b"\x82\x00", WsFrame(True, OP_BINARY, False, b"")),
    ("empty-masked", b"\x82\x80" + KEY, WsFrame(True, OP_BINARY, True, b"")),
    ("16-bit", ws_frame(b"x" * 300, OP_BINARY), WsFrame(True, OP_BINARY, False, b"x" * 300)),
    (
        "16-bit-masked",
        ws_frame(b"INVITE " * 40, key=KEY),
        WsFrame(True, OP_TEXT, True, b"INVITE " * 40),
    ),
    (
        "64-bit-masked",
        ws_frame(b"y" * 70000, key=KEY),
        WsFrame(True, OP_TEXT, True, b"y" * 70000),
    ),
    # §5.2 requires minimal length encodings; a longer one is unambiguous and accepted.
    ("non-minimal-length", ws_frame(b"ab", length_bytes=8), WsFrame(True, OP_TEXT, False, b"ab")),
    ("close", b"\x88\x02\x03\xe8", WsFrame(True, OP_CLOSE, False, b"\x03\xe8")),
]


@pytest.mark.parametrize(("wire", "frame"), [c[1:] for c in FRAMES], ids=[c[0] for c in FRAMES])
def test_decode_frame(wire: bytes, frame: WsFrame) -> None:
    # Whole, every proper prefix needs more data, and trailing bytes are left alone.
    assert decode_frame(wire, 0) == (frame, len(wire))
    for cut in range(len(wire)) if len(wire) < 400 else (0, 1, 2, 5, 9, 13, len(wire) - 1):
        assert decode_frame(wire[:cut], 0) is None
    assert decode_frame(b"zz" + wire + b"\x81\x05Hel", 2) == (frame, 2 + len(wire))
    assert decode_frame(bytearray(wire), 0) == (frame, len(wire))


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"\xc1\x00", "reserved bits 0x40"),
        (b"\xa1\x00", "reserved bits 0x20"),
        (b"\x83\x00", "reserved opcode 0x3"),
        (b"\x8b\x00", "reserved opcode 0xb"),
        (b"\x09\x00", "fragmented control frame"),
        (b"\x89\x7e\x00\x7e" + b"p" * 126, "control frame (opcode 0x9) of 126 bytes"),
        (b"\x81\x7f\x80" + b"\x00" * 7, "top bit set"),
    ],
)
def test_invalid_frames_raise(wire: bytes, message: str) -> None:
    with pytest.raises(WebSocketError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_frame(wire, 0)


def test_header_lengths() -> None:
    assert decode_frame_header(b"\x81\x85" + KEY, 0) == (6, 5)
    assert decode_frame_header(b"\x81\xfe\x01\x00", 0) == (8, 256)
    assert decode_frame_header(b"\x81\x7e\x01", 0) is None
    assert decode_frame_header(b"\x81\x7f" + b"\x00" * 7, 0) is None
    assert decode_frame_header(b"\x81", 0) is None


def test_error_layer() -> None:
    assert WebSocketError("x").layer == "websocket"


def test_unmask_is_an_involution() -> None:
    data = bytes(range(256)) * 3 + b"tail"
    assert unmask(unmask(data, KEY), KEY) == data
    assert unmask(b"\x7f\x9f\x4d\x51\x58", KEY) == b"Hello"


UPGRADE_REQUEST = (
    b"GET /ws HTTP/1.1\r\n"
    b"Host: proxy.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Protocol: sip\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
UPGRADE_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: sip\r\n\r\n"
)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"GET /ws HTTP/1.1\r\n", "request"),
        (b"GET / HTTP/1.1\n", "request"),
        (b"HTTP/1.1 101 Switching Protocols\r\n", "response"),
        (b"HTTP/1.1 101\r\n", "response"),
        (b"GET / HTTP/1.0\r\n", None),  # §4.1: at least HTTP/1.1
        (b"POST /ws HTTP/1.1\r\n", None),
        (b"HTTP/1.1 200 OK\r\n", None),
        (b"INVITE sip:bob@example.com SIP/2.0\r\n", None),
    ],
)
def test_handshake_start(line: bytes, kind: str | None) -> None:
    assert handshake_start(line) == kind


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (UPGRADE_REQUEST, True),
        (UPGRADE_REQUEST.replace(b"Upgrade: websocket", b"upgrade :  WebSocket"), True),
        (UPGRADE_REQUEST.replace(b"Upgrade: websocket", b"Upgrade: h2c, websocket"), True),
        (UPGRADE_REQUEST.replace(b"Upgrade: websocket", b"Upgrade: h2c"), False),
        (UPGRADE_REQUEST.replace(b"Upgrade: websocket\r\n", b""), False),
        (UPGRADE_REQUEST.replace(b"GET", b"PUT"), False),
    ],
)
def test_is_upgrade_request(head: bytes, expected: bool) -> None:
    assert is_upgrade_request(head) is expected


def test_is_upgrade_response() -> None:
    assert is_upgrade_response(UPGRADE_RESPONSE)
    assert not is_upgrade_response(UPGRADE_RESPONSE.replace(b"101", b"400"))
