"""PacketDecoder: link types, the UDP filter, TCP/SCTP units, truncation, fragments.

Also the transport decoders and the fast record constructors, and a check over
real captures from the shared corpus (skipped when it is absent).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import Level, TransportError, TunnelError
from analyzer.net import packet as packet_module
from analyzer.net.packet import EMPTY, PREFILTERS, PacketDecoder
from analyzer.net.transport import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    SctpData,
    TcpSegment,
    UdpDatagram,
    decode_sctp,
    decode_tcp,
    decode_udp,
    make_sctp_data,
    make_tcp_segment,
    make_udp_datagram,
)
from analyzer.net.tunnels import decode_gtpu, decode_vxlan
from tests.packets import (
    MAC_A,
    MAC_B,
    RTP,
    SIP_INVITE,
    SIP_OPTIONS,
    addr,
    erspan3,
    ether,
    fragment_ipv4,
    fragment_ipv6,
    gre,
    gre_pptp,
    hep2,
    hep3,
    ipv4,
    ipv6,
    null_loop,
    read_capture,
    sctp,
    sctp_chunk,
    sctp_data,
    sctp_idata,
    sll,
    sll2,
    tcp,
    udp,
    vxlan,
)

A, B = "192.0.2.10", "192.0.2.20"
A6, B6 = "2001:db8::10", "2001:db8::20"
TS = 1_700_000_000_123_456_000


def feed(
    decoder: PacketDecoder,
    frame: bytes,
    frame_no: int = 1,
    linktype: int = 1,
    caplen: int | None = None,
    orig_len: int | None = None,
    ts: int = TS,
) -> list[object]:
    """Feed ``frame`` from inside a larger shared buffer, as the capture reader does."""
    buf = b"\xee" * 7 + frame + b"\xee" * 9
    caplen = len(frame) if caplen is None else caplen
    orig_len = len(frame) if orig_len is None else orig_len
    return list(decoder.feed(frame_no, ts, linktype, buf, 7, caplen, orig_len))


def udp_frame(payload: bytes, sport: int = 5060, dport: int = 5060, **eth: object) -> bytes:
    return ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 17, udp(sport, dport, payload)), **eth)  # type: ignore[arg-type]


def sip_unit(
    payload: bytes = SIP_INVITE, frames: tuple[int, ...] = (1,), **kw: object
) -> UdpDatagram:
    fields: dict[str, object] = dict(
        frames=frames, ts_ns=TS, src=addr(A), sport=5060, dst=addr(B), dport=5060,
        payload=payload, truncated=False,
    )  # fmt: skip
    fields.update(kw)
    return UdpDatagram(**fields)  # type: ignore[arg-type]


# -- link types ----------------------------------------------------------------

IP4_SIP = ipv4(A, B, 17, udp(5060, 5060, SIP_INVITE))
IP6_SIP = ipv6(A6, B6, 17, udp(5060, 5060, SIP_INVITE))


@pytest.mark.parametrize(
    ("linktype", "frame", "v6"),
    [
        pytest.param(1, ether(MAC_B, MAC_A, 0x0800, IP4_SIP), False, id="ethernet"),
        pytest.param(1, ether(MAC_B, MAC_A, 0x86DD, IP6_SIP), True, id="ethernet-v6"),
        pytest.param(1, ether(MAC_B, MAC_A, 0x0800, IP4_SIP, vlans=(10,)), False, id="vlan-1"),
        pytest.param(
            1, ether(MAC_B, MAC_A, 0x0800, IP4_SIP, vlans=((0x88A8, 1), 2)), False, id="vlan-2"
        ),
        pytest.param(113, sll(0x0800, IP4_SIP), False, id="sll"),
        pytest.param(276, sll2(0x86DD, IP6_SIP), True, id="sll2"),
        pytest.param(0, null_loop(2, IP4_SIP), False, id="null"),
        pytest.param(0, null_loop(30, IP6_SIP), True, id="null-darwin-v6"),
        pytest.param(108, null_loop(2, IP4_SIP, "big"), False, id="loop"),
        pytest.param(101, IP4_SIP, False, id="raw"),
        pytest.param(12, IP6_SIP, True, id="raw-12"),
        pytest.param(14, IP4_SIP, False, id="raw-14"),
        pytest.param(228, IP4_SIP, False, id="ipv4"),
        pytest.param(229, IP6_SIP, True, id="ipv6"),
    ],
)
def test_every_link_type_yields_the_sip_datagram(linktype: int, frame: bytes, v6: bool) -> None:
    decoder = PacketDecoder()
    src, dst = (A6, B6) if v6 else (A, B)
    assert feed(decoder, frame, linktype=linktype) == [sip_unit(src=addr(src), dst=addr(dst))]
    assert decoder.diagnostics == []
    assert decoder.stats.udp_sip_candidates == 1
    assert decoder.stats.packets == 1


def test_unknown_link_type_is_reported_once() -> None:
    decoder = PacketDecoder()
    for frame_no in (3, 4, 5):
        assert feed(decoder, IP4_SIP, frame_no=frame_no, linktype=147) == []
    feed(decoder, IP4_SIP, frame_no=6, linktype=148)
    assert decoder.diagnostics == []
    assert decoder.stats.unsupported_link == 4
    assert decoder.flush() == []
    assert [(d.layer, d.frames, d.reason) for d in decoder.diagnostics] == [
        ("link", (3,), "3 frame(s) of link type 147 not decoded: the link type is not supported"),
        ("link", (6,), "1 frame(s) of link type 148 not decoded: the link type is not supported"),
    ]


def test_non_ip_frames_are_counted() -> None:
    decoder = PacketDecoder()
    assert feed(decoder, ether(MAC_B, MAC_A, 0x0806, bytes(28))) == []
    assert feed(decoder, null_loop(7, IP4_SIP), linktype=0) == []  # unknown address family
    assert decoder.stats.not_ip == 2
    assert decoder.stats.packets == 2
    assert decoder.diagnostics == []


# -- the UDP filter ------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "kept"),
    [
        pytest.param(SIP_INVITE, True, id="request"),
        pytest.param(b"SIP/2.0 200 OK\r\n\r\n", True, id="response"),
        pytest.param(b"invite sip:x SIP/2.0\r\n\r\n", True, id="lowercase-start"),
        pytest.param(b"zzz", True, id="any-letter"),
        pytest.param(hep3(A, B, 5060, 5060, SIP_INVITE), True, id="hep3"),
        pytest.param(hep2(A, B, 5060, 5060, SIP_INVITE), True, id="hep2"),
        pytest.param(hep2(A6, B6, 5060, 5060, SIP_INVITE), True, id="hep2-v6"),
        pytest.param(hep2(A, B, 5060, 5060, SIP_INVITE, version=1), True, id="hep1"),
        pytest.param(b"\x02\x05\x02\x11" + bytes(40), False, id="hep2-bad-length"),
        pytest.param(b"\x02\x10\x07\x11" + bytes(40), False, id="hep2-bad-family"),
        pytest.param(b"\x02\x10\x02", False, id="hep2-too-short"),
        pytest.param(RTP, False, id="rtp"),
        pytest.param(b"\x81\xc8\x00\x06" + bytes(24), False, id="rtcp"),
        pytest.param(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12), False, id="stun"),
        pytest.param(b"\r\n\r\n", False, id="keepalive"),
        pytest.param(b"", False, id="empty"),
        pytest.param(b"\x16\xfe\xfd" + bytes(10), False, id="dtls"),
    ],
)
def test_udp_content_filter(payload: bytes, kept: bool) -> None:
    # The same datagram through every path that filters: the Ethernet fast
    # path, its one-VLAN-tag branch, the check after other link layers (two
    # tags), and the general path (IPv4 options).
    datagram = udp(5060, 5060, payload)
    frames = [
        udp_frame(payload),
        udp_frame(payload, vlans=(5,)),
        udp_frame(payload, vlans=(5, 6)),
        ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 17, datagram, options=b"\x01\x01\x01\x00")),
    ]
    for frame in frames:
        decoder = PacketDecoder()
        units = feed(decoder, frame)
        if kept:
            assert units == [sip_unit(payload)]
            assert decoder.stats.udp_sip_candidates == 1
        else:
            assert units == []
            assert decoder.stats.udp_rejected == 1
        assert decoder.stats.udp == 1
        assert decoder.stats.packets == 1
        assert decoder.diagnostics == []


def test_rejected_packets_share_one_empty_list() -> None:
    decoder = PacketDecoder()
    buf = udp_frame(RTP)
    for _ in range(3):
        assert decoder.feed(1, 0, 1, buf, 0, len(buf), len(buf)) is EMPTY
    assert EMPTY == []
    assert decoder.stats.udp_rejected == 3
    assert decoder.stats.fast_rejected == 3
    assert (decoder.stats.packets, decoder.stats.ipv4, decoder.stats.udp) == (3, 3, 3)


def test_unit_does_not_reference_the_shared_buffer() -> None:
    decoder = PacketDecoder()
    frame = bytearray(udp_frame(SIP_INVITE))
    (unit,) = decoder.feed(1, 0, 1, bytes(frame), 0, len(frame), len(frame))
    assert type(unit.payload) is bytes  # a copy of the slice, not a view
    assert type(unit.src) is bytes


def test_ethernet_padding_is_trimmed() -> None:
    # A short datagram padded to the 60-byte Ethernet minimum, with padding
    # that looks like text: neither path may take it into the payload.
    short = b"OPTIONS"
    for vlans in ((), (9,)):
        frame = udp_frame(short, vlans=vlans)
        frame += b"PADDINGPADDINGPADDING"[: max(0, 60 - len(frame))]
        decoder = PacketDecoder()
        assert feed(decoder, frame) == [sip_unit(short)]
    # An empty datagram whose padding starts with a letter is not a message.
    frame = udp_frame(b"") + b"SIPSIPSIPSIPSIP"
    decoder = PacketDecoder()
    assert feed(decoder, frame) == []
    assert decoder.stats.udp_rejected == 1


def test_udp_length_shorter_than_ip_payload() -> None:
    payload = ipv4(A, B, 17, udp(5060, 5060, SIP_OPTIONS + b"garbage", length=8 + len(SIP_OPTIONS)))
    for frame in (ether(MAC_B, MAC_A, 0x0800, payload), sll(0x0800, payload)):
        decoder = PacketDecoder()
        linktype = 1 if frame[12:14] == b"\x08\x00" else 113
        assert feed(decoder, frame, linktype=linktype) == [sip_unit(SIP_OPTIONS)]


# -- TCP -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "payload", "kept"),
    [
        (SYN, b"", True),
        (SYN | ACK, b"", True),
        (ACK, b"", False),
        (ACK | PSH, SIP_INVITE, True),
        (FIN | ACK, b"", True),
        (RST, b"", True),
        (ACK, b"\r\n\r\n", True),  # keep-alives are the stream layer's business
    ],
)
def test_tcp_segments(flags: int, payload: bytes, kept: bool) -> None:
    for options in (b"", b"\x02\x04\x05\xb4\x01\x03\x03\x07"):
        for vlans in ((), (3,)):
            segment = tcp(5060, 40000, 1000, 2000, flags, payload, options=options)
            frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 6, segment), vlans=vlans)
            decoder = PacketDecoder()
            units = feed(decoder, frame)
            expected = TcpSegment(
                1, TS, addr(A), 5060, addr(B), 40000, 1000, 2000, flags, payload, len(payload)
            )
            assert units == ([expected] if kept else [])
            assert decoder.stats.tcp == 1
            assert decoder.stats.tcp_segments == int(kept)
            assert decoder.stats.tcp_empty == int(not kept)


def test_tcp_over_ipv6_with_padding() -> None:
    segment = tcp(5061, 5060, 7, 8, ACK | PSH, SIP_OPTIONS)
    frame = ether(MAC_B, MAC_A, 0x86DD, ipv6(A6, B6, 6, segment)) + b"\0" * 6
    decoder = PacketDecoder()
    assert feed(decoder, frame) == [
        TcpSegment(
            1, TS, addr(A6), 5061, addr(B6), 5060, 7, 8, ACK | PSH, SIP_OPTIONS, len(SIP_OPTIONS)
        )
    ]


# -- SCTP ----------------------------------------------------------------------


def test_sctp_data_chunks() -> None:
    packet = sctp(
        5060,
        5061,
        sctp_chunk(3, 0, bytes(12)),  # SACK
        sctp_data(100, 1, 0, SIP_OPTIONS),
        sctp_data(101, 1, 0, b"odd", flags=0x02),  # 3 bytes: padded to 4
        sctp_idata(102, 2, 9, 0, b"I-DATA", flags=0x02),
        sctp_idata(103, 2, 9, 1, b"frag2", flags=0x01),
        sctp_chunk(6, 0, b""),  # ABORT
    )
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 132, packet))
    decoder = PacketDecoder()
    units = feed(decoder, frame)
    common = ((1,), TS, addr(A), 5060, addr(B), 5061)
    assert units == [
        SctpData(*common, 1, 100, 0, 3, SIP_OPTIONS),
        SctpData(*common, 1, 101, 0, 2, b"odd"),
        SctpData(*common, 2, 102, 0, 2, b"I-DATA"),
        SctpData(*common, 2, 103, 0, 1, b"frag2"),  # I-DATA: no PPID after the first
    ]
    assert (decoder.stats.sctp, decoder.stats.sctp_data, decoder.stats.sctp_other_chunks) == (
        1,
        4,
        2,
    )


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (sctp(1, 2)[:11], "SCTP common header cut"),
        (sctp(1, 2, b"\x00\x03\x00\x02"), "length 2"),
        (sctp(1, 2, b"\x00\x03\x00\x08\x00\x00\x00\x01"), "DATA chunk length 8 is below 16"),
        (sctp(1, 2, sctp_data(1, 1, 0, b"hello"))[:-4], "runs past the packet end"),
    ],
)
def test_sctp_errors(packet: bytes, message: str) -> None:
    with pytest.raises(TransportError, match=message):
        decode_sctp((1,), 0, b"a", b"b", packet, 0, len(packet), len(packet))
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 132, packet))
    decoder = PacketDecoder()
    assert feed(decoder, frame) == []
    (diag,) = decoder.diagnostics
    assert (diag.layer, diag.level) == ("transport", Level.WARNING)


# -- ICMP and others -----------------------------------------------------------


def test_sip_inside_icmp_is_not_a_message() -> None:
    # An ICMP port unreachable quoting the SIP datagram that bounced.
    bounced = ipv4(B, A, 17, udp(5060, 5060, SIP_INVITE))
    icmp = b"\x03\x03\x00\x00" + bytes(4) + bounced
    decoder = PacketDecoder()
    assert feed(decoder, ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 1, icmp))) == []
    icmp6 = b"\x01\x04\x00\x00" + bytes(4) + ipv6(B6, A6, 17, udp(5060, 5060, SIP_INVITE))
    assert feed(decoder, ether(MAC_B, MAC_A, 0x86DD, ipv6(A6, B6, 58, icmp6))) == []
    assert decoder.stats.icmp == 2
    assert feed(decoder, ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 50, b"ESP" * 10))) == []
    assert decoder.stats.other_ip == 1


# -- truncation ----------------------------------------------------------------


def truncated(frame: bytes, caplen: int) -> tuple[list[object], PacketDecoder]:
    decoder = PacketDecoder()
    return feed(decoder, frame, caplen=caplen, orig_len=len(frame)), decoder


@pytest.mark.parametrize(
    ("caplen", "layer", "message"),
    [
        (10, "link", "Ethernet header cut: 10 of 14 bytes captured"),
        (14 + 19, "ip", "IPv4 header cut: 19 of 20 bytes captured"),
        (14 + 20 + 7, "transport", "UDP header cut: 7 of 8 bytes captured"),
    ],
)
def test_header_cut_by_snapshot_length(caplen: int, layer: str, message: str) -> None:
    units, decoder = truncated(udp_frame(SIP_INVITE), caplen)
    assert units == []
    (diag,) = decoder.diagnostics
    assert (diag.layer, diag.frames, diag.reason, diag.level) == (layer, (1,), message, Level.INFO)
    assert decoder.stats.undecodable == 1


def test_header_cut_without_snapshot_is_a_warning() -> None:
    frame = udp_frame(SIP_INVITE)[: 14 + 19]
    decoder = PacketDecoder()
    feed(decoder, frame)
    assert decoder.diagnostics[0].level is Level.WARNING


@pytest.mark.parametrize("vlans", [(), (4,)])
def test_udp_payload_cut(vlans: tuple[int, ...]) -> None:
    frame = udp_frame(SIP_INVITE, vlans=vlans)
    caplen = len(frame) - 100
    units, decoder = truncated(frame, caplen)
    assert units == [sip_unit(SIP_INVITE[:-100], truncated=True)]
    assert decoder.diagnostics == []
    assert decoder.stats.truncated == 1


def test_udp_cut_right_after_header_is_not_kept() -> None:
    frame = udp_frame(SIP_INVITE)
    units, decoder = truncated(frame, 42)
    assert units == []
    assert decoder.stats.udp_rejected == 1


@pytest.mark.parametrize("vlans", [(), (4,)])
def test_tcp_payload_cut(vlans: tuple[int, ...]) -> None:
    frame = ether(
        MAC_B, MAC_A, 0x0800, ipv4(A, B, 6, tcp(1, 2, 3, 4, ACK, SIP_INVITE)), vlans=vlans
    )
    units, _ = truncated(frame, len(frame) - 50)
    (unit,) = units
    assert isinstance(unit, TcpSegment)
    assert unit.payload == SIP_INVITE[:-50]
    assert unit.wire_len == len(SIP_INVITE)
    assert unit.truncated


def test_tcp_header_cut() -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 6, tcp(1, 2, 3, 4, ACK, b"", b"\x01" * 12)))
    units, decoder = truncated(frame, 14 + 20 + 24)
    assert units == []
    assert decoder.diagnostics[0].reason == "TCP header with options cut: 24 of 32 bytes captured"


def test_sctp_chunk_cut() -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 132, sctp(1, 2, sctp_data(5, 1, 0, SIP_INVITE))))
    units, decoder = truncated(frame, len(frame) - 30)
    kept = len(SIP_INVITE) - (30 - (-len(SIP_INVITE) % 4))  # the chunk padding went first
    assert units == [
        SctpData((1,), TS, addr(A), 1, addr(B), 2, 1, 5, 0, 3, SIP_INVITE[:kept], True)
    ]
    assert decoder.stats.truncated == 1


def test_ipv6_extension_cut() -> None:
    frame = ether(MAC_B, MAC_A, 0x86DD, ipv6(A6, B6, 17, udp(1, 2, b"x"), ext=[(0, bytes(14))]))
    units, decoder = truncated(frame, 14 + 40 + 4)
    assert units == []
    assert decoder.diagnostics[0].layer == "ip"
    assert decoder.diagnostics[0].level is Level.INFO


# -- fragments -----------------------------------------------------------------


def feed_frames(decoder: PacketDecoder, frames: list[bytes], order: list[int]) -> list[object]:
    out: list[object] = []
    for i in order:
        out += feed(decoder, frames[i], frame_no=i + 1, ts=TS + i)
    return out


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 0, 2, 1, 1]])
def test_fragmented_sip_over_ipv4(order: list[int]) -> None:
    datagram = udp(5060, 5060, SIP_INVITE)
    frames = [ether(MAC_B, MAC_A, 0x0800, f) for f in fragment_ipv4(A, B, 17, datagram, 128)]
    decoder = PacketDecoder()
    units = feed_frames(decoder, frames, order)
    assert units == [sip_unit(frames=(1, 2, 3), ts_ns=TS + order[-1])]
    assert decoder.stats.fragments == len(order)
    assert decoder.stats.reassembled == 1
    assert decoder.flush() == []
    assert decoder.diagnostics == []


def test_fragmented_sip_over_ipv6_with_destination_options() -> None:
    inner = bytes([17, 0]) + bytes(6) + udp(5060, 5060, SIP_INVITE)
    frames = [ether(MAC_B, MAC_A, 0x86DD, f) for f in fragment_ipv6(A6, B6, 60, inner, 96)]
    decoder = PacketDecoder()
    units = feed_frames(decoder, frames, [3, 1, 0, 2])
    assert units == [sip_unit(frames=(1, 2, 3, 4), ts_ns=TS + 2, src=addr(A6), dst=addr(B6))]


def test_fragmented_rtp_is_filtered_after_reassembly() -> None:
    frames = [
        ether(MAC_B, MAC_A, 0x0800, f) for f in fragment_ipv4(A, B, 17, udp(4000, 4002, RTP), 64)
    ]
    decoder = PacketDecoder()
    assert feed_frames(decoder, frames, [0, 1, 2]) == []
    assert decoder.stats.udp_rejected == 1


def test_missing_fragment_is_a_diagnostic_at_flush() -> None:
    datagram = udp(5060, 5060, SIP_INVITE)
    frames = [ether(MAC_B, MAC_A, 0x0800, f) for f in fragment_ipv4(A, B, 17, datagram, 128)]
    decoder = PacketDecoder()
    assert feed_frames(decoder, frames, [0, 2]) == []
    assert decoder.flush() == []
    (diag,) = decoder.diagnostics
    assert (diag.layer, diag.frames) == ("ip", (1, 3))


def test_truncated_fragment_is_not_fed() -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 17, bytes(200), mf=True))
    units, decoder = truncated(frame, len(frame) - 10)
    assert units == []
    (diag,) = decoder.diagnostics
    assert "cannot be reassembled" in diag.reason
    assert decoder.flush() == []


def test_fragmented_tcp_segment_names_the_completing_frame() -> None:
    segment = tcp(5060, 5061, 1, 2, ACK | PSH, SIP_INVITE)
    frames = [ether(MAC_B, MAC_A, 0x0800, f) for f in fragment_ipv4(A, B, 6, segment, 200)]
    decoder = PacketDecoder()
    units = feed_frames(decoder, frames, [1, 0])
    assert units == [
        TcpSegment(
            1, TS, addr(A), 5060, addr(B), 5061, 1, 2, ACK | PSH, SIP_INVITE, len(SIP_INVITE)
        )
    ]


# -- diagnostics bound ---------------------------------------------------------


def test_diagnostics_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packet_module, "MAX_DIAGNOSTICS_PER_LAYER", 3)
    decoder = PacketDecoder()
    for frame_no in range(1, 11):
        feed(decoder, b"\x00" * 10, frame_no=frame_no)
    assert len(decoder.diagnostics) == 3
    decoder.flush()
    assert decoder.diagnostics[-1].reason == "7 more link diagnostics not listed (the first 3 are)"


# -- fast path and general path agree -------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    proto=st.sampled_from([6, 17]),
    payload=st.binary(max_size=64),
    first=st.integers(0, 255),
    flags=st.integers(0, 255),
    sport=st.integers(0, 65535),
    dport=st.sampled_from([5060, 5061, 4789, 2152, 9060, 40000]),
    padding=st.binary(max_size=20),
    cut=st.integers(0, 80),
)
def test_fast_and_general_paths_agree(
    proto: int,
    payload: bytes,
    first: int,
    flags: int,
    sport: int,
    dport: int,
    padding: bytes,
    cut: int,
) -> None:
    payload = bytes([first]) + payload
    l4 = udp(sport, dport, payload) if proto == 17 else tcp(sport, dport, 11, 22, flags, payload)
    ip = ipv4(A, B, proto, l4) + padding
    with_options = ipv4(A, B, proto, l4, options=b"\x01\x01\x01\x00") + padding
    caplen = max(0, len(ip) - cut)
    # (link type, frame, link header length): the fast path, its VLAN branch,
    # the check after the link layer (Linux cooked), the general path.
    variants = [
        (1, ether(MAC_B, MAC_A, 0x0800, ip), 14),
        (1, ether(MAC_B, MAC_A, 0x0800, ip, vlans=(7,)), 18),
        (113, sll(0x0800, ip), 16),
        (1, ether(MAC_B, MAC_A, 0x0800, with_options), 18),
    ]
    results = []
    for linktype, frame, header in variants:
        decoder = PacketDecoder()
        units = feed(decoder, frame, linktype=linktype, caplen=header + caplen, orig_len=len(frame))
        diagnostics = [(d.layer, d.reason, d.level) for d in decoder.diagnostics]
        results.append((units, diagnostics, decoder.stats.as_dict()))
    assert results[1] == results[0]
    assert results[2] == results[0]
    # With options the header is 4 bytes longer: the same units, unless the
    # capture cut inside that difference.
    if not results[3][1] and not results[0][1]:
        assert results[3] == results[0]


# -- transport decoders and record constructors -----------------------------------


def test_decode_udp_lengths() -> None:
    datagram = udp(1, 2, b"abc")
    assert decode_udp(datagram, 0, len(datagram), len(datagram)) == (1, 2, 8, 11, False)
    jumbo = udp(1, 2, b"abc", length=0)
    assert decode_udp(jumbo, 0, len(jumbo), len(jumbo)) == (1, 2, 8, 11, False)
    assert decode_udp(datagram, 0, 9, len(datagram)) == (1, 2, 8, 9, True)
    with pytest.raises(TransportError, match="UDP length 7 is shorter"):
        decode_udp(udp(1, 2, b"", length=7), 0, 8, 8)
    with pytest.raises(TransportError, match="UDP length 20 exceeds the 11 bytes"):
        decode_udp(udp(1, 2, b"abc", length=20), 0, 11, 11)


def test_decode_tcp_errors() -> None:
    with pytest.raises(TransportError, match="TCP data offset 16"):
        decode_tcp(b"\x00" * 12 + b"\x40" + b"\x00" * 7, 0, 20)
    with pytest.raises(TransportError, match="TCP header cut: 19 of 20"):
        decode_tcp(bytes(19), 0, 19)


def test_fast_constructors_equal_the_dataclass_constructors() -> None:
    udp_args = ((1, 2), 5, b"\x01\x02\x03\x04", 6, b"\x05\x06\x07\x08", 7, b"payload", True)
    made = make_udp_datagram(*udp_args)
    plain = UdpDatagram(*udp_args)
    assert type(made) is UdpDatagram
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    tcp_args = (3, 5, b"a" * 4, 6, b"b" * 4, 7, 8, 9, 0x18, b"data", 10)
    made_tcp = make_tcp_segment(*tcp_args)
    assert type(made_tcp) is TcpSegment
    assert made_tcp == TcpSegment(*tcp_args) and made_tcp.truncated
    sctp_args = ((1,), 5, b"a" * 4, 6, b"b" * 4, 7, 1, 2, 3, 3, b"x", False)
    assert make_sctp_data(*sctp_args) == SctpData(*sctp_args)
    with pytest.raises(AttributeError):
        made.payload = b"changed"  # type: ignore[misc]


# -- real captures -------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

_START_LINE = re.compile(
    rb"(?:[A-Za-z]+ \S+ SIP/2\.0\r?\n|SIP/2\.0 \d{3} )",
)


def tshark_sip_frames(name: str) -> int:
    with open(CORPUS / "tshark" / f"{name}.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return sum(1 for row in rows if row["frame.number"])


@pytest.mark.parametrize(
    "name",
    [
        "irontec_ipip.pcap",
        "irontec_ipv6frag.pcap",
        "sipcapture_erspan_sip_ipv4_udp.pcapng",
        "ntop_gre.pcapng",
        "arkime_gtp-iphone.pcap",
        "sipcapture_sip_sctp.pcap",
        "sipcapture_ipip0.pcap",
        "ajbanjara_filenameGRE199---fax-iz-InLife-G711---OK___.cap",
    ],
)
def test_real_captures_match_tshark(name: str) -> None:
    path = CORPUS / "files" / name
    if not path.exists():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    decoder = PacketDecoder()
    sip_units = 0
    for frame_no, ts_ns, linktype, data, orig_len in read_capture(path):
        for unit in decoder.feed(frame_no, ts_ns, linktype, data, 0, len(data), orig_len):
            if _START_LINE.match(unit.payload):
                sip_units += 1
    decoder.flush()
    assert sip_units == tshark_sip_frames(name), decoder.diagnostics
    assert [d for d in decoder.diagnostics if d.level is not Level.INFO] == []


# -- less travelled paths ----------------------------------------------------------


def test_stats_repr_lists_non_zero_totals() -> None:
    decoder = PacketDecoder()
    feed(decoder, udp_frame(RTP))
    assert repr(decoder.stats) == "DecodeStats(packets=1, ip=1, ipv4=1, udp=1, udp_rejected=1)"


def test_conflicting_fragments_through_the_decoder() -> None:
    first = ipv4(A, B, 17, udp(5060, 5060, SIP_INVITE)[:64], ident=5, mf=True)
    evil = ipv4(A, B, 17, b"X" * 64, ident=5, mf=True)
    decoder = PacketDecoder()
    feed(decoder, ether(MAC_B, MAC_A, 0x0800, first), frame_no=1)
    feed(decoder, ether(MAC_B, MAC_A, 0x0800, evil), frame_no=2)
    (diag,) = decoder.diagnostics
    assert (diag.layer, diag.frames) == ("ip", (2,))
    assert "disagree" in diag.reason


def test_reassembled_ipv6_with_bad_extension() -> None:
    inner = bytes([44, 0]) + bytes(6) + bytes(32)  # a Fragment header after reassembly
    frames = [ether(MAC_B, MAC_A, 0x86DD, f) for f in fragment_ipv6(A6, B6, 44, inner, 16)]
    decoder = PacketDecoder()
    assert feed_frames(decoder, frames, [0, 1, 2]) == []
    (diag,) = decoder.diagnostics
    assert diag.frames == (1, 2, 3)
    assert "Fragment header inside" in diag.reason


def test_sctp_without_data() -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 132, sctp(1, 2, sctp_chunk(3, 0, bytes(12)))))
    decoder = PacketDecoder()
    assert feed(decoder, frame) == []
    assert (decoder.stats.sctp, decoder.stats.sctp_other_chunks) == (1, 1)


def test_sctp_data_header_cut_by_capture() -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 132, sctp(1, 2, sctp_data(5, 1, 0, b"x" * 40))))
    units, decoder = truncated(frame, 14 + 20 + 12 + 10)
    assert units == []
    assert decoder.diagnostics[0].reason == "SCTP DATA chunk header cut: 10 of 16 bytes"


def tunnel_frame(proto: int, payload: bytes) -> bytes:
    return ether(MAC_B, MAC_A, 0x0800, ipv4("172.16.0.1", "172.16.0.2", proto, payload))


@pytest.mark.parametrize(
    ("frame", "layer", "reason"),
    [
        pytest.param(
            tunnel_frame(47, gre(0x8100, b"\x00\x01")), "link", "VLAN tag header cut", id="gre-vlan"
        ),
        pytest.param(
            tunnel_frame(47, gre(0x6558, b"\x00" * 10)), "link", "Ethernet header cut", id="teb"
        ),
        pytest.param(
            tunnel_frame(47, gre(0x22EB, erspan3(b"\x50" + bytes(20), frame_type=2))),
            "tunnel",
            "tunnelled packet is not IP (IP version 5)",
            id="erspan3-ip",
        ),
    ],
)
def test_broken_inner_packets(frame: bytes, layer: str, reason: str) -> None:
    decoder = PacketDecoder()
    assert feed(decoder, frame) == []
    (diag,) = decoder.diagnostics
    assert diag.layer == layer
    assert diag.reason.startswith(reason)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(gre(0x0806, bytes(28)), id="arp-over-gre"),
        pytest.param(gre(0x6558, ether(MAC_B, MAC_A, 0x0806, bytes(28))), id="arp-over-teb"),
        pytest.param(gre_pptp(b"\xff\x03\xc0\x21" + bytes(8)), id="lcp-over-pptp"),
    ],
)
def test_tunnelled_non_ip(payload: bytes) -> None:
    decoder = PacketDecoder()
    assert feed(decoder, tunnel_frame(47, payload)) == []
    assert decoder.stats.not_ip == 1
    assert decoder.diagnostics == []


@pytest.mark.parametrize(
    ("proto", "make"),
    [
        pytest.param(17, lambda inner: udp(1, 4789, vxlan(1, ether(MAC_B, MAC_A, 0x0800, inner)))),
        pytest.param(47, lambda inner: gre(0x0800, inner)),
    ],
    ids=["vxlan", "gre"],
)
def test_depth_limit_on_every_tunnel(proto: int, make: Callable[[bytes], bytes]) -> None:
    from analyzer.net.tunnels import MAX_TUNNEL_DEPTH

    packet = ipv4(A, B, 17, udp(5060, 5060, SIP_INVITE))
    for _ in range(MAX_TUNNEL_DEPTH + 1):
        packet = ipv4("172.16.0.1", "172.16.0.2", proto, make(packet))
    decoder = PacketDecoder()
    assert feed(decoder, ether(MAC_B, MAC_A, 0x0800, packet)) == []
    assert "nested tunnels" in decoder.diagnostics[0].reason


def test_real_capture_sip_quoted_in_icmp_is_not_counted() -> None:
    # tshark counts three frames of this capture as SIP: ICMP errors quoting
    # a SIP datagram (frames 2, 150 and 152).  They are not messages.
    name = "goffinet_private-test-sip.pcapng"
    path = CORPUS / "files" / name
    if not path.exists():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    decoder = PacketDecoder()
    frames_with_sip = set()
    for frame_no, ts_ns, linktype, data, orig_len in read_capture(path):
        for unit in decoder.feed(frame_no, ts_ns, linktype, data, 0, len(data), orig_len):
            if _START_LINE.match(unit.payload):
                frames_with_sip.add(frame_no)
    assert len(frames_with_sip) == tshark_sip_frames(name) - 3
    assert not frames_with_sip & {2, 150, 152}
    assert decoder.stats.icmp >= 3


# -- hostile input ---------------------------------------------------------------

_SEEDS = [
    udp_frame(SIP_INVITE),
    udp_frame(RTP, vlans=(5,)),
    ether(MAC_B, MAC_A, 0x86DD, IP6_SIP),
    ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 6, tcp(1, 2, 3, 4, ACK, SIP_INVITE))),
    ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 132, sctp(1, 2, sctp_data(1, 1, 0, SIP_OPTIONS)))),
    ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 47, gre(0x0800, IP4_SIP))),
    ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 17, udp(1, 2152, b"\x34\xff\x00\x10" + bytes(20)))),
    ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 17, udp(1, 4789, vxlan(1, udp_frame(SIP_INVITE))))),
    ether(MAC_B, MAC_A, 0x0800, fragment_ipv4(A, B, 17, udp(1, 2, SIP_INVITE), 64)[0]),
]


@settings(max_examples=300, deadline=None)
@given(
    seed=st.sampled_from(_SEEDS),
    linktype=st.sampled_from([0, 1, 12, 101, 108, 113, 228, 229, 276, 999]),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 400),
)
def test_any_bytes_decode_or_diagnose(
    seed: bytes, linktype: int, flips: list[tuple[int, int]], cut: int
) -> None:
    # The fuzz invariant: whatever the bytes, feed() returns units (or
    # nothing) and explains itself through diagnostics; it never raises.
    frame = bytearray(seed)
    for pos, value in flips:
        if pos < len(frame):
            frame[pos] = value
    data = bytes(frame[: max(0, len(frame) - cut)])
    decoder = PacketDecoder()
    units = feed(decoder, data, linktype=linktype, orig_len=len(seed))
    units += feed(decoder, data, frame_no=2, linktype=linktype, orig_len=len(seed))
    assert all(isinstance(u, (UdpDatagram, TcpSegment, SctpData)) for u in units)
    assert decoder.flush() == []
    assert decoder.stats.packets == 2


# -- prefilters and shares -----------------------------------------------------------


def _prefilter_matches(frame: bytes) -> bool:
    return any(
        len(frame) >= pf.layout.size and pf.layout.unpack_from(frame) in pf.reject
        for pf in PREFILTERS
    )


@pytest.mark.parametrize("vlans", [(), (5,)], ids=["untagged", "vlan"])
@pytest.mark.parametrize("dport", [5060, 4002, 4789, 2152], ids=str)
@pytest.mark.parametrize("df", [False, True], ids=["", "df"])
def test_prefilters_match_only_what_the_decoder_rejects(
    vlans: tuple[int, ...], dport: int, df: bool
) -> None:
    # Every first byte, on ordinary and on tunnel ports: what a prefilter
    # matches, the decoder rejects without a unit or a diagnostic (so the
    # reader may skip it), and the RTP bytes are all matched.
    matched = set()
    for first in range(256):
        payload = bytes([first]) + bytes(40)
        ip = ipv4(A, B, 17, udp(4000, dport, payload), df=df)
        frame = ether(MAC_B, MAC_A, 0x0800, ip, vlans=vlans)
        if not _prefilter_matches(frame):
            continue
        matched.add(first)
        decoder = PacketDecoder()
        assert feed(decoder, frame) == []
        assert decoder.stats.udp_rejected == 1 and decoder.diagnostics == []
    assert set(range(0x80, 0x88)) | set(range(0x90, 0xC0)) <= matched  # RTP, RTCP
    assert not matched & set(b"SIPHINVTEabcz\x01\x02")


def test_prefilters_leave_tunnel_headers_to_the_decoder() -> None:
    for first in range(256):
        if first in packet_module._PREFILTER_FIRST_BYTES:
            with pytest.raises(TunnelError):
                decode_vxlan(bytes([first]) + bytes(7), 0, 8)
            with pytest.raises(TunnelError):
                decode_gtpu(bytes([first]) + b"\xff\x00\x00" + bytes(4), 0, 8)


def test_prefilters_ignore_fragments_options_and_other_protocols() -> None:
    rtp = udp(4000, 4002, RTP)
    for ip in (
        ipv4(A, B, 17, rtp, mf=True),
        ipv4(A, B, 17, rtp, frag_offset=8),
        ipv4(A, B, 17, rtp, options=b"\x01\x01\x01\x00"),
        ipv4(A, B, 6, rtp),
    ):
        assert not _prefilter_matches(ether(MAC_B, MAC_A, 0x0800, ip))
    assert not _prefilter_matches(ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 17, rtp), vlans=(5, 6)))
    assert _prefilter_matches(ether(MAC_B, MAC_A, 0x0800, ipv4(A, B, 17, rtp)))


def test_prefiltered_frames_count_as_rejected_udp() -> None:
    decoder = PacketDecoder()
    feed(decoder, udp_frame(SIP_INVITE))
    decoder.set_prefiltered(4)
    decoder.set_prefiltered(5)  # a running total, not an increment
    stats = decoder.stats
    assert (stats.packets, stats.ipv4, stats.udp, stats.udp_rejected) == (6, 6, 6, 5)
    assert stats.as_dict()["packets"] == 6 and "prefiltered" not in stats.as_dict()


def test_only_udp_frames_of_one_share_are_built() -> None:
    decoder = PacketDecoder()
    decoder.only_udp_frames(3, 1)
    got = [feed(decoder, udp_frame(SIP_INVITE), frame_no=n) for n in range(1, 7)]
    assert [bool(units) for units in got] == [True, False, False, True, False, False]
    # Other paths build every unit: the caller picks its share among them.
    assert feed(decoder, udp_frame(SIP_INVITE, vlans=(5,)), frame_no=2) != []
    assert feed(decoder, udp_frame(SIP_INVITE, vlans=(5, 6)), frame_no=3) != []
    assert decoder.stats.udp_sip_candidates == 8 and decoder.diagnostics == []
    with pytest.raises(ValueError):
        decoder.only_udp_frames(2, 2)
