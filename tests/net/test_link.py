"""Link layers: every supported link type, VLAN depths, MPLS, cut headers."""

from __future__ import annotations

import pytest

from analyzer.errors import LinkError
from analyzer.net.link import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_UNKNOWN,
    SUPPORTED_LINKTYPES,
    decode_ethernet,
    decode_link,
)
from tests.packets import MAC_A, MAC_B, ether, mpls, null_loop, sll, sll2

V4 = bytes([0x45]) + bytes(19)
V6 = bytes([0x60]) + bytes(39)


@pytest.mark.parametrize(
    ("linktype", "frame", "ethertype", "offset"),
    [
        pytest.param(1, ether(MAC_B, MAC_A, 0x0800, V4), ETHERTYPE_IPV4, 14, id="ethernet-v4"),
        pytest.param(1, ether(MAC_B, MAC_A, 0x86DD, V6), ETHERTYPE_IPV6, 14, id="ethernet-v6"),
        pytest.param(1, ether(MAC_B, MAC_A, 0x0806, bytes(28)), ETHERTYPE_ARP, 14, id="arp"),
        pytest.param(113, sll(0x0800, V4), ETHERTYPE_IPV4, 16, id="sll"),
        pytest.param(113, sll(0x86DD, V6, pkttype=4), ETHERTYPE_IPV6, 16, id="sll-outgoing"),
        pytest.param(276, sll2(0x0800, V4), ETHERTYPE_IPV4, 20, id="sll2"),
        pytest.param(276, sll2(0x86DD, V6), ETHERTYPE_IPV6, 20, id="sll2-v6"),
        pytest.param(0, null_loop(2, V4), ETHERTYPE_IPV4, 4, id="null-inet-le"),
        pytest.param(0, null_loop(2, V4, "big"), ETHERTYPE_IPV4, 4, id="null-inet-be"),
        pytest.param(0, null_loop(10, V6), ETHERTYPE_IPV6, 4, id="null-inet6-linux"),
        pytest.param(0, null_loop(24, V6), ETHERTYPE_IPV6, 4, id="null-inet6-bsd"),
        pytest.param(0, null_loop(28, V6), ETHERTYPE_IPV6, 4, id="null-inet6-freebsd"),
        pytest.param(0, null_loop(30, V6, "big"), ETHERTYPE_IPV6, 4, id="null-inet6-darwin"),
        pytest.param(0, null_loop(7, V4), ETHERTYPE_UNKNOWN, 4, id="null-unknown-af"),
        pytest.param(108, null_loop(2, V4, "big"), ETHERTYPE_IPV4, 4, id="loop"),
        pytest.param(108, null_loop(24, V6, "big"), ETHERTYPE_IPV6, 4, id="loop-v6"),
        pytest.param(101, V4, ETHERTYPE_IPV4, 0, id="raw-v4"),
        pytest.param(101, V6, ETHERTYPE_IPV6, 0, id="raw-v6"),
        pytest.param(12, V4, ETHERTYPE_IPV4, 0, id="raw-openbsd"),
        pytest.param(14, V6, ETHERTYPE_IPV6, 0, id="raw-bsdos"),
        pytest.param(228, V4, ETHERTYPE_IPV4, 0, id="ipv4"),
        pytest.param(229, V6, ETHERTYPE_IPV6, 0, id="ipv6"),
    ],
)
def test_link_types(linktype: int, frame: bytes, ethertype: int, offset: int) -> None:
    # Decoded at an offset inside a larger buffer, as the capture reader hands frames.
    buf = b"junk" + frame + b"trailer"
    assert decode_link(linktype, buf, 4, 4 + len(frame)) == (ethertype, 4 + offset)


@pytest.mark.parametrize(
    ("vlans", "offset"),
    [
        pytest.param((), 14, id="untagged"),
        pytest.param((100,), 18, id="802.1Q"),
        pytest.param(((0x88A8, 10), 20), 22, id="QinQ-802.1ad"),
        pytest.param(((0x9100, 10), 20), 22, id="QinQ-9100"),
        pytest.param((1, 2, 3), 26, id="three-tags"),
    ],
)
def test_vlan_depths(vlans: tuple[int | tuple[int, int], ...], offset: int) -> None:
    frame = ether(MAC_B, MAC_A, 0x0800, V4, vlans=vlans)
    assert decode_link(1, frame, 0, len(frame)) == (ETHERTYPE_IPV4, offset)


def test_sll_with_vlan_tag_left_in_place() -> None:
    frame = sll(0x8100, b"\x00\x64\x86\xdd" + V6)
    assert decode_link(113, frame, 0, len(frame)) == (ETHERTYPE_IPV6, 20)


@pytest.mark.parametrize(
    ("labels", "payload", "ethertype"),
    [
        ((16,), V4, ETHERTYPE_IPV4),
        ((16, 17, 18), V6, ETHERTYPE_IPV6),
        ((16,), bytes(20), ETHERTYPE_UNKNOWN),  # a pseudowire control word: not IP
    ],
)
def test_mpls(labels: tuple[int, ...], payload: bytes, ethertype: int) -> None:
    frame = ether(MAC_B, MAC_A, 0x8847, mpls(labels, payload))
    assert decode_link(1, frame, 0, len(frame)) == (ethertype, 14 + 4 * len(labels))


def test_ieee_802_3_length_is_not_an_ethertype() -> None:
    frame = ether(MAC_B, MAC_A, 38, b"\x42\x42\x03" + bytes(35))  # STP over LLC
    assert decode_link(1, frame, 0, len(frame)) == (ETHERTYPE_UNKNOWN, 14)


@pytest.mark.parametrize(
    ("linktype", "frame", "message"),
    [
        (1, ether(MAC_B, MAC_A, 0x0800, b"")[:13], "Ethernet header cut: 13 of 14"),
        (1, ether(MAC_B, MAC_A, 0x0800, b"", vlans=(5,))[:16], "VLAN tag header cut"),
        (1, ether(MAC_B, MAC_A, 0x8847, b"\x00\x01"), "MPLS label header cut"),
        (113, sll(0x0800, b"")[:15], "SLL) header cut: 15 of 16"),
        (276, sll2(0x0800, b"")[:19], "SLL2) header cut: 19 of 20"),
        (0, b"\x02\x00", "loopback header cut"),
        (101, b"", "raw IP header cut"),
        (101, b"\x50" + bytes(19), "IP version 5"),
        (147, b"\x00" * 40, "unsupported link type 147"),
    ],
)
def test_bad_link_headers(linktype: int, frame: bytes, message: str) -> None:
    with pytest.raises(LinkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_link(linktype, frame, 0, len(frame))


def test_supported_linktypes() -> None:
    assert {0, 1, 12, 14, 101, 108, 113, 228, 229, 276} == SUPPORTED_LINKTYPES


def test_decode_ethernet_respects_end() -> None:
    # The frame ends before the buffer does: the tag loop must not read past it.
    frame = ether(MAC_B, MAC_A, 0x8100, b"")
    buf = frame + b"\x00\x05\x08\x00"
    with pytest.raises(LinkError):
        decode_ethernet(buf, 0, len(frame))
