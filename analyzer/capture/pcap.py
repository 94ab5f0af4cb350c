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

import struct
from collections.abc import Generator
from typing import TYPE_CHECKING

from analyzer.errors import CaptureError, Diagnostic, Level

if TYPE_CHECKING:
    from analyzer.capture import ByteSource, Frame

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

    def __init__(self, path: str, source: ByteSource, first: bytes) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self.frames_read = 0
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
        self._record = struct.Struct(order + "IIII")
        self._swapped = swapped

    def frames(self) -> Generator[Frame, None, None]:
        """Yield every complete record as a Frame; report the end in ``diagnostics``."""
        source = self._source
        unpack = self._record.unpack_from
        lt = self.linktype
        frac_ns = 1 if self.nanosecond else 1000
        swapped = self._swapped
        maybe_swapped = self._maybe_swapped
        # Files with swapped length fields take the slow path for every record:
        # a negative limit sends them there at no cost to the fast path.
        max_len = -1 if swapped else MAX_RECORD_LEN
        struct_error = struct.error

        buf = self._first
        self._first = b""
        end = len(buf)
        pos = FILE_HEADER_LEN
        base = 0  # file offset of buf[0]
        n = 0
        cut: str | None = None
        fixed = 0  # records whose orig_len < caplen
        fixed_first = (0, 0, 0)
        try:
            while True:
                # Fast path: records wholly inside buf with nothing unusual.
                # The loop ends with struct.error when fewer than 16 bytes are
                # left, or with break at a record that needs a closer look.
                try:
                    while True:
                        sec, frac, caplen, orig = unpack(buf, pos)
                        data = pos + 16
                        nxt = data + caplen
                        if nxt > end or caplen > max_len or orig < caplen:
                            break
                        n += 1
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
            if fixed:
                self.diagnostics.append(short_orig_len_diagnostic(fixed, *fixed_first))
            source.close()
