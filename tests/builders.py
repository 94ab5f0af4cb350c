"""Byte builders for capture files: classic pcap, pcapng, gzip.

They write the formats from their specifications, independently of the
readers under test, so a test states its input in a few readable lines::

    pcap_bytes([(1_000_000_000, b"abc")], nanos=True)
    pcapng_bytes(Section([Interface(linktype=1, tsresol=9), Packet(0, 5, b"abc")]))
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PcapPacket = tuple[int, bytes] | tuple[int, bytes, int]


def gzip_bytes(data: bytes, *, level: int = 6) -> bytes:
    """``data`` gzip-compressed (reproducibly: no timestamp in the header)."""
    return gzip.compress(data, compresslevel=level, mtime=0)


def pcap_bytes(
    packets: Iterable[PcapPacket],
    *,
    linktype: int = 1,
    nanos: bool = False,
    big_endian: bool = False,
    snaplen: int = 65535,
    version: tuple[int, int] = (2, 4),
    swapped_lengths: bool = False,
) -> bytes:
    """A classic pcap file holding ``packets``: ``(ts_ns, data)`` or ``(ts_ns, data, orig_len)``.

    ``ts_ns`` is split into seconds and micro- or nanoseconds (``nanos``);
    microsecond files drop what is below the microsecond.  ``orig_len``
    defaults to ``len(data)``.  ``linktype`` is written as given, upper (FCS)
    bits included.  ``swapped_lengths`` writes orig_len before caplen, as
    files of versions before 2.3 do.
    """
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, *version, 0, 0, snaplen, linktype)]
    for p in packets:
        ts_ns, data = p[0], p[1]
        orig = p[2] if len(p) == 3 else len(data)
        sec, frac = divmod(ts_ns, 1_000_000_000)
        if not nanos:
            frac //= 1000
        first, second = (orig, len(data)) if swapped_lengths else (len(data), orig)
        out.append(struct.pack(e + "IIII", sec, frac, first, second))
        out.append(data)
    return b"".join(out)


# pcapng ------------------------------------------------------------------------

SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 1
PB_TYPE = 2
SPB_TYPE = 3
NRB_TYPE = 4
ISB_TYPE = 5
EPB_TYPE = 6
DSB_TYPE = 0x0A
CUSTOM_TYPE = 0x00000BAD


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + _pad4(value)


def _options(e: str, options: Sequence[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    return b"".join(_option(e, c, v) for c, v in options) + _option(e, 0, b"")


def block(e: str, block_type: int, body: bytes) -> bytes:
    """One pcapng block: type, total length, ``body`` (padded to 32 bits), total length."""
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack(e + "II", block_type, total) + body + struct.pack(e + "I", total)


@dataclass(frozen=True)
class Interface:
    """An Interface Description Block; ``tsresol``/``tsoffset`` become options 9 and 14."""

    linktype: int = 1
    snaplen: int = 0
    tsresol: int | None = None
    tsoffset: int | None = None
    options: tuple[tuple[int, bytes], ...] = ()

    def encode(self, e: str) -> bytes:
        opts = list(self.options)
        if self.tsresol is not None:
            opts.append((9, bytes([self.tsresol])))
        if self.tsoffset is not None:
            opts.append((14, struct.pack(e + "q", self.tsoffset)))
        body = struct.pack(e + "HHI", self.linktype, 0, self.snaplen) + _options(e, opts)
        return block(e, IDB_TYPE, body)


@dataclass(frozen=True)
class Packet:
    """An Enhanced Packet Block (``kind="epb"``) or obsolete Packet Block (``"pb"``).

    ``ts`` is the raw timestamp in units of the interface's resolution.
    """

    interface: int
    ts: int
    data: bytes
    orig_len: int | None = None
    kind: str = "epb"
    options: tuple[tuple[int, bytes], ...] = ()

    def encode(self, e: str) -> bytes:
        orig = len(self.data) if self.orig_len is None else self.orig_len
        hi, lo = self.ts >> 32, self.ts & 0xFFFFFFFF
        if self.kind == "epb":
            head = struct.pack(e + "IIIII", self.interface, hi, lo, len(self.data), orig)
            block_type = EPB_TYPE
        elif self.kind == "pb":
            head = struct.pack(e + "HHIIII", self.interface, 0, hi, lo, len(self.data), orig)
            block_type = PB_TYPE
        else:
            raise ValueError(f"unknown packet kind {self.kind!r}")
        return block(e, block_type, head + _pad4(self.data) + _options(e, self.options))


@dataclass(frozen=True)
class SimplePacket:
    """A Simple Packet Block: original length and data only (interface 0, no timestamp)."""

    data: bytes
    orig_len: int | None = None

    def encode(self, e: str) -> bytes:
        orig = len(self.data) if self.orig_len is None else self.orig_len
        return block(e, SPB_TYPE, struct.pack(e + "I", orig) + self.data)


@dataclass(frozen=True)
class RawBlock:
    """Any block given by type and body (name resolution, statistics, custom, unknown)."""

    block_type: int
    body: bytes = b""

    def encode(self, e: str) -> bytes:
        return block(e, self.block_type, self.body)


Block = Interface | Packet | SimplePacket | RawBlock


@dataclass(frozen=True)
class Section:
    """A section: its header, then ``blocks`` in order (interfaces included)."""

    blocks: Sequence[Block] = field(default_factory=tuple)
    big_endian: bool = False
    version: tuple[int, int] = (1, 0)

    def encode(self) -> bytes:
        e = ">" if self.big_endian else "<"
        # Section length -1: "not specified", as most writers leave it.
        shb_body = struct.pack(e + "IHHq", 0x1A2B3C4D, *self.version, -1)
        return block(e, SHB_TYPE, shb_body) + b"".join(b.encode(e) for b in self.blocks)


def pcapng_bytes(*sections: Section) -> bytes:
    """A pcapng file made of ``sections`` in order."""
    return b"".join(s.encode() for s in sections)
