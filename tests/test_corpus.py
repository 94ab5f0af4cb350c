"""Real captures from ``../shared/corpus`` against tshark's view of them.

For every capture, the SIP messages the analyzer finds agree with tshark's
table on frame, method or status, Call-ID and CSeq, except for the differences
listed in :data:`KNOWN_DIFFERENCES`, each with the reason the analyzer's
answer is the right one (or the accepted limitation).  The list is exact: a
difference that disappears must be removed from it too.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from analyzer import SipRequest, read_messages
from tests.corpus import CorpusEntry, MessageKey, corpus_entries, require_corpus, tshark_messages

ENTRIES = corpus_entries()

#: capture name -> (frames tshark has that we do not, frames we have that tshark
#: does not, why).  Frames refer to the completing frame of a message.
KNOWN_DIFFERENCES: dict[str, tuple[frozenset[int], frozenset[int], str]] = {
    "goffinet_private-test-sip.pcapng": (
        frozenset({2, 150, 152}),
        frozenset(),
        "ICMP port-unreachable errors quoting the first bytes of a SIP request: tshark "
        "dissects the quoted datagram, but it is not a message on the wire (its sender "
        "already appears as the original frame), so the analyzer does not count it",
    ),
    "ntop_http_on_sip_port.pcap": (
        frozenset({3, 4}),
        frozenset(),
        "HTTP over TCP port 5060: tshark labels the frames SIP 'Continuation' by port, "
        "with no SIP fields; they carry no SIP start line, so the analyzer reports the "
        "flow as not SIP instead of inventing messages",
    ),
    "ntop_fuzz-2006-06-26-2594.pcap": (
        frozenset({121, 155, 182, 247, 253, 266, 327, 527, 550, 602, 603}),
        frozenset({108, 121, 155, 182, 266, 327, 348, 527, 550}),
        "a fuzzed capture (tshark flags 28 of its SIP frames malformed). Header lines with a "
        "NUL byte: tshark cuts the value at the NUL as a C string, the analyzer keeps the "
        "message and records the whole line as a malformed-header defect (121, 155, 182, "
        "550: values differ; 108, 348: tshark gives up on the status line, the analyzer "
        "keeps the message with a start-line-control defect). 247: the start line ends in "
        "a bare CR, so the bytes are not a SIP message. 253, 603: the UDP length field "
        "exceeds the IP payload; the datagram is reported as undecodable. 602: line 2 is "
        "binary, not a header. 266, 327, 527: a quote, a comma or U+FFFD inside Call-ID or "
        "CSeq values, which tshark's comma-joined table splits differently",
    ),
}


def _shown(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def our_messages(entry: CorpusEntry) -> Counter[MessageKey]:
    per_frame: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for msg in read_messages(entry.path):
        what = msg.method if type(msg) is SipRequest else str(msg.status)
        # tshark shows header values as written (invalid UTF-8 as U+FFFD), not
        # as parsed, so compare like with like; the parsed fields have their own tests.
        cseq = " ".join((msg.headers.get("cseq") or "").split())
        per_frame[msg.origin.frame].append((_shown(what), _shown(msg.call_id or ""), _shown(cseq)))
    out: Counter[MessageKey] = Counter()
    for frame, items in per_frame.items():
        whats = sorted(i[0] for i in items)
        cids = sorted(i[1] for i in items)
        cseqs = sorted(i[2] for i in items)
        for what, cid, cseq in zip(whats, cids, cseqs, strict=True):
            out[(frame, what, cid, cseq)] += 1
    return out


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_messages_agree_with_tshark(entry: CorpusEntry) -> None:
    require_corpus()
    ours = our_messages(entry)
    theirs = tshark_messages(entry.name)
    missing = frozenset(k[0] for k in (theirs - ours))
    extra = frozenset(k[0] for k in (ours - theirs))
    want_missing, want_extra, _why = KNOWN_DIFFERENCES.get(
        entry.name, (frozenset(), frozenset(), "")
    )
    assert (sorted(missing), sorted(extra)) == (sorted(want_missing), sorted(want_extra)), (
        f"tshark only: {sorted(theirs - ours)[:10]}\nanalyzer only: {sorted(ours - theirs)[:10]}"
    )


def test_known_differences_name_real_captures() -> None:
    require_corpus()
    names = {e.name for e in ENTRIES}
    assert set(KNOWN_DIFFERENCES) <= names
