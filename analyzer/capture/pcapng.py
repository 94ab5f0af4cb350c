"""pcapng files (RFC draft-ietf-opsawg-pcapng).

A pcapng file is a sequence of blocks, each framed the same way::

    block type (4) | block total length (4) | body ... | block total length (4)

A Section Header Block (SHB) starts every section; its byte-order magic
``0x1A2B3C4D``, written in the writer's byte order, gives the byte order of
the whole section, and a file may hold several sections in different byte
orders.  Each section describes its interfaces with Interface Description
Blocks (IDB), numbered from 0 in order of appearance; packets name their
interface by that number, and the interface gives the link type and the
timestamp resolution.  Packets come in Enhanced Packet Blocks (EPB), Simple
Packet Blocks (SPB), or the obsolete Packet Blocks (PB).  Every other block
type (name resolution, statistics, decryption secrets, custom blocks) is
skipped without being held in memory.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

from analyzer.capture.pcap import (
    LAYER,
    MAX_RECORD_LEN,
    PrefilterPlan,
    end_diagnostic,
    short_orig_len_diagnostic,
    truncation_reason,
)
from analyzer.errors import CaptureError, Diagnostic, Level

if TYPE_CHECKING:
    from analyzer.capture import ByteSource, Frame, Prefilter

# Largest block accepted.  A packet block holds at most MAX_RECORD_LEN bytes of
# packet plus options (comments, hashes); other blocks (name resolution,
# decryption secrets) are far smaller in practice.  A larger length means the
# file is corrupt from that block on.  Blocks that are read (section headers,
# interfaces, packets) are held whole in memory, so this also bounds that
# buffer; skipped blocks are streamed past.
MAX_BLOCK_LEN = 16 * 1024 * 1024

# Block type codes (pcapng draft, "Block Type Codes").
SHB = 0x0A0D0D0A
IDB = 0x00000001
PB = 0x00000002
SPB = 0x00000003
NRB = 0x00000004
ISB = 0x00000005
EPB = 0x00000006
JOURNAL = 0x00000009  # systemd Journal Export Block
DSB = 0x0000000A  # Decryption Secrets Block
CUSTOM = 0x00000BAD  # Custom Block that rewriters may copy
CUSTOM_NO_COPY = 0x40000BAD  # Custom Block that rewriters should not copy

# Non-packet blocks skipped without comment: they are defined by the format and
# carry nothing this analyzer uses.  Any other type gets one INFO diagnostic.
KNOWN_SKIPPED = frozenset({NRB, ISB, JOURNAL, DSB, CUSTOM, CUSTOM_NO_COPY})

_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_BOM_LE = b"\x4d\x3c\x2b\x1a"
_BOM_BE = b"\x1a\x2b\x3c\x4d"
# Only major version 1 exists; minor versions 0 and 2 are both in use (1.2 is
# what everyone writes), and the draft says a reader must reject other majors.
_MAJOR = 1

_MIN_BLOCK_LEN = 12  # type, length, trailing length
_SHB_MIN_LEN = 28
_IDB_MIN_LEN = 20
_EPB_HEADER_LEN = 28  # type, length, interface, ts high, ts low, caplen, orig_len
_PB_HEADER_LEN = 28  # type, length, interface(2), drops(2), ts high, ts low, caplen, orig_len
_SPB_HEADER_LEN = 12  # type, length, orig_len
_PACKET_BLOCK_OVERHEAD = 32  # fixed part of an EPB or PB, trailing length included

# IDB options (pcapng draft §4.2).
_OPT_ENDOFOPT = 0
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14
# if_tsresol: "If this option is not present, a resolution of 10^-6 is assumed".
_DEFAULT_TSRESOL = 6

_NS_PER_S = 1_000_000_000

# An interface as the packet loop needs it:
# (linktype, mul, exact, div, offset_ns, snaplen); a raw timestamp t becomes
# t * mul nanoseconds when exact, else t * mul // div + offset_ns.
_Interface = tuple[int, int, bool, int, int, int]


def _interface(linktype: int, snaplen: int, tsresol: int, tsoffset_s: int) -> _Interface:
    # if_tsresol: "If the Most Significant Bit is equal to 0, the remaining
    # bits indicates the resolution of the timestamp as a negative power of 10
    # (e.g. 6 means microsecond resolution, timestamps are the number of
    # microseconds since 1970-01-01 00:00:00 UTC).  If the Most Significant Bit
    # is equal to 1, the remaining bits indicates the resolution as negative
    # power of 2 (e.g. 10 means 1/1024 of second)."
    units_per_s = 2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10 ** (tsresol & 0x7F)
    g = math.gcd(_NS_PER_S, units_per_s)
    mul, div = _NS_PER_S // g, units_per_s // g
    # if_tsoffset: "a 64-bit signed integer value that specifies an offset (in
    # seconds) that must be added to the timestamp of each packet".
    offset_ns = tsoffset_s * _NS_PER_S
    return (linktype, mul, div == 1 and offset_ns == 0, div, offset_ns, snaplen)


class _Section:
    """The byte order of one section, as precompiled structs."""

    def __init__(self, order: str) -> None:
        self.order = order
        self.u32 = struct.Struct(order + "I").unpack_from
        self.header = struct.Struct(order + "II").unpack_from
        self.epb = struct.Struct(order + "7I").unpack_from
        self.pb = struct.Struct(order + "IIHHIIII").unpack_from
        self.shb = struct.Struct(order + "HH").unpack_from
        self.idb = struct.Struct(order + "HHI").unpack_from
        self.option = struct.Struct(order + "HH").unpack_from
        self.i64 = struct.Struct(order + "q").unpack_from


_SECTIONS = {"<": _Section("<"), ">": _Section(">")}


def _check_first_section(path: str, first: bytes) -> None:
    """Raise CaptureError unless ``first`` starts with a usable Section Header Block."""
    if len(first) < _SHB_MIN_LEN:
        raise CaptureError(
            f"{path}: too short for a pcapng section header ({len(first)} of {_SHB_MIN_LEN} bytes)"
        )
    bom = first[8:12]
    if bom == _BOM_LE:
        section = _SECTIONS["<"]
    elif bom == _BOM_BE:
        section = _SECTIONS[">"]
    else:
        raise CaptureError(
            f"{path}: corrupt pcapng section header (byte-order magic {bom.hex(' ')})"
        )
    (blen,) = section.u32(first, 4)
    if blen < _SHB_MIN_LEN or blen & 3 or blen > MAX_BLOCK_LEN:
        raise CaptureError(f"{path}: corrupt pcapng section header (block length {blen})")
    major, minor = section.shb(first, 12)
    if major != _MAJOR:
        raise CaptureError(f"{path}: unsupported pcapng version {major}.{minor}")


class PcapngReader:
    """Reads the packets of a pcapng stream.

    Built by :func:`analyzer.capture.open_capture` with the stream's first
    buffer; the constructor checks the first section header and raises
    :class:`CaptureError` when it cannot be used.

    Simple Packet Blocks carry no timestamp: they are given the timestamp of
    the packet before them (0 when none), which keeps the frames in time order,
    and one INFO diagnostic per file says how many there were.
    """

    def __init__(
        self, path: str, source: ByteSource, first: bytes, prefilters: Sequence[Prefilter] = ()
    ) -> None:
        _check_first_section(path, first)
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self.frames_read = 0
        self.frames_skipped = 0
        self._prefilters = prefilters
        # The prefilters of each link type met so far, arranged once.
        self._plans: dict[int, PrefilterPlan] = {}
        self.skipped_blocks: dict[int, int] = {}
        """Count of the blocks skipped, by block type."""
        self._source = source
        self._first = first

    def _error(self, frame_no: int, offset: int, what: str) -> None:
        self.diagnostics.append(
            Diagnostic(
                LAYER,
                (frame_no,) if frame_no else (),
                f"corrupt pcapng file: {what} at byte offset {offset} after frame {frame_no}; "
                f"the rest of the capture is not read",
                Level.ERROR,
            )
        )

    def frames(self) -> Generator[Frame, None, None]:
        """Yield every packet as a Frame; report the end in ``diagnostics``."""
        source = self._source
        skipped = self.skipped_blocks
        # Module constants as locals: the fast path reads them once per packet.
        max_len = MAX_RECORD_LEN
        max_block = MAX_BLOCK_LEN
        epb = EPB
        overhead = _PACKET_BLOCK_OVERHEAD
        data_at = _EPB_HEADER_LEN
        struct_error = struct.error

        sec = _SECTIONS["<"]  # replaced by the first section header
        unpack_epb = sec.epb
        ifaces: list[_Interface] = []
        plans: list[PrefilterPlan] = []  # the prefilters of each interface's link type
        skipped_frames = 0

        buf = self._first
        self._first = b""
        end = len(buf)
        pos = 0
        base = 0  # stream offset of buf[0]
        n = 0
        last_ts = 0
        cut: str | None = None
        fixed = 0  # packets whose orig_len < caplen
        fixed_first = (0, 0, 0)
        spb_count = 0
        try:
            while True:
                # Fast path: Enhanced Packet Blocks wholly inside buf, of a
                # known interface, with nothing unusual.  Anything else ends
                # the loop (struct.error near the end of buf, IndexError for an
                # unknown interface, break otherwise) and goes to the slow path.
                try:
                    while True:
                        btype, blen, ifid, tsh, tsl, caplen, orig = unpack_epb(buf, pos)
                        nxt = pos + blen
                        if (
                            btype != epb
                            or nxt > end
                            or blen & 3
                            or caplen + overhead > blen
                            or blen > max_block
                            or caplen > max_len
                            or orig < caplen
                        ):
                            break
                        lt, mul, exact, div, off, _snap = ifaces[ifid]
                        ts = ((tsh << 32) + tsl) * mul
                        if not exact:
                            ts = ts // div + off
                        n += 1
                        last_ts = ts
                        plan = plans[ifid]
                        if caplen >= plan.min_len and (
                            plan.first_unpack(buf, pos + data_at) in plan.first_reject
                            or (
                                caplen >= plan.second_len
                                and plan.second_gate[buf[pos + data_at + plan.second_at]]
                                and plan.second_unpack(buf, pos + data_at) in plan.second_reject
                            )
                            or (plan.rest and plan.rest_match(buf, pos + data_at, caplen))
                        ):
                            skipped_frames += 1
                            pos = nxt
                            continue
                        yield (n, ts, lt, buf, pos + data_at, caplen, orig)
                        pos = nxt
                except (struct_error, IndexError):
                    pass

                # Slow path: one block at a time, with every check.
                if end - pos >= _MIN_BLOCK_LEN:
                    (btype,) = sec.u32(buf, pos)
                    if btype == SHB:
                        # The type reads the same in both byte orders; the
                        # length is in the new section's order.
                        bom = buf[pos + 8 : pos + 12]
                        if bom == _BOM_LE:
                            new_sec = _SECTIONS["<"]
                        elif bom == _BOM_BE:
                            new_sec = _SECTIONS[">"]
                        else:
                            self._error(
                                n, base + pos, f"section header byte-order magic {bom.hex(' ')}"
                            )
                            return
                        (blen,) = new_sec.u32(buf, pos + 4)
                    else:
                        new_sec = sec
                        (blen,) = sec.u32(buf, pos + 4)
                    if blen < _MIN_BLOCK_LEN or blen & 3 or blen > max_block:
                        self._error(n, base + pos, f"block of type 0x{btype:08x} length {blen}")
                        return
                    nxt = pos + blen
                    if nxt <= end:
                        # The whole block is in buf.
                        if btype in (EPB, PB):
                            if blen < _PACKET_BLOCK_OVERHEAD:
                                self._error(n, base + pos, f"packet block length {blen}")
                                return
                            if btype == EPB:
                                _t, _l, ifid, tsh, tsl, caplen, orig = sec.epb(buf, pos)
                                data = pos + _EPB_HEADER_LEN
                            else:
                                _t, _l, ifid, _drops, tsh, tsl, caplen, orig = sec.pb(buf, pos)
                                data = pos + _PB_HEADER_LEN
                            if caplen > max_len:
                                self._error(
                                    n,
                                    base + pos,
                                    f"captured length {caplen} over the {max_len}-byte limit",
                                )
                                return
                            if caplen + _PACKET_BLOCK_OVERHEAD > blen:
                                self._error(
                                    n,
                                    base + pos,
                                    f"captured length {caplen} larger than its {blen}-byte block",
                                )
                                return
                            if ifid >= len(ifaces):
                                self._error(
                                    n,
                                    base + pos,
                                    f"packet of interface {ifid}, but the section describes "
                                    f"{len(ifaces)} interface(s)",
                                )
                                return
                            lt, mul, exact, div, off, _snap = ifaces[ifid]
                            ts = ((tsh << 32) + tsl) * mul
                            if not exact:
                                ts = ts // div + off
                            n += 1
                            last_ts = ts
                            if orig < caplen:
                                if not fixed:
                                    fixed_first = (n, caplen, orig)
                                fixed += 1
                                orig = caplen
                            yield (n, ts, lt, buf, data, caplen, orig)
                        elif btype == SPB:
                            if blen < _SPB_HEADER_LEN + 4:
                                self._error(n, base + pos, f"simple packet block length {blen}")
                                return
                            if not ifaces:
                                self._error(
                                    n, base + pos, "simple packet block before any interface"
                                )
                                return
                            (orig,) = sec.u32(buf, pos + 8)
                            lt, _mul, _exact, _div, _off, snap = ifaces[0]
                            # An SPB has no captured length: it is the
                            # smaller of the original length and interface
                            # 0's SnapLen (0: no limit), and the block must
                            # hold it too.
                            caplen = min(orig, blen - _SPB_HEADER_LEN - 4)
                            if snap:
                                caplen = min(caplen, snap)
                            if caplen > max_len:
                                self._error(
                                    n,
                                    base + pos,
                                    f"captured length {caplen} over the {max_len}-byte limit",
                                )
                                return
                            n += 1
                            spb_count += 1
                            yield (n, last_ts, lt, buf, pos + _SPB_HEADER_LEN, caplen, orig)
                        elif btype == IDB:
                            if blen < _IDB_MIN_LEN:
                                self._error(n, base + pos, f"interface block length {blen}")
                                return
                            ifaces.append(self._parse_idb(sec, buf, pos, nxt, base, n))
                            plans.append(self._plan(ifaces[-1][0]))
                        elif btype == SHB:
                            if blen < _SHB_MIN_LEN:
                                self._error(n, base + pos, f"section header length {blen}")
                                return
                            major, minor = new_sec.shb(buf, pos + 12)
                            if major != _MAJOR:
                                self._error(
                                    n, base + pos, f"section of unsupported version {major}.{minor}"
                                )
                                return
                            # Interface IDs number the IDBs of one section,
                            # so a new section starts a new interface table.
                            sec = new_sec
                            unpack_epb = sec.epb
                            ifaces = []
                            plans = []
                        else:
                            skipped[btype] = skipped.get(btype, 0) + 1
                        pos = nxt
                        continue

                    if btype not in (EPB, PB, SPB, IDB, SHB):
                        # A block to skip runs past buf: stream past it rather
                        # than hold it in memory.
                        skipped[btype] = skipped.get(btype, 0) + 1
                        block_at = base + pos
                        remaining = nxt - end
                        self.frames_read = n
                        self.frames_skipped = skipped_frames
                        while True:
                            base += end
                            buf = source.read(0, 1)
                            pos = 0
                            end = len(buf)
                            if end >= remaining:
                                pos = remaining
                                break
                            if not end:
                                cut = truncation_reason(block_at, n, blen, blen - remaining)
                                break
                            remaining -= end
                        if cut is not None:
                            break
                        continue
                    need = blen
                else:
                    need = _MIN_BLOCK_LEN

                # The block at pos runs past the end of buf: read on.
                self.frames_read = n
                self.frames_skipped = skipped_frames
                keep = end - pos
                base += pos
                buf = source.read(keep, need)
                pos = 0
                end = len(buf)
                if end < need:
                    if end:
                        cut = truncation_reason(base, n, need, end)
                    break
            diagnostic = end_diagnostic(source.problem, cut, n)
            if diagnostic is not None:
                self.diagnostics.append(diagnostic)
        finally:
            self.frames_read = n
            self.frames_skipped = skipped_frames
            if fixed:
                self.diagnostics.append(short_orig_len_diagnostic(fixed, *fixed_first))
            if spb_count:
                self.diagnostics.append(
                    Diagnostic(
                        LAYER,
                        (),
                        f"{spb_count} simple packet block(s) carry no timestamp; each was "
                        f"given the timestamp of the packet before it",
                        Level.INFO,
                    )
                )
            for btype, count in skipped.items():
                if btype not in KNOWN_SKIPPED:
                    self.diagnostics.append(
                        Diagnostic(
                            LAYER,
                            (),
                            f"skipped {count} block(s) of unknown pcapng block type 0x{btype:08x}",
                            Level.INFO,
                        )
                    )
            source.close()

    def _plan(self, linktype: int) -> PrefilterPlan:
        plan = self._plans.get(linktype)
        if plan is None:
            plan = self._plans[linktype] = PrefilterPlan(self._prefilters, linktype)
        return plan

    def _parse_idb(
        self, sec: _Section, buf: bytes, pos: int, nxt: int, base: int, frame_no: int
    ) -> _Interface:
        """The interface an IDB at ``buf[pos:nxt]`` describes, with its time options."""
        linktype, _reserved, snaplen = sec.idb(buf, pos + 8)
        tsresol = _DEFAULT_TSRESOL
        tsoffset = 0
        p = pos + 16
        stop = nxt - 4  # the trailing block length
        while p + 4 <= stop:
            code, olen = sec.option(buf, p)
            if code == _OPT_ENDOFOPT:
                break
            value = p + 4
            if value + olen > stop:
                self.diagnostics.append(
                    Diagnostic(
                        LAYER,
                        (frame_no,) if frame_no else (),
                        f"interface description block at byte offset {base + pos} has an "
                        f"option (code {code}, {olen} bytes) running past the block; "
                        f"the options after it are ignored",
                        Level.WARNING,
                    )
                )
                break
            if code == _OPT_IF_TSRESOL and olen >= 1:
                tsresol = buf[value]
            elif code == _OPT_IF_TSOFFSET and olen >= 8:
                (tsoffset,) = sec.i64(buf, value)
            # "Option Value ... padded to a 32-bit boundary."
            p = value + ((olen + 3) & ~3)
        return _interface(linktype, snaplen, tsresol, tsoffset)
