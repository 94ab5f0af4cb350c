"""IPv4 and IPv6 headers, including IPv6 extension headers and fragment fields.

The decoders work on a shared buffer with offsets and return plain tuples
rather than records: they run for every IP packet of a capture, and a frozen
record per packet would cost more than the decoding.  Their layouts are
documented on :data:`IPv4Header` and :data:`IPv6Header`.  Header checksums are
not verified: captures taken on the sending host routinely carry the wrong
ones because the NIC fills them in after the capture point.
"""

from __future__ import annotations

import struct

from analyzer.errors import IPError

# IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
IPPROTO_HOPOPTS = 0
IPPROTO_ICMP = 1
IPPROTO_IPIP = 4
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_GRE = 47
IPPROTO_ESP = 50
IPPROTO_AH = 51
IPPROTO_ICMPV6 = 58
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60
IPPROTO_SCTP = 132
IPPROTO_MOBILITY = 135
IPPROTO_HIP = 139
IPPROTO_SHIM6 = 140

IPV4_HEADER_LEN = 20
IPV6_HEADER_LEN = 40
_FRAGMENT_HEADER_LEN = 8

# Extension headers whose length byte counts 8-octet units beyond the first
# eight octets (RFC 8200 §4.3-4.6 and the RFC 7045 list: Mobility RFC 6275,
# HIP RFC 7401, Shim6 RFC 5533 share that format).  AH differs (RFC 4302 §2.2:
# "the length of AH in 32-bit words (4-byte units), minus 2").
_GENERIC_EXTENSIONS = frozenset(
    (
        IPPROTO_HOPOPTS,
        IPPROTO_ROUTING,
        IPPROTO_DSTOPTS,
        IPPROTO_MOBILITY,
        IPPROTO_HIP,
        IPPROTO_SHIM6,
    )
)

_IPV4 = struct.Struct(">BxHHHxB2x4s4s")
_IPV6 = struct.Struct(">I H B x 16s 16s")
_FRAGMENT = struct.Struct(">BxHI")

# (src, dst, proto, ident, frag_offset, more_fragments, payload_off,
#  payload_end, wire_end): addresses packed (4 bytes), the fragment offset in
# bytes, ``buf[payload_off:payload_end]`` the payload as far as it was
# captured, ``wire_end`` where the header's total length says it ends: beyond
# ``payload_end`` when the capture cut the packet.
IPv4Header = tuple[bytes, bytes, int, int, int, bool, int, int, int]

# (src, dst, proto, payload_off, payload_end, wire_end, fragment): addresses
# packed (16 bytes), ``proto`` the first header after the extension headers
# skipped here, ends as for IPv4, and ``fragment`` None or ``(ident,
# frag_offset, more)`` when a Fragment header was found; then ``proto`` is
# that header's Next Header and the payload is the fragment's data.
IPv6Header = tuple[bytes, bytes, int, int, int, int, tuple[int, int, bool] | None]


def decode_ipv4(buf: bytes, off: int, end: int) -> IPv4Header:
    """Decode the IPv4 header at ``buf[off:end]`` (options skipped via IHL).

    The payload is trimmed to the total length, which removes the padding
    Ethernet adds to short frames.  Raises :class:`IPError` when the header is
    cut or inconsistent.
    """
    have = end - off
    if have < IPV4_HEADER_LEN:
        raise IPError(f"IPv4 header cut: {have} of {IPV4_HEADER_LEN} bytes captured")
    vhl, total, ident, frag, proto, src, dst = _IPV4.unpack_from(buf, off)
    if vhl >> 4 != 4:
        raise IPError(f"IPv4 header with version {vhl >> 4}")
    hlen = (vhl & 0x0F) * 4
    if hlen < IPV4_HEADER_LEN:
        raise IPError(f"IPv4 header length {hlen} is below the minimum of 20")
    if have < hlen:
        raise IPError(f"IPv4 header with options cut: {have} of {hlen} bytes captured")
    if total == 0:
        # Captured on the sending host with TCP segmentation offload, the
        # kernel hands the capture a super-packet whose total length is still
        # 0; the captured bytes are all there is (Wireshark does the same).
        total = have
    elif total < hlen:
        raise IPError(f"IPv4 total length {total} is shorter than its header ({hlen})")
    wire_end = off + total
    return (
        src,
        dst,
        proto,
        ident,
        (frag & 0x1FFF) << 3,
        bool(frag & 0x2000),
        off + hlen,
        end if wire_end > end else wire_end,
        wire_end,
    )


