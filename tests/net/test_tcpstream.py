"""StreamReassembler: ordering, duplicates, wrap-around, ends, gaps and limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.net import tcpstream
from analyzer.net.tcpstream import (
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
    StreamReassembler,
)
from analyzer.net.transport import ACK, FIN, RST, SYN, TcpSegment

ISN = 1000


def seg(
    frame: int,
    seq: int,
    payload: bytes = b"",
    flags: int = ACK,
    *,
    ts: int = 0,
    wire_len: int | None = None,
) -> TcpSegment:
    """A segment of the one direction under test (addresses do not matter here)."""
    return TcpSegment(
        frame=frame,
        ts_ns=ts,
        src=b"\x0a\x00\x00\x01",
        sport=5060,
        dst=b"\x0a\x00\x00\x02",
        dport=40000,
        seq=seq & 0xFFFFFFFF,
        ack=0,
        flags=flags,
        payload=payload,
        wire_len=len(payload) if wire_len is None else wire_len,
    )


def run(segments: list[TcpSegment], flush: bool = True) -> list[StreamEvent]:
    r = StreamReassembler()
    events: list[StreamEvent] = []
    for s in segments:
        events += r.feed(s)
    if flush:
        events += r.flush()
    return events


def data_of(events: list[StreamEvent]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, StreamData))


def assert_contiguous(events: list[StreamEvent]) -> None:
    """Data and gaps cover the stream from offset 0 without holes or overlaps."""
    off = 0
    for e in events:
        if isinstance(e, StreamData):
            assert e.offset == off
            off += len(e.data)
        elif isinstance(e, StreamGap):
            assert e.offset == off
            off += e.length


# -- ordering ------------------------------------------------------------------


def test_syn_sets_isn_and_data_follows_it() -> None:
    events = run([seg(1, ISN, flags=SYN), seg(2, ISN + 1, b"abc"), seg(3, ISN + 4, b"de")])
    assert events == [
        StreamData(0, b"abc", (2,), 2, 0, False),
        StreamData(3, b"de", (3,), 3, 0, False),
        StreamEnd(3, 0, "capture-end"),
    ]


def test_data_on_syn_is_kept() -> None:
    # TCP Fast Open carries data on the SYN; it starts at ISN + 1.
    events = run([seg(1, ISN, b"hi", flags=SYN), seg(2, ISN + 3, b"!")], flush=False)
    assert data_of(events) == b"hi!"


def test_mid_connection_start_takes_first_segment_as_offset_zero() -> None:
    events = run([seg(7, 555_555, b"xyz"), seg(8, 555_558, b"w")], flush=False)
    assert events == [
        StreamData(0, b"xyz", (7,), 7, 0, False),
        StreamData(3, b"w", (8,), 8, 0, False),
    ]


def test_bytes_before_a_mid_connection_start_are_counted_not_reported() -> None:
    r = StreamReassembler()
    r.feed(seg(1, 5000, b"later"))
    assert r.feed(seg(2, 4990, b"0123456789")) == []
    assert (r.ignored_segments, r.ignored_bytes) == (1, 10)


def test_bare_ack_before_anything_does_not_anchor_the_stream() -> None:
    r = StreamReassembler()
    assert r.feed(seg(1, 42)) == []
    assert r.flush() == []
    assert r.feed(seg(2, 100, b"a")) == [StreamData(0, b"a", (2,), 2, 0, False)]


def test_out_of_order_is_delivered_when_the_hole_is_filled() -> None:
    events = run(
        [
            seg(1, ISN, flags=SYN),
            seg(2, ISN + 4, b"efgh"),
            seg(3, ISN + 8, b"ij"),
            seg(4, ISN + 1, b"abc"),
            seg(5, ISN + 10, b"k"),
        ],
        flush=False,
    )
    # Each piece keeps its own frame; the filler (frame 4) made them available.
    assert events == [
        StreamData(0, b"abc", (4,), 4, 0, False),
        StreamData(3, b"efgh", (2,), 4, 0, False),
        StreamData(7, b"ij", (3,), 4, 0, False),
        StreamData(9, b"k", (5,), 5, 0, False),
    ]


def test_bare_acks_in_order_deliver_nothing() -> None:
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    assert r.feed(seg(2, ISN + 1)) == []
    assert r.feed(seg(3, ISN + 1, b"a")) == [StreamData(0, b"a", (3,), 3, 0, False)]


def test_identical_retransmission_is_ignored_and_counted() -> None:
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    assert r.feed(seg(2, ISN + 1, b"abc"))
    assert r.feed(seg(3, ISN + 1, b"abc")) == []
    assert (r.ignored_segments, r.ignored_bytes) == (1, 3)


def test_partial_overlap_delivers_only_new_bytes() -> None:
    events = run([seg(1, ISN, flags=SYN), seg(2, ISN + 1, b"abc"), seg(3, ISN + 2, b"bcdef")])
    assert events[1] == StreamData(3, b"def", (3,), 3, 0, False)


def test_first_arrival_wins_over_buffered_bytes() -> None:
    # Offsets 4-5 arrive first as "EF" and offset 8 as "J"; a later segment
    # carrying other bytes for them only contributes what falls into the holes.
    events = run(
        [
            seg(1, ISN, flags=SYN),
            seg(2, ISN + 5, b"EF"),
            seg(3, ISN + 9, b"J"),
            seg(4, ISN + 2, b"bcdefghijk"),
            seg(5, ISN + 1, b"a"),
        ],
        flush=False,
    )
    assert data_of(events) == b"abcdEFghJjk"
    assert_contiguous(events)


def test_retransmission_of_buffered_bytes_is_ignored() -> None:
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    assert r.feed(seg(2, ISN + 5, b"xy")) == []
    assert r.feed(seg(3, ISN + 5, b"xy")) == []
    assert r.ignored_segments == 1


@pytest.mark.parametrize("isn", [0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFF0, 0x7FFFFFFF])
def test_sequence_numbers_wrap_at_2_32(isn: int) -> None:
    chunks = [b"0123", b"4567", b"89ab", b"cdef", b"ghij", b"klmn"]
    segments = [seg(1, isn, flags=SYN)]
    seq = isn + 1
    for i, c in enumerate(chunks):
        segments.append(seg(i + 2, seq, c))
        seq += len(c)
    # Deliver out of order across the wrap too.
    segments[2], segments[3] = segments[3], segments[2]
    events = run(segments, flush=False)
    assert data_of(events) == b"".join(chunks)
    assert_contiguous(events)
    assert not any(isinstance(e, StreamGap) for e in events)


# -- ends ------------------------------------------------------------------------


def test_fin_ends_the_stream() -> None:
    events = run([seg(1, ISN, flags=SYN), seg(2, ISN + 1, b"bye", FIN | ACK)])
    assert events == [StreamData(0, b"bye", (2,), 2, 0, False), StreamEnd(2, 0, "fin")]


def test_fin_before_the_last_data_waits_for_it() -> None:
    events = run(
        [seg(1, ISN, flags=SYN), seg(2, ISN + 4, b"", FIN | ACK), seg(3, ISN + 1, b"abc")],
        flush=False,
    )
    assert events == [StreamData(0, b"abc", (3,), 3, 0, False), StreamEnd(2, 0, "fin")]


def test_fin_behind_a_hole_that_never_fills() -> None:
    events = run([seg(1, ISN, flags=SYN), seg(2, ISN + 1, b"ab"), seg(3, ISN + 6, b"", FIN)])
    assert events[1:] == [StreamGap(2, 3, 3, 0, "capture-end"), StreamEnd(3, 0, "fin")]


def test_data_after_fin_is_reported_as_a_gap() -> None:
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    assert r.feed(seg(2, ISN + 1, b"ab", FIN | ACK))[-1] == StreamEnd(2, 0, "fin")
    assert r.feed(seg(3, ISN + 3, b"zz")) == [StreamGap(2, 2, 3, 0, "after-fin")]
    # A retransmission of delivered data stays silent; of the ignored data too.
    assert r.feed(seg(4, ISN + 1, b"ab")) == []
    assert r.feed(seg(5, ISN + 3, b"zz")) == []
    assert r.flush() == []


def test_buffered_data_beyond_a_later_fin_is_reported_after_the_end() -> None:
    events = run(
        [
            seg(1, ISN, flags=SYN),
            seg(2, ISN + 4, b"xyz"),  # beyond the FIN that comes next
            seg(3, ISN + 2, b"bc", FIN | ACK),
            seg(4, ISN + 1, b"a"),
        ],
        flush=False,
    )
    assert events == [
        StreamData(0, b"a", (4,), 4, 0, False),
        StreamData(1, b"bc", (3,), 4, 0, False),
        StreamEnd(3, 0, "fin"),
        StreamGap(3, 3, 2, 0, "after-fin"),
    ]


def test_buffered_piece_straddling_a_later_fin_is_cut_at_it() -> None:
    events = run(
        [
            seg(1, ISN, flags=SYN),
            seg(2, ISN + 5, b"efghi"),  # offsets 4..8, across the FIN that ends at 5
            seg(3, ISN + 10, b"zz"),  # entirely beyond it, arriving before it
            seg(4, ISN + 4, b"de", FIN | ACK),  # offsets 3..4, then FIN
            seg(5, ISN + 12, b"yy"),  # entirely beyond it, arriving after it
            seg(6, ISN + 1, b"abc"),
        ],
        flush=False,
    )
    assert data_of(events) == b"abcde"
    assert events[-4:] == [
        StreamEnd(4, 0, "fin"),
        StreamGap(5, 4, 2, 0, "after-fin"),
        StreamGap(9, 2, 3, 0, "after-fin"),
        StreamGap(11, 2, 5, 0, "after-fin"),
    ]


def test_segment_straddling_a_known_fin_is_cut_at_it() -> None:
    events = run(
        [
            seg(1, ISN, flags=SYN),
            seg(2, ISN + 3, b"", FIN | ACK),
            seg(3, ISN + 1, b"abXY"),
        ],
        flush=False,
    )
    assert events == [
        StreamData(0, b"ab", (3,), 3, 0, False),
        StreamEnd(2, 0, "fin"),
        StreamGap(2, 2, 3, 0, "after-fin"),
    ]


def test_rst_gives_up_holes_and_ends() -> None:
    events = run(
        [
            seg(1, ISN, flags=SYN),
            seg(2, ISN + 1, b"ab"),
            seg(3, ISN + 5, b"ef"),
            seg(4, ISN, flags=RST),
        ]
    )
    assert events == [
        StreamData(0, b"ab", (2,), 2, 0, False),
        StreamGap(2, 2, 3, 0, "rst"),
        StreamData(4, b"ef", (3,), 3, 0, False),
        StreamEnd(4, 0, "rst"),
    ]


def test_rst_as_the_first_segment() -> None:
    assert run([seg(1, ISN, flags=RST)]) == [StreamEnd(1, 0, "rst")]


def test_data_after_rst_is_a_gap() -> None:
    r = StreamReassembler()
    r.feed(seg(1, 10, b"ab"))
    r.feed(seg(2, 12, flags=RST))
    assert r.feed(seg(3, 12, b"cd")) == [StreamGap(2, 2, 3, 0, "after-rst")]


# -- gaps and limits -------------------------------------------------------------


def test_snaplen_cut_segment_is_data_then_gap() -> None:
    events = run(
        [seg(1, ISN, flags=SYN), seg(2, ISN + 1, b"abc", wire_len=10), seg(3, ISN + 11, b"k")],
        flush=False,
    )
    assert events == [
        StreamData(0, b"abc", (2,), 2, 0, True),
        StreamGap(3, 7, 2, 0, "snaplen"),
        StreamData(10, b"k", (3,), 3, 0, False),
    ]


def test_snaplen_cut_segment_out_of_order() -> None:
    events = run(
        [
            seg(1, ISN, flags=SYN),
            seg(2, ISN + 3, b"cd", wire_len=5),
            seg(3, ISN + 1, b"ab"),
            seg(4, ISN + 8, b"h"),
        ],
        flush=False,
    )
    assert events == [
        StreamData(0, b"ab", (3,), 3, 0, False),
        StreamData(2, b"cd", (2,), 3, 0, True),
        StreamGap(4, 3, 2, 0, "snaplen"),
        StreamData(7, b"h", (4,), 4, 0, False),
    ]


def test_hole_times_out_after_the_reorder_window() -> None:
    w = tcpstream.REORDER_WINDOW_NS
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    assert r.feed(seg(2, ISN + 4, b"def", ts=10)) == []
    assert r.feed(seg(3, ISN + 9, b"", ts=10 + w)) == []  # exactly the window: still waiting
    assert r.feed(seg(4, ISN + 7, b"gh", ts=11 + w)) == [
        StreamGap(0, 3, 2, 10, "timeout"),
        StreamData(3, b"def", (2,), 2, 10, False),
        StreamData(6, b"gh", (4,), 4, 11 + w, False),
    ]


def test_timeout_delivers_up_to_the_next_hole_only() -> None:
    w = tcpstream.REORDER_WINDOW_NS
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    r.feed(seg(2, ISN + 3, b"c", ts=0))
    r.feed(seg(3, ISN + 6, b"f", ts=w))
    events = r.feed(seg(4, ISN + 100, b"", ts=w + 1))
    # The first hole is older than the window; the second one is not.
    assert events == [StreamGap(0, 2, 2, 0, "timeout"), StreamData(2, b"c", (2,), 2, 0, False)]


def test_reorder_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcpstream, "MAX_REORDER_BYTES", 5)
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    assert r.feed(seg(2, ISN + 2, b"bcd")) == []
    assert r.feed(seg(3, ISN + 6, b"fgh")) == [
        StreamGap(0, 1, 2, 0, "reorder-limit"),
        StreamData(1, b"bcd", (2,), 2, 0, False),
    ]


def test_reorder_segment_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcpstream, "MAX_REORDER_SEGMENTS", 2)
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    r.feed(seg(2, ISN + 2, b"b"))
    r.feed(seg(3, ISN + 4, b"d"))
    assert r.feed(seg(4, ISN + 6, b"f")) == [
        StreamGap(0, 1, 2, 0, "reorder-limit"),
        StreamData(1, b"b", (2,), 2, 0, False),
    ]


def test_flush_reports_holes_then_delivers_and_ends() -> None:
    r = StreamReassembler()
    r.feed(seg(1, ISN, flags=SYN))
    r.feed(seg(2, ISN + 1, b"a"))
    r.feed(seg(3, ISN + 4, b"d"))
    assert r.flush() == [
        StreamGap(1, 2, 3, 0, "capture-end"),
        StreamData(3, b"d", (3,), 3, 0, False),
        StreamEnd(3, 0, "capture-end"),
    ]
    assert r.flush() == []


def test_flush_of_an_unused_reassembler_is_empty() -> None:
    assert StreamReassembler().flush() == []


# -- properties ------------------------------------------------------------------


@st.composite
def segmented_stream(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[int, int]]]:
    """A stream, an ISN (often near the wrap) and a cut into segments (start, end)."""
    data = draw(st.binary(min_size=1, max_size=300))
    isn = draw(st.one_of(st.integers(0, 2**32 - 1), st.integers(2**32 - 400, 2**32 - 1)))
    cuts = (
        sorted(draw(st.sets(st.integers(1, len(data) - 1), max_size=20))) if len(data) > 1 else []
    )
    bounds = [0, *cuts, len(data)]
    return data, isn, list(zip(bounds, bounds[1:], strict=False))


def build(data: bytes, isn: int, ranges: list[tuple[int, int]]) -> list[TcpSegment]:
    return [seg(i + 2, isn + 1 + a, data[a:b]) for i, (a, b) in enumerate(ranges)]


@settings(max_examples=200, deadline=None)
@given(segmented_stream(), st.randoms(use_true_random=False), st.data())
def test_any_order_and_duplication_gives_the_same_bytes(
    stream: tuple[bytes, int, list[tuple[int, int]]], rnd: object, draw: st.DataObject
) -> None:
    data, isn, ranges = stream
    segments = build(data, isn, ranges)
    # Retransmissions: exact copies and arbitrary overlapping ranges.
    extra = draw.draw(
        st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 40)), max_size=8)
    )
    for k, (a, length) in enumerate(extra):
        b = min(len(data), a + length)
        segments.append(seg(100 + k, isn + 1 + a, data[a:b]))
    segments += draw.draw(st.lists(st.sampled_from(segments), max_size=4))
    order = draw.draw(st.permutations(segments))
    events = run([seg(1, isn, flags=SYN), *order])
    assert data_of(events) == data
    assert_contiguous(events)
    assert not any(isinstance(e, StreamGap) for e in events)
    assert events[-1] == StreamEnd(order[-1].frame, 0, "capture-end")


@settings(max_examples=200, deadline=None)
@given(segmented_stream(), st.data())
def test_dropping_one_segment_gives_exactly_one_gap(
    stream: tuple[bytes, int, list[tuple[int, int]]], draw: st.DataObject
) -> None:
    data, isn, ranges = stream
    if len(ranges) < 2:
        return
    drop = draw.draw(st.integers(0, len(ranges) - 2))
    segments = build(data, isn, ranges)
    kept = segments[:drop] + segments[drop + 1 :]
    order = draw.draw(st.permutations(kept))
    events = run([seg(1, isn, flags=SYN), *order])
    gaps = [e for e in events if isinstance(e, StreamGap)]
    a, b = ranges[drop]
    assert [(g.offset, g.length) for g in gaps] == [(a, b - a)]
    assert_contiguous(events)
    assert data_of(events) == data[:a] + data[b:]
