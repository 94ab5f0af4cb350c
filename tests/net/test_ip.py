"""IPv4 and IPv6 headers: options, extension headers, fragments, trimming, truncation."""

from __future__ import annotations

import pytest

from analyzer.errors import IPError
from analyzer.net.ip import decode_ipv4, decode_ipv6, skip_ipv6_extensions
from tests.packets import addr, ipv4, ipv6, ipv6_frag

A4, B4 = "192.0.2.1", "198.51.100.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
DATA = b"0123456789abcdef"


@pytest.mark.parametrize("options", [b"", b"\x01\x01\x01\x00", b"\x94\x04\x00\x00" * 10])
def test_ipv4_header_and_options(options: bytes) -> None:
    packet = ipv4(A4, B4, 17, DATA, ident=4660, options=options)
    src, dst, proto, ident, frag_off, more, start, stop, wire_end = decode_ipv4(
        packet, 0, len(packet)
    )
    assert (src, dst, proto, ident, frag_off, more) == (addr(A4), addr(B4), 17, 4660, 0, False)
    assert packet[start:stop] == DATA
    assert start == 20 + len(options)
    assert wire_end == stop == len(packet)


def test_ipv4_fragment_fields() -> None:
    packet = ipv4(A4, B4, 17, DATA, ident=9, frag_offset=1480, mf=True, df=False)
    header = decode_ipv4(packet, 0, len(packet))
    assert header[3:6] == (9, 1480, True)


def test_ipv4_dont_fragment_is_not_a_fragment() -> None:
    packet = ipv4(A4, B4, 6, DATA, df=True)
    assert decode_ipv4(packet, 0, len(packet))[4:6] == (0, False)


def test_ipv4_trims_ethernet_padding() -> None:
    packet = ipv4(A4, B4, 17, DATA) + b"PADDINGPADDING"
    _, _, _, _, _, _, start, stop, wire_end = decode_ipv4(packet, 0, len(packet))
    assert packet[start:stop] == DATA
    assert wire_end == stop


def test_ipv4_truncated_by_capture() -> None:
    packet = ipv4(A4, B4, 17, DATA)[:30]
    _, _, _, _, _, _, start, stop, wire_end = decode_ipv4(packet, 0, len(packet))
    assert (start, stop, wire_end) == (20, 30, 36)


def test_ipv4_total_length_zero_means_segmentation_offload() -> None:
    packet = ipv4(A4, B4, 6, DATA, total_length=0)
    _, _, _, _, _, _, start, stop, wire_end = decode_ipv4(packet, 0, len(packet))
    assert packet[start:stop] == DATA
    assert wire_end == stop


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        pytest.param(ipv4(A4, B4, 17, b"")[:19], "IPv4 header cut: 19 of 20", id="cut"),
        pytest.param(b"\x65" + ipv4(A4, B4, 17, b"")[1:], "version 6", id="version"),
        pytest.param(b"\x44" + ipv4(A4, B4, 17, b"")[1:], "header length 16", id="ihl"),
        pytest.param(
            ipv4(A4, B4, 17, b"", options=bytes(8))[:24], "options cut: 24 of 28", id="options"
        ),
        pytest.param(ipv4(A4, B4, 17, DATA, total_length=12), "total length 12", id="total"),
    ],
)
def test_ipv4_errors(packet: bytes, message: str) -> None:
    with pytest.raises(IPError, match=message):
        decode_ipv4(packet, 0, len(packet))


def test_ipv6_plain() -> None:
    packet = ipv6(A6, B6, 17, DATA) + b"pad"
    src, dst, proto, start, stop, wire_end, fragment = decode_ipv6(packet, 0, len(packet))
    assert (src, dst, proto, fragment) == (addr(A6), addr(B6), 17, None)
    assert packet[start:stop] == DATA
    assert wire_end == stop