def decode_ipv6(buf: bytes, off: int, end: int) -> IPv6Header:
    """Decode the IPv6 header at ``buf[off:end]`` and skip its extension headers.

    Hop-by-Hop, Routing, Destination Options, AH, Mobility, HIP and Shim6
    headers are skipped; a Fragment header ends the walk (the headers after
    it belong to the fragmentable part, to be read after reassembly) unless
    it is an atomic fragment (offset 0, M clear), which RFC 8200 §4.5 treats
    as the whole packet.  Raises :class:`IPError` when a header is cut.
    """
    have = end - off
    if have < IPV6_HEADER_LEN:
        raise IPError(f"IPv6 header cut: {have} of {IPV6_HEADER_LEN} bytes captured")
    vtcfl, plen, nh, src, dst = _IPV6.unpack_from(buf, off)
    if vtcfl >> 28 != 6:
        raise IPError(f"IPv6 header with version {vtcfl >> 28}")
    pos = off + IPV6_HEADER_LEN
    if plen == 0:
        # A jumbogram (RFC 2675) or a segmentation-offload super-packet: the
        # length lives elsewhere or nowhere, so the captured bytes are it.
        plen = end - pos
    wire_end = pos + plen
    stop = end if wire_end > end else wire_end
    nh, pos, fragment = _walk_extensions(nh, buf, pos, stop, True)
    return src, dst, nh, pos, stop, wire_end, fragment


def skip_ipv6_extensions(nh: int, buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Skip the IPv6 extension headers starting at ``pos`` with Next Header ``nh``.

    Used on a reassembled payload, whose first headers are the ones that
    followed the Fragment header.  Returns ``(upper-layer protocol, offset)``.
    A second Fragment header there raises :class:`IPError`.
    """
    nh, pos, _ = _walk_extensions(nh, buf, pos, end, False)
    return nh, pos


def _walk_extensions(
    nh: int, buf: bytes, pos: int, end: int, fragment_allowed: bool
) -> tuple[int, int, tuple[int, int, bool] | None]:
    # Every header consumes at least eight bytes, so this ends with the packet.
    while True:
        if nh in _GENERIC_EXTENSIONS or nh == IPPROTO_AH:
            if end - pos < 2:
                raise IPError(f"IPv6 extension header {nh} cut at offset {pos}")
            length = (buf[pos + 1] + 2) * 4 if nh == IPPROTO_AH else (buf[pos + 1] + 1) * 8
            if end - pos < length:
                raise IPError(
                    f"IPv6 extension header {nh} cut: {end - pos} of {length} bytes captured"
                )
            nh = buf[pos]
            pos += length
        elif nh == IPPROTO_FRAGMENT:
            if not fragment_allowed:
                raise IPError("IPv6 Fragment header inside a reassembled datagram")
            if end - pos < _FRAGMENT_HEADER_LEN:
                raise IPError(
                    f"IPv6 Fragment header cut: {end - pos} of {_FRAGMENT_HEADER_LEN} bytes"
                )
            nh, offset_flags, ident = _FRAGMENT.unpack_from(buf, pos)
            pos += _FRAGMENT_HEADER_LEN
            offset = offset_flags & 0xFFF8  # the 13-bit offset in 8-octet units, in place
            more = bool(offset_flags & 0x0001)
            if offset or more:
                return nh, pos, (ident, offset, more)
            # RFC 8200 §4.5: an atomic fragment is processed as a whole packet.
            fragment_allowed = False
        else:
            return nh, pos, None
