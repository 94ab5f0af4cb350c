"""IP fragment reassembly (IPv4 and IPv6), in any arrival order.

Fragments are kept per datagram as a byte buffer plus the list of byte ranges
already filled.  A fragment fills only the bytes no earlier fragment filled:
the first arrival wins, as in the Linux stack since RFC 5722 made overlaps
suspect, and an overlap that disagrees with what is already there is
reported once per datagram.  Duplicates (a capture taken on two interfaces,
a retransmitting tunnel) are absorbed, including those that arrive after
their datagram was completed.

Time is capture time (``ts_ns`` of the fragments), never the clock.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from analyzer.errors import Diagnostic, Level

# Linux drops an incomplete datagram 30 s after its first fragment
# (net.ipv4.ipfrag_time = 30); RFC 791 suggests 15 s and RFC 8200 §4.5 says
# 60 s for IPv6.  30 s keeps what the receiving host would have kept.
REASSEMBLY_TIMEOUT_NS = 30 * 1_000_000_000

# Datagrams being reassembled at once.  A SIP capture has a handful in flight
# (large INVITEs and NOTIFYs over UDP); 4096 bounds the memory a flood of
# first fragments can take (at most MAX_DATAGRAM_BYTES each) while leaving
# room for busy trunks.  The oldest is given up when a new one would exceed it.
MAX_PENDING_DATAGRAMS = 4096

# The IPv4 total length and the IPv6 payload length are 16-bit fields, so no
# legitimate datagram's payload reaches 65535 bytes after its header; a
# fragment reaching past that is an attack (the "ping of death") or garbage.
MAX_DATAGRAM_BYTES = 65535

# Completed datagrams are remembered (for REASSEMBLY_TIMEOUT_NS) so that a
# late duplicate of one of their fragments is recognised rather than starting
# a datagram that never completes.  Their payloads are kept to compare the
# duplicate's bytes, within this budget: 4 MiB is over a thousand fragmented
# SIP messages, several seconds of a busy trunk; the oldest go first.
MAX_COMPLETED_BYTES = 4 << 20

# Key: (IP version, source, destination, protocol, identification).  RFC 791
# §2.3 names the first four; RFC 8200 §4.5 keys IPv6 on addresses and
# Identification only, so IPv6 fragments carry protocol -1 in their key (the
# Next Header of the offset-zero fragment is the datagram's).
FragmentKey = tuple[int, bytes, bytes, int, int]


@dataclass(frozen=True, slots=True)
class Fragment:
    """One IP fragment as captured.

    ``frames`` are the capture frames that carried it (one, unless it was
    itself inside a reassembled tunnel datagram).  ``offset`` is in bytes;
    ``proto`` is the IPv4 protocol or the IPv6 Fragment header's Next Header.
    """

    frames: tuple[int, ...]
    ts_ns: int
    version: int
    src: bytes
    dst: bytes
    proto: int
    ident: int
    offset: int
    more: bool
    payload: bytes


@dataclass(frozen=True, slots=True)
class IPDatagram:
    """A reassembled datagram: the payload after its (first) IP header.

    ``frames`` lists every frame that carried one of its fragments, in frame
    order; ``ts_ns`` is the time of the fragment that completed it.
    """

    frames: tuple[int, ...]
    ts_ns: int
    version: int
    src: bytes
    dst: bytes
    proto: int
    ident: int
    payload: bytes


class _Pending:
    __slots__ = ("first_ts", "frames", "data", "ranges", "total", "proto", "conflict")

    def __init__(self, first_ts: int) -> None:
        self.first_ts = first_ts
        self.frames: list[int] = []
        self.data = bytearray()
        # Sorted, disjoint, non-adjacent [start, end) ranges already filled.
        self.ranges: list[list[int]] = []
        self.total = -1  # payload length, once the last fragment (MF clear) is seen
        self.proto = -1  # IPv6: from the offset-zero fragment
        self.conflict = False


class Defragmenter:
    """Reassembles IP datagrams from their fragments.

    :meth:`feed` returns the :class:`IPDatagram` a fragment completes, or
    None.  Problems (conflicting overlaps, limits, time-outs) go to
    ``diagnostics``; :meth:`flush` reports the datagrams never completed.
    """

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._pending: dict[FragmentKey, _Pending] = {}
        # key -> (completion time, payload) of recently completed datagrams.
        self._completed: dict[FragmentKey, tuple[int, bytes]] = {}
        self._completed_bytes = 0
        # Late copies of fragments of delivered datagrams (dropped, counted).
        self.duplicates = 0

    def feed(self, frag: Fragment) -> IPDatagram | None:
        """Add one fragment; return the datagram it completes, if any."""
        now = frag.ts_ns
        self._expire(now)
        key: FragmentKey = (
            frag.version,
            frag.src,
            frag.dst,
            frag.proto if frag.version == 4 else -1,
            frag.ident,
        )
        start = frag.offset
        stop = start + len(frag.payload)
        if stop > MAX_DATAGRAM_BYTES:
            self.diagnostics.append(
                Diagnostic(
                    "ip",
                    frag.frames,
                    f"IP fragment reaches byte {stop}, past the largest possible datagram "
                    f"({MAX_DATAGRAM_BYTES}): ignored",
                )
            )
            return None
        pending = self._pending.get(key)
        if pending is None:
            done = self._completed.get(key)
            if done is not None and done[1][start:stop] == frag.payload:
                # A late copy of a fragment of a datagram already delivered.
                self.duplicates += 1
                return None
            if len(self._pending) >= MAX_PENDING_DATAGRAMS:
                self._give_up(next(iter(self._pending)), "too many datagrams in reassembly")
            pending = self._pending[key] = _Pending(now)
        pending.frames.extend(frag.frames)
        if frag.version == 6 and start == 0:
            pending.proto = frag.proto
        if not frag.more:
            if pending.total < 0:
                pending.total = stop
                self._clip(pending, frag)
            elif pending.total != stop:
                self._note_conflict(pending, frag, "two last fragments with different ends")
        if pending.total >= 0 and stop > pending.total:
            self._note_conflict(pending, frag, "a fragment reaches past the datagram's end")
            stop = pending.total
        if stop > start:
            self._fill(pending, frag, start, stop)
        total = pending.total
        if total < 0 or (frag.version == 6 and pending.proto < 0):
            return None  # the last fragment, or the first (IPv6), is still missing
        ranges = pending.ranges
        if total and not (len(ranges) == 1 and ranges[0][0] == 0 and ranges[0][1] == total):
            return None
        del self._pending[key]
        payload = bytes(pending.data[:total])
        self._remember(key, now, payload)
        return IPDatagram(
            tuple(sorted(set(pending.frames))),
            now,
            frag.version,
            frag.src,
            frag.dst,
            frag.proto if frag.version == 4 else pending.proto,
            frag.ident,
            payload,
        )

    def flush(self) -> list[Diagnostic]:
        """End of capture: report every datagram still incomplete, return all diagnostics."""
        for key in list(self._pending):
            self._give_up(key, "capture ended before it was complete")
        self._completed.clear()
        self._completed_bytes = 0
        out = self.diagnostics
        self.diagnostics = []
        return out

    # -- internals -----------------------------------------------------------

    def _fill(self, pending: _Pending, frag: Fragment, start: int, stop: int) -> None:
        data = pending.data
        if len(data) < stop:
            data.extend(bytes(stop - len(data)))
        payload = frag.payload
        ranges = pending.ranges
        # Walk the filled ranges that touch [start, stop): compare the overlap,
        # write only the holes between them.
        pos = start
        i = 0
        n = len(ranges)
        while i < n and ranges[i][1] < start:
            i += 1
        first = i
        while i < n and ranges[i][0] <= stop:
            r_start, r_stop = ranges[i]
            if r_start > pos:
                data[pos:r_start] = payload[pos - start : r_start - start]
            lo, hi = max(r_start, start), min(r_stop, stop)
            if lo < hi and not pending.conflict and data[lo:hi] != payload[lo - start : hi - start]:
                self._note_conflict(pending, frag, "overlapping fragments disagree")
            pos = max(pos, r_stop)
            i += 1
        if pos < stop:
            data[pos:stop] = payload[pos - start : stop - start]
        # Merge [start, stop) with ranges[first:i].
        if first < i:
            new_start = min(start, ranges[first][0])
            new_stop = max(stop, ranges[i - 1][1])
            ranges[first:i] = [[new_start, new_stop]]
        else:
            ranges.insert(first, [start, stop])

    def _clip(self, pending: _Pending, frag: Fragment) -> None:
        # The end became known after fragments that reach past it arrived.
        ranges = pending.ranges
        total = pending.total
        if ranges and ranges[-1][1] > total:
            self._note_conflict(pending, frag, "a fragment reaches past the datagram's end")
            while ranges and ranges[-1][0] >= total:
                ranges.pop()
            if ranges and ranges[-1][1] > total:
                ranges[-1][1] = total

    def _note_conflict(self, pending: _Pending, frag: Fragment, what: str) -> None:
        if pending.conflict:
            return
        pending.conflict = True
        self.diagnostics.append(
            Diagnostic(
                "ip",
                frag.frames,
                f"IPv{frag.version} datagram id {frag.ident} ({_addr(frag.src)} -> "
                f"{_addr(frag.dst)}): {what}; the first arrival was kept",
            )
        )

    def _remember(self, key: FragmentKey, now: int, payload: bytes) -> None:
        completed = self._completed
        old = completed.pop(key, None)
        if old is not None:
            self._completed_bytes -= len(old[1])
        completed[key] = (now, payload)
        self._completed_bytes += len(payload)
        while self._completed_bytes > MAX_COMPLETED_BYTES:
            oldest = next(iter(completed))
            self._completed_bytes -= len(completed.pop(oldest)[1])

    def _expire(self, now: int) -> None:
        # Both dicts are in insertion order, which is capture order; capture
        # time can step back, so this stops at the first entry still young.
        limit = now - REASSEMBLY_TIMEOUT_NS
        pending = self._pending
        while pending:
            key = next(iter(pending))
            if pending[key].first_ts >= limit:
                break
            self._give_up(
                key,
                f"not complete {REASSEMBLY_TIMEOUT_NS // 1_000_000_000} s after its first fragment",
            )
        completed = self._completed
        while completed:
            key = next(iter(completed))
            if completed[key][0] >= limit:
                break
            self._completed_bytes -= len(completed.pop(key)[1])

    def _give_up(self, key: FragmentKey, why: str) -> None:
        pending = self._pending.pop(key)
        have = sum(r[1] - r[0] for r in pending.ranges)
        size = f"of {pending.total}" if pending.total >= 0 else "(last fragment missing)"
        self.diagnostics.append(
            Diagnostic(
                "ip",
                tuple(sorted(set(pending.frames))),
                f"IPv{key[0]} datagram id {key[4]} ({_addr(key[1])} -> {_addr(key[2])}) "
                f"not reassembled, {why}: {have} bytes {size} received",
                Level.WARNING,
            )
        )


def _addr(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))
