"""From captured frames to the transport units that may carry SIP.

:class:`PacketDecoder` takes every frame of a capture and returns the
:class:`~analyzer.net.transport.UdpDatagram`, :class:`TcpSegment` and
:class:`SctpData` units worth handing to the SIP layers: UDP datagrams whose
first payload byte could start a SIP message or a HEP packet, every TCP
segment with data or SYN/FIN/RST, every SCTP DATA chunk.  On the way it
decodes link layers, IPv4/IPv6 with extension headers, IP fragments
(:mod:`analyzer.net.defrag`) and tunnels (:mod:`analyzer.net.tunnels`).

Real captures are 80-95% RTP, so the common shape, Ethernet + IPv4 without
options or fragmentation + UDP, is decoded inline at the top of
:meth:`PacketDecoder.feed`: an RTP packet is rejected after one
``unpack_from``, a few integer comparisons and a table lookup, with no
other call and nothing kept.  SIP over UDP and TCP segments of that shape
are built there too.  Any other frame takes the general path, which
handles everything (and is checked to agree with the fast path).

The same RTP check can be made by the capture reader before a frame is even
handed out: :data:`PREFILTERS` describes, as data the reader understands
(:class:`analyzer.capture.Prefilter`), the Ethernet (+ one 802.1Q tag) + IPv4
+ UDP frames this decoder would reject on its fast path.  Frames the reader
skipped that way are counted with :meth:`PacketDecoder.set_prefiltered`.
"""

from __future__ import annotations

import struct

from analyzer.capture import Prefilter
from analyzer.errors import (
    DecodeError,
    Diagnostic,
    IPError,
    Level,
    LinkError,
    TransportError,
    TunnelError,
)
from analyzer.net.defrag import Defragmenter, Fragment
from analyzer.net.ip import (
    IPPROTO_GRE,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_IPIP,
    IPPROTO_IPV6,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    decode_ipv4,
    decode_ipv6,
    skip_ipv6_extensions,
)
from analyzer.net.link import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    LINKTYPE_ETHERNET,
    SUPPORTED_LINKTYPES,
    decode_ethernet,
    decode_ethertype,
    decode_link,
)
from analyzer.net.transport import (
    FIN,
    RST,
    SYN,
    Unit,
    decode_sctp,
    decode_tcp,
    decode_udp,
    make_tcp_segment,
    make_udp_datagram,
)
from analyzer.net.tunnels import (
    ERSPAN3_FRAME_ETHERNET,
    GRE_PROTO_ERSPAN,
    GRE_PROTO_ERSPAN3,
    GRE_PROTO_PPP,
    GRE_PROTO_TEB,
    GTP_MSG_GPDU,
    GTPU_PORT,
    MAX_TUNNEL_DEPTH,
    VXLAN_NEXT_ETHERNET,
    VXLAN_PORT,
    decode_erspan2,
    decode_erspan3,
    decode_gre,
    decode_gtpu,
    decode_ppp,
    decode_vxlan,
)

# What feed() returns for a frame that yields nothing.  Shared, so that a
# rejected packet allocates nothing: callers must not mutate it.
EMPTY: list[Unit] = []

# Per-frame diagnostics kept per layer.  A capture with a broken snapshot
# length or a fuzzed one can make every frame undecodable; past this many the
# rest of that layer's are counted and summarised in one diagnostic at flush,
# so memory stays bounded while the first examples remain to look at.
MAX_DIAGNOSTICS_PER_LAYER = 1000

# The UDP content filter, indexed by the first payload byte:
# 1: an ASCII letter.  A response starts with "SIP/2.0"; a request with its
#    Method (RFC 3261 §25.1: "Method = INVITEm / ACKm / ... / extension-method",
#    extension-method = token), and every method in the IANA registry is
#    letters.  "HEP3" (HEPv3) starts with one too.  The grammar would allow
#    a token starting with a digit or "!%*_+`'~-."; no implementation sends one.
# 2: 0x01 or 0x02, the version byte of HEPv1/HEPv2, checked further;
# 0: anything else, notably RTP/RTCP (version 2: 0x80-0xBF), STUN (0x00,
#    0x01 would pass to the HEP check and fail it), DNS, DTLS.
_UDP_KIND = bytes(
    1 if (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A) else 2 if b in (1, 2) else 0 for b in range(256)
)

