"""Defragmenter: any order, duplicates, overlaps, limits, time-outs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import Level
from analyzer.net import defrag
from analyzer.net.defrag import (
    MAX_DATAGRAM_BYTES,
    REASSEMBLY_TIMEOUT_NS,
    Defragmenter,
    Fragment,
    IPDatagram,
)
from tests.packets import addr

SRC, DST = addr("10.0.0.1"), addr("10.0.0.2")
PAYLOAD = bytes(range(256)) * 6  # 1536 bytes
SECOND = 1_000_000_000


def fragments(
    payload: bytes = PAYLOAD, size: int = 512, ident: int = 42, version: int = 4, proto: int = 17
) -> list[Fragment]:
    """Fragment ``payload``; fragment i is carried by frame i + 1 at time i ms."""
    out = []
    for i, start in enumerate(range(0, len(payload), size)):
        piece = payload[start : start + size]
        more = start + size < len(payload)
        out.append(
            Fragment((i + 1,), i * 1_000_000, version, SRC, DST, proto, ident, start, more, piece)
        )
    return out


def feed_all(d: Defragmenter, frags: list[Fragment]) -> list[IPDatagram]:
    return [dg for f in frags if (dg := d.feed(f)) is not None]


def test_in_order() -> None:
    d = Defragmenter()
    frags = fragments()
    assert [d.feed(f) for f in frags[:-1]] == [None, None]
    dg = d.feed(frags[-1])
    assert dg == IPDatagram((1, 2, 3), 2_000_000, 4, SRC, DST, 17, 42, PAYLOAD)
    assert d.flush() == []


def test_reversed() -> None:
    d = Defragmenter()
    (dg,) = feed_all(d, fragments()[::-1])
    assert dg.payload == PAYLOAD
    # Frames in frame order; the time is that of the completing fragment.
    assert dg.frames == (1, 2, 3)
    assert dg.ts_ns == 0


def test_shuffled_many_fragments() -> None:
    frags = fragments(size=64)
    random.Random(7).shuffle(frags)
    d = Defragmenter()
    (dg,) = feed_all(d, frags)
    assert dg.payload == PAYLOAD
    assert dg.frames == tuple(range(1, 25))


def test_duplicates_are_absorbed() -> None:
    frags = fragments()
    d = Defragmenter()
    results = feed_all(d, [frags[0], frags[0], frags[1], frags[1], frags[2], frags[2], frags[0]])
    assert [dg.payload for dg in results] == [PAYLOAD]
    assert d.duplicates == 2  # the copies that came after completion
    assert d.flush() == []


def test_duplicate_from_another_frame_is_listed() -> None:
    frags = fragments()
    copy = Fragment((10,), 1, 4, SRC, DST, 17, 42, 0, True, PAYLOAD[:512])
    d = Defragmenter()
    (dg,) = feed_all(d, [frags[0], copy, frags[1], frags[2]])
    assert dg.frames == (1, 2, 3, 10)


def test_overlap_with_same_content_is_silent() -> None:
    d = Defragmenter()
    a = Fragment((1,), 0, 4, SRC, DST, 17, 1, 0, True, PAYLOAD[:800])
    b = Fragment((2,), 0, 4, SRC, DST, 17, 1, 400, False, PAYLOAD[400:])
    assert d.feed(a) is None
    dg = d.feed(b)
    assert dg is not None and dg.payload == PAYLOAD
    assert d.diagnostics == []


def test_conflicting_overlap_first_arrival_wins() -> None:
    d = Defragmenter()
    a = Fragment((1,), 0, 4, SRC, DST, 17, 1, 0, True, PAYLOAD[:800])
    evil = Fragment((2,), 0, 4, SRC, DST, 17, 1, 400, True, b"X" * 400)
    also_evil = Fragment((3,), 0, 4, SRC, DST, 17, 1, 600, True, b"Y" * 200)
    rest = Fragment((4,), 0, 4, SRC, DST, 17, 1, 800, False, PAYLOAD[800:])
    results = feed_all(d, [a, evil, also_evil, rest])
    assert [dg.payload for dg in results] == [PAYLOAD]
    (diag,) = d.diagnostics  # one per datagram, however many overlaps
    assert diag.layer == "ip"
    assert diag.frames == (2,)
    assert "disagree" in diag.reason


def test_overlap_that_fills_a_hole_between_two_fragments() -> None:
    d = Defragmenter()
    first = Fragment((1,), 0, 4, SRC, DST, 17, 1, 0, True, PAYLOAD[:200])
    third = Fragment((2,), 0, 4, SRC, DST, 17, 1, 400, False, PAYLOAD[400:])
    middle = Fragment((3,), 0, 4, SRC, DST, 17, 1, 100, True, PAYLOAD[100:500])
    results = feed_all(d, [first, third, middle])
    assert [dg.payload for dg in results] == [PAYLOAD]
    assert d.diagnostics == []


def test_missing_fragment_reported_at_flush() -> None:
    frags = fragments()
    d = Defragmenter()
    assert feed_all(d, [frags[0], frags[2]]) == []
    (diag,) = d.flush()
    assert diag.frames == (1, 3)
    assert diag.level is Level.WARNING
    assert "1024 bytes of 1536 received" in diag.reason
    assert "capture ended" in diag.reason


def test_missing_last_fragment() -> None:
    d = Defragmenter()
    feed_all(d, fragments()[:2])
    (diag,) = d.flush()
    assert "last fragment missing" in diag.reason


def test_timeout_uses_capture_time() -> None:
    d = Defragmenter()
    frags = fragments()
    d.feed(frags[0])
    late = Fragment((5,), REASSEMBLY_TIMEOUT_NS + 1, 4, SRC, DST, 17, 42, 512, True, b"x" * 8)
    assert d.feed(late) is None
    (diag,) = d.diagnostics
    assert diag.frames == (1,)
    assert "30 s" in diag.reason
    # The late fragment started a new datagram, itself incomplete; flush
    # returns every diagnostic not yet taken.
    first, second = d.flush()
    assert first is diag
    assert second.frames == (5,)


def test_separate_datagrams_by_key() -> None:
    d = Defragmenter()
    a = fragments(ident=1)
    b = fragments(ident=2, payload=PAYLOAD[::-1])
    c = fragments(proto=6)  # IPv4 keys on the protocol too
    mixed = [a[0], b[0], c[0], a[1], b[1], c[1], b[2], a[2], c[2]]
    results = feed_all(d, mixed)
    assert [(dg.ident, dg.proto, dg.payload) for dg in results] == [
        (2, 17, PAYLOAD[::-1]),
        (1, 17, PAYLOAD),
        (42, 6, PAYLOAD),
    ]


def test_ipv6_protocol_from_offset_zero_fragment() -> None:
    d = Defragmenter()
    frags = fragments(version=6, proto=60)
    # RFC 8200 §4.5: later fragments may carry other Next Header values.
    frags[1] = Fragment((2,), 1_000_000, 6, SRC, DST, 99, 42, 512, True, PAYLOAD[512:1024])
    results = feed_all(d, [frags[2], frags[1], frags[0]])
    assert [(dg.version, dg.proto, dg.payload) for dg in results] == [(6, 60, PAYLOAD)]


def test_fragment_past_maximum_size() -> None:
    d = Defragmenter()
    big = Fragment((1,), 0, 4, SRC, DST, 17, 1, MAX_DATAGRAM_BYTES - 8, True, bytes(16))
    assert d.feed(big) is None
    (diag,) = d.diagnostics
    assert "past the largest possible datagram" in diag.reason
    assert d.flush() == [diag]


def test_fragment_past_known_end() -> None:
    d = Defragmenter()
    frags = fragments()
    d.feed(frags[2])  # the last fragment: the datagram ends at 1536
    past = Fragment((7,), 0, 4, SRC, DST, 17, 42, 1024, True, bytes(1024))
    d.feed(past)
    assert "past the datagram's end" in d.diagnostics[0].reason


def test_pending_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defrag, "MAX_PENDING_DATAGRAMS", 2)
    d = Defragmenter()
    for ident in (1, 2, 3):
        d.feed(fragments(ident=ident)[0])
    (diag,) = d.diagnostics
    assert "too many datagrams" in diag.reason
    assert "id 1 " in diag.reason
    assert len(d.flush()) == 3  # the first diagnostic, then ids 2 and 3 at flush


def test_empty_payload_datagram() -> None:
    d = Defragmenter()
    dg = d.feed(Fragment((1,), 0, 4, SRC, DST, 17, 1, 0, False, b""))
    assert dg is not None and dg.payload == b""


@settings(max_examples=150, deadline=None)
@given(
    size=st.sampled_from([8, 64, 256, 512, 1000, 1536]),
    data=st.data(),
)
def test_any_permutation_with_duplicates_gives_the_datagram(size: int, data: st.DataObject) -> None:
    frags = fragments(size=size)
    picks = data.draw(
        st.lists(st.integers(0, len(frags) - 1), max_size=2 * len(frags)), label="duplicates"
    )
    order = data.draw(st.permutations(frags + [frags[i] for i in picks]), label="order")
    d = Defragmenter()
    results = feed_all(d, list(order))
    assert [dg.payload for dg in results] == [PAYLOAD]
    assert results[0].frames == tuple(range(1, len(frags) + 1))
    assert d.diagnostics == []
    assert d.flush() == []


def test_two_last_fragments_disagree() -> None:
    d = Defragmenter()
    d.feed(Fragment((1,), 0, 4, SRC, DST, 17, 1, 512, False, PAYLOAD[512:1024]))
    d.feed(Fragment((2,), 0, 4, SRC, DST, 17, 1, 1024, False, PAYLOAD[1024:]))
    (diag,) = d.diagnostics
    assert "two last fragments" in diag.reason


def test_end_learnt_after_fragments_reaching_past_it() -> None:
    # Garbage reaching past the end arrives first; the first arrival of the
    # real bytes still wins inside the datagram, and what lies past the end
    # is dropped, so the datagram completes.
    d = Defragmenter()
    d.feed(Fragment((1,), 0, 4, SRC, DST, 17, 1, 0, True, PAYLOAD[:1024]))
    d.feed(Fragment((2,), 0, 4, SRC, DST, 17, 1, 1600, True, bytes(64)))
    d.feed(Fragment((5,), 0, 4, SRC, DST, 17, 1, 1800, True, bytes(64)))
    d.feed(Fragment((3,), 0, 4, SRC, DST, 17, 1, 1024, True, PAYLOAD[1024:] + bytes(64)))
    dg = d.feed(Fragment((4,), 0, 4, SRC, DST, 17, 1, 1024, False, PAYLOAD[1024:]))
    assert dg is not None and dg.payload == PAYLOAD
    (diag,) = d.diagnostics  # one per datagram, though two fragments overreached
    assert "past the datagram's end" in diag.reason


def test_completed_datagrams_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defrag, "MAX_COMPLETED_BYTES", len(PAYLOAD) + 10)
    d = Defragmenter()
    a, b = fragments(ident=1), fragments(ident=2)
    assert len(feed_all(d, a + b)) == 2
    # Datagram 1 was pushed out of the memory of completed ones: its late
    # duplicate starts a new (never completed) datagram instead.
    assert d.feed(a[0]) is None
    assert d.feed(b[0]) is None
    assert d.duplicates == 1
    (diag,) = d.flush()
    assert "id 1 " in diag.reason


def test_completed_memory_expires_with_capture_time() -> None:
    d = Defragmenter()
    feed_all(d, fragments())
    later = fragments()[0]
    late = Fragment(
        (9,),
        REASSEMBLY_TIMEOUT_NS + SECOND,
        later.version,
        later.src,
        later.dst,
        later.proto,
        later.ident,
        later.offset,
        later.more,
        later.payload,
    )
    assert d.feed(late) is None
    assert d.duplicates == 0  # not recognised any more: a new datagram
    assert len(d.flush()) == 1


def test_identification_reused_for_different_content() -> None:
    # A sender wrapping its 16-bit IPv4 Identification within the time-out:
    # the second datagram's fragments differ from the first's, so they are
    # not taken for late duplicates.
    d = Defragmenter()
    first = feed_all(d, fragments())
    second = feed_all(d, fragments(payload=PAYLOAD[::-1]))
    assert [dg.payload for dg in first + second] == [PAYLOAD, PAYLOAD[::-1]]
    assert d.duplicates == 0
