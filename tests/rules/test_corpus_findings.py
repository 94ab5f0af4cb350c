"""Errors and warnings on the real captures of ``../shared/corpus``, pinned per rule.

Every error and warning the rules report on a corpus capture was read against
the messages and found to be something the capture really does wrong; the
table below holds, per capture, the number of error and warning findings of
each rule, each with what the capture does.  A capture that is not listed
must give no error and no warning.  The counts are exact, so a new false
positive, or a true positive that disappears, fails the test (fix the rule,
or change the table with the reason).  Info findings are not pinned.

Each capture is analysed once per test session.  Skipped without the corpus.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from analyzer.analysis import analyze
from analyzer.rules import Severity
from tests.corpus import CorpusEntry, corpus_entries, require_corpus

ENTRIES = corpus_entries()

Key = tuple[str, str]  # (rule, severity)

EXPECTED: dict[str, dict[Key, int]] = {
    "irontec_aaa.pcap": {
        ("HDR-8", "error"): 7,  # ACKs without Max-Forwards (frames 253, 327, 349, 551, ...)
    },
    "irontec_ipip.pcap": {
        ("HDR-8", "error"): 1,  # BYE without Max-Forwards (frame 4)
    },
    "irontec_ipv6frag.pcap": {
        ("CSEQ-5", "warning"): 1,  # the 200 with two To tags (26-27) gets no ACK for its tag
        ("CSEQ-7", "error"): 1,  # BYE CSeq 2 (frame 31) after UPDATE CSeq 3 (frame 12)
        ("HDR-14", "error"): 1,  # 200 To has tag=...0271847;tag=...0171847 (frame 26)
        ("HDR-15", "warning"): 2,  # 1691/1871-byte INVITEs over UDP (frames 1-2, 4-5)
        ("HDR-3b", "warning"): 2,  # 200s over UDP, no Content-Length (frames 10, 20)
    },
    "sipcapture_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap": {
        ("HDR-3b", "warning"): 4,  # 100 Trying over UDP, no Content-Length (frames 25, 165, ...)
    },
    "sipcapture_erspan_sip_ipv4_udp.pcapng": {
        ("HDR-1", "error"): 3,  # NOTIFYs with a To line garbled on the wire (22, 40, 91)
        ("HDR-11a", "error"): 6,  # those garbled To lines, and the 481s copying them
        ("HDR-2", "error"): 3,  # the 481s to them have no readable To (frames 23, 41, 93)
        ("HDR-8", "error"): 9,  # OmniPCX NOTIFYs without Max-Forwards (frames 5, 9, ...)
        ("SUB-18", "error"): 8,  # 202 to SUBSCRIBE, forbidden by RFC 6665 (frames 3, 4, ...)
        ("SUB-8", "error"): 11,  # Subscription-State: active, no expires (frames 5, 6, ...)
        ("TXN-10", "error"): 3,  # 200s to NOTIFY: Via port 5860, request had 5260 (7, 19, 43)
    },
    "sipcapture_ipip0.pcap": {
        ("HDR-15", "warning"): 1,  # 1464-byte INVITE over UDP (frame 1)
        ("HDR-3b", "warning"): 1,  # 403 over UDP without Content-Length (frame 2)
    },
    "goffinet_branch-scenario-sipp.pcapng": {
        ("DLG-8", "warning"): 1136,  # SIPp BYE to sip:ua2@CA.cym.com, not the Contact (6, ...)
        ("HDR-8", "error"): 1334,  # every SIPp REGISTER lacks Max-Forwards (1, 8, 13, ...)
        ("REG-5", "error"): 2668,  # each 200 lists only its own Contact, no expires (2 each)
    },
    "goffinet_private-test-sip.pcapng": {
        ("HDR-15", "warning"): 5,  # 1379-1391-byte INVITEs over UDP (frames 240, 245, ...)
        ("TXN-7", "error"): 12,  # 501s to SUBSCRIBE without To tag (frames 190, 192, ...)
    },
    "goffinet_sip-2phones-B2BUA-Asterisk.pcapng": {
        ("SUB-17", "warning"): 3,  # Asterisk 489 without Allow-Events (16, 48, 416)
    },
    "goffinet_sip-direct.pcapng": {
        ("DLG-6", "warning"): 1,  # Linphone 180 with a To tag and no Contact (frame 3)
        ("HDR-3b", "warning"): 5,  # UDP messages without Content-Length (frames 2, 3, ...)
    },
    "goffinet_sip-flow-private.pcapng": {
        ("TXN-7", "error"): 6,  # 501s to SUBSCRIBE without To tag (frames 10, 12, ...)
    },
    "goffinet_sip-phone-to-phone.pcapng": {
        ("HDR-3b", "warning"): 2,  # ACK and BYE over UDP, no Content-Length (20, 21)
    },
    "goffinet_sip-register-publish-subscribe-489-401.pcapng": {
        ("SUB-17", "warning"): 8,  # 489 without Allow-Events (frames 16, 24, 30, ...)
    },
    "goffinet_test_voip.pcap.pcapng": {
        ("HDR-3b", "warning"): 1,  # 200 over UDP without Content-Length (frame 5175)
        ("HDR-8", "error"): 1,  # keep-alive OPTIONS without Max-Forwards (frame 3337)
        ("TXN-1", "error"): 1,  # that OPTIONS has Via branch '0' (frame 3337)
    },
    "goffinet_uac-uas-scenario-sipp.pcapng": {
        ("DLG-8", "warning"): 769,  # SIPp ACK to sip:service@..., not the Contact (7, ...)
    },
    "goffinet_voip-extension.pcap": {
        ("DLG-6", "warning"): 1,  # 180 with a To tag and no Contact (frame 584)
        ("HDR-9", "error"): 3,  # proxy requests whose top Via has no branch (551, ...)
        ("SUB-8", "error"): 2,  # Subscription-State: active, no expires (593, 597)
        ("TXN-2", "error"): 1,  # proxy ACKs the 200 with the INVITE's branch (583, 605)
    },
    "goffinet_voip-extension2downata.pcap": {
        ("HDR-9", "error"): 3,  # top Via without branch (frames 403, 410, 412)
        ("SUB-16", "error"): 2,  # REGISTERs carrying Event: registration (410, 412)
    },
    "goffinet_voip1b.pcapng": {
        ("HDR-8", "error"): 1,  # ACK without Max-Forwards (frame 3)
    },
    "oisf_sip-body-large.pcap": {
        ("DLG-6", "error"): 1,  # test INVITE without Contact (frames 5-9)
        ("HDR-8", "error"): 1,  # the same INVITE without Max-Forwards
    },
    "zeek_invalid-content-length.pcap": {
        ("DLG-6", "error"): 2,  # test INVITE and its 200 without Contact (1, 2)
        ("HDR-4", "error"): 2,  # Content-Length 'bad' and 'xyz' (frames 1, 2)
        ("HDR-8", "error"): 1,  # the INVITE has no Max-Forwards (frame 1)
    },
    "ntop_sip.pcap": {
        ("HDR-8", "error"): 7,  # ACKs without Max-Forwards (frames 31, 50, 54, 78, ...)
    },
    "ajbanjara_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap": {
        ("HDR-3b", "warning"): 4,  # 100 Trying over UDP, no Content-Length (frames 25, 165, ...)
    },
    "ajbanjara_MagicJack-_short_call.pcap": {
        ("TXN-7", "error"): 1,  # 401 to the INVITE without To tag (frame 48)
    },
    "ajbanjara_MagicJack_pwr_up.pcap": {
        ("TXN-7", "error"): 2,  # 401s to REGISTER without To tag (frames 11, 27)
    },
    "ajbanjara_filenameGRE199---fax-iz-InLife-G711---OK___.cap": {
        ("HDR-3b", "warning"): 7,  # UDP messages without Content-Length (17, 21, ...)
        ("REG-5", "error"): 1,  # 200 to REGISTER: Expires header, no Contact expires (70)
    },
    "ajbanjara_rtp_conversacion.pcap": {
        ("HDR-8", "error"): 1,  # ACK without Max-Forwards (frame 9)
    },
    "ntop_fuzz-2006-06-26-2594.pcap": {  # a fuzzed copy of irontec_aaa.pcap
        ("CSEQ-2", "error"): 2,  # fuzzed CSeq methods (frames 107, 227)
        ("DLG-6", "error"): 2,  # INVITEs with Contact fuzzed away or binary (578, 617)
        ("HDR-1", "error"): 19,  # requests with a fuzzed mandatory header (19, ...)
        ("HDR-10", "error"): 1,  # fuzzed From tag parameter (frame 430)
        ("HDR-10", "warning"): 1,  # fuzzed into no From tag and no branch (frame 622)
        ("HDR-11a", "error"): 29,  # header lines fuzzed into invalid names (19, 20, ...)
        ("HDR-11b", "error"): 19,  # header names fuzzed one letter off (20, 31, ...)
        ("HDR-12", "error"): 1,  # fuzzed method name (frame 107)
        ("HDR-2", "error"): 17,  # responses with a fuzzed mandatory header (20, ...)
        ("HDR-3b", "warning"): 28,  # Content-Length fuzzed away, UDP (19, 107, ...)
        ("HDR-4", "error"): 2,  # fuzzed Content-Length values (frames 539, 621)
        ("HDR-4b", "error"): 1,  # Content-Length fuzzed above the datagram (617)
        ("HDR-4c", "warning"): 1,  # Content-Length fuzzed below the body (348)
        ("HDR-5", "error"): 3,  # Content-Type fuzzed away (frames 155, 182, 252)
        ("HDR-6", "error"): 28,  # line ends / empty line fuzzed (19, 144, ...)
        ("HDR-7", "error"): 2,  # fuzzed start lines (frames 108, 348)
        ("HDR-8", "error"): 15,  # Max-Forwards fuzzed away or out of range (19, ...)
        ("HDR-9", "error"): 2,  # fuzzed top Via (frames 227, 349)
        ("TXN-1", "error"): 1,  # fuzzed branch cookie (frame 578)
        ("TXN-2", "error"): 1,  # CANCEL copies with fuzzed Call-IDs, one branch (257)
        ("TXN-7", "error"): 2,  # responses whose To tag was fuzzed away (20, 32)
    },
    "ajbanjara_wireuploaded.pcap": {
        ("DLG-8", "warning"): 1,  # PRACK to the INVITE's R-URI, not the Contact (455)
        ("HDR-3b", "warning"): 3,  # UDP responses without Content-Length (360, ...)
        ("SUB-11", "warning"): 4,  # refreshes accepted, no NOTIFY in 32 s (13, 34, ...)
        ("SUB-16", "error"): 17,  # 200s to SUBSCRIBE carry Event: dialog;sla (868, ...)
        ("SUB-8", "error"): 19,  # Subscription-State: active, no expires (215, ...)
    },
    "arkime_gtp-iphone.pcap": {
        ("MSG-4", "error"): 1,  # 202 to MESSAGE with a 3GPP SMS body (frame 91)
        ("REG-1", "error"): 6,  # 3 IMS REGISTERs: user@ R-URI and tel: To (12, ...)
        ("TXN-2", "error"): 1,  # iPhone ACK for the 200 has the INVITE's branch (52)
        ("TXN-7", "error"): 1,  # 401 to REGISTER without To tag (frame 16)
    },
}


@cache
def _counts(name: str) -> Counter[Key]:
    """Error and warning findings of every rule on one capture, counted per (rule, severity)."""
    require_corpus()
    entry = next(e for e in ENTRIES if e.name == name)
    found = analyze(entry.path).check()
    return Counter((f.rule, f.severity.value) for f in found if f.severity is not Severity.INFO)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_errors_and_warnings_are_the_reviewed_ones(entry: CorpusEntry) -> None:
    got = dict(_counts(entry.name))
    want = EXPECTED.get(entry.name, {})
    assert got == want, (
        f"new: {sorted(set(got.items()) - set(want.items()))}\n"
        f"gone: {sorted(set(want.items()) - set(got.items()))}"
    )


def test_table_names_real_captures() -> None:
    require_corpus()
    assert set(EXPECTED) <= {e.name for e in ENTRIES}
