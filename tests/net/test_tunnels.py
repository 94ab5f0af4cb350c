"""Tunnels: header decoders, then every tunnel end to end through PacketDecoder.

A few tunnels are cross-checked against packets built by scapy, so that the
builders in ``tests/packets.py`` and the decoders cannot share a mistake.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from analyzer.errors import TunnelError
from analyzer.net.packet import PacketDecoder
from analyzer.net.transport import SctpData, TcpSegment, UdpDatagram
from analyzer.net.tunnels import (
    ERSPAN3_FRAME_ETHERNET,
    ERSPAN3_FRAME_IP,
    MAX_TUNNEL_DEPTH,
    VXLAN_NEXT_ETHERNET,
    decode_erspan2,
    decode_erspan3,
    decode_gre,
    decode_gtpu,
    decode_ppp,
    decode_vxlan,
)
from tests.packets import (
    MAC_A,
    MAC_B,
    SIP_INVITE,
    addr,
    erspan2,
    erspan3,
    ether,
    gre,
    gre_pptp,
    gtpu,
    ipv4,
    ipv6,
    mpls,
    udp,
    vxlan,
)

OUTER_A, OUTER_B = "172.16.0.1", "172.16.0.2"
INNER_A, INNER_B = "10.1.1.1", "10.2.2.2"
INNER6_A, INNER6_B = "2001:db8::a", "2001:db8::b"


def inner_sip_v4() -> bytes:
    return ipv4(INNER_A, INNER_B, 17, udp(5062, 5060, SIP_INVITE))


def inner_sip_v6() -> bytes:
    return ipv6(INNER6_A, INNER6_B, 17, udp(5062, 5060, SIP_INVITE))


def decode(
    frame: bytes, linktype: int = 1, frame_no: int = 1
) -> tuple[list[object], PacketDecoder]:
    decoder = PacketDecoder()
    units = list(decoder.feed(frame_no, 1_000, linktype, frame, 0, len(frame), len(frame)))
    return units, decoder


def expect_inner_sip(frame: bytes, v6: bool = False) -> PacketDecoder:
    units, decoder = decode(frame)
    src, dst = (INNER6_A, INNER6_B) if v6 else (INNER_A, INNER_B)
    assert units == [
        UdpDatagram((1,), 1_000, addr(src), 5062, addr(dst), 5060, SIP_INVITE, False)
    ], decoder.diagnostics
    return decoder


# -- header decoders -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "length", "has_seq"),
    [
        ({}, 4, False),
        ({"key": 7}, 8, False),
        ({"seq": 9}, 8, True),
        ({"checksum_present": True}, 8, False),
        ({"checksum_present": True, "key": 1, "seq": 2}, 16, True),
    ],
)
def test_gre_optional_fields(kwargs: dict[str, int], length: int, has_seq: bool) -> None:
    packet = b"..." + gre(0x0800, b"payload", **kwargs)  # type: ignore[arg-type]
    assert decode_gre(packet, 3, len(packet)) == (0x0800, 3 + length, has_seq)


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (gre(0x880B, b"", version=1), "enhanced GRE header with flags 0x0001"),
        (gre(0x0800, b"", version=2), "GRE version 2"),
        (b"\x40\x00\x08\x00" + bytes(8), "source routing"),
        (gre(0x0800, b"")[:3], "GRE header cut: 3 of 4"),
        (gre(0x0800, b"", key=1, seq=2)[:10], "GRE header cut: 10 of 12"),
    ],
)
def test_gre_errors(packet: bytes, message: str) -> None:
    with pytest.raises(TunnelError, match=message):
        decode_gre(packet, 0, len(packet))


@pytest.mark.parametrize(
    ("seq", "ack", "length"), [(None, None, 8), (1, None, 12), (None, 2, 12), (1, 2, 16)]
)
def test_enhanced_gre(seq: int | None, ack: int | None, length: int) -> None:
    packet = gre_pptp(b"\xff\x03\x00\x21", seq, ack)
    assert decode_gre(packet, 0, len(packet)) == (0x880B, length, seq is not None)


@pytest.mark.parametrize(
    ("ppp", "expected"),
    [
        (b"\xff\x03\x00\x21", (0x0800, 4)),
        (b"\x00\x57", (0x86DD, 2)),  # address/control compressed
        (b"\x21", (0x0800, 1)),  # protocol compressed too
        (b"\xff\x03\xc0\x21", (0, 4)),  # LCP
        (b"\xff\x03\x00\xfd", (0, 4)),  # MPPE-encrypted
    ],
)
def test_ppp(ppp: bytes, expected: tuple[int, int]) -> None:
    assert decode_ppp(ppp + b"rest", 0, len(ppp) + 4) == expected
    with pytest.raises(TunnelError, match="PPP header cut"):
        decode_ppp(b"\xff\x03\x00", 0, 3)


def test_erspan_headers() -> None:
    assert decode_erspan2(erspan2(b"F", session=5), 0, 9) == 8
    assert decode_erspan3(erspan3(b"F"), 0, 13) == (ERSPAN3_FRAME_ETHERNET, 12)
    with_sub = erspan3(b"F", subheader=bytes(8), frame_type=2)
    assert decode_erspan3(with_sub, 0, len(with_sub)) == (ERSPAN3_FRAME_IP, 20)
    with pytest.raises(TunnelError, match="version 2 \\(expected 1\\)"):
        decode_erspan2(erspan3(b""), 0, 12)
    with pytest.raises(TunnelError, match="version 1 \\(expected 2\\)"):
        decode_erspan3(erspan2(b"") + bytes(4), 0, 12)
    with pytest.raises(TunnelError, match="type II header cut"):
        decode_erspan2(erspan2(b""), 0, 7)
    with pytest.raises(TunnelError, match="platform subheader cut"):
        decode_erspan3(with_sub, 0, 15)
    with pytest.raises(TunnelError, match="frame type 5"):
        decode_erspan3(erspan3(b"", frame_type=5), 0, 12)


def test_vxlan_header() -> None:
    assert decode_vxlan(vxlan(100, b"F"), 0, 9) == (VXLAN_NEXT_ETHERNET, 8)
    gpe_ipv6 = b"\x0c\x00\x00\x02" + bytes(4)
    assert decode_vxlan(gpe_ipv6, 0, 8) == (2, 8)
    with pytest.raises(TunnelError, match="next protocol 4"):
        decode_vxlan(b"\x0c\x00\x00\x04" + bytes(4), 0, 8)
    with pytest.raises(TunnelError, match="without the I flag"):
        decode_vxlan(vxlan(100, b"F", flags=0), 0, 9)
    with pytest.raises(TunnelError, match="reserved flags"):
        decode_vxlan(b"I" + bytes(7), 0, 8)
    assert decode_vxlan(vxlan(100, b"F", flags=0x88), 0, 9) == (3, 8)  # Group Policy
    with pytest.raises(TunnelError, match="VXLAN header cut"):
        decode_vxlan(vxlan(100, b""), 0, 7)


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        pytest.param(gtpu(b"IPDATA"), (255, 8, 14), id="plain"),
        pytest.param(gtpu(b"IPDATA", seq=5), (255, 12, 18), id="sequence"),
        pytest.param(
            gtpu(b"IPDATA", ext=[(0x85, b"\x10\x05")]), (255, 16, 22), id="pdu-session-container"
        ),
        pytest.param(
            gtpu(b"IPDATA", ext=[(0x40, b"\x00\x01"), (0x85, bytes(6))]), (255, 24, 30), id="two"
        ),
        pytest.param(gtpu(b"", msg_type=1, seq=1), (1, 12, 12), id="echo-request"),
        pytest.param(gtpu(b"IPDATA") + b"pad", (255, 8, 14), id="trailing-padding"),
    ],
)
def test_gtpu_header(packet: bytes, expected: tuple[int, int, int]) -> None:
    assert decode_gtpu(packet, 0, len(packet)) == expected


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (gtpu(b"x", flags=0x20), "not a GTPv1-U header"),  # GTP' (PT 0)
        (gtpu(b"x", flags=0x48), "not a GTPv1-U header"),  # GTPv2-C
        (gtpu(b"")[:7], "GTP-U header cut"),
        (gtpu(b"", seq=1)[:10], "optional fields cut"),
        (gtpu(b"", ext=[(0x85, b"")])[:12], "extension header cut"),
        (gtpu(b"", ext=[(0x85, b"\x00\x00")])[:14], "extension header cut: 2 of 4"),
        (bytes.fromhex("34ff0008000000010000008500000000"), "length 0"),
    ],
)
def test_gtpu_errors(packet: bytes, message: str) -> None:
    with pytest.raises(TunnelError, match=message):
        decode_gtpu(packet, 0, len(packet))


# -- end to end ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("outer_v6", "inner_v6"),
    [(False, False), (False, True), (True, False), (True, True)],
    ids=["4in4", "6in4", "4in6", "6in6"],
)
def test_ip_in_ip(outer_v6: bool, inner_v6: bool) -> None:
    inner = inner_sip_v6() if inner_v6 else inner_sip_v4()
    proto = 41 if inner_v6 else 4
    if outer_v6:
        outer = ipv6("2001:db8:1::1", "2001:db8:1::2", proto, inner)
        frame = ether(MAC_B, MAC_A, 0x86DD, outer)
    else:
        frame = ether(MAC_B, MAC_A, 0x0800, ipv4(OUTER_A, OUTER_B, proto, inner))
    decoder = expect_inner_sip(frame, v6=inner_v6)
    assert decoder.stats.tunnelled == 1


def inner_frame(vlans: tuple[int, ...] = ()) -> bytes:
    return ether(MAC_B, MAC_A, 0x0800, inner_sip_v4(), vlans=vlans)


@pytest.mark.parametrize(
    ("proto", "tunnel"),
    [
        pytest.param(47, lambda: gre(0x0800, inner_sip_v4()), id="gre-ipv4"),
        pytest.param(47, lambda: gre(0x0800, inner_sip_v4(), key=5, seq=1), id="gre-key-seq"),
        pytest.param(47, lambda: gre(0x6558, inner_frame()), id="gre-teb"),
        pytest.param(47, lambda: gre(0x6558, inner_frame(vlans=(7,))), id="gre-teb-vlan"),
        pytest.param(47, lambda: gre(0x88BE, inner_frame()), id="erspan-type-i"),
        pytest.param(47, lambda: gre(0x88BE, erspan2(inner_frame()), seq=3), id="erspan-type-ii"),
        pytest.param(47, lambda: gre(0x22EB, erspan3(inner_frame())), id="erspan-type-iii"),
        pytest.param(
            47,
            lambda: gre(0x22EB, erspan3(inner_frame(), subheader=bytes(8))),
            id="erspan-type-iii-subheader",
        ),
        pytest.param(
            47, lambda: gre(0x22EB, erspan3(inner_sip_v4(), frame_type=2)), id="erspan-type-iii-ip"
        ),
        pytest.param(47, lambda: gre(0x8847, mpls((100,), inner_sip_v4())), id="gre-mpls"),
        pytest.param(47, lambda: gre_pptp(b"\xff\x03\x00\x21" + inner_sip_v4()), id="pptp"),
        pytest.param(47, lambda: gre_pptp(b"\x21" + inner_sip_v4(), None, None), id="pptp-pfc"),
        pytest.param(17, lambda: udp(40000, 4789, vxlan(42, inner_frame())), id="vxlan"),
        pytest.param(17, lambda: udp(2152, 2152, gtpu(inner_sip_v4(), teid=9)), id="gtpu"),
        pytest.param(
            17,
            lambda: udp(2152, 2152, gtpu(inner_sip_v4(), ext=[(0x85, b"\x10\x05")])),
            id="gtpu-extension",
        ),
    ],
)
def test_tunnels_to_inner_sip(proto: int, tunnel: Callable[[], bytes]) -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(OUTER_A, OUTER_B, proto, tunnel()))
    decoder = expect_inner_sip(frame)
    assert decoder.stats.tunnelled == 1


def test_gtpu_ipv6_inner_over_ipv6() -> None:
    outer = ipv6("2001:db8:9::1", "2001:db8:9::2", 17, udp(2152, 2152, gtpu(inner_sip_v6())))
    expect_inner_sip(ether(MAC_B, MAC_A, 0x86DD, outer), v6=True)


def test_gtpu_signalling_is_counted() -> None:
    frame = ether(
        MAC_B, MAC_A, 0x0800, ipv4(OUTER_A, OUTER_B, 17, udp(2152, 2152, gtpu(b"", 0, 1, 1)))
    )
    units, decoder = decode(frame)
    assert units == []
    assert decoder.stats.gtp_signalling == 1


def test_not_vxlan_after_all_is_plain_udp() -> None:
    # Something else on port 4789 that happens to start with a letter: "I"
    # (0x49) has the VXLAN I bit but reserved bits too, so the datagram goes
    # through the SIP filter.
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(OUTER_A, OUTER_B, 17, udp(5060, 4789, SIP_INVITE)))
    units, decoder = decode(frame)
    assert [u.payload for u in units] == [SIP_INVITE]  # type: ignore[attr-defined]
    assert decoder.stats.tunnelled == 0


def test_nested_tunnels_and_depth_limit() -> None:
    packet = inner_sip_v4()
    for _ in range(MAX_TUNNEL_DEPTH):
        packet = ipv4(OUTER_A, OUTER_B, 4, packet)
    decoder = expect_inner_sip(ether(MAC_B, MAC_A, 0x0800, packet))
    assert decoder.stats.tunnelled == MAX_TUNNEL_DEPTH

    too_deep = ipv4(OUTER_A, OUTER_B, 4, packet)
    units, decoder = decode(ether(MAC_B, MAC_A, 0x0800, too_deep))
    assert units == []
    (diag,) = decoder.diagnostics
    assert diag.layer == "tunnel"
    assert "more than 4 nested tunnels" in diag.reason


def test_vxlan_inside_erspan_inside_gre() -> None:
    vx = ipv4(
        "10.9.9.1",
        "10.9.9.2",
        17,
        udp(1, 4789, vxlan(1, ether(MAC_B, MAC_A, 0x0800, inner_sip_v4()))),
    )
    frame = ether(
        MAC_B,
        MAC_A,
        0x0800,
        ipv4(OUTER_A, OUTER_B, 47, gre(0x88BE, erspan2(ether(MAC_B, MAC_A, 0x0800, vx)), seq=1)),
    )
    decoder = expect_inner_sip(frame)
    assert decoder.stats.tunnelled == 2


def test_tunnel_keeps_outer_frames_through_outer_fragments() -> None:
    # An IP-in-IP packet whose outer datagram was fragmented: the inner unit
    # names both outer frames.
    inner = inner_sip_v4()
    outer_payload = inner
    first = ipv4(OUTER_A, OUTER_B, 4, outer_payload[:200], ident=3, mf=True)
    second = ipv4(OUTER_A, OUTER_B, 4, outer_payload[200:], ident=3, frag_offset=200)
    decoder = PacketDecoder()
    f1 = ether(MAC_B, MAC_A, 0x0800, first)
    f2 = ether(MAC_B, MAC_A, 0x0800, second)
    assert decoder.feed(1, 10, 1, f1, 0, len(f1), len(f1)) == []
    units = decoder.feed(2, 20, 1, f2, 0, len(f2), len(f2))
    assert units == [
        UdpDatagram((1, 2), 20, addr(INNER_A), 5062, addr(INNER_B), 5060, SIP_INVITE, False)
    ]


def test_broken_tunnel_headers_are_diagnosed() -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, ipv4(OUTER_A, OUTER_B, 47, gre(0x880B, b"x", version=1)))
    units, decoder = decode(frame)
    assert units == []
    (diag,) = decoder.diagnostics
    assert (diag.layer, diag.frames) == ("tunnel", (1,))
    frame = ether(
        MAC_B, MAC_A, 0x0800, ipv4(OUTER_A, OUTER_B, 47, gre(0x0800, b"\x50" + bytes(30)))
    )
    units, decoder = decode(frame)
    assert decoder.diagnostics[0].layer == "ip"


# -- cross-checks against scapy ------------------------------------------------


def scapy_frame(packet: object) -> bytes:
    return bytes(packet)  # type: ignore[call-overload]


def test_scapy_gre_erspan_ii() -> None:
    from scapy.contrib.erspan import ERSPAN_II
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import GRE, Ether

    pkt = (
        Ether()
        / IP(src=OUTER_A, dst=OUTER_B)
        / GRE(seqnum_present=1, sequence_number=5)
        / ERSPAN_II(session_id=3, vlan=12)
        / Ether()
        / IP(src=INNER_A, dst=INNER_B)
        / UDP(sport=5062, dport=5060)
        / SIP_INVITE
    )
    expect_inner_sip(scapy_frame(pkt))


def test_scapy_erspan_iii_with_platform_subheader() -> None:
    from scapy.contrib.erspan import ERSPAN_III, ERSPAN_PlatformSpecific
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import GRE, Ether

    pkt = (
        Ether()
        / IP(src=OUTER_A, dst=OUTER_B)
        / GRE()
        / ERSPAN_III(session_id=3, o=1)
        / ERSPAN_PlatformSpecific()
        / Ether()
        / IP(src=INNER_A, dst=INNER_B)
        / UDP(sport=5062, dport=5060)
        / SIP_INVITE
    )
    expect_inner_sip(scapy_frame(pkt))


def test_scapy_vxlan() -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    pkt = (
        Ether()
        / IP(src=OUTER_A, dst=OUTER_B)
        / UDP(sport=33333, dport=4789)
        / VXLAN(vni=77)
        / Ether()
        / IP(src=INNER_A, dst=INNER_B)
        / UDP(sport=5062, dport=5060)
        / SIP_INVITE
    )
    expect_inner_sip(scapy_frame(pkt))


def test_scapy_gtpu_with_pdu_session_container() -> None:
    from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    pkt = (
        Ether()
        / IP(src=OUTER_A, dst=OUTER_B)
        / UDP(sport=2152, dport=2152)
        / GTP_U_Header(teid=7, E=1, next_ex=0x85)
        / GTPPDUSessionContainer(type=1, QFI=5)
        / IP(src=INNER_A, dst=INNER_B)
        / UDP(sport=5062, dport=5060)
        / SIP_INVITE
    )
    expect_inner_sip(scapy_frame(pkt))


def test_scapy_sctp_data_and_tcp() -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.layers.sctp import SCTP, SCTPChunkData, SCTPChunkSACK

    pkt = (
        Ether()
        / IP(src=INNER_A, dst=INNER_B)
        / SCTP(sport=5060, dport=5061)
        / SCTPChunkSACK()
        / SCTPChunkData(tsn=10, stream_id=2, proto_id=0, beginning=1, ending=1, data=b"OPTIONS x")
        / SCTPChunkData(tsn=11, stream_id=3, proto_id=46, beginning=1, ending=0, data=b"B")
    )
    units, decoder = decode(scapy_frame(pkt))
    assert units == [
        SctpData((1,), 1_000, addr(INNER_A), 5060, addr(INNER_B), 5061, 2, 10, 0, 3, b"OPTIONS x"),
        SctpData((1,), 1_000, addr(INNER_A), 5060, addr(INNER_B), 5061, 3, 11, 46, 2, b"B"),
    ]
    assert decoder.stats.sctp_other_chunks == 1

    tcp_pkt = (
        Ether()
        / IP(src=INNER_A, dst=INNER_B)
        / TCP(sport=5060, dport=40000, seq=1000, ack=2000, flags="PA", options=[("NOP", None)] * 4)
        / SIP_INVITE
    )
    units, _ = decode(scapy_frame(tcp_pkt))
    assert units == [
        TcpSegment(
            1,
            1_000,
            addr(INNER_A),
            5060,
            addr(INNER_B),
            40000,
            1000,
            2000,
            0x18,
            SIP_INVITE,
            len(SIP_INVITE),
        )  # fmt: skip
    ]


def test_more_cut_headers() -> None:
    with pytest.raises(TunnelError, match="PPP header cut"):
        decode_ppp(b"\x00", 0, 1)
    with pytest.raises(TunnelError, match="PPP header cut"):
        decode_ppp(b"\xff\x03", 0, 2)
    with pytest.raises(TunnelError, match="ERSPAN type III header cut: 11 of 12"):
        decode_erspan3(erspan3(b""), 0, 11)
    # Length 2 cannot hold the 4 optional bytes the S flag announces.
    short = bytes.fromhex("32ff0002 00000001 0001 0000")
    with pytest.raises(TunnelError, match="GTP-U Length 2 is shorter"):
        decode_gtpu(short, 0, len(short))
