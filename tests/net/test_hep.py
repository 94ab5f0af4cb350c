"""HEP decapsulation: HEPv3 (plain, IPv6, compressed), HEPv2/v1, malformed packets, TCP framing."""

from __future__ import annotations

import struct
import zlib

import pytest

from analyzer.errors import TunnelError
from analyzer.net import hep as hep_module
from analyzer.net.hep import HepPacket, decode_hep, split_hep_stream
from tests.packets import SIP_INVITE, addr, hep2, hep3, hep_chunk

A, B = "10.0.0.1", "10.0.0.2"
A6, B6 = "2001:db8::1", "2001:db8::2"


def test_hep3_ipv4() -> None:
    packet = hep3(A, B, 5060, 5080, SIP_INVITE, ts_sec=1_700_000_000, ts_usec=250_000)
    assert decode_hep(packet) == HepPacket(
        version=3,
        family=2,
        ip_proto=17,
        src=addr(A),
        dst=addr(B),
        sport=5060,
        dport=5080,
        ts_ns=1_700_000_000_250_000_000,
        proto_type=1,
        capture_id=2001,
        payload=SIP_INVITE,
    )


def test_hep3_ipv6_over_tcp() -> None:
    got = decode_hep(hep3(A6, B6, 5061, 5060, SIP_INVITE, proto=6, capture_id=None))
    assert (got.family, got.ip_proto, got.src, got.dst) == (10, 6, addr(A6), addr(B6))
    assert got.capture_id is None


@pytest.mark.parametrize("method", ["zlib", "gzip"])
def test_hep3_compressed_payload(method: str) -> None:
    got = decode_hep(hep3(A, B, 5060, 5060, SIP_INVITE, compress=method))
    assert got.payload == SIP_INVITE


def test_hep3_skips_unknown_vendors_and_types() -> None:
    extra = [
        hep_chunk(15, b"not the payload", vendor=0x0010),  # a vendor's own type 15
        hep_chunk(14, b"secret"),  # auth key
        hep_chunk(17, b"correlation-id"),
        hep_chunk(99, b"future"),
    ]
    got = decode_hep(hep3(A, B, 5060, 5060, SIP_INVITE, extra=extra))
    assert got.payload == SIP_INVITE


def test_hep3_capture_id_sizes_and_family_inferred() -> None:
    packet = hep3(A, B, 1, 2, b"x", capture_id=None, skip=[1], extra=[hep_chunk(12, b"\x00\x07")])
    got = decode_hep(packet)
    assert (got.capture_id, got.family) == (7, 2)


def test_hep3_non_sip_protocol_type() -> None:
    got = decode_hep(hep3(A, B, 1, 2, b'{"rtcp": 1}', proto_type=5))
    assert got.proto_type == 5


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        pytest.param(b"HEP3\x00", "HEP3 header cut", id="header-cut"),
        pytest.param(b"HEP3\x00\x04", "shorter than its header", id="length-short"),
        pytest.param(hep3(A, B, 1, 2, SIP_INVITE)[:-5], "HEP3 packet cut", id="packet-cut"),
        pytest.param(
            b"HEP3\x00\x0c" + struct.pack(">HHH", 0, 15, 3), "chunk type 15 with length 3", id="len"
        ),
        pytest.param(
            b"HEP3\x00\x0e" + struct.pack(">HHH", 0, 15, 9) + b"ab", "runs past", id="past"
        ),
        pytest.param(hep3(A, B, 1, 2, b"x", skip=[15]), "without payload", id="no-payload"),
        pytest.param(
            hep3(A, B, 1, 2, b"x", skip=[3, 4, 7]),
            "without addresses, source port",
            id="missing-several",
        ),
        pytest.param(hep3(A, B, 1, 2, b"x", skip=[9]), "without timestamp", id="no-time"),
        pytest.param(
            hep3(A, B, 1, 2, b"x", skip=[3], extra=[hep_chunk(3, b"\x01\x02")]),
            "IPv4 address chunk of 2 bytes",
            id="address-size",
        ),
        pytest.param(
            hep3(A, B, 1, 2, b"x", skip=[7], extra=[hep_chunk(7, b"\x00\x00\x13")]),
            "has 3 bytes",
            id="integer-size",
        ),
        pytest.param(
            hep3(A, B, 1, 2, b"x", skip=[1], extra=[hep_chunk(1, b"\x07")]),
            "family 7",
            id="family",
        ),
        pytest.param(
            hep3(A, B, 1, 2, b"x", skip=[15], extra=[hep_chunk(16, b"not zlib")]),
            "does not inflate",
            id="bad-zlib",
        ),
        pytest.param(
            hep3(A, B, 1, 2, b"x", skip=[15], extra=[hep_chunk(16, zlib.compress(b"x" * 99)[:-6])]),
            "compressed payload is cut",
            id="cut-zlib",
        ),
        pytest.param(b"\x03abc", "not a HEP packet", id="not-hep"),
        pytest.param(hep2(A, B, 1, 2, b"x")[:7], "header cut", id="hep2-cut"),
        pytest.param(hep2(A, B, 1, 2, b"x")[:20], "time header cut", id="hep2-time-cut"),
        pytest.param(b"\x02\x28\x02\x11" + bytes(40), "header length 40", id="hep2-hlen"),
        pytest.param(b"\x02\x10\x1e\x11" + bytes(40), "family 30", id="hep2-family"),
    ],
)
def test_malformed_hep(packet: bytes, message: str) -> None:
    with pytest.raises(TunnelError, match=message):
        decode_hep(packet)


