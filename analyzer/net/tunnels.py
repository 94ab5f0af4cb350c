"""Tunnel headers: GRE (and PPTP's enhanced GRE with PPP), ERSPAN (types I,
II, III), VXLAN and GTP-U.

Mirrored and mobile-core traffic reaches a capture inside these: a SPAN
session exported over GRE/ERSPAN, an overlay network's VXLAN, IMS signalling
inside GTP-U, a VPN's PPTP.  Each decoder reads one header from a shared buffer and returns
where the inner packet starts (and what it is); the caller decodes the inner
packet and keeps the outer frames on whatever it finds there.  A header that
is cut or not what it claims raises :class:`TunnelError`.

IP-in-IP (IPv4 protocol 4, IPv6 next header 41) has no header of its own: the
inner IP header follows the outer one directly.
"""

from __future__ import annotations

import struct

from analyzer.errors import TunnelError

# Nesting depth of tunnels decoded inside one frame.  Real deployments nest
# two or three deep (ERSPAN of a VXLAN overlay carrying GTP-U); a deeper stack
# is a crafted packet, and the bound keeps recursion finite.
MAX_TUNNEL_DEPTH = 4

VXLAN_PORT = 4789  # RFC 7348 §5: "the IANA-assigned value 4789"
GTPU_PORT = 2152  # 3GPP TS 29.281 §4.4.2.3: G-PDU destination port

GRE_PROTO_IPV4 = 0x0800
GRE_PROTO_IPV6 = 0x86DD
GRE_PROTO_TEB = 0x6558  # Transparent Ethernet Bridging: an Ethernet frame follows
GRE_PROTO_ERSPAN = 0x88BE  # ERSPAN type I (no ERSPAN header) and type II
GRE_PROTO_ERSPAN3 = 0x22EB
GRE_PROTO_PPP = 0x880B  # enhanced GRE (version 1), PPTP

# PPP protocol numbers (RFC 1332 IPCP's IPv4, RFC 5072's IPv6).
_PPP_IPV4 = 0x0021
_PPP_IPV6 = 0x0057

# RFC 2784 §2 / RFC 2890 §2: |C| |K|S| Reserved0 | Ver | Protocol Type |
_GRE_C = 0x8000  # Checksum and Reserved1 present (4 bytes)
_GRE_R = 0x4000  # RFC 1701 routing present (obsolete)
_GRE_K = 0x2000  # Key present (4 bytes)
_GRE_S = 0x1000  # Sequence Number present (4 bytes)
_GRE_A = 0x0080  # version 1: Acknowledgment Number present (4 bytes)
_GRE_VERSION = 0x0007
_GRE_HEADER_LEN = 4

_ERSPAN2_HEADER_LEN = 8
_ERSPAN3_HEADER_LEN = 12
_ERSPAN3_SUBHEADER_LEN = 8  # platform-specific subheader, present when O is set
ERSPAN3_FRAME_ETHERNET = 0
ERSPAN3_FRAME_IP = 2

_VXLAN_HEADER_LEN = 8
_VXLAN_I = 0x08  # RFC 7348 §5: "I flag MUST be set to 1 for a valid VNI"
# The P bit of VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe §3.1): a Next Protocol
# byte names the payload.  Some senders (scapy among them) set it on port 4789.
_VXLAN_P = 0x04
# Bits no VXLAN variant uses: reserved in RFC 7348 ("MUST be set to zero on
# transmission"), the GPE version (must be 0).  Allowed besides I and P: G
# (0x80, Group Policy), B (0x02) and O (0x01).  Requiring the others clear
# keeps a datagram on port 4789 that is not VXLAN from being read as one:
# every ASCII letter has 0x40 set.
_VXLAN_RESERVED = 0x70
VXLAN_NEXT_IPV4 = 1
VXLAN_NEXT_IPV6 = 2
VXLAN_NEXT_ETHERNET = 3

GTP_MSG_GPDU = 255
_GTP_HEADER_LEN = 8
_GTP_OPTIONAL_LEN = 4  # sequence number, N-PDU number, next extension header type
_GTP_E = 0x04
_GTP_S = 0x02
_GTP_PN = 0x01

_U16 = struct.Struct(">H")
_GRE = struct.Struct(">HH")
_GTP = struct.Struct(">BBH")


