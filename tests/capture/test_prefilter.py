"""Prefilters: frames the consumer would discard, skipped by the readers unseen."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from analyzer.capture import CHUNK_SIZE, Capture, Prefilter, open_capture
from analyzer.capture.pcap import MAX_RUN_MATCHERS, PrefilterPlan
from tests.builders import Interface, Packet, Section, pcap_bytes, pcapng_bytes

# A toy layout: the first byte and the fourth, as a consumer might describe them.
LAYOUT = struct.Struct(">B2xB")
DROP = Prefilter(1, LAYOUT, frozenset({(0xAA, 1), (0xAA, 2)}))
# Longer layouts, tested after the first (inline) and third (in a loop).
DROP_LONG = Prefilter(1, struct.Struct(">B5xB"), frozenset({(0xBB, 9)}))
DROP_LONGER = Prefilter(1, struct.Struct(">B7xB"), frozenset({(0xCC, 7)}))

FRAMES = [
    b"\xaa\x00\x00\x01rest",  # dropped
    b"\xaa\x00\x00\x03rest",  # kept: (0xAA, 3)
    b"\xaa\x00\x00",  # kept: shorter than the layout
    b"\xbb\x00\x00\x00\x00\x00\x09",  # DROP_LONG
    b"\xcc\x00\x00\x00\x00\x00\x00\x00\x07",  # DROP_LONGER
    b"\xaa\x00\x00\x02",  # dropped
    b"\x00\x00\x00\x00",  # kept
]
KEPT = [2, 3, 7]


def frames_of(cap: Capture) -> list[tuple[int, int, bytes]]:
    return [(no, ts, buf[off : off + caplen]) for no, ts, _lt, buf, off, caplen, _o in cap]


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("nanos", [False, True], ids=["us", "ns"])
def test_pcap_skips_matching_frames_and_keeps_numbers(
    tmp_path: Path, big_endian: bool, nanos: bool
) -> None:
    path = tmp_path / "p.pcap"
    path.write_bytes(
        pcap_bytes(
            [(1_000_000_000 * (i + 1), f) for i, f in enumerate(FRAMES)],
            big_endian=big_endian,
            nanos=nanos,
        )
    )
    cap = open_capture(path, [DROP_LONGER, DROP, DROP_LONG])
    got = frames_of(cap)
    assert [no for no, _ts, _d in got] == KEPT
    assert [ts for _no, ts, _d in got] == [no * 1_000_000_000 for no in KEPT]
    assert [d for _no, _ts, d in got] == [FRAMES[no - 1] for no in KEPT]
    assert (cap.frames_read, cap.frames_skipped) == (7, 4)


def test_without_prefilters_nothing_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "p.pcap"
    path.write_bytes(pcap_bytes([(0, f) for f in FRAMES]))
    cap = open_capture(path)
    assert [no for no, _ts, _d in frames_of(cap)] == list(range(1, 8))
    assert cap.frames_skipped == 0


def test_pcap_prefilter_of_another_link_type_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "p.pcap"
    path.write_bytes(pcap_bytes([(0, f) for f in FRAMES], linktype=101))
    cap = open_capture(path, [DROP])
    assert len(frames_of(cap)) == 7 and cap.frames_skipped == 0


def test_records_on_the_slow_path_are_yielded_even_if_they_match(tmp_path: Path) -> None:
    # orig_len below caplen is repaired on the slow path, which does not skip.
    path = tmp_path / "p.pcap"
    path.write_bytes(pcap_bytes([(0, FRAMES[0], 2), (0, FRAMES[5])]))
    cap = open_capture(path, [DROP])
    assert [no for no, _ts, _d in frames_of(cap)] == [1]
    assert cap.frames_skipped == 1


def test_pcap_chunk_boundaries(tmp_path: Path) -> None:
    # Enough records to cross several chunks: every frame is yielded or
    # skipped once, and a skipped one always matches.
    frames = [bytes([0xAA, 0, 0, i % 3]) + bytes(200 + i % 50) for i in range(4000)]
    assert sum(len(f) + 16 for f in frames) > 3 * CHUNK_SIZE
    path = tmp_path / "p.pcap"
    path.write_bytes(pcap_bytes([(0, f) for f in frames]))
    cap = open_capture(path, [DROP])
    kept = [no for no, _ts, _d in frames_of(cap)]
    matching = {no for no, f in enumerate(frames, 1) if f[3] in (1, 2)}
    assert set(kept) >= set(range(1, 4001)) - matching
    assert len(kept) + cap.frames_skipped == 4000 == cap.frames_read
    assert cap.frames_skipped > 2600


def test_pcapng_applies_prefilters_by_interface_link_type(tmp_path: Path) -> None:
    data = pcapng_bytes(
        Section(
            [
                Interface(linktype=1),
                Interface(linktype=101),
                Packet(0, 1, FRAMES[0]),  # skipped
                Packet(1, 2, FRAMES[0]),  # other link type: kept
                Packet(0, 3, FRAMES[3]),  # skipped (second prefilter)
                Packet(0, 4, FRAMES[4]),  # skipped (third prefilter)
                Packet(0, 5, FRAMES[1]),  # kept
            ]
        ),
        Section([Interface(linktype=1), Packet(0, 6, FRAMES[5]), Packet(0, 7, FRAMES[6])]),
    )
    path = tmp_path / "p.pcapng"
    path.write_bytes(data)
    cap = open_capture(path, [DROP, DROP_LONG, DROP_LONGER])
    assert [no for no, _ts, _d in frames_of(cap)] == [2, 5, 7]
    assert (cap.frames_read, cap.frames_skipped) == (7, 4)


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
def test_runs_of_equal_records_are_skipped_together(tmp_path: Path, big_endian: bool) -> None:
    # Runs of matching records of a few sizes, broken by kept records, by
    # matching records of other sizes and by one whose orig_len differs.
    packets: list[tuple[int, bytes] | tuple[int, bytes, int]] = []
    kept = []
    for i in range(3000):
        size = (40, 40, 40, 64, 40, 100)[i % 6]
        data = bytes([0xAA, 0, 0, 1 + i % 2]) + bytes(size)
        if i % 17 == 0:
            data = b"\x01" + data[1:]  # kept
            kept.append(i + 1)
        if i % 29 == 0:
            packets.append((i, data, len(data) + 10))  # snapped: skipped one at a time
        else:
            packets.append((i, data))
    path = tmp_path / "runs.pcap"
    path.write_bytes(pcap_bytes(packets, big_endian=big_endian, nanos=True))
    cap = open_capture(path, [DROP])
    got = frames_of(cap)
    assert [no for no, _ts, _d in got] == kept
    assert [ts for _no, ts, _d in got] == [no - 1 for no in kept]
    assert (cap.frames_read, cap.frames_skipped) == (3000, 3000 - len(kept))


def test_many_record_sizes(tmp_path: Path) -> None:
    sizes = [8 + i for i in range(3 * MAX_RUN_MATCHERS)]
    packets = [(0, bytes([0xAA, 0, 0, 1]) + bytes(sizes[i % len(sizes)])) for i in range(2000)]
    packets[1500] = (0, b"\x00" * 30)
    path = tmp_path / "sizes.pcap"
    path.write_bytes(pcap_bytes(packets))
    cap = open_capture(path, [DROP])
    assert [no for no, _ts, _d in frames_of(cap)] == [1501]
    assert cap.frames_skipped == 1999


@pytest.mark.parametrize(
    ("prefilter", "runs"),
    [
        (DROP, True),
        (DROP_LONG, True),
        (Prefilter(1, struct.Struct(">H"), frozenset({(1,)})), False),  # not single bytes
        (Prefilter(1, struct.Struct(">BB"), frozenset({(1, 2), (3, 4)})), False),  # no product
        (Prefilter(1, struct.Struct(">BB"), frozenset({(1, 2), (1, 4)})), True),
        (Prefilter(1, struct.Struct("2B3x"), frozenset({(1, 2)})), True),
    ],
)
def test_run_matchers_need_single_byte_fields_in_every_combination(
    prefilter: Prefilter, runs: bool
) -> None:
    plan = PrefilterPlan([prefilter], 1)
    assert plan.runs is runs
    if runs:
        size = prefilter.layout.size + 3
        match = plan.run_matcher("<", size)
        record = struct.pack("<IIII", 0, 0, size, size)
        frames = [
            prefilter.layout.pack(*t) + bytes(size - prefilter.layout.size)
            for t in prefilter.reject
        ]
        body = b"".join(record + f for f in frames)
        got = match(body, 0)
        assert got is not None and got.end() == len(body)
        assert match(record + b"\xff" * size, 0) is None


def test_a_second_prefilter_of_wider_fields(tmp_path: Path) -> None:
    wide = Prefilter(1, struct.Struct(">5xH"), frozenset({(0x0102,)}))
    frames = [b"", b"\xaa\x00\x00\x01", b"\x00" * 5 + b"\x01\x02", b"\x00" * 5 + b"\x01\x03"]
    path = tmp_path / "w.pcap"
    path.write_bytes(pcap_bytes([(0, f) for f in frames]))
    cap = open_capture(path, [wide, DROP])
    assert [no for no, _ts, _d in frames_of(cap)] == [1, 4]
