"""Link layers: from a captured frame to the network-layer header inside it.

Every decoder here works on a shared buffer with offsets (``buf[off:end]`` is
the frame) and returns ``(ethertype, offset)``: the network protocol, named by
its EtherType whatever the link layer calls it, and where its header starts.
Nothing is copied.  A link header cut short raises :class:`LinkError`.

Link-type numbers are the ones pcap and pcapng files carry
(https://www.tcpdump.org/linktypes.html).
"""

from __future__ import annotations

import struct

from analyzer.errors import LinkError

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
# Raw IP has three numbers: 101 is the official LINKTYPE_RAW; 12 and 14 are
# the DLT_RAW values of OpenBSD and BSD/OS that old files still carry.
LINKTYPE_RAW_OPENBSD = 12
LINKTYPE_RAW_BSDOS = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100  # IEEE 802.1Q customer tag
ETHERTYPE_QINQ = 0x88A8  # IEEE 802.1ad service tag
ETHERTYPE_QINQ_OLD = 0x9100  # pre-standard QinQ outer tag, still seen on switches
ETHERTYPE_MPLS = 0x8847
ETHERTYPE_MPLS_MULTICAST = 0x8848
# Pseudo EtherType for a frame whose network layer this module cannot name
# (a BSD loopback frame of an unknown address family, an MPLS payload that is
# neither IPv4 nor IPv6): not IP, counted by the caller like ARP or LLDP.
ETHERTYPE_UNKNOWN = 0

VLAN_ETHERTYPES = frozenset((ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD))

# IEEE 802.3: a type/length field below 0x0600 is a length (an 802.2 LLC frame
# such as spanning tree), not an EtherType.
_MIN_ETHERTYPE = 0x0600

# BSD loopback address families.  AF_INET is 2 everywhere; AF_INET6 differs:
# 10 on Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS.
_AF_TO_ETHERTYPE = {
    2: ETHERTYPE_IPV4,
    10: ETHERTYPE_IPV6,
    24: ETHERTYPE_IPV6,
    28: ETHERTYPE_IPV6,
    30: ETHERTYPE_IPV6,
}

_U32_LE = struct.Struct("<I")

ETHERNET_HEADER_LEN = 14
_VLAN_TAG_LEN = 4
_MPLS_LABEL_LEN = 4
# Linux "cooked" headers (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html
# and LINKTYPE_LINUX_SLL2.html): SLL has the protocol in its last two bytes,
# SLL2 in its first two.
_SLL_HEADER_LEN = 16
_SLL2_HEADER_LEN = 20
_NULL_HEADER_LEN = 4


def _cut(what: str, need: int, have: int) -> LinkError:
    return LinkError(f"{what} header cut: {have} of {need} bytes captured")