# Fast path, Ethernet without tags + IPv4 without options: EtherType,
# version/IHL and TOS as one word at 12; the IPv4 total length at 16; the
# flags/fragment-offset word at 20 and the protocol at 23; the UDP
# destination port and length at 36 and the first UDP payload byte at 42.
# (The lengths are here so that a datagram of another share, see
# only_udp_frames, is settled with this one unpack.)
_FAST = struct.Struct(">12xIH2xHxB12xHH2xB")
_fast_unpack = _FAST.unpack_from
_FAST_MIN = _FAST.size
# EtherType 0x0800, version 4 and IHL 5, any TOS.
_FAST_ETH_IPV4_MIN = 0x08004500
_FAST_ETH_IPV4_MAX = 0x080045FF
# Not a fragment: MF and the offset clear, DF either way (the reserved bit
# set sends the packet to the general path, which does not care).
_IP_DF = 0x4000
# An 802.1Q tag (TPID 0x8100, any TCI) where the EtherType would be, then
# the inner EtherType and the IPv4/UDP fields four bytes further on.
_FAST_VLAN_MIN = 0x81000000
_FAST_VLAN_MAX = 0x8100FFFF
_FAST_VLAN = struct.Struct(">16xHB5xHxB12xH4xB")
_fast_vlan_unpack = _FAST_VLAN.unpack_from
_FAST_VLAN_SIZE = _FAST_VLAN.size
# The same check at the IPv4 header, wherever the link layer put it:
# version/IHL, flags/fragment offset, protocol, UDP destination port, first
# UDP payload byte.
_PEEK = struct.Struct(">B5xHxB12xH4xB")
_peek_unpack = _PEEK.unpack_from
_PEEK_MIN = _PEEK.size
# IPv4 addresses and the UDP source port.
_fast_udp_unpack = struct.Struct(">26x4s4sH").unpack_from
# IPv4 total length, addresses, TCP ports, sequence and acknowledgment
# numbers, data offset and flags.
_FAST_TCP = struct.Struct(">16xH8x4s4sHHIIBB")
_fast_tcp_unpack = _FAST_TCP.unpack_from
_FAST_TCP_MIN = _FAST_TCP.size
_ETH_LEN = 14

# First bytes a VXLAN or GTP-U header may start with: decode_vxlan wants the
# I flag (0x08) and none of the reserved flags 0x70; decode_gtpu wants version
# 1 (the top three bits 001) and PT set (0x10).  The fast path sends datagrams
# to those ports to the tunnel decoders whatever their first byte; a
# prefilter does not look at ports, so it lets these bytes through instead
# (RTP's usual 0x80 and 0x90 are not among them).
_TUNNEL_FIRST_BYTES = frozenset(
    b for b in range(256) if (b & 0x08 and not b & 0x70) or (b >> 5 == 1 and b & 0x10)
)
_PREFILTER_FIRST_BYTES = [
    b for b in range(256) if not _UDP_KIND[b] and b not in _TUNNEL_FIRST_BYTES
]

# What the reader may skip for this decoder (see the module docstring): the
# frames the fast path would count as fast_rejected.  Fields, one byte each
# (small integers cost no allocation): the EtherType, version/IHL, the
# flags/fragment offset word (0, or DF alone), the protocol and the first UDP
# payload byte (the TOS, lengths, addresses and ports are skipped), without
# and with one 802.1Q tag (its TPID, then the TCI skipped).
_IPV4_UDP_WHOLE = [
    (ETHERTYPE_IPV4 >> 8, ETHERTYPE_IPV4 & 0xFF, 0x45, flags, 0, IPPROTO_UDP)
    for flags in (0, _IP_DF >> 8)
]
PREFILTERS: tuple[Prefilter, ...] = (
    Prefilter(
        LINKTYPE_ETHERNET,
        struct.Struct(">12xBBB5xBBxB18xB"),
        frozenset((*head, b) for head in _IPV4_UDP_WHOLE for b in _PREFILTER_FIRST_BYTES),
    ),
    Prefilter(
        LINKTYPE_ETHERNET,
        struct.Struct(">12xBB2xBBB5xBBxB18xB"),
        frozenset(
            (0x81, 0x00, *head, b) for head in _IPV4_UDP_WHOLE for b in _PREFILTER_FIRST_BYTES
        ),
    ),
)

