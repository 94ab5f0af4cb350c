"""Legs related to a selection of messages (``build_ladder(..., related=True)``).

A call often crosses the capture point more than once: through a proxy (the
same request at two hops) or through a B2BUA, which ends one dialog and
starts another with a Call-ID of its own, so that nothing in RFC 3261 ties
the two legs together.  What is taken as related, most certain first:

1. **The same transaction at another hop**: the correlation's
   ``Transaction.linked`` (same Call-ID, From tag, CSeq and method, another
   top Via; catalogue G-4).  With a dialog selection their messages are
   added (with a Call-ID selection they are in it already).
2. **B2BUA legs**: two Call-IDs are legs of one call when an out-of-dialog
   request (no To tag) of one and one of the other

   a. carry the same RFC 7989 ``Session-ID`` UUID (local or ``remote``,
      not the null UUID): RFC 7989 §6 has intermediaries, B2BUAs included,
      pass the UUIDs on unchanged, so this is the standard link;
   b. or one names the other's Call-ID in an ``X-Call-ID`` or ``X-CID``
      header, the correlation headers B2BUAs and SBCs commonly add;
   c. or have the same From tag, CSeq number and method, the later sent at
      most :data:`RELATED_WINDOW_NS` after the earlier: a B2BUA that copies
      the caller's From tag and CSeq forwards the request before the
      caller's INVITE transaction times out (Timer B, 64*T1 = 32 s).  From
      tags carry at least 32 random bits (RFC 3261 §19.3), so unrelated
      requests rarely share one, and the time window bounds the rest.

   Legs are followed from leg to leg (A to B to C) up to
   :data:`MAX_RELATED_CALL_IDS` Call-IDs, and each related leg is added
   whole (every message with its Call-ID).

Only out-of-dialog requests are read for headers (a few per call), so the
cost stays small on large captures.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence

from ..correlation import Correlation
from ..sip.message import SipMessage, SipRequest

__all__ = ["MAX_RELATED_CALL_IDS", "RELATED_WINDOW_NS", "leg_graph", "related_messages"]

# Timer B of RFC 3261 §17.1.1.2 with the default T1 of 500 ms: a request
# forwarded later than this could no longer be answered in time.
RELATED_WINDOW_NS = 64 * 500_000_000

# A call through a few B2BUAs has a handful of legs; a chain longer than
# this means the heuristic is linking unrelated calls (a constant From tag,
# a Session-ID reused by a broken element), so the search stops and says so.
MAX_RELATED_CALL_IDS = 32

# Headers naming the Call-ID of another leg (lowercase, as Headers keys them).
CALL_ID_HEADERS = ("x-call-id", "x-cid")

_UUID_RE = re.compile(r"[0-9a-fA-F]{32}")
_NULL_UUID = "0" * 32


def _session_uuids(value: str) -> list[str]:
    """The non-null UUIDs of a Session-ID value (``local;remote=other``)."""
    out = []
    first, *params = value.split(";")
    candidates = [first.strip()]
    for p in params:
        name, _, v = p.partition("=")
        if name.strip().lower() == "remote":
            candidates.append(v.strip())
    for c in candidates:
        if _UUID_RE.fullmatch(c) and c != _NULL_UUID:
            out.append(c.lower())
    return out


def leg_graph(messages: Sequence[SipMessage]) -> dict[str, set[str]]:
    """Call-ID -> Call-IDs of the legs it is directly related to (rule 2 of the module doc)."""
    edges: dict[str, set[str]] = {}

    def link(a: str, b: str) -> None:
        if a != b:
            edges.setdefault(a, set()).add(b)
            edges.setdefault(b, set()).add(a)

    shared: dict[str, list[str]] = {}
    by_tag: dict[tuple[str, int, str], list[tuple[int, str]]] = {}
    for m in messages:
        if not isinstance(m, SipRequest) or m.to_tag is not None or m.call_id is None:
            continue
        cid = m.call_id
        headers = m.headers
        for value in headers.get_all("session-id"):
            for uuid in _session_uuids(value):
                shared.setdefault(uuid, []).append(cid)
        for name in CALL_ID_HEADERS:
            for value in headers.get_all(name):
                other = value.strip()
                if other:
                    link(cid, other)
        if m.from_tag is not None and m.cseq_num is not None:
            key = (m.from_tag, m.cseq_num, m.method)
            by_tag.setdefault(key, []).append((m.origin.ts_ns, cid))
    for cids in shared.values():
        for other in cids[1:]:
            link(cids[0], other)
    for seen in by_tag.values():
        seen.sort()
        for (t0, a), (t1, b) in zip(seen, seen[1:], strict=False):
            if t1 - t0 <= RELATED_WINDOW_NS:
                link(a, b)
    return edges


def related_messages(
    messages: Sequence[SipMessage],
    corr: Correlation,
    chosen: set[int],
    *,
    whole_call_ids: bool,
) -> tuple[set[int], list[str]]:
    """``chosen`` plus the messages of related legs, and notes on what was assumed.

    ``whole_call_ids`` says the selection was by Call-ID (rule 1 then adds
    nothing); for a dialog selection the linked transactions are added.
    """
    out = set(chosen)
    notes: list[str] = []
    if not whole_call_ids:
        seen: set[int] = set()
        for i in chosen:
            tid = corr.message_transaction[i]
            if tid is None or tid in seen:
                continue
            seen.add(tid)
            t = corr.transaction(tid)
            for other in t.linked if t is not None else ():
                linked = corr.transaction(other)
                if linked is not None:
                    out.update(linked.messages)
    start = {m.call_id for m in (messages[i] for i in out) if m.call_id is not None}
    graph = leg_graph(messages)
    reached = set(start)
    queue = deque(sorted(start))
    stopped = False
    while queue:
        cid = queue.popleft()
        for leg in sorted(graph.get(cid, ())):
            if leg in reached:
                continue
            if len(reached) >= MAX_RELATED_CALL_IDS:
                stopped = True
                break
            reached.add(leg)
            queue.append(leg)
    legs = reached - start
    if legs:
        out.update(i for i, m in enumerate(messages) if m.call_id in legs)
        shown = ", ".join(sorted(legs)[:3]) + (", ..." if len(legs) > 3 else "")
        notes.append(f"related legs added: Call-ID {shown}")
    if stopped:
        notes.append(f"related legs: stopped after {MAX_RELATED_CALL_IDS} Call-IDs")
    return out, notes