def test_ipv6_extension_header_chain() -> None:
    ext = [
        (0, b"\x01\x04\x00\x00\x00\x00"),  # Hop-by-Hop: PadN
        (43, b"\x00\x00" + bytes(4) + bytes(16)),  # Routing type 0, one address
        (60, bytes(14)),  # Destination Options, 16 bytes
        (51, bytes(10) + bytes(12)),  # AH with a 96-bit ICV: (len + 2) * 4 = 24
        (135, bytes(6)),  # Mobility
        (139, bytes(6)),  # HIP
        (140, bytes(6)),  # Shim6
    ]
    packet = ipv6(A6, B6, 6, DATA, ext=ext)
    src, dst, proto, start, stop, wire_end, fragment = decode_ipv6(packet, 0, len(packet))
    assert proto == 6
    assert fragment is None
    assert packet[start:stop] == DATA
    assert start == 40 + 8 + 24 + 16 + 24 + 8 + 8 + 8


def test_ipv6_fragment_header() -> None:
    packet = ipv6(A6, B6, 17, DATA, ext=[(0, bytes(6)), ipv6_frag(1232, True, 0xDEADBEEF)])
    _, _, proto, start, stop, _, fragment = decode_ipv6(packet, 0, len(packet))
    assert proto == 17
    assert fragment == (0xDEADBEEF, 1232, True)
    assert packet[start:stop] == DATA


def test_ipv6_first_fragment_stops_at_fragment_header() -> None:
    # Headers after the Fragment header belong to the fragmentable part.
    packet = ipv6(A6, B6, 17, DATA, ext=[ipv6_frag(0, True, 5), (60, bytes(6))])
    _, _, proto, start, _, _, fragment = decode_ipv6(packet, 0, len(packet))
    assert fragment == (5, 0, True)
    assert proto == 60
    assert start == 48


def test_ipv6_atomic_fragment_is_a_whole_packet() -> None:
    packet = ipv6(A6, B6, 17, DATA, ext=[ipv6_frag(0, False, 5)])
    _, _, proto, start, stop, _, fragment = decode_ipv6(packet, 0, len(packet))
    assert (proto, fragment) == (17, None)
    assert packet[start:stop] == DATA


def test_ipv6_truncated_and_jumbo() -> None:
    packet = ipv6(A6, B6, 17, DATA)
    _, _, _, start, stop, wire_end, _ = decode_ipv6(packet, 0, 50)
    assert (start, stop, wire_end) == (40, 50, 56)
    jumbo = ipv6(A6, B6, 17, DATA, payload_length=0)
    _, _, _, start, stop, wire_end, _ = decode_ipv6(jumbo, 0, len(jumbo))
    assert jumbo[start:stop] == DATA
    assert wire_end == stop


@pytest.mark.parametrize(
    ("packet", "end", "message"),
    [
        pytest.param(ipv6(A6, B6, 17, b""), 39, "IPv6 header cut", id="cut"),
        pytest.param(b"\x40" + ipv6(A6, B6, 17, b"")[1:], None, "version 4", id="version"),
        pytest.param(ipv6(A6, B6, 17, DATA, ext=[(60, bytes(14))]), 50, "header 60 cut", id="ext"),
        pytest.param(ipv6(A6, B6, 17, b"", ext=[(0, b"")])[:41], None, "header 0 cut", id="ext1"),
        pytest.param(
            ipv6(A6, B6, 17, DATA, ext=[ipv6_frag(8, False, 1)]), 44, "Fragment header cut", id="f"
        ),
    ],
)
def test_ipv6_errors(packet: bytes, end: int | None, message: str) -> None:
    with pytest.raises(IPError, match=message):
        decode_ipv6(packet, 0, len(packet) if end is None else end)


def test_skip_extensions_after_reassembly() -> None:
    payload = bytes([17, 0]) + bytes(6) + DATA  # Destination Options then UDP
    assert skip_ipv6_extensions(60, payload, 0, len(payload)) == (17, 8)
    with pytest.raises(IPError, match="Fragment header inside"):
        skip_ipv6_extensions(44, bytes([17]) + bytes(7) + DATA, 0, 8 + len(DATA))