def decode_gre(buf: bytes, pos: int, end: int) -> tuple[int, int, bool]:
    """Decode a GRE header: RFC 2784 with the RFC 2890 key and sequence fields,
    or PPTP's enhanced GRE (version 1, RFC 2637 §4.1).

    Returns ``(protocol type, offset of the payload, sequence present)``; the
    last tells ERSPAN type I (no sequence number, no ERSPAN header) from type
    II.  Raises :class:`TunnelError` for a cut header, an unknown version and
    RFC 1701 source routing.
    """
    if end - pos < _GRE_HEADER_LEN:
        raise TunnelError(f"GRE header cut: {end - pos} of {_GRE_HEADER_LEN} bytes captured")
    flags, protocol = _GRE.unpack_from(buf, pos)
    version = flags & _GRE_VERSION
    if flags & _GRE_R:
        raise TunnelError("GRE with RFC 1701 source routing is not decoded")
    length = _GRE_HEADER_LEN
    has_seq = bool(flags & _GRE_S)
    if version == 0:
        if flags & _GRE_C:
            length += 4
        if flags & _GRE_K:
            length += 4
        if has_seq:
            length += 4
    elif version == 1:
        # RFC 2637 §4.1: "Key Present (Bit 2) ... MUST be set to one"; the key
        # holds the payload length and the call id.
        if not flags & _GRE_K or flags & _GRE_C:
            raise TunnelError(f"enhanced GRE header with flags 0x{flags:04x}")
        length += 4
        if has_seq:
            length += 4
        if flags & _GRE_A:
            length += 4
    else:
        raise TunnelError(f"GRE version {version} is not decoded")
    if end - pos < length:
        raise TunnelError(f"GRE header cut: {end - pos} of {length} bytes captured")
    return protocol, pos + length, has_seq