_TCP_KEEP = SYN | FIN | RST

_IP_ETHERTYPES = frozenset((ETHERTYPE_IPV4, ETHERTYPE_IPV6))
_TUNNEL_PORTS = frozenset((VXLAN_PORT, GTPU_PORT))

# What follows a GRE header.
_INNER_ETHERTYPE = 0
_INNER_ETHERNET = 1
_INNER_IP = 2


class DecodeStats:
    """What packet decoding saw; integer counters.

    ``packets`` counts every frame fed.  ``udp_rejected`` counts UDP
    datagrams the content filter turned away (RTP, RTCP, DNS, ...), and
    ``tcp_empty`` TCP segments with neither data nor SYN/FIN/RST.
    ``undecodable`` counts frames that produced a diagnostic instead of a
    unit.  Counters of IP and UDP count headers, so a tunnelled packet counts
    once per layer it has.

    The inline fast path of :meth:`PacketDecoder.feed` can afford one store
    per packet, so it counts each of its four outcomes once (``fast_*``;
    ``fast_rejected`` also counts the same RTP check made right after any
    other link layer); ``prefiltered`` counts the frames the capture reader
    skipped for :data:`PREFILTERS`, which count like ``fast_rejected``;
    ``packets``, ``ipv4``, ``udp``, ``udp_rejected``,
    ``udp_sip_candidates``, ``tcp``, ``tcp_segments`` and ``tcp_empty`` are
    properties adding those to what the general path counted (``base_*``);
    ``ip`` is ``ipv4 + ipv6``.
    """

    __slots__ = (
        "prefiltered",
        "fast_rejected",
        "fast_udp",
        "fast_tcp",
        "fast_tcp_empty",
        "base_packets",
        "base_ipv4",
        "base_udp",
        "base_udp_rejected",
        "base_udp_sip_candidates",
        "base_tcp",
        "base_tcp_segments",
        "base_tcp_empty",
        "not_ip",
        "unsupported_link",
        "undecodable",
        "ipv6",
        "fragments",
        "reassembled",
        "tunnelled",
        "gtp_signalling",
        "sctp",
        "sctp_data",
        "sctp_other_chunks",
        "icmp",
        "other_ip",
        "truncated",
    )

    def __init__(self) -> None:
        self.prefiltered = 0
        self.fast_rejected = 0
        self.fast_udp = 0
        self.fast_tcp = 0
        self.fast_tcp_empty = 0
        self.base_packets = 0
        self.base_ipv4 = 0
        self.base_udp = 0
        self.base_udp_rejected = 0
        self.base_udp_sip_candidates = 0
        self.base_tcp = 0
        self.base_tcp_segments = 0
        self.base_tcp_empty = 0
        self.not_ip = 0
        self.unsupported_link = 0
        self.undecodable = 0
        self.ipv6 = 0
        self.fragments = 0
        self.reassembled = 0
        self.tunnelled = 0
        self.gtp_signalling = 0
        self.sctp = 0
        self.sctp_data = 0
        self.sctp_other_chunks = 0
        self.icmp = 0
        self.other_ip = 0
        self.truncated = 0

    @property
    def _fast(self) -> int:
        # Every fast-path outcome is one Ethernet + IPv4 frame.
        return (
            self.prefiltered
            + self.fast_rejected
            + self.fast_udp
            + self.fast_tcp
            + self.fast_tcp_empty
        )

    @property
    def packets(self) -> int:
        return self.base_packets + self._fast

    @property
    def ipv4(self) -> int:
        return self.base_ipv4 + self._fast

    @property
    def ip(self) -> int:
        return self.ipv4 + self.ipv6

    @property
    def udp(self) -> int:
        return self.base_udp + self.prefiltered + self.fast_rejected + self.fast_udp

    @property
    def udp_rejected(self) -> int:
        return self.base_udp_rejected + self.prefiltered + self.fast_rejected

    @property
    def udp_sip_candidates(self) -> int:
        return self.base_udp_sip_candidates + self.fast_udp

    @property
    def tcp(self) -> int:
        return self.base_tcp + self.fast_tcp + self.fast_tcp_empty

    @property
    def tcp_segments(self) -> int:
        return self.base_tcp_segments + self.fast_tcp

    @property
    def tcp_empty(self) -> int:
        return self.base_tcp_empty + self.fast_tcp_empty

    def as_dict(self) -> dict[str, int]:
        """Every counter by name: the totals, not their ``fast_``/``base_`` parts."""
        names = [
            n for n in self.__slots__ if not n.startswith(("fast_", "base_")) and n != "prefiltered"
        ]
        names[:0] = list(_TOTALS)
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.as_dict().items() if v)
        return f"DecodeStats({fields})"


