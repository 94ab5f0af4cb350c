"""Capture files in, frames out: the IO edge of the pipeline.

:func:`open_capture` opens a classic pcap or a pcapng file, either of them
possibly gzip-compressed, recognising the format by its first bytes (never by
its name), and returns a :class:`Capture` to iterate for :data:`Frame` tuples.

Three rules shape this package:

* It is the only place that reads input files, and it reads them as a stream:
  fixed-size chunks (:data:`CHUNK_SIZE`), never the whole file, never an mmap
  of it, so a capture of any size is read in a few MiB of memory, gzip or not.
* Unusable input (no such file, not a capture, an unsupported version) raises
  :class:`~analyzer.errors.CaptureError` from :func:`open_capture` itself,
  before any frame is read.  Damage found later (a file cut short, a corrupt
  record length, a broken gzip stream) never raises: the frames before it are
  yielded and a :class:`~analyzer.errors.Diagnostic` says where reading stopped.
* Frames are plain tuples that point into the chunk they were read from: the
  reader copies nothing and creates one object per frame, because real
  captures hold millions of frames and most of them are RTP that the next
  stage throws away after looking at a few header bytes.

Prefilters.  Even one tuple and one call per frame add up over millions of
RTP packets, so the consumer may hand :func:`open_capture` a few
:class:`Prefilter` records describing frames it would discard anyway.  A
prefilter is data, not code: a :class:`struct.Struct` layout of header fields
counted from the frame's first byte and the set of field tuples that mean
"discard".  The reader applies it on its fast path (one ``unpack_from`` and
one set lookup per frame) and skips matching frames without yielding them,
counting them in :attr:`Capture.frames_skipped`; their frame numbers are
used up as usual, so the frames yielded keep their numbers.  The reader
knows nothing about what the fields mean: which protocols they describe is
the consumer's business (:data:`analyzer.net.packet.PREFILTERS`).  Skipping
is an optimisation, not a promise: a frame read on a slow path (a record cut
by the end of a chunk, a repaired length) is yielded even if it matches, so
the consumer still has to handle every frame it receives.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from analyzer.capture.pcap import PcapReader
from analyzer.capture.pcapng import PcapngReader
from analyzer.errors import CaptureError, Diagnostic

__all__ = [
    "CHUNK_SIZE",
    "ByteSource",
    "Capture",
    "Frame",
    "Prefilter",
    "open_capture",
]

Frame = tuple[int, int, int, bytes, int, int, int]
"""One captured packet: ``(frame_no, ts_ns, linktype, buf, off, caplen, orig_len)``.

