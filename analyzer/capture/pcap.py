"""Classic pcap files (libpcap's savefile format).

The format (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html):
a 24-byte file header, then records of a 16-byte header followed by the
captured bytes::

    file header    magic, version_major(2), version_minor(2), thiszone, sigfigs,
                   snaplen, network (link type)
    record header  ts_sec, ts_frac, caplen, orig_len

The magic number, written in the writer's byte order, gives both the byte
order of every other field and the unit of ``ts_frac``: ``0xA1B2C3D4`` for
microseconds, ``0xA1B23C4D`` for nanoseconds.

This module also holds the limits and end-of-capture reports that the pcapng
reader shares.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

from analyzer.errors import CaptureError, Diagnostic, Level

if TYPE_CHECKING:
    from analyzer.capture import ByteSource, Frame, Prefilter

# Record lengths for which the reader compiles a run matcher (see
# PrefilterPlan.run_matcher).  Audio codecs give one packet size per
# packetisation interval (G.711 at 20 ms: 214 bytes with Ethernet, IP, UDP
# and RTP headers), so a capture has a handful; the bound keeps the cost of
# compiling (about 0.1 ms each) and the table small for one with many.
MAX_RUN_MATCHERS = 16

# Largest captured length accepted for one packet.  It is Wireshark's own
# limit for ordinary link types (WTAP_MAX_PACKET_SIZE_STANDARD, 262144 bytes):
# no capture tool writes more for one packet (a 64 KiB IP datagram with a
# jumbo-frame link header fits easily), so a larger length means the file is
# corrupt from that record on.  It also bounds the buffer needed for a record.
# Since the next record's position is derived from the length, nothing after
# a record over the limit can be trusted: reading stops there with an ERROR.
MAX_RECORD_LEN = 256 * 1024

LAYER = "capture"

FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16

# (byte order, nanosecond resolution) for each magic number as stored.
_MAGICS: dict[bytes, tuple[str, bool]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}

# The link type field's low 16 bits are the LINKTYPE_* value; libpcap uses the
# upper bits for the FCS length of the frames (LT_FCS_LENGTH_PRESENT etc.).
_LINKTYPE_MASK = 0xFFFF

# Versions libpcap reads.  2.4 is what everything has written since 1998.
# Before 2.3 the caplen and orig_len fields were in the opposite order, and
# some 2.3 files were still written that way; libpcap swaps them back (always
# before 2.3, when caplen > orig_len for 2.3) and so does this reader.
_MAJOR = 2
_MAX_MINOR = 4
_SWAPPED_BEFORE_MINOR = 3
_MAYBE_SWAPPED_MINOR = 3


# A prefilter layout's unpack_from.
_Unpack = Callable[[bytes, int], tuple[Any, ...]]
_NO_FIELDS = struct.Struct("")
_ALL_BYTES = b"\x01" * 256


class PrefilterPlan:
    """The prefilters of one link type, arranged for a reader's fast path.

    The two smallest layouts are tested inline (``first_*``, ``second_*``),
    any others by :meth:`rest_match`.  A missing one has a ``*_len`` above
    any record a fast path accepts (and an empty layout), so that its test
    costs one comparison.
    """

    __slots__ = (
        "min_len",
        "first_unpack",
        "first_reject",
        "second_len",
        "second_at",
        "second_gate",
        "second_unpack",
        "second_reject",
        "rest",
        "_first_bytes",
    )

    def __init__(self, prefilters: Sequence[Prefilter], linktype: int) -> None:
        mine = sorted(
            (pf for pf in prefilters if pf.linktype == linktype), key=lambda pf: pf.layout.size
        )
        # The first layout as (offset, regex of the bytes allowed) per field,
        # when a run pattern can express it (see run_matcher).
        self._first_bytes = _byte_fields(mine[0]) if mine else None
        none = MAX_RECORD_LEN + 1
        self.min_len = mine[0].layout.size if mine else none
        self.first_unpack: _Unpack = (mine[0].layout if mine else _NO_FIELDS).unpack_from
        self.first_reject: frozenset[tuple[int, ...]] = mine[0].reject if mine else frozenset()
        two = len(mine) >= 2
        self.second_len = mine[1].layout.size if two else none
        # A one-byte look before the second test: the bytes its first field
        # allows (most frames that fail the first prefilter fail there).
        second_bytes = _byte_fields(mine[1]) if two else None
        # Without such a field the gate lets everything through; it then
        # looks at the byte before the frame, always there (a record or
        # block header precedes every frame).
        self.second_at = second_bytes[0][0] if second_bytes else -1
        self.second_gate = (
            bytes(int(b in second_bytes[0][1]) for b in range(256)) if second_bytes else _ALL_BYTES
        )
        self.second_unpack: _Unpack = (mine[1].layout if two else _NO_FIELDS).unpack_from
        self.second_reject: frozenset[tuple[int, ...]] = mine[1].reject if two else frozenset()
        self.rest: tuple[tuple[_Unpack, int, frozenset[tuple[int, ...]]], ...] = tuple(
            (pf.layout.unpack_from, pf.layout.size, pf.reject) for pf in mine[2:]
        )

    def rest_match(self, buf: bytes, off: int, caplen: int) -> bool:
        """Whether a prefilter after the second matches ``buf[off:off + caplen]``."""
        for unpack, size, reject in self.rest:
            if caplen >= size and unpack(buf, off) in reject:
                return True
        return False

    @property
    def runs(self) -> bool:
        """Whether :meth:`run_matcher` can be used (see there)."""
        return self._first_bytes is not None

    def run_matcher(self, order: str, caplen: int) -> _Match:
        """A matcher of runs of classic pcap records that the first prefilter rejects.

        It matches, at a record header, one or more consecutive records of
        exactly ``caplen`` captured bytes and the same original length
        (header fields in byte ``order``) whose bytes the first prefilter
        matches: ``(end - start) // (16 + caplen)`` records, tested in one
        call into the regular expression engine.  RTP streams come as runs of
        equal-sized packets, and a run costs less than testing each record.
        Only for a plan where :attr:`runs` is true, and ``caplen`` at least
        :attr:`min_len`.
        """
        assert self._first_bytes is not None and caplen >= self.min_len
        lengths = re.escape(struct.pack(order + "II", caplen, caplen))
        parts = [b"(?:.{8}", lengths]
        pos = 0
        for offset, allowed in self._first_bytes:
            # Every item costs the engine a step per record: no empty skips.
            if offset > pos:
                parts.append(b".{%d}" % (offset - pos))
            parts.append(b"[" + b"".join(re.escape(bytes([v])) for v in allowed) + b"]")
            pos = offset + 1
        if caplen > pos:
            parts.append(b".{%d}" % (caplen - pos))
        # Possessive: a run never gives records back, so the engine keeps no
        # backtracking state per record.
        parts.append(b")++")
        return re.compile(b"".join(parts), re.DOTALL).match


# A run matcher: re.Pattern.match of a pattern made by PrefilterPlan.run_matcher.
_Match = Callable[[bytes, int], "re.Match[bytes] | None"]

# Struct codes of the layouts a run pattern can express: single bytes and pad.
_BYTE_LAYOUT = re.compile(r"[<>!=@]?(?:\d*[xB])*")
_LAYOUT_ITEM = re.compile(r"(\d*)([xB])")


def _byte_fields(prefilter: Prefilter) -> tuple[tuple[int, frozenset[int]], ...] | None:
    """The offsets and allowed bytes of the fields of a layout of single bytes, or None.

    A regular expression can test such a prefilter when its reject set is
    every combination of the values its fields take (a product, as tuples
    of independent conditions are): then each field is just a set of bytes.
    """
    fmt = prefilter.layout.format
    if not _BYTE_LAYOUT.fullmatch(fmt):
        return None
    offsets: list[int] = []
    pos = 0
    for count, code in _LAYOUT_ITEM.findall(fmt):
        repeat = int(count) if count else 1
        if code == "B":
            offsets += range(pos, pos + repeat)
        pos += repeat
    reject = prefilter.reject
    values = [sorted({t[i] for t in reject}) for i in range(len(offsets))]
    if not reject or len(reject) != math.prod(map(len, values)):
        return None
    return tuple(
        (offset, frozenset(allowed)) for offset, allowed in zip(offsets, values, strict=True)
    )


def truncation_reason(offset: int, frame_no: int, need: int, have: int) -> str:
    """The sentence reporting a capture that ends inside a record (or block)."""
    return (
        f"capture ends mid-record at byte offset {offset} after frame {frame_no} "
        f"(record needs {need} bytes, {have} present)"
    )


def end_diagnostic(source_problem: str | None, cut: str | None, frame_no: int) -> Diagnostic | None:
    """One WARNING for a stream that ended early, or None when it ended cleanly.

    A damaged gzip stream usually also leaves the last record incomplete; both
    facts go into the same diagnostic since they are one event.
    """
    reasons = [r for r in (source_problem, cut) if r]
    if not reasons:
        return None
    frames = (frame_no,) if frame_no else ()
    return Diagnostic(LAYER, frames, "; ".join(reasons), Level.WARNING)


def short_orig_len_diagnostic(count: int, first_frame: int, caplen: int, orig: int) -> Diagnostic:
    """The one report, per file, of records whose orig_len was raised to their caplen.

    Seen in a real capture (sip.pcap of the Wireshark sample
    sip-tls-1.3-and-rtcp.zip): every record holds 16 bytes more than its
    original length, 16 stray bytes after the packet (the IP datagram ends
    where orig_len says).  The frame keeps all the captured bytes; the layers
    above go by their own length fields, as they do for Ethernet padding.
    """
    return Diagnostic(
        LAYER,
        (first_frame,),
        f"{count} record(s) claim an original length shorter than their captured length "
        f"(first: frame {first_frame}, orig_len {orig} < caplen {caplen}); "
        f"orig_len was set to caplen",
        Level.WARNING,
    )


class PcapReader:
    """Reads the records of a classic pcap stream.

    Built by :func:`analyzer.capture.open_capture` with the stream's first
    buffer; the constructor checks the file header and raises
    :class:`CaptureError` when it cannot be used.
    """

    def __init__(
        self, path: str, source: ByteSource, first: bytes, prefilters: Sequence[Prefilter] = ()
    ) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self.frames_read = 0
        self.frames_skipped = 0
        self._prefilters = prefilters
        self._source = source
        self._first = first
        if len(first) < FILE_HEADER_LEN:
            raise CaptureError(
                f"{path}: too short for a pcap file header ({len(first)} of "
                f"{FILE_HEADER_LEN} bytes)"
            )
        order, self.nanosecond = _MAGICS[first[:4]]
        major, minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(
            order + "HHiIII", first, 4
        )
        if major != _MAJOR or minor > _MAX_MINOR:
            raise CaptureError(f"{path}: unsupported pcap version {major}.{minor}")
        self.version = (major, minor)
        self.snaplen: int = snaplen
        self.linktype: int = network & _LINKTYPE_MASK
        # thiszone is meant to correct the timestamps to UTC, but every writer
        # stores 0 and libpcap ignores it; so does this reader.
        swapped = minor < _SWAPPED_BEFORE_MINOR
        self._maybe_swapped = minor == _MAYBE_SWAPPED_MINOR
        self._order = order
        self._record = struct.Struct(order + "IIII")
        self._lengths = struct.Struct(order + "8xII")
        self._time = struct.Struct(order + "II")
        self._swapped = swapped

    def frames(self) -> Generator[Frame, None, None]:
        """Yield every complete record as a Frame; report the end in ``diagnostics``."""
        source = self._source
        unpack = self._record.unpack_from
        unpack_lengths = self._lengths.unpack_from
        unpack_time = self._time.unpack_from
        lt = self.linktype
        frac_ns = 1 if self.nanosecond else 1000
        swapped = self._swapped
        maybe_swapped = self._maybe_swapped
        # Files with swapped length fields take the slow path for every record:
        # a negative limit sends them there at no cost to the fast path.
        max_len = -1 if swapped else MAX_RECORD_LEN
        struct_error = struct.error
        plan = PrefilterPlan(self._prefilters, lt)
        pf_len = plan.min_len
        pf_unpack = plan.first_unpack
        pf_reject = plan.first_reject
        pf2_len = plan.second_len
        pf2_at = plan.second_at
        pf2_gate = plan.second_gate
        pf2_unpack = plan.second_unpack
        pf2_reject = plan.second_reject
        pf_more = plan.rest_match if plan.rest else None
        # Run matchers by record length, learnt from the records the first
        # prefilter rejects (see PrefilterPlan.run_matcher); bounded, since
        # each is a compiled pattern and RTP comes in a few packet sizes.
        order = self._order
        runs: dict[int, _Match] = {}
        runs_get = runs.get
        learn = plan.runs and not swapped

        buf = self._first
        self._first = b""
        end = len(buf)
        pos = FILE_HEADER_LEN
        base = 0  # file offset of buf[0]
        n = 0
        cut: str | None = None
        fixed = 0  # records whose orig_len < caplen
        fixed_first = (0, 0, 0)
        skipped = 0
        try:
            while True:
                # Fast path: records wholly inside buf with nothing unusual.
                # The loop ends with struct.error when fewer than 16 bytes are
                # left, or with break at a record that needs a closer look.
                # pf_len is above max_len when there is no prefilter, so that
                # pf_unpack is only called when there is one.
                try:
                    while True:
                        caplen, orig = unpack_lengths(buf, pos)
                        if caplen == orig:
                            run = runs_get(caplen)
                            if run is not None:
                                matched = run(buf, pos)
                                if matched is not None:
                                    stop = matched.end()
                                    count = (stop - pos) // (16 + caplen)
                                    n += count
                                    skipped += count
                                    pos = stop
                                    continue
                        data = pos + 16
                        nxt = data + caplen
                        if nxt > end or caplen > max_len or orig < caplen:
                            break
                        n += 1
                        if caplen >= pf_len:
                            if pf_unpack(buf, data) in pf_reject:
                                skipped += 1
                                pos = nxt
                                if learn and caplen == orig and caplen not in runs:
                                    runs[caplen] = plan.run_matcher(order, caplen)
                                    learn = len(runs) < MAX_RUN_MATCHERS
                                continue
                            if (
                                caplen >= pf2_len
                                and pf2_gate[buf[data + pf2_at]]
                                and pf2_unpack(buf, data) in pf2_reject
                            ) or (pf_more is not None and pf_more(buf, data, caplen)):
                                skipped += 1
                                pos = nxt
                                continue
                        # The time is read only for the frames yielded: its
                        # (large) integers cost more than the test above.
                        sec, frac = unpack_time(buf, pos)
                        yield (n, sec * 1_000_000_000 + frac * frac_ns, lt, buf, data, caplen, orig)
                        pos = nxt
                except struct_error:
                    pass

                # Slow path: one record at a time, with every check.
                if end - pos >= RECORD_HEADER_LEN:
                    sec, frac, caplen, orig = unpack(buf, pos)
                    if swapped or (maybe_swapped and caplen > orig):
                        caplen, orig = orig, caplen
                    if caplen > MAX_RECORD_LEN:
                        self.diagnostics.append(
                            Diagnostic(
                                LAYER,
                                (n,) if n else (),
                                f"corrupt record at byte offset {base + pos} after frame {n}: "
                                f"captured length {caplen} exceeds the {MAX_RECORD_LEN}-byte "
                                f"limit; the rest of the capture is not read",
                                Level.ERROR,
                            )
                        )
                        return
                    nxt = pos + 16 + caplen
                    if nxt <= end:
                        n += 1
                        if orig < caplen:
                            if not fixed:
                                fixed_first = (n, caplen, orig)
                            fixed += 1
                            orig = caplen
                        yield (
                            n,
                            sec * 1_000_000_000 + frac * frac_ns,
                            lt,
                            buf,
                            pos + 16,
                            caplen,
                            orig,
                        )
                        pos = nxt
                        continue
                    need = 16 + caplen
                else:
                    need = RECORD_HEADER_LEN

                # The record at pos runs past the end of buf: read on.
                self.frames_read = n
                self.frames_skipped = skipped
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
            self.frames_skipped = skipped
            if fixed:
                self.diagnostics.append(short_orig_len_diagnostic(fixed, *fixed_first))
            source.close()
