"""pcapng reading: sections, interfaces, timestamp options, block kinds, damage."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analyzer.capture as capture
import analyzer.capture.pcapng as pcapng
from analyzer.capture import Capture, open_capture
from analyzer.capture.pcap import MAX_RECORD_LEN
from analyzer.errors import CaptureError, Level
from tests.builders import (
    CUSTOM_TYPE,
    DSB_TYPE,
    ISB_TYPE,
    NRB_TYPE,
    Block,
    Interface,
    Packet,
    RawBlock,
    Section,
    SimplePacket,
    block,
    gzip_bytes,
    pcapng_bytes,
)

Row = tuple[int, int, int, bytes, int]

US = 1_700_000_000_000_000  # a timestamp in microseconds
SHB_LEN = 28  # a section header without options, as the builder writes it


def rows(cap: Capture) -> list[Row]:
    out = []
    for no, ts, lt, buf, off, caplen, orig in cap:
        assert off >= 0 and off + caplen <= len(buf)
        out.append((no, ts, lt, buf[off : off + caplen], orig))
    return out


def read(tmp_path: Path, data: bytes, name: str = "c.pcapng") -> tuple[list[Row], Capture]:
    path = tmp_path / name
    path.write_bytes(data)
    cap = open_capture(path)
    return rows(cap), cap


def warnings_and_errors(cap: Capture) -> list[str]:
    return [d.reason for d in cap.diagnostics if d.level is not Level.INFO]


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
def test_one_section_one_interface(tmp_path: Path, big_endian: bool) -> None:
    data = pcapng_bytes(
        Section(
            [Interface(linktype=1), Packet(0, US, b"abcde"), Packet(0, US + 7, b"", orig_len=60)],
            big_endian=big_endian,
        )
    )
    got, cap = read(tmp_path, data)
    # No if_tsresol option: microseconds.
    assert got == [(1, US * 1000, 1, b"abcde", 5), (2, (US + 7) * 1000, 1, b"", 60)]
    assert cap.format == "pcapng"
    assert cap.frames_read == 2
    assert cap.diagnostics == []


@pytest.mark.parametrize(
    ("tsresol", "tsoffset", "raw", "ts_ns"),
    [
        (None, None, 1_234_567, 1_234_567_000),
        (6, None, 1_234_567, 1_234_567_000),
        (9, None, 1_234_567_891, 1_234_567_891),
        (3, None, 1_234, 1_234_000_000),
        (0, None, 5, 5_000_000_000),
        (12, None, 1_234_567_891_999, 1_234_567_891),  # picoseconds, floored
        (0x80 | 10, None, 3 * 1024 + 512, 3_500_000_000),  # 2^-10 s
        (0x80 | 20, None, 1, 953),  # 2^-20 s = 953.67 ns, floored
        (0x80 | 0, None, 7, 7_000_000_000),  # 2^0: seconds
        (9, 100, 5, 100_000_000_005),
        (6, -1, 1_000_000, 0),
        (0x80 | 10, 1_700_000_000, 512, 1_700_000_000_500_000_000),
    ],
)
def test_timestamp_resolution_and_offset(
    tmp_path: Path, tsresol: int | None, tsoffset: int | None, raw: int, ts_ns: int
) -> None:
    data = pcapng_bytes(
        Section([Interface(tsresol=tsresol, tsoffset=tsoffset), Packet(0, raw, b"x")])
    )
    got, _ = read(tmp_path, data)
    assert got[0][1] == ts_ns


def test_timestamp_high_word_is_used(tmp_path: Path) -> None:
    raw = (1 << 40) + 17  # needs both 32-bit halves
    got, _ = read(tmp_path, pcapng_bytes(Section([Interface(tsresol=9), Packet(0, raw, b"x")])))
    assert got[0][1] == raw


def test_sections_of_both_byte_orders_with_several_interfaces(tmp_path: Path) -> None:
    first = Section(
        [
            Interface(linktype=1),  # 10^-6
            Interface(linktype=113, tsresol=9, tsoffset=100),
            Packet(0, US, b"eth"),
            Packet(1, 42, b"sll"),
            RawBlock(NRB_TYPE, b"\0\0\0\0"),
            Packet(0, US + 1, b"eth2", orig_len=1500),
        ]
    )
    second = Section(
        [
            # Interface numbers start again at 0 in a new section.
            Interface(linktype=101, tsresol=0x80 | 10),
            Interface(linktype=228, snaplen=2),
            Packet(1, 3, b"v4"),
            Packet(0, 2048, b"raw"),
        ],
        big_endian=True,
    )
    got, cap = read(tmp_path, pcapng_bytes(first, second))
    assert got == [
        (1, US * 1000, 1, b"eth", 3),
        (2, 42 + 100 * 10**9, 113, b"sll", 3),
        (3, (US + 1) * 1000, 1, b"eth2", 1500),
        (4, 3 * 1000, 228, b"v4", 2),
        (5, 2 * 10**9, 101, b"raw", 3),
    ]
    assert cap.diagnostics == []


def test_interfaces_may_be_described_between_packets(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section(
            [Interface(linktype=1), Packet(0, 1, b"a"), Interface(linktype=105), Packet(1, 2, b"b")]
        )
    )
    got, _ = read(tmp_path, data)
    assert [r[2] for r in got] == [1, 105]


def test_obsolete_packet_block(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section(
            [Interface(linktype=1), Interface(linktype=113, tsresol=9)]
            + [Packet(1, 99, b"old", orig_len=70, kind="pb"), Packet(0, 5, b"new")]
        )
    )
    got, cap = read(tmp_path, data)
    assert got == [(1, 99, 113, b"old", 70), (2, 5000, 1, b"new", 3)]
    assert cap.diagnostics == []


def test_simple_packet_blocks(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section(
            [
                Interface(linktype=1, snaplen=4),
                SimplePacket(b"abc"),  # no timestamp yet: 0
                Packet(0, 10, b"ab"),
                SimplePacket(b"abcdef"),  # caplen limited by the snaplen; 8 bytes in the block
                SimplePacket(b"ab", orig_len=1),  # caplen = min(orig_len, snaplen, block)
                SimplePacket(b"ab", orig_len=1500),  # block holds 4 bytes (padding), snaplen 4
            ],
            big_endian=True,
        )
    )
    got, cap = read(tmp_path, data)
    assert got == [
        (1, 0, 1, b"abc", 3),
        (2, 10_000, 1, b"ab", 2),
        (3, 10_000, 1, b"abcd", 6),
        (4, 10_000, 1, b"a", 1),
        (5, 10_000, 1, b"ab\0\0", 1500),
    ]
    (diag,) = cap.diagnostics
    assert diag.level is Level.INFO
    assert diag.reason.startswith("4 simple packet block(s) carry no timestamp")


def test_simple_packet_without_snaplen_is_bounded_by_its_block(tmp_path: Path) -> None:
    data = pcapng_bytes(Section([Interface(), SimplePacket(b"abcde", orig_len=9000)]))
    got, _ = read(tmp_path, data)
    assert got[0][3:] == (b"abcde\0\0\0", 9000)


def test_simple_packet_before_any_interface_is_an_error(tmp_path: Path) -> None:
    got, cap = read(tmp_path, pcapng_bytes(Section([SimplePacket(b"abc")])))
    assert got == []
    assert [d.level for d in cap.diagnostics] == [Level.ERROR]
    assert f"at byte offset {SHB_LEN}" in cap.diagnostics[0].reason


def test_skipped_blocks_are_counted_and_unknown_types_reported_once(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section(
            [
                RawBlock(NRB_TYPE, b"\0" * 4),
                Interface(),
                RawBlock(0x1234, b"what"),
                Packet(0, 1, b"a"),
                RawBlock(ISB_TYPE, b"\0" * 12),
                RawBlock(DSB_TYPE, b"TLSK\0\0\0\0"),
                RawBlock(CUSTOM_TYPE, b"\0\0\0\0custom"),
                RawBlock(0x1234, b""),
                RawBlock(0x80000001, b"sysdig"),
                Packet(0, 2, b"b"),
            ]
        )
    )
    got, cap = read(tmp_path, data)
    assert [r[3] for r in got] == [b"a", b"b"]
    assert cap._reader.skipped_blocks == {  # type: ignore[union-attr]
        NRB_TYPE: 1,
        0x1234: 2,
        ISB_TYPE: 1,
        DSB_TYPE: 1,
        CUSTOM_TYPE: 1,
        0x80000001: 1,
    }
    assert [(d.level, d.frames, d.reason) for d in cap.diagnostics] == [
        (Level.INFO, (), "skipped 2 block(s) of unknown pcapng block type 0x00001234"),
        (Level.INFO, (), "skipped 1 block(s) of unknown pcapng block type 0x80000001"),
    ]


def test_orig_len_below_caplen_is_raised_and_reported_once(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section(
            [Interface(), Packet(0, 1, b"a" * 20, orig_len=4), Packet(0, 2, b"b" * 8, orig_len=2)]
        )
    )
    got, cap = read(tmp_path, data)
    assert [r[4] for r in got] == [20, 8]
    (diag,) = cap.diagnostics
    assert (diag.level, diag.frames) == (Level.WARNING, (1,))
    assert "2 record(s)" in diag.reason


def test_unknown_interface_stops_with_an_error(tmp_path: Path) -> None:
    data = pcapng_bytes(Section([Interface(), Packet(0, 1, b"a"), Packet(3, 2, b"b")]))
    got, cap = read(tmp_path, data)
    assert [r[3] for r in got] == [b"a"]
    (diag,) = cap.diagnostics
    assert diag.level is Level.ERROR and diag.frames == (1,)
    assert "packet of interface 3, but the section describes 1 interface(s)" in diag.reason


def test_new_section_forgets_the_interfaces_of_the_previous_one(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section([Interface(), Packet(0, 1, b"a")]), Section([Packet(0, 2, b"b")], big_endian=True)
    )
    got, cap = read(tmp_path, data)
    assert [r[3] for r in got] == [b"a"]
    assert [d.level for d in cap.diagnostics] == [Level.ERROR]


def _corrupt_block(e: str, block_type: int, blen: int) -> bytes:
    return struct.pack(e + "II", block_type, blen) + b"\0" * 64


@pytest.mark.parametrize("e", ["<", ">"], ids=["le", "be"])
@pytest.mark.parametrize(
    ("block_type", "blen", "what"),
    [
        (6, 30, "length 30"),  # not a multiple of 4
        (6, 8, "length 8"),  # shorter than any block
        (0x1234, 0x7FFFFFFC, f"length {0x7FFFFFFC}"),  # over MAX_BLOCK_LEN
        (6, 24, "packet block length 24"),  # too short for an EPB
        (3, 12, "simple packet block length 12"),
        (1, 16, "interface block length 16"),
    ],
)
def test_corrupt_block_length_stops_with_an_error(
    tmp_path: Path, e: str, block_type: int, blen: int, what: str
) -> None:
    good = pcapng_bytes(Section([Interface(), Packet(0, 1, b"a")], big_endian=e == ">"))
    got, cap = read(tmp_path, good + _corrupt_block(e, block_type, blen) + good)
    assert [r[3] for r in got] == [b"a"]
    (diag,) = cap.diagnostics
    assert diag.level is Level.ERROR and diag.frames == (1,)
    assert f"at byte offset {len(good)} after frame 1" in diag.reason
    assert what in diag.reason


def test_caplen_past_its_block_stops_with_an_error(tmp_path: Path) -> None:
    head = pcapng_bytes(Section([Interface()]))
    body = struct.pack("<IIIII", 0, 0, 1, 100, 100) + b"x" * 8  # claims 100 bytes, holds 8
    got, cap = read(tmp_path, head + block("<", 6, body))
    assert got == []
    (diag,) = cap.diagnostics
    assert diag.level is Level.ERROR
    assert "captured length 100 larger than its 40-byte block" in diag.reason


def test_caplen_over_the_record_limit_stops_with_an_error(tmp_path: Path) -> None:
    big = b"x" * (MAX_RECORD_LEN + 4)
    data = pcapng_bytes(Section([Interface(), Packet(0, 1, b"a"), Packet(0, 2, big)]))
    got, cap = read(tmp_path, data)
    assert [r[3] for r in got] == [b"a"]
    assert [d.level for d in cap.diagnostics] == [Level.ERROR]
    assert f"captured length {MAX_RECORD_LEN + 4} over" in cap.diagnostics[0].reason


def test_block_over_the_limit_is_refused_even_inside_a_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pcapng, "MAX_BLOCK_LEN", 64)
    data = pcapng_bytes(Section([Interface(), Packet(0, 1, b"a"), Packet(0, 2, b"b" * 40)]))
    got, cap = read(tmp_path, data)
    assert [r[3] for r in got] == [b"a"]
    assert [d.level for d in cap.diagnostics] == [Level.ERROR]


def test_section_of_another_major_version_stops_with_an_error(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section([Interface(), Packet(0, 1, b"a")]),
        Section([Interface(), Packet(0, 1, b"b")], version=(2, 0)),
    )
    got, cap = read(tmp_path, data)
    assert [r[3] for r in got] == [b"a"]
    (diag,) = cap.diagnostics
    assert diag.level is Level.ERROR and "unsupported version 2.0" in diag.reason


def test_later_section_with_a_bad_byte_order_magic_stops_with_an_error(tmp_path: Path) -> None:
    good = pcapng_bytes(Section([Interface(), Packet(0, 1, b"a")]))
    bad = bytearray(good)
    bad[8:12] = b"\x01\x02\x03\x04"
    got, cap = read(tmp_path, good + bytes(bad))
    assert [r[3] for r in got] == [b"a"]
    (diag,) = cap.diagnostics
    assert diag.level is Level.ERROR and "byte-order magic 01 02 03 04" in diag.reason


@pytest.mark.parametrize(
    ("magic_and_version", "message"),
    [
        (struct.pack("<IHH", 0x1A2B3C4D, 2, 0), "unsupported pcapng version 2.0"),
        (struct.pack("<IHH", 0x11223344, 1, 0), "corrupt pcapng section header"),
    ],
)
def test_unusable_first_section_is_refused_on_open(
    tmp_path: Path, magic_and_version: bytes, message: str
) -> None:
    data = bytearray(pcapng_bytes(Section([Interface(), Packet(0, 1, b"a")])))
    data[8:16] = magic_and_version
    path = tmp_path / "bad.pcapng"
    path.write_bytes(bytes(data))
    with pytest.raises(CaptureError, match=f"bad.pcapng: {message}"):
        open_capture(path)


def test_option_running_past_its_block_is_reported_and_ignored(tmp_path: Path) -> None:
    # if_tsresol = 9 first, then an option claiming 200 bytes.
    opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 2, 200) + b"name"
    idb = block("<", 1, struct.pack("<HHI", 1, 0, 0) + opts)
    head = pcapng_bytes(Section())
    data = head + idb + pcapng_bytes(Section([Packet(0, 5, b"x")]))[SHB_LEN:]
    got, cap = read(tmp_path, data)
    assert got == [(1, 5, 1, b"x", 1)]  # the option before the damage still counts
    (diag,) = cap.diagnostics
    assert diag.level is Level.WARNING and "option (code 2, 200 bytes)" in diag.reason


def test_packet_options_are_skipped(tmp_path: Path) -> None:
    comment = (1, b"a comment that is longer than the packet")
    data = pcapng_bytes(Section([Interface(), Packet(0, 1, b"abc", options=(comment,))]))
    got, _ = read(tmp_path, data)
    assert got[0][3] == b"abc"


# Truncation and chunking ------------------------------------------------------


def _file_and_boundaries() -> tuple[bytes, list[int], list[int]]:
    """A two-section file; the offsets where blocks end, and where packet blocks end."""
    sections: list[tuple[bool, list[Block]]] = [
        (
            False,
            [
                Interface(linktype=1, snaplen=100),
                Packet(0, US, b"a" * 5),
                SimplePacket(b"spb"),
                RawBlock(0x4321, b"unknown"),
                Packet(0, US + 1, b"pb", kind="pb"),
                Packet(0, US + 2, b""),
            ],
        ),
        (True, [Interface(linktype=113, tsresol=9), Packet(0, 77, b"be" * 3)]),
    ]
    data, ends, packet_ends = b"", [], []
    for big_endian, section_blocks in sections:
        e = ">" if big_endian else "<"
        data += pcapng_bytes(Section((), big_endian=big_endian))
        ends.append(len(data))
        for b in section_blocks:
            data += b.encode(e)
            ends.append(len(data))
            if isinstance(b, Packet | SimplePacket):
                packet_ends.append(len(data))
    return data, ends, packet_ends


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_every_cut_yields_the_complete_frames_and_one_diagnostic(tmp_path: Path, gz: bool) -> None:
    full, ends, packet_ends = _file_and_boundaries()
    second_section_at = ends[6]
    all_rows, _ = read(tmp_path, full, "full")
    assert len(all_rows) == 5
    for cut in range(SHB_LEN, len(full) + 1):
        data = full[:cut]
        got, cap = read(tmp_path, gzip_bytes(data) if gz else data, f"cut{cut}")
        complete = sum(1 for end in packet_ends if end <= cut)
        assert got == all_rows[:complete], cut
        problems = warnings_and_errors(cap)
        if cut in ends:
            assert problems == [], cut
            continue
        (diag,) = [d for d in cap.diagnostics if d.level is Level.WARNING]
        assert problems == [diag.reason]
        start = max(end for end in ends if end <= cut)
        present = cut - start
        # Twelve bytes (type, length, and for a section header its byte-order
        # magic) tell how long a block is; the second section is big-endian.
        order = ">" if start >= second_section_at else "<"
        need = 12 if present < 12 else struct.unpack_from(order + "I", full, start + 4)[0]
        assert diag.frames == ((complete,) if complete else ())
        assert diag.reason == (
            f"capture ends mid-record at byte offset {start} after frame {complete} "
            f"(record needs {need} bytes, {present} present)"
        ), cut


@pytest.mark.parametrize("chunk", [1, 5, 12, 13, 28, 29, 64, 1000])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_small_chunks_give_the_same_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, gz: bool
) -> None:
    full, _, _ = _file_and_boundaries()
    expected, expected_cap = read(tmp_path, full, "full")
    monkeypatch.setattr(capture, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(capture, "GZIP_INPUT_SIZE", chunk)
    got, cap = read(tmp_path, gzip_bytes(full) if gz else full)
    assert got == expected
    assert cap.diagnostics == expected_cap.diagnostics


def test_large_skipped_block_is_streamed_past(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "CHUNK_SIZE", 64)
    data = pcapng_bytes(
        Section(
            [
                Interface(),
                Packet(0, 1, b"before"),
                RawBlock(CUSTOM_TYPE, b"\0\0\0\0" + bytes(range(256)) * 20),
                Packet(0, 2, b"after"),
            ]
        )
    )
    got, cap = read(tmp_path, data)
    assert [r[3] for r in got] == [b"before", b"after"]
    assert cap.diagnostics == []
    # Cut inside the skipped block.
    cut = len(data) - 2000
    got, cap = read(tmp_path, data[:cut], "cut")
    assert [r[3] for r in got] == [b"before"]
    (diag,) = cap.diagnostics
    assert "after frame 1 (record needs 5136 bytes, " in diag.reason


@settings(max_examples=40, deadline=None)
@given(
    packets=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 2**64 - 1), st.binary(max_size=200)),
        max_size=10,
    ),
    big_endian=st.booleans(),
    chunk=st.integers(min_value=1, max_value=400),
)
def test_any_chunking_gives_the_same_frames(
    tmp_path_factory: pytest.TempPathFactory,
    packets: list[tuple[int, int, bytes]],
    big_endian: bool,
    chunk: int,
) -> None:
    blocks: list[Block] = [Interface(linktype=1, tsresol=9), Interface(linktype=113)]
    blocks += [Packet(i, ts, data) for i, ts, data in packets]
    data = pcapng_bytes(Section(blocks, big_endian=big_endian))
    saved = capture.CHUNK_SIZE
    capture.CHUNK_SIZE = chunk
    try:
        got, cap = read(tmp_path_factory.mktemp("h"), data)
    finally:
        capture.CHUNK_SIZE = saved
    assert got == [
        (n, ts if i == 0 else ts * 1000, 1 if i == 0 else 113, data, len(data))
        for n, (i, ts, data) in enumerate(packets, 1)
    ]
    assert cap.diagnostics == []


# Cross-check with another writer ----------------------------------------------


def test_pcapng_written_by_scapy(tmp_path: Path) -> None:
    scapy_utils = pytest.importorskip("scapy.utils")
    from scapy.layers.l2 import Ether

    pkts = []
    for i in range(20):
        p = Ether(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb", type=0x0800) / (
            bytes([i]) * (i * 7)
        )
        p.time = 1_700_000_000 + i / 8  # exact in binary and decimal
        pkts.append(p)
    path = tmp_path / "scapy.pcapng"
    with scapy_utils.PcapNgWriter(str(path)) as w:
        for p in pkts:
            w.write(p)
    got = rows(open_capture(path))
    assert [(r[0], r[1], r[2], r[3]) for r in got] == [
        (i, 1_700_000_000 * 10**9 + (i - 1) * 125_000_000, 1, bytes(p))
        for i, p in enumerate(pkts, 1)
    ]