_TOTALS = (
    "packets",
    "ip",
    "ipv4",
    "udp",
    "udp_sip_candidates",
    "udp_rejected",
    "tcp",
    "tcp_segments",
    "tcp_empty",
)


class PacketDecoder:
    """Decodes frames into UDP/TCP/SCTP units.  Feed frames in capture order.

    ``feed`` returns the units a frame yields (a reassembled datagram is
    yielded by the frame that completes it); ``flush`` at the end of the
    capture reports the IP datagrams never completed.  Frames that cannot be
    decoded leave a :class:`~analyzer.errors.Diagnostic` in ``diagnostics``.
    """

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.stats = DecodeStats()
        self._defrag = Defragmenter()
        self._diag_counts: dict[str, int] = {}
        # link type -> [first frame, frame count], reported once at flush.
        self._unsupported: dict[int, list[int]] = {}
        # Whether the frame being decoded was cut by the snapshot length: a
        # header cut in such a frame is an expected consequence (INFO); in a
        # whole frame, anything undecodable is malformed (WARNING).
        self._snapped = False
        # See only_udp_frames: by default every frame's datagram is built.
        self._udp_every = 1
        self._udp_keep = 0

    def only_udp_frames(self, every: int, keep: int) -> None:
        """Build the fast path's UDP datagrams only for frames numbered ``keep`` modulo ``every``.

        For a caller that discards the other ones unseen (one process of
        several sharing a capture's work): the fast path has then
        checked that the frame holds one whole datagram and nothing to
        report, so skipping it changes nothing but the work done.  They are
        still counted in :attr:`stats` as SIP candidates.
        """
        if not 0 <= keep < every:
            raise ValueError(f"no frame number is {keep} modulo {every}")
        self._udp_every = every
        self._udp_keep = keep

    def feed(
        self,
        frame_no: int,
        ts_ns: int,
        linktype: int,
        buf: bytes,
        off: int,
        caplen: int,
        orig_len: int,
    ) -> list[Unit]:
        """Decode the frame ``buf[off:off + caplen]`` (``orig_len`` bytes on the wire).

        ``buf`` may be a chunk shared with other frames: units hold copies of
        the bytes they keep.  Returns the units, or :data:`EMPTY`.
        """
        if linktype == LINKTYPE_ETHERNET and caplen >= _FAST_MIN:
            eth_ip, total, frag, proto, dport, ulen, first = _fast_unpack(buf, off)
            # Chained comparisons, not masks or shifts: they allocate nothing.
            if _FAST_ETH_IPV4_MIN <= eth_ip <= _FAST_ETH_IPV4_MAX and (frag == 0 or frag == _IP_DF):
                if proto == IPPROTO_UDP and dport != VXLAN_PORT and dport != GTPU_PORT:
                    kind = _UDP_KIND[first]
                    if not kind:
                        self.stats.fast_rejected += 1
                        return EMPTY
                    # A complete datagram with a non-empty payload (else
                    # the byte looked at may be Ethernet padding).
                    if kind == 1 and 28 < total <= caplen - _ETH_LEN and 8 < ulen <= total - 20:
                        self.stats.fast_udp += 1
                        if frame_no % self._udp_every != self._udp_keep:
                            return EMPTY
                        src, dst, sport = _fast_udp_unpack(buf, off)
                        return [
                            make_udp_datagram(
                                (frame_no,),
                                ts_ns,
                                src,
                                sport,
                                dst,
                                dport,
                                buf[off + 42 : off + 34 + ulen],
                                False,
                            )
                        ]
                elif proto == IPPROTO_TCP and caplen >= _FAST_TCP_MIN:
                    total, src, dst, sport, dport, seq, ack, doff, flags = _fast_tcp_unpack(
                        buf, off
                    )
                    hlen = (doff >> 4) * 4
                    if hlen >= 20 and 20 + hlen <= total <= caplen - _ETH_LEN:
                        start = off + 34 + hlen
                        stop = off + _ETH_LEN + total
                        if start < stop or flags & _TCP_KEEP:
                            self.stats.fast_tcp += 1
                            return [
                                make_tcp_segment(
                                    frame_no,
                                    ts_ns,
                                    src,
                                    sport,
                                    dst,
                                    dport,
                                    seq,
                                    ack,
                                    flags,
                                    buf[start:stop],
                                    stop - start,
                                )
                            ]
                        self.stats.fast_tcp_empty += 1
                        return EMPTY
            elif _FAST_VLAN_MIN <= eth_ip <= _FAST_VLAN_MAX and caplen >= _FAST_VLAN_SIZE:
                # One 802.1Q tag, as on most mirror ports: reject RTP here too.
                ethertype, vhl, frag, proto, dport, first = _fast_vlan_unpack(buf, off)
                if (
                    ethertype == ETHERTYPE_IPV4
                    and vhl == 0x45
                    and (frag == 0 or frag == _IP_DF)
                    and proto == IPPROTO_UDP
                    and not _UDP_KIND[first]
                    and dport != VXLAN_PORT
                    and dport != GTPU_PORT
                ):
                    self.stats.fast_rejected += 1
                    return EMPTY
        return self._frame(frame_no, ts_ns, linktype, buf, off, off + caplen, caplen < orig_len)

    def set_prefiltered(self, total: int) -> None:
        """Record that the capture reader has skipped ``total`` frames for :data:`PREFILTERS`.

        They are frames :meth:`feed` would have rejected on its fast path,
        and are counted as such in :attr:`stats`.
        """
        self.stats.prefiltered = total

    def flush(self) -> list[Unit]:
        """End of capture: report incomplete IP datagrams and aggregated problems.

        Returns no units (an incomplete datagram cannot be decoded); the
        reports go to ``diagnostics``.
        """
        for diag in self._defrag.flush():
            self._add(diag)
        for linktype, (first, count) in self._unsupported.items():
            self.diagnostics.append(
                Diagnostic(
                    "link",
                    (first,),
                    f"{count} frame(s) of link type {linktype} not decoded: "
                    "the link type is not supported",
                )
            )
        self._unsupported.clear()
        for layer, count in self._diag_counts.items():
            if count > MAX_DIAGNOSTICS_PER_LAYER:
                self.diagnostics.append(
                    Diagnostic(
                        layer,
                        (),
                        f"{count - MAX_DIAGNOSTICS_PER_LAYER} more {layer} diagnostics "
                        f"not listed (the first {MAX_DIAGNOSTICS_PER_LAYER} are)",
                    )
                )
        self._diag_counts.clear()
        return []

    # -- general path ----------------------------------------------------------

    def _frame(
        self,
        frame_no: int,
        ts_ns: int,
        linktype: int,
        buf: bytes,
        off: int,
        end: int,
        snapped: bool,
    ) -> list[Unit]:
        if linktype not in SUPPORTED_LINKTYPES:
            self.stats.base_packets += 1
            self.stats.unsupported_link += 1
            seen = self._unsupported.get(linktype)
            if seen is None:
                self._unsupported[linktype] = [frame_no, 1]
            else:
                seen[1] += 1
            return EMPTY
        self._snapped = snapped
        try:
            ethertype, pos = decode_link(linktype, buf, off, end)
        except LinkError as exc:
            self.stats.base_packets += 1
            return self._undecodable(exc, (frame_no,))
        if ethertype == ETHERTYPE_IPV4 and end - pos >= _PEEK_MIN:
            # The fast path's RTP check again, for the frames it does not
            # take (VLAN tags, Linux cooked captures, raw IP): RTP is most of
            # their traffic too.
            vhl, frag, proto, dport, first = _peek_unpack(buf, pos)
            if (
                vhl == 0x45
                and (frag == 0 or frag == _IP_DF)
                and proto == IPPROTO_UDP
                and not _UDP_KIND[first]
                and dport != VXLAN_PORT
                and dport != GTPU_PORT
            ):
                self.stats.fast_rejected += 1
                return EMPTY
        self.stats.base_packets += 1
        if ethertype in _IP_ETHERTYPES:
            return self._ip(frame_no, None, ts_ns, ethertype, buf, pos, end, 0)
        self.stats.not_ip += 1
        return EMPTY

    def _ip(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        ethertype: int,
        buf: bytes,
        pos: int,
        end: int,
        depth: int,
    ) -> list[Unit]:
        # ``frames`` is None for a packet carried by the single frame
        # ``frame_no`` (the tuple is built only if a unit is), or the frames
        # of a reassembled datagram the packet was found in.
        if ethertype == ETHERTYPE_IPV4:
            try:
                src, dst, proto, ident, frag_off, more, start, stop, wire_end = decode_ipv4(
                    buf, pos, end
                )
            except IPError as exc:
                return self._undecodable(exc, frames or (frame_no,))
            self.stats.base_ipv4 += 1
            if frag_off or more:
                return self._fragment(
                    frame_no, frames, ts_ns, 4, src, dst, proto, ident, frag_off, more,
                    buf, start, stop, wire_end, depth,
                )  # fmt: skip
        else:
            try:
                src, dst, proto, start, stop, wire_end, fragment = decode_ipv6(buf, pos, end)
            except IPError as exc:
                return self._undecodable(exc, frames or (frame_no,))
            self.stats.ipv6 += 1
            if fragment is not None:
                ident, frag_off, more = fragment
                return self._fragment(
                    frame_no, frames, ts_ns, 6, src, dst, proto, ident, frag_off, more,
                    buf, start, stop, wire_end, depth,
                )  # fmt: skip
        return self._l4(frame_no, frames, ts_ns, src, dst, proto, buf, start, stop, wire_end, depth)

    def _fragment(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        version: int,
        src: bytes,
        dst: bytes,
        proto: int,
        ident: int,
        frag_off: int,
        more: bool,
        buf: bytes,
        start: int,
        stop: int,
        wire_end: int,
        depth: int,
    ) -> list[Unit]:
        self.stats.fragments += 1
        if frames is None:
            frames = (frame_no,)
        if wire_end > stop:
            self._undecodable(
                IPError(
                    f"IPv{version} fragment (id {ident}, offset {frag_off}) cut by the capture: "
                    f"{stop - start} of {wire_end - start} bytes; its datagram cannot be "
                    "reassembled"
                ),
                frames,
            )
            return EMPTY
        defrag = self._defrag
        datagram = defrag.feed(
            Fragment(
                frames, ts_ns, version, src, dst, proto, ident, frag_off, more, buf[start:stop]
            )
        )
        if defrag.diagnostics:
            for diag in defrag.diagnostics:
                self._add(diag)
            defrag.diagnostics.clear()
        if datagram is None:
            return EMPTY
        self.stats.reassembled += 1
        payload = datagram.payload
        proto = datagram.proto
        pos = 0
        if version == 6:
            try:
                proto, pos = skip_ipv6_extensions(proto, payload, 0, len(payload))
            except IPError as exc:
                return self._undecodable(exc, datagram.frames)
        return self._l4(
            frame_no, datagram.frames, datagram.ts_ns, src, dst, proto,
            payload, pos, len(payload), len(payload), depth,
        )  # fmt: skip

    def _l4(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        src: bytes,
        dst: bytes,
        proto: int,
        buf: bytes,
        pos: int,
        end: int,
        wire_end: int,
        depth: int,
    ) -> list[Unit]:
        stats = self.stats
        if proto == IPPROTO_UDP:
            return self._udp(frame_no, frames, ts_ns, src, dst, buf, pos, end, wire_end, depth)
        if proto == IPPROTO_TCP:
            return self._tcp(frame_no, frames, ts_ns, src, dst, buf, pos, end, wire_end)
        if proto == IPPROTO_SCTP:
            try:
                units, others = decode_sctp(
                    frames or (frame_no,), ts_ns, src, dst, buf, pos, end, wire_end
                )
            except TransportError as exc:
                return self._undecodable(exc, frames or (frame_no,))
            stats.sctp += 1
            stats.sctp_other_chunks += others
            if not units:
                return EMPTY
            stats.sctp_data += len(units)
            stats.truncated += sum(1 for unit in units if unit.truncated)
            out: list[Unit] = list(units)
            return out
        if proto in (IPPROTO_IPIP, IPPROTO_IPV6):
            # RFC 2003 (IPv4 in IP) and RFC 2473 (IPv6 in IP): the inner IP
            # header follows the outer one directly.
            if depth >= MAX_TUNNEL_DEPTH:
                return self._too_deep(frame_no, frames)
            stats.tunnelled += 1
            ethertype = ETHERTYPE_IPV4 if proto == IPPROTO_IPIP else ETHERTYPE_IPV6
            return self._ip(frame_no, frames, ts_ns, ethertype, buf, pos, end, depth + 1)
        if proto == IPPROTO_GRE:
            return self._gre(frame_no, frames, ts_ns, buf, pos, end, depth)
        if proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
            # Not decoded further: SIP quoted inside an ICMP error is a copy
            # of a packet that bounced, not a message on the wire.
            stats.icmp += 1
            return EMPTY
        stats.other_ip += 1
        return EMPTY

    def _udp(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        src: bytes,
        dst: bytes,
        buf: bytes,
        pos: int,
        end: int,
        wire_end: int,
        depth: int,
    ) -> list[Unit]:
        try:
            sport, dport, start, stop, truncated = decode_udp(buf, pos, end, wire_end)
        except TransportError as exc:
            return self._undecodable(exc, frames or (frame_no,))
        stats = self.stats
        stats.base_udp += 1
        if dport in _TUNNEL_PORTS:
            inner = self._udp_tunnel(frame_no, frames, ts_ns, dport, buf, start, stop, depth)
            if inner is not None:
                return inner
        if start < stop:
            kind = _UDP_KIND[buf[start]]
            if kind == 1 or (kind == 2 and _looks_like_hep12(buf, start, stop)):
                stats.base_udp_sip_candidates += 1
                if truncated:
                    stats.truncated += 1
                return [
                    make_udp_datagram(
                        frames or (frame_no,),
                        ts_ns,
                        src,
                        sport,
                        dst,
                        dport,
                        buf[start:stop],
                        truncated,
                    )
                ]
        stats.base_udp_rejected += 1
        return EMPTY

    def _udp_tunnel(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        dport: int,
        buf: bytes,
        pos: int,
        end: int,
        depth: int,
    ) -> list[Unit] | None:
        # None: not this tunnel after all; the datagram is then filtered like
        # any other (something else may use the port).
        try:
            if dport == VXLAN_PORT:
                next_protocol, pos = decode_vxlan(buf, pos, end)
                inner_end = end
                ethernet = next_protocol == VXLAN_NEXT_ETHERNET
            else:
                msg_type, pos, inner_end = decode_gtpu(buf, pos, end)
                if msg_type != GTP_MSG_GPDU:
                    # Echo, error indication, end marker: tunnel signalling,
                    # no user packet.
                    self.stats.gtp_signalling += 1
                    return EMPTY
                ethernet = False
        except TunnelError:
            return None
        if depth >= MAX_TUNNEL_DEPTH:
            return self._too_deep(frame_no, frames)
        self.stats.tunnelled += 1
        if ethernet:
            return self._ethernet(frame_no, frames, ts_ns, buf, pos, inner_end, depth + 1)
        return self._raw_ip(frame_no, frames, ts_ns, buf, pos, inner_end, depth + 1)

    def _tcp(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        src: bytes,
        dst: bytes,
        buf: bytes,
        pos: int,
        end: int,
        wire_end: int,
    ) -> list[Unit]:
        try:
            sport, dport, seq, ack, flags, start = decode_tcp(buf, pos, end)
        except TransportError as exc:
            return self._undecodable(exc, frames or (frame_no,))
        stats = self.stats
        stats.base_tcp += 1
        if start >= wire_end and not flags & _TCP_KEEP:
            stats.base_tcp_empty += 1
            return EMPTY
        stats.base_tcp_segments += 1
        if wire_end > end:
            stats.truncated += 1
        # TcpSegment names one frame: for a segment reassembled from IP
        # fragments, the one that completed it.
        return [
            make_tcp_segment(
                frame_no,
                ts_ns,
                src,
                sport,
                dst,
                dport,
                seq,
                ack,
                flags,
                buf[start:end],
                wire_end - start,
            )
        ]

    def _gre(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        buf: bytes,
        pos: int,
        end: int,
        depth: int,
    ) -> list[Unit]:
        try:
            protocol, pos, has_seq = decode_gre(buf, pos, end)
            inner = _INNER_ETHERTYPE
            if protocol == GRE_PROTO_TEB:
                inner = _INNER_ETHERNET
            elif protocol == GRE_PROTO_ERSPAN:
                # Type II has a sequence number and an 8-byte header; type I
                # has neither, the mirrored frame follows GRE directly.
                if has_seq:
                    pos = decode_erspan2(buf, pos, end)
                inner = _INNER_ETHERNET
            elif protocol == GRE_PROTO_ERSPAN3:
                frame_type, pos = decode_erspan3(buf, pos, end)
                inner = _INNER_ETHERNET if frame_type == ERSPAN3_FRAME_ETHERNET else _INNER_IP
            elif protocol == GRE_PROTO_PPP:
                # PPTP: PPP names the payload; continue as if it were an EtherType.
                protocol, pos = decode_ppp(buf, pos, end)
        except TunnelError as exc:
            return self._undecodable(exc, frames or (frame_no,))
        if depth >= MAX_TUNNEL_DEPTH:
            return self._too_deep(frame_no, frames)
        self.stats.tunnelled += 1
        if inner == _INNER_ETHERNET:
            return self._ethernet(frame_no, frames, ts_ns, buf, pos, end, depth + 1)
        if inner == _INNER_IP:
            return self._raw_ip(frame_no, frames, ts_ns, buf, pos, end, depth + 1)
        # Any other protocol type is an EtherType (RFC 2784 §2.4: "the
        # Protocol Type field ... contains the protocol type of the payload
        # packet ... defined in [ETYPES]"): IPv4, IPv6, MPLS, a VLAN tag.
        try:
            ethertype, pos = decode_ethertype(protocol, buf, pos, end)
        except LinkError as exc:
            return self._undecodable(exc, frames or (frame_no,))
        if ethertype in _IP_ETHERTYPES:
            return self._ip(frame_no, frames, ts_ns, ethertype, buf, pos, end, depth + 1)
        self.stats.not_ip += 1
        return EMPTY

    def _ethernet(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        buf: bytes,
        pos: int,
        end: int,
        depth: int,
    ) -> list[Unit]:
        try:
            ethertype, pos = decode_ethernet(buf, pos, end)
        except LinkError as exc:
            return self._undecodable(exc, frames or (frame_no,))
        if ethertype in _IP_ETHERTYPES:
            return self._ip(frame_no, frames, ts_ns, ethertype, buf, pos, end, depth)
        self.stats.not_ip += 1
        return EMPTY

    def _raw_ip(
        self,
        frame_no: int,
        frames: tuple[int, ...] | None,
        ts_ns: int,
        buf: bytes,
        pos: int,
        end: int,
        depth: int,
    ) -> list[Unit]:
        version = buf[pos] >> 4 if pos < end else 0
        if version == 4:
            return self._ip(frame_no, frames, ts_ns, ETHERTYPE_IPV4, buf, pos, end, depth)
        if version == 6:
            return self._ip(frame_no, frames, ts_ns, ETHERTYPE_IPV6, buf, pos, end, depth)
        return self._undecodable(
            TunnelError(f"tunnelled packet is not IP (IP version {version})"),
            frames or (frame_no,),
        )

    # -- problems --------------------------------------------------------------

    def _undecodable(self, exc: DecodeError, frames: tuple[int, ...]) -> list[Unit]:
        self.stats.undecodable += 1
        level = Level.INFO if self._snapped else Level.WARNING
        self._add(Diagnostic(exc.layer, frames, exc.reason, level))
        return EMPTY

    def _too_deep(self, frame_no: int, frames: tuple[int, ...] | None) -> list[Unit]:
        return self._undecodable(
            TunnelError(f"more than {MAX_TUNNEL_DEPTH} nested tunnels: inner packet not decoded"),
            frames or (frame_no,),
        )

    def _add(self, diag: Diagnostic) -> None:
        count = self._diag_counts.get(diag.layer, 0) + 1
        self._diag_counts[diag.layer] = count
        if count <= MAX_DIAGNOSTICS_PER_LAYER:
            self.diagnostics.append(diag)


def _looks_like_hep12(buf: bytes, start: int, stop: int) -> bool:
    # HEPv1/v2 have no magic: version byte 1 or 2, then the header length,
    # which captagent sets to sizeof(hep_hdr) + sizeof(hep_iphdr), 16 for
    # IPv4 and 40 for IPv6, then the address family AF_INET (2) or
    # AF_INET6 (10).
    return stop - start >= 16 and 0x10 <= buf[start + 1] <= 0x30 and buf[start + 2] in (2, 10)
