"""Classic pcap reading: byte orders, resolutions, lengths, damage, chunking."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analyzer.capture as capture
from analyzer.capture import Capture, open_capture
from analyzer.capture.pcap import MAX_RECORD_LEN
from analyzer.errors import CaptureError, Level
from tests.builders import PcapPacket, gzip_bytes, pcap_bytes

# (frame_no, ts_ns, linktype, packet bytes, orig_len)
Row = tuple[int, int, int, bytes, int]

TS = 1_700_000_000_123_456_000  # a timestamp with a whole number of microseconds
PACKETS = [
    (TS, b"\x01" * 60),
    (TS + 1_000, b"\x02" * 3),
    (TS + 2_000_000_000, b""),  # zero-length packets exist (and must not end the file)
    (TS + 2_000_001_000, bytes(range(256)) * 4),
]


def rows(cap: Capture) -> list[Row]:
    out = []
    for no, ts, lt, buf, off, caplen, orig in cap:
        assert off >= 0 and off + caplen <= len(buf)
        out.append((no, ts, lt, buf[off : off + caplen], orig))
    return out


def expected(packets: list[tuple[int, bytes]], linktype: int = 1) -> list[Row]:
    return [(i, ts, linktype, data, len(data)) for i, (ts, data) in enumerate(packets, 1)]


def read(tmp_path: Path, data: bytes, name: str = "c.pcap") -> tuple[list[Row], Capture]:
    path = tmp_path / name
    path.write_bytes(data)
    cap = open_capture(path)
    return rows(cap), cap


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("nanos", [False, True], ids=["us", "ns"])
def test_byte_orders_and_resolutions(tmp_path: Path, big_endian: bool, nanos: bool) -> None:
    packets = [*PACKETS]
    if nanos:
        packets.append((TS + 123, b"nanosecond"))  # below the microsecond
    got, cap = read(tmp_path, pcap_bytes(packets, nanos=nanos, big_endian=big_endian))
    assert got == expected(packets)
    assert cap.format == "pcap"
    assert cap.frames_read == len(packets)
    assert cap.diagnostics == []


def test_microsecond_file_keeps_microseconds_only(tmp_path: Path) -> None:
    got, _ = read(tmp_path, pcap_bytes([(TS + 999, b"x")]))
    assert got[0][1] == TS


@pytest.mark.parametrize(
    ("field", "linktype"),
    [
        (1, 1),
        (113, 113),
        (276, 276),
        # LT_FCS_LENGTH_PRESENT with a 4-byte FCS in the upper bits (libpcap).
        (0x04000000 | 0x40000000 | 1, 1),
        (0xFFFF0000 | 101, 101),
    ],
)
def test_linktype_is_the_low_16_bits(tmp_path: Path, field: int, linktype: int) -> None:
    got, _ = read(tmp_path, pcap_bytes([(TS, b"abc")], linktype=field))
    assert got[0][2] == linktype


def test_snapped_packet_keeps_its_original_length(tmp_path: Path) -> None:
    got, cap = read(tmp_path, pcap_bytes([(TS, b"a" * 68, 1514)], snaplen=68))
    assert got == [(1, TS, 1, b"a" * 68, 1514)]
    assert cap.diagnostics == []


def test_empty_capture_has_no_frames(tmp_path: Path) -> None:
    got, cap = read(tmp_path, pcap_bytes([]))
    assert got == []
    assert cap.frames_read == 0
    assert cap.diagnostics == []


def test_orig_len_below_caplen_is_raised_and_reported_once(tmp_path: Path) -> None:
    packets: list[PcapPacket] = [
        (TS, b"a" * 92, 76),
        (TS + 1000, b"b" * 10),
        (TS + 2000, b"c" * 84, 68),
    ]
    got, cap = read(tmp_path, pcap_bytes(packets))
    assert [(r[0], len(r[3]), r[4]) for r in got] == [(1, 92, 92), (2, 10, 10), (3, 84, 84)]
    (diag,) = cap.diagnostics
    assert diag.layer == "capture"
    assert diag.frames == (1,)
    assert diag.level is Level.WARNING
    assert "2 record(s)" in diag.reason and "orig_len 76 < caplen 92" in diag.reason


@pytest.mark.parametrize("minor", [0, 1, 2])
def test_versions_before_2_3_have_swapped_lengths(tmp_path: Path, minor: int) -> None:
    data = pcap_bytes(
        [(TS, b"x" * 40, 1500), (TS, b"y" * 20)], version=(2, minor), swapped_lengths=True
    )
    got, cap = read(tmp_path, data)
    assert got == [(1, TS, 1, b"x" * 40, 1500), (2, TS, 1, b"y" * 20, 20)]
    assert cap.diagnostics == []


def test_version_2_3_swaps_lengths_only_when_caplen_exceeds_orig(tmp_path: Path) -> None:
    # One record written in the old order (caplen field 1500 > orig field 40),
    # one in the new order.
    head = pcap_bytes([], version=(2, 3))
    old = struct.pack("<IIII", TS // 10**9, 0, 1500, 40) + b"o" * 40
    new = struct.pack("<IIII", TS // 10**9, 0, 30, 1500) + b"n" * 30
    got, cap = read(tmp_path, head + old + new)
    assert [(r[3], r[4]) for r in got] == [(b"o" * 40, 1500), (b"n" * 30, 1500)]
    assert cap.diagnostics == []


@pytest.mark.parametrize("version", [(1, 0), (3, 0), (2, 5), (543, 0)])
def test_unsupported_version_is_refused_on_open(tmp_path: Path, version: tuple[int, int]) -> None:
    path = tmp_path / "old.pcap"
    path.write_bytes(pcap_bytes([(TS, b"x")], version=version))
    with pytest.raises(CaptureError, match=rf"old\.pcap: unsupported pcap version {version[0]}"):
        open_capture(path)


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
def test_corrupt_caplen_stops_with_an_error(tmp_path: Path, big_endian: bool) -> None:
    e = ">" if big_endian else "<"
    good = pcap_bytes(PACKETS[:2], big_endian=big_endian)
    bad = struct.pack(e + "IIII", 1, 0, 0x7FFFFFF0, 0x7FFFFFF0) + b"z" * 100
    got, cap = read(tmp_path, good + bad + pcap_bytes(PACKETS, big_endian=big_endian)[24:])
    assert got == expected(PACKETS[:2])
    (diag,) = cap.diagnostics
    assert diag.level is Level.ERROR
    assert diag.frames == (2,)
    assert f"byte offset {len(good)}" in diag.reason
    assert str(0x7FFFFFF0) in diag.reason


def test_record_of_the_maximum_length_is_read(tmp_path: Path) -> None:
    big = bytes(range(256)) * (MAX_RECORD_LEN // 256)
    got, cap = read(tmp_path, pcap_bytes([(TS, big), (TS, b"after")]))
    assert [r[3] for r in got] == [big, b"after"]
    assert cap.diagnostics == []
    _, cap = read(tmp_path, pcap_bytes([(TS, big + b"!"), (TS, b"after")]), "over.pcap")
    assert [d.level for d in cap.diagnostics] == [Level.ERROR]


def _record_ends(packets: list[tuple[int, bytes]]) -> list[int]:
    ends, pos = [], 24
    for _ts, data in packets:
        pos += 16 + len(data)
        ends.append(pos)
    return ends


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_every_cut_yields_the_complete_frames_and_one_diagnostic(tmp_path: Path, gz: bool) -> None:
    packets = [(TS, b"a" * 5), (TS + 1000, b"bb"), (TS + 2000, b""), (TS + 3000, b"c" * 9)]
    full = pcap_bytes(packets)
    ends = _record_ends(packets)
    for cut in range(24, len(full) + 1):
        data = full[:cut]
        got, cap = read(tmp_path, gzip_bytes(data) if gz else data, f"cut{cut}")
        complete = sum(1 for end in ends if end <= cut)
        assert got == expected(packets[:complete]), cut
        if cut in ends or cut == 24:
            assert cap.diagnostics == [], cut
            continue
        (diag,) = cap.diagnostics
        start = ([24, *ends])[complete]
        assert diag.level is Level.WARNING
        assert diag.layer == "capture"
        assert diag.frames == ((complete,) if complete else ())
        assert diag.reason.startswith(
            f"capture ends mid-record at byte offset {start} after frame {complete} "
        ), diag.reason
        need = 16 if cut - start < 16 else 16 + len(packets[complete][1])
        assert diag.reason.endswith(f"(record needs {need} bytes, {cut - start} present)")


def test_truncated_gzip_stream_yields_a_prefix_and_one_diagnostic(tmp_path: Path) -> None:
    packets = [(TS + i * 1000, bytes([i % 256]) * (i % 50)) for i in range(300)]
    full = expected(packets)
    compressed = gzip_bytes(pcap_bytes(packets))
    for cut in range(10, len(compressed), 7):
        path = tmp_path / f"gzcut{cut}"
        path.write_bytes(compressed[:cut])
        try:
            cap = open_capture(path)
        except CaptureError as e:
            assert "gzip-compressed" in str(e)
            continue
        got = rows(cap)
        assert got == full[: len(got)], cut
        (diag,) = cap.diagnostics
        assert diag.level is Level.WARNING
        assert "gzip stream ends without its end-of-stream marker" in diag.reason
        assert diag.frames == ((len(got),) if got else ())


@pytest.mark.parametrize("chunk", [1, 7, 16, 17, 100, 4096])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_small_chunks_give_the_same_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, gz: bool
) -> None:
    monkeypatch.setattr(capture, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(capture, "GZIP_INPUT_SIZE", chunk)
    data = pcap_bytes(PACKETS)
    got, cap = read(tmp_path, gzip_bytes(data) if gz else data)
    assert got == expected(PACKETS)
    assert cap.diagnostics == []


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), max_size=12),
    chunk=st.integers(min_value=1, max_value=600),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_any_chunking_and_cut_gives_the_complete_frames(
    tmp_path_factory: pytest.TempPathFactory, payloads: list[bytes], chunk: int, cut: int
) -> None:
    packets = [(TS + i * 1000, p) for i, p in enumerate(payloads)]
    full = pcap_bytes(packets)
    data = full[: 24 + cut]
    ends = _record_ends(packets)
    complete = sum(1 for end in ends if end <= len(data))
    saved = capture.CHUNK_SIZE
    capture.CHUNK_SIZE = chunk
    try:
        got, cap = read(tmp_path_factory.mktemp("h"), data)
    finally:
        capture.CHUNK_SIZE = saved
    assert got == expected(packets[:complete])
    at_boundary = len(data) in ends or len(data) == 24
    assert len(cap.diagnostics) == (0 if at_boundary else 1)


# Cross-check with another writer ----------------------------------------------


@pytest.mark.parametrize("nano", [False, True], ids=["us", "ns"])
def test_pcap_written_by_scapy(tmp_path: Path, nano: bool) -> None:
    scapy_utils = pytest.importorskip("scapy.utils")
    from scapy.layers.l2 import Ether

    pkts = []
    for i in range(20):
        p = Ether(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb", type=0x0800) / (
            bytes([i]) * (i * 7)
        )
        p.time = 1_700_000_000 + i / 8  # exact in binary and decimal
        pkts.append(p)
    path = tmp_path / "scapy.pcap"
    scapy_utils.wrpcap(str(path), pkts, nano=nano)
    cap = open_capture(path)
    got = rows(cap)
    assert cap.format == "pcap"
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in got] == [
        (i, 1_700_000_000 * 10**9 + (i - 1) * 125_000_000, 1, bytes(p), len(p))
        for i, p in enumerate(pkts, 1)
    ]
    # And scapy reads back the same bytes.
    theirs = [bytes(data) for data, _meta in scapy_utils.RawPcapReader(str(path))]
    assert theirs == [r[3] for r in got]