def test_hep3_trailing_bytes_inside_declared_length() -> None:
    packet = hep3(A, B, 1, 2, b"x")
    bad = packet[:4] + struct.pack(">H", len(packet) + 3) + packet[6:] + b"\x00\x00\x0f"
    with pytest.raises(TunnelError, match="ends inside a chunk header"):
        decode_hep(bad)


def test_decompression_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hep_module, "MAX_HEP_PAYLOAD", 1000)
    bomb = hep3(A, B, 1, 2, b"\x00" * 5000, compress="zlib")
    with pytest.raises(TunnelError, match="inflates past 1000 bytes"):
        decode_hep(bomb)
    assert decode_hep(hep3(A, B, 1, 2, b"y" * 1000, compress="zlib")).payload == b"y" * 1000


@pytest.mark.parametrize(("src", "dst", "family"), [(A, B, 2), (A6, B6, 10)])
def test_hep2(src: str, dst: str, family: int) -> None:
    packet = hep2(src, dst, 5060, 5062, SIP_INVITE, ts_sec=1_600_000_000, ts_usec=7, capture_id=300)
    assert decode_hep(packet) == HepPacket(
        2,
        family,
        17,
        addr(src),
        addr(dst),
        5060,
        5062,
        1_600_000_000_000_007_000,
        1,
        300,
        SIP_INVITE,
    )


def test_hep2_time_is_little_endian() -> None:
    # The layout captagent sends: ports in network order, the time header
    # copied from host memory (x86: little-endian).
    raw = (
        bytes.fromhex("02 10 02 11 13c4 13c6 0a000001 0a000002 00f15365 07000000 2c01 0000")
        + b"OPTIONS"
    )
    got = decode_hep(raw)
    assert (got.sport, got.dport) == (5060, 5062)
    assert got.ts_ns == 0x6553F100 * 1_000_000_000 + 7_000
    assert got.capture_id == 300
    assert got.payload == b"OPTIONS"


def test_hep1_has_no_time() -> None:
    got = decode_hep(hep2(A, B, 5060, 5060, SIP_INVITE, version=1))
    assert (got.version, got.ts_ns, got.capture_id, got.payload) == (1, 0, None, SIP_INVITE)


def test_split_hep_stream() -> None:
    one = hep3(A, B, 1, 2, b"first")
    two = hep3(A, B, 1, 2, b"second")
    stream = one + two + two[:10]
    assert split_hep_stream(stream) == ([one, two], len(one) + len(two))
    # Byte at a time: nothing until a packet is complete.
    for cut in range(len(one)):
        assert split_hep_stream(one[:cut]) == ([], 0)
    assert split_hep_stream(b"") == ([], 0)


def test_split_hep_stream_out_of_step() -> None:
    one = hep3(A, B, 1, 2, b"first")
    with pytest.raises(TunnelError, match="out of step"):
        split_hep_stream(b"GET / HTTP/1.1\r\n")
    with pytest.raises(TunnelError, match="out of step"):
        split_hep_stream(b"GE")
    with pytest.raises(TunnelError, match="shorter than its header"):
        split_hep_stream(b"HEP3\x00\x02")
    # Garbage after complete packets: those are returned, the next call raises.
    packets, used = split_hep_stream(one + b"garbage!")
    assert (packets, used) == ([one], len(one))
    with pytest.raises(TunnelError):
        split_hep_stream((one + b"garbage!")[used:])


def test_hep2_addresses_cut() -> None:
    with pytest.raises(TunnelError, match="HEPv2 header cut: 10 of 16 bytes"):
        decode_hep(b"\x02\x10\x02\x11" + bytes(6))