def decode_ppp(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode the PPP header (RFC 1661 §2) that enhanced GRE carries.

    The address and control bytes (0xFF 0x03) may be absent (Address-and-
    Control-Field-Compression) and the protocol may be one byte
    (Protocol-Field-Compression: "the least significant bit of the least
    significant octet is 1").  Returns ``(ethertype, offset)``: IPv4 or IPv6
    as their EtherTypes, 0 for anything else (LCP, compressed or encrypted
    data).
    """
    if end - pos >= 2 and buf[pos] == 0xFF and buf[pos + 1] == 0x03:
        pos += 2
    if pos >= end:
        raise TunnelError("PPP header cut")
    if buf[pos] & 0x01:
        protocol = buf[pos]
        pos += 1
    else:
        if end - pos < 2:
            raise TunnelError("PPP header cut")
        protocol = buf[pos] << 8 | buf[pos + 1]
        pos += 2
    if protocol == _PPP_IPV4:
        return 0x0800, pos
    if protocol == _PPP_IPV6:
        return 0x86DD, pos
    return 0, pos


def decode_erspan2(buf: bytes, pos: int, end: int) -> int:
    """Decode an ERSPAN type II header; return the offset of the mirrored Ethernet frame.

    Layout (draft-foschiano-erspan §4.1): Ver(4)=1, VLAN(12), COS(3), En(2),
    T(1), Session ID(10), Reserved(12), Index(20).
    """
    if end - pos < _ERSPAN2_HEADER_LEN:
        raise TunnelError(
            f"ERSPAN type II header cut: {end - pos} of {_ERSPAN2_HEADER_LEN} bytes captured"
        )
    version = buf[pos] >> 4
    if version != 1:
        raise TunnelError(f"ERSPAN type II header with version {version} (expected 1)")
    return pos + _ERSPAN2_HEADER_LEN


def decode_erspan3(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode an ERSPAN type III header.

    Layout (draft-foschiano-erspan §4.2): Ver(4)=2, VLAN(12), COS(3), BSO(2),
    T(1), Session ID(10); Timestamp(32); SGT(16), P(1), FT(5), Hw ID(6),
    D(1), Gra(2), O(1); then an 8-byte platform-specific subheader when O is
    set.  Returns ``(frame type, offset of the mirrored frame)``: frame type
    :data:`ERSPAN3_FRAME_ETHERNET` or :data:`ERSPAN3_FRAME_IP`.
    """
    if end - pos < _ERSPAN3_HEADER_LEN:
        raise TunnelError(
            f"ERSPAN type III header cut: {end - pos} of {_ERSPAN3_HEADER_LEN} bytes captured"
        )
    version = buf[pos] >> 4
    if version != 2:
        raise TunnelError(f"ERSPAN type III header with version {version} (expected 2)")
    (word,) = _U16.unpack_from(buf, pos + 10)
    frame_type = (word >> 10) & 0x1F
    length = _ERSPAN3_HEADER_LEN
    if word & 0x0001:
        length += _ERSPAN3_SUBHEADER_LEN
        if end - pos < length:
            raise TunnelError(
                f"ERSPAN type III platform subheader cut: {end - pos} of {length} bytes"
            )
    if frame_type != ERSPAN3_FRAME_ETHERNET and frame_type != ERSPAN3_FRAME_IP:
        raise TunnelError(f"ERSPAN type III frame type {frame_type} is not decoded")
    return frame_type, pos + length


def decode_vxlan(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a VXLAN header (RFC 7348 §5, with the VXLAN-GPE next protocol).

    Returns ``(next protocol, offset of the inner packet)``: the next
    protocol is :data:`VXLAN_NEXT_ETHERNET` unless the P flag names
    :data:`VXLAN_NEXT_IPV4` or :data:`VXLAN_NEXT_IPV6`.
    """
    if end - pos < _VXLAN_HEADER_LEN:
        raise TunnelError(f"VXLAN header cut: {end - pos} of {_VXLAN_HEADER_LEN} bytes captured")
    flags = buf[pos]
    if not flags & _VXLAN_I:
        raise TunnelError(f"VXLAN header without the I flag (flags 0x{flags:02x})")
    if flags & _VXLAN_RESERVED:
        raise TunnelError(f"VXLAN header with reserved flags set (flags 0x{flags:02x})")
    next_protocol = VXLAN_NEXT_ETHERNET
    if flags & _VXLAN_P:
        next_protocol = buf[pos + 3]
        if next_protocol not in (VXLAN_NEXT_IPV4, VXLAN_NEXT_IPV6, VXLAN_NEXT_ETHERNET):
            raise TunnelError(f"VXLAN-GPE next protocol {next_protocol} is not decoded")
    return next_protocol, pos + _VXLAN_HEADER_LEN


def decode_gtpu(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Decode a GTPv1-U header (3GPP TS 29.281 §5) and its extension headers.

    Returns ``(message type, offset of the payload, end of the payload)``; only
    message type :data:`GTP_MSG_GPDU` carries a user packet (an IPv4 or IPv6
    datagram).  The end is the one the Length field gives, or ``end`` when
    the capture holds less.  Raises :class:`TunnelError` for a cut header or
    one that is not GTPv1 with PT=1 (GTP' and GTPv2 share nothing else).
    """
    if end - pos < _GTP_HEADER_LEN:
        raise TunnelError(f"GTP-U header cut: {end - pos} of {_GTP_HEADER_LEN} bytes captured")
    flags, msg_type, length = _GTP.unpack_from(buf, pos)
    # §5.1: Version "shall be set to '1'"; PT "1 for GTP", 0 for GTP'.
    if flags >> 5 != 1 or not flags & 0x10:
        raise TunnelError(f"not a GTPv1-U header (flags 0x{flags:02x})")
    stop = min(end, pos + _GTP_HEADER_LEN + length)
    cur = pos + _GTP_HEADER_LEN
    if flags & (_GTP_E | _GTP_S | _GTP_PN):
        # §5.1: when any of E, S, PN is set, all three optional fields are
        # present (4 bytes); the next-extension type is only meaningful with E.
        if end - cur < _GTP_OPTIONAL_LEN:
            raise TunnelError("GTP-U optional fields cut")
        next_type = buf[cur + 3]
        cur += _GTP_OPTIONAL_LEN
        if flags & _GTP_E:
            # §5.2.1: each extension header is a length byte in 4-octet units
            # (covering the whole extension header), its content, and the
            # next extension header type in its last byte; 0 ends the chain.
            while next_type:
                if cur >= end:
                    raise TunnelError("GTP-U extension header cut")
                units = buf[cur]
                if units == 0:
                    raise TunnelError("GTP-U extension header with length 0")
                ext_len = units * 4
                if end - cur < ext_len:
                    raise TunnelError(
                        f"GTP-U extension header cut: {end - cur} of {ext_len} bytes captured"
                    )
                next_type = buf[cur + ext_len - 1]
                cur += ext_len
    if cur > stop:
        raise TunnelError(f"GTP-U Length {length} is shorter than the header's optional fields")
    return msg_type, cur, stop