def decode_ethernet(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """Decode an Ethernet II header and any VLAN tags or MPLS labels after it.

    Any number of 802.1Q (0x8100), 802.1ad (0x88A8) and 0x9100 tags is
    skipped.  An MPLS label stack does not say what it carries; below it the
    first nibble of the payload tells IPv4 from IPv6 (the heuristic Wireshark
    uses too), and anything else (a pseudowire, whose control word starts
    with 0) is reported as :data:`ETHERTYPE_UNKNOWN`.

    Returns ``(ethertype, offset of the payload)``.  Raises :class:`LinkError`
    when a header or tag is cut.
    """
    if end - off < ETHERNET_HEADER_LEN:
        raise _cut("Ethernet", ETHERNET_HEADER_LEN, end - off)
    ethertype = buf[off + 12] << 8 | buf[off + 13]
    return decode_ethertype(ethertype, buf, off + ETHERNET_HEADER_LEN, end)


def decode_ethertype(ethertype: int, buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Follow an EtherType read from a link header whose payload starts at ``pos``.

    The shared tail of Ethernet and the Linux cooked headers (which carry an
    EtherType too, sometimes 0x8100 when the kernel left a tag in place):
    skips VLAN tags and MPLS labels.  Returns ``(ethertype, offset)``.
    """
    # Each tag consumes four bytes, so the loop ends with the frame.
    while ethertype in VLAN_ETHERTYPES:
        if end - pos < _VLAN_TAG_LEN:
            raise _cut("VLAN tag", _VLAN_TAG_LEN, end - pos)
        ethertype = buf[pos + 2] << 8 | buf[pos + 3]
        pos += _VLAN_TAG_LEN
    if ethertype in (ETHERTYPE_MPLS, ETHERTYPE_MPLS_MULTICAST):
        return _decode_mpls(buf, pos, end)
    if ethertype < _MIN_ETHERTYPE:
        return ETHERTYPE_UNKNOWN, pos
    return ethertype, pos


def _decode_mpls(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    # RFC 3032 §2.1: "S: Bottom of Stack (1 bit) ... set to one for the last
    # entry in the label stack".  Each entry consumes four bytes.
    while True:
        if end - pos < _MPLS_LABEL_LEN:
            raise _cut("MPLS label", _MPLS_LABEL_LEN, end - pos)
        bottom = buf[pos + 2] & 0x01
        pos += _MPLS_LABEL_LEN
        if bottom:
            break
    if pos < end:
        version = buf[pos] >> 4
        if version == 4:
            return ETHERTYPE_IPV4, pos
        if version == 6:
            return ETHERTYPE_IPV6, pos
    return ETHERTYPE_UNKNOWN, pos


def _decode_sll(buf: bytes, off: int, end: int) -> tuple[int, int]:
    if end - off < _SLL_HEADER_LEN:
        raise _cut("Linux cooked (SLL)", _SLL_HEADER_LEN, end - off)
    ethertype = buf[off + 14] << 8 | buf[off + 15]
    return decode_ethertype(ethertype, buf, off + _SLL_HEADER_LEN, end)


def _decode_sll2(buf: bytes, off: int, end: int) -> tuple[int, int]:
    if end - off < _SLL2_HEADER_LEN:
        raise _cut("Linux cooked v2 (SLL2)", _SLL2_HEADER_LEN, end - off)
    ethertype = buf[off] << 8 | buf[off + 1]
    return decode_ethertype(ethertype, buf, off + _SLL2_HEADER_LEN, end)


def _decode_null(buf: bytes, off: int, end: int) -> tuple[int, int]:
    # The 4-byte address family is in the byte order of the machine that wrote
    # the capture (LINKTYPE_NULL) or in network order (LINKTYPE_LOOP, and
    # OpenBSD's NULL).  Every AF value fits in one byte, so whichever end of
    # the word is non-zero tells the order.
    if end - off < _NULL_HEADER_LEN:
        raise _cut("BSD loopback", _NULL_HEADER_LEN, end - off)
    (family,) = _U32_LE.unpack_from(buf, off)
    if family > 0xFFFF:
        family = int.from_bytes(buf[off : off + 4], "big")
    return _AF_TO_ETHERTYPE.get(family, ETHERTYPE_UNKNOWN), off + _NULL_HEADER_LEN


def _decode_raw(buf: bytes, off: int, end: int) -> tuple[int, int]:
    # No link header: the IP version nibble decides.
    if off >= end:
        raise _cut("raw IP", 1, 0)
    version = buf[off] >> 4
    if version == 4:
        return ETHERTYPE_IPV4, off
    if version == 6:
        return ETHERTYPE_IPV6, off
    raise LinkError(f"raw IP frame with IP version {version} (first byte 0x{buf[off]:02x})")


def _decode_ipv4_only(buf: bytes, off: int, end: int) -> tuple[int, int]:
    return ETHERTYPE_IPV4, off


def _decode_ipv6_only(buf: bytes, off: int, end: int) -> tuple[int, int]:
    return ETHERTYPE_IPV6, off


_DECODERS = {
    LINKTYPE_NULL: _decode_null,
    LINKTYPE_ETHERNET: decode_ethernet,
    LINKTYPE_RAW_OPENBSD: _decode_raw,
    LINKTYPE_RAW_BSDOS: _decode_raw,
    LINKTYPE_RAW: _decode_raw,
    LINKTYPE_LOOP: _decode_null,
    LINKTYPE_LINUX_SLL: _decode_sll,
    LINKTYPE_IPV4: _decode_ipv4_only,
    LINKTYPE_IPV6: _decode_ipv6_only,
    LINKTYPE_LINUX_SLL2: _decode_sll2,
}

SUPPORTED_LINKTYPES = frozenset(_DECODERS)


def decode_link(linktype: int, buf: bytes, off: int, end: int) -> tuple[int, int]:
    """Decode the link header of the frame ``buf[off:end]``.

    Returns ``(ethertype, offset of the network header)``; the EtherType is
    :data:`ETHERTYPE_UNKNOWN` when the frame's network layer has no EtherType
    (802.2 LLC, an unknown loopback address family).  Raises
    :class:`LinkError` when the link header is cut or the link type is not in
    :data:`SUPPORTED_LINKTYPES` (callers that want to report an unsupported
    link type once rather than per frame check that set first).
    """
    decoder = _DECODERS.get(linktype)
    if decoder is None:
        raise LinkError(f"unsupported link type {linktype}")
    return decoder(buf, off, end)