``frame_no`` counts packets from 1 in file order, as Wireshark does.  ``ts_ns``
is integer nanoseconds since the Unix epoch.  ``linktype`` is the LINKTYPE_*
number of the packet's interface.  The captured bytes are
``buf[off:off + caplen]``: ``buf`` is a chunk of the file shared by all the
frames read from it, so a consumer that keeps packet bytes must slice them
out (keeping ``buf`` itself would keep the whole chunk alive).  ``orig_len`` is
the packet's length on the wire, never less than ``caplen``.
"""


@dataclass(frozen=True, slots=True)
class Prefilter:
    """Frames the consumer would discard, which the reader may skip unseen.

    A frame of link type ``linktype`` with at least ``layout.size`` captured
    bytes matches when ``layout.unpack_from(frame)`` (the fields counted from
    the frame's first captured byte) is one of the tuples in ``reject``.
    Only the readers' fast paths apply prefilters (see the module docstring).
    """

    linktype: int
    layout: struct.Struct
    reject: frozenset[tuple[int, ...]]


# Bytes read from the file (or produced by the decompressor) at a time.  Large
# enough that the per-chunk work (a read call, re-reading the record cut at the
# chunk's end) is negligible next to the per-frame work (about 1,000 records
# per chunk in a typical capture).  Not larger, because every chunk is a new
# bytes object: measured on a 285 MB capture with glibc, 256 KiB chunks reuse
# freed heap memory, while chunks of 512 KiB or more are mapped afresh each
# time and cost ~30,000 page faults and 0.1-0.15 s of system time, a quarter
# of the whole read.  A record larger than a chunk is read whole regardless.
CHUNK_SIZE = 256 * 1024

# Compressed bytes given to zlib per call.  Each call first copies the inflate
# state (about 40 KiB, so that the output before a damaged spot can be
# recovered); at 256 KiB of input per call that copy costs well under 1% of
# the inflating, and memory stays bounded by this size plus one chunk.
GZIP_INPUT_SIZE = 256 * 1024

# zlib window-bits value that selects the gzip wrapper (header, CRC-32 and
# length trailer, all checked by zlib) with the largest window.
_GZIP_WBITS = 16 + zlib.MAX_WBITS

# Enough leading bytes to recognise and check any supported file header (a
# pcap file header is 24 bytes, a pcapng section header at least 28).
_SNIFF_LEN = 64

_GZIP_MAGIC = b"\x1f\x8b"
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",  # microseconds, little-endian
    b"\xa1\xb2\xc3\xd4",  # microseconds, big-endian
    b"\x4d\x3c\xb2\xa1",  # nanoseconds, little-endian
    b"\xa1\xb2\x3c\x4d",  # nanoseconds, big-endian
)
# Kuznetzov's "modified pcap" (24-byte record headers), written by some old
# Red Hat tcpdump builds; named so the error says what the file is.
_MODIFIED_PCAP_MAGICS = (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")


class ByteSource(Protocol):
    """The byte stream of a capture (the file itself, or its decompressed content)."""

    problem: str | None
    """Why the stream ended before its proper end (a damaged gzip stream), or None."""

    def read(self, keep: int, need: int) -> bytes:
        """The next buffer: the last ``keep`` bytes of the previous buffer, then new data.

        The result holds at least ``need`` bytes (``need >= keep``) unless the
        stream ends first; a result no longer than ``keep`` means it has ended.
        Each call adds about :data:`CHUNK_SIZE` bytes (more when ``need``
        asks for it).
        """
        ...

    def close(self) -> None:
        """Release the underlying file."""
        ...

    def file_position(self) -> int:
        """Bytes of the file taken so far (compressed bytes for gzip), for progress."""
        ...


class _FileSource:
    """A capture file read as it is stored."""

    def __init__(self, f: io.FileIO, path: str, head: bytes) -> None:
        self._f = f
        self._path = path
        # Re-reading the few bytes of a record cut by the end of a chunk is
        # cheaper than copying the whole next chunk behind them; a pipe cannot
        # seek, so there the tail is copied instead.
        self._seekable = f.seekable()
        # What sniffing already took from a pipe, to be returned first.
        self._head: bytes | None = None
        if self._seekable:
            f.seek(0)
        else:
            self._head = head
        self._prev = b""
        self.problem: str | None = None
        self._end = 0  # the position when closed

    def read(self, keep: int, need: int) -> bytes:
        want = max(need - keep, CHUNK_SIZE)
        try:
            if self._seekable:
                if keep:
                    self._f.seek(-keep, os.SEEK_CUR)
                return self._read_at_least(keep + want, need)
            if self._head is not None:
                start, self._head = self._head, None
            else:
                start = self._prev[len(self._prev) - keep :] if keep else b""
            buf = start + self._read_at_least(want, need - len(start))
        except OSError as e:
            raise CaptureError(f"{self._path}: read error: {e.strerror or e}") from e
        self._prev = buf
        return buf

    def _read_at_least(self, size: int, need: int) -> bytes:
        # A read may return less than asked (signals, pipes); loop until the
        # caller's minimum is there or the file ends.
        data = self._f.read(size) or b""
        while len(data) < need:
            more = self._f.read(size - len(data))
            if not more:
                break
            data += more
        return data

    def file_position(self) -> int:
        if self._f.closed:
            return self._end
        return self._f.tell() if self._seekable else 0

    def close(self) -> None:
        if not self._f.closed:
            self._end = self.file_position()
        self._f.close()


class _GzipSource:
    """The decompressed content of a gzip file, inflated chunk by chunk.

    zlib checks the gzip header, the CRC-32 and the length trailer.  A file of
    several gzip members (``cat a.gz b.gz``) is read as their concatenation, as
    gzip(1) does; zero bytes after the last member (tape padding) are ignored,
    as gzip(1) does too.  When the stream is damaged, everything inflated
    before the damage is still delivered.
    """

    def __init__(self, f: io.FileIO, path: str, head: bytes) -> None:
        self._f = f
        self._path = path
        # Compressed bytes taken from the file but not yet given to zlib.
        if f.seekable():
            f.seek(0)
            self._input = b""
        else:
            self._input = head  # already consumed from the pipe while sniffing
        self._consumed = len(self._input)  # compressed bytes taken from the file
        self._d = zlib.decompressobj(_GZIP_WBITS)
        self._done = False
        self._prev = b""
        self.problem: str | None = None

    def read(self, keep: int, need: int) -> bytes:
        prev = self._prev
        parts = [prev[len(prev) - keep :]] if keep else []
        have = keep
        target = max(need, keep + CHUNK_SIZE)
        while have < target and not self._done:
            out = self._inflate(target - have)
            if out:
                parts.append(out)
                have += len(out)
        buf = b"".join(parts)
        self._prev = buf
        return buf

    def _take_input(self) -> bytes:
        if self._input:
            data, self._input = self._input, b""
            return data
        try:
            data = self._f.read(GZIP_INPUT_SIZE) or b""
        except OSError as e:
            raise CaptureError(f"{self._path}: read error: {e.strerror or e}") from e
        self._consumed += len(data)
        return data

    def _inflate(self, max_out: int) -> bytes:
        """Up to ``max_out`` more bytes of content (possibly none, without being done)."""
        d = self._d
        if d.eof:
            self._start_next_member()
            return b""
        src = self._take_input()
        if not src:
            # The file has ended: take what zlib still holds back; the member
            # must have ended with it.
            try:
                out = d.flush()
            except zlib.error as e:
                self._corrupt(self._consumed, e)
                return b""
            if not d.eof:
                self._done = True
                self.problem = (
                    f"the gzip stream ends without its end-of-stream marker after "
                    f"{self._consumed} compressed bytes (the file is truncated)"
                )
            return out
        backup = d.copy()
        try:
            out = d.decompress(src, max_out)
        except zlib.error:
            return self._salvage(backup, src, max_out)
        self._input = d.unused_data if d.eof else d.unconsumed_tail
        return out

    def _salvage(self, d: zlib._Decompress, src: bytes, max_out: int) -> bytes:
        # zlib discards the output of a call that fails, which can be a whole
        # input piece's worth of packets.  Replay the piece from the state
        # before the call one byte at a time, keeping what came out before the
        # damage.  At most GZIP_INPUT_SIZE small calls, once per damaged file.
        self._d = d
        src_at = self._consumed - len(src)  # file offset of src[0]
        parts = []
        produced = 0
        for i in range(len(src)):
            try:
                out = d.decompress(src[i : i + 1], max_out - produced)
            except zlib.error as e:
                self._corrupt(src_at + i, e)
                break
            parts.append(out)
            produced += len(out)
            if d.eof or d.unconsumed_tail or produced >= max_out:
                # Full (or at a member's end) before the damage: the rest of
                # the piece waits for the next call, which meets it again.
                pending = d.unused_data if d.eof else d.unconsumed_tail
                self._input = pending + src[i + 1 :]
                break
        return b"".join(parts)

    def _corrupt(self, offset: int, e: zlib.error) -> None:
        self._done = True
        self.problem = (
            f"the gzip stream is corrupt at compressed byte offset {offset} ({e}); "
            f"reading stopped there"
        )

    def _start_next_member(self) -> None:
        rest = self._input.lstrip(b"\0")
        self._input = b""
        while len(rest) < len(_GZIP_MAGIC):
            more = self._take_input()
            if not more:
                break
            rest = (rest + more).lstrip(b"\0")
        if not rest:
            self._done = True  # clean end of the last member
        elif rest.startswith(_GZIP_MAGIC):
            self._d = zlib.decompressobj(_GZIP_WBITS)
            self._input = rest
        else:
            self._done = True
            self.problem = (
                f"the data after the end of the gzip stream (at compressed byte offset "
                f"{self._consumed - len(rest)}) is not gzip data and was not read"
            )

    def file_position(self) -> int:
        return self._consumed

    def close(self) -> None:
        self._f.close()


class Capture:
    """Iterable over the frames of one capture file (pcap, pcapng, either gzip-compressed).

    Made by :func:`open_capture`.  It can be iterated once; iteration yields
    :data:`Frame` tuples and appends to ``diagnostics`` whatever made reading
    stop early or needed a correction (a truncated file, a corrupt record
    length, lengths that had to be fixed).  The file is closed when iteration
    ends, by :meth:`close`, or on leaving a ``with`` block.
    """

    def __init__(
        self,
        path: str,
        format: str,
        reader: PcapReader | PcapngReader,
        source: ByteSource,
        size: int | None = None,
    ) -> None:
        self.path = path
        self.format = format
        """``"pcap"`` or ``"pcapng"``, with ``"+gzip"`` appended when compressed."""
        self.diagnostics: list[Diagnostic] = reader.diagnostics
        self._reader = reader
        self._source = source
        self._frames: Generator[Frame, None, None] | None = None
        self._size = size

    @property
    def file_size(self) -> int | None:
        """The size of the file in bytes, None when it is not a regular file (a pipe)."""
        return self._size

    def file_position(self) -> int:
        """How far into the file reading has got, in bytes of the file as stored
        (compressed bytes for gzip); 0 when that is unknown (a pipe).  For progress
        reports: reading runs a chunk ahead of the frames yielded."""
        return self._source.file_position()

    @property
    def frames_read(self) -> int:
        """Frames read so far, yielded or skipped (exact once iteration has ended or closed)."""
        return self._reader.frames_read

    @property
    def frames_skipped(self) -> int:
        """Frames a prefilter matched, which were not yielded (exact as ``frames_read``)."""
        return self._reader.frames_skipped

    def __iter__(self) -> Iterator[Frame]:
        if self._frames is not None:
            raise RuntimeError(f"{self.path}: a Capture can be iterated only once")
        # The reader's generator is handed out as is: wrapping it would cost
        # a Python-level call per frame.
        self._frames = self._reader.frames()
        return self._frames

    def close(self) -> None:
        """Stop reading and close the file."""
        if self._frames is not None:
            self._frames.close()
        self._source.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Capture {self.path!r} {self.format} frames_read={self.frames_read}>"


def open_capture(path: str | os.PathLike[str], prefilters: Sequence[Prefilter] = ()) -> Capture:
    """Open a capture file and recognise its format from its first bytes.

    Accepts classic pcap (microsecond or nanosecond timestamps, either byte
    order) and pcapng, each possibly gzip-compressed.  The file header is read
    and checked here, so everything that makes the file unusable is reported
    at once.  Frames matching one of ``prefilters`` may be skipped instead of
    yielded (see :class:`Prefilter`).

    Raises:
        CaptureError: the file is missing, a directory, unreadable, empty, too
            short, not a capture, gzip-compressed non-capture data, or a
            capture of an unsupported version.  The message names the file.
    """
    name = os.fspath(path)
    try:
        f = io.FileIO(name, "r")
    except FileNotFoundError:
        raise CaptureError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{name}: is a directory, not a capture file") from None
    except PermissionError:
        raise CaptureError(f"{name}: permission denied") from None
    except OSError as e:
        raise CaptureError(f"{name}: cannot open: {e.strerror or e}") from None
    try:
        return _sniff(name, f, prefilters)
    except BaseException:
        f.close()
        raise


def _sniff(name: str, f: io.FileIO, prefilters: Sequence[Prefilter]) -> Capture:
    head = b""
    try:
        # A pipe may deliver the first bytes in several pieces.
        while len(head) < _SNIFF_LEN:
            more = f.read(_SNIFF_LEN - len(head))
            if not more:
                break
            head += more
    except OSError as e:
        raise CaptureError(f"{name}: cannot read: {e.strerror or e}") from None
    if not head:
        raise CaptureError(f"{name}: empty file (0 bytes), not a capture")
    if head.startswith(_GZIP_MAGIC):
        source: ByteSource = _GzipSource(f, name, head)
        first = source.read(0, _SNIFF_LEN)
        if len(first) < _SNIFF_LEN and source.problem is not None:
            # Too little came out to even recognise the content.
            raise CaptureError(f"{name}: gzip-compressed, but {source.problem}")
        if not first:
            raise CaptureError(f"{name}: gzip-compressed, but the content is empty")
        fmt = _format_of(name, first, "gzip-compressed, but the content is")
        fmt_name = fmt + "+gzip"
    else:
        source = _FileSource(f, name, head)
        first = source.read(0, _SNIFF_LEN)
        fmt = fmt_name = _format_of(name, first, "")
    reader: PcapReader | PcapngReader
    if fmt == "pcap":
        reader = PcapReader(name, source, first, prefilters)
    else:
        reader = PcapngReader(name, source, first, prefilters)
    try:
        st = os.fstat(f.fileno())
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
    except OSError:
        size = None
    return Capture(name, fmt_name, reader, source, size)


def _format_of(name: str, first: bytes, what: str) -> str:
    magic = first[:4]
    if magic in _PCAP_MAGICS:
        return "pcap"
    if magic == _PCAPNG_MAGIC:
        return "pcapng"
    prefix = f"{name}: {what} " if what else f"{name}: "
    if magic in _MODIFIED_PCAP_MAGICS:
        raise CaptureError(prefix + "a modified (Kuznetzov) pcap file, which is not supported")
    if len(first) < 4:
        raise CaptureError(prefix + f"too short to be a capture ({len(first)} bytes)")
    shown = " ".join(f"{b:02x}" for b in first[:4])
    raise CaptureError(prefix + f"not a pcap or pcapng capture (starts with {shown})")
