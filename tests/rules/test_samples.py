"""The sample captures (samples/README.md): each documented defect of the MESSAGE,
CSeq, header, transaction, dialog and REGISTER rule groups is reported by its
rule at its frame, nothing else of those groups is reported as an error or
warning, and the corrected and clean captures give no error and no warning."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.rules import Finding, Options, Severity, run_rules

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

# The rule groups these tables cover (subscription and reginfo rules have their own).
GROUPS = ("HDR-*", "CSEQ-*", "MSG-*", "TXN-*", "DLG-*", "REG-*")

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: note (info)

# (frame, rule, severity) per capture, from the defect tables of samples/README.md.
# Where the README names several rules for one defect, the one of these groups
# that owns it is listed (HDR-8 owns a missing Max-Forwards; TXN-3 reports the
# changed branch that TXN-6/TXN-10 would repeat; HDR-17 is the product rule for
# the U+00A0 defects the README files under G-9).
DEFECTS: dict[str, list[tuple[int, str, Severity]]] = {
    "welcome-notice.pcap": [
        (1, "HDR-3b", W),
        (2, "CSEQ-1", E),
        (2, "HDR-3b", W),
        (3, "HDR-4", E),
        (5, "HDR-8", E),
        (5, "HDR-3b", W),
        (7, "HDR-7", E),
        (7, "HDR-4", E),
        (9, "HDR-4", E),
        (9, "MSG-1b", N),
    ],
    "welcome-notice-nbsp.pcap": [
        (1, "HDR-7", E),
        (1, "HDR-3b", W),
        (2, "CSEQ-1", E),
        (2, "HDR-3b", W),
        (3, "HDR-4", E),
        (5, "HDR-8", E),
        (5, "HDR-3b", W),
        (7, "HDR-7", E),
        (7, "HDR-17", E),
        (7, "HDR-4", E),
        (8, "HDR-17", E),
        (9, "HDR-7", E),
        (9, "HDR-17", E),
        (9, "HDR-4", E),
        (9, "MSG-1b", N),
        (10, "HDR-17", E),
    ],
    "welcome-notice-wiki.pcap": [
        (1, "HDR-3b", W),
        (2, "CSEQ-1", E),
        (2, "HDR-3b", W),
        (3, "HDR-10", E),
        (3, "DLG-3", E),  # no From tag, From URI sip:joe@example
        (3, "DLG-8", W),  # Request-URI app.example.com, Contact app.excample.com (frame 1)
        (3, "HDR-4", E),
        (3, "HDR-6", E),
        (4, "CSEQ-2", E),
        (4, "TXN-2", E),  # the branch and sent-by of frame 3, another CSeq
        (4, "REG-8", W),  # REGISTER with a To tag
        (4, "HDR-11a", E),
        (4, "HDR-3b", W),
        (4, "HDR-6", E),
        (5, "HDR-4", E),
        (5, "MSG-1b", N),
    ],
    "message.pcap": [
        (4, "HDR-7", E),
        (4, "HDR-4", E),
        (4, "TXN-9", N),  # the MESSAGE is left without a response it can match
        (5, "TXN-3", E),
        (5, "TXN-7", E),
    ],
    "message-nbsp.pcap": [
        (4, "HDR-7", E),
        (4, "HDR-4", E),
        (4, "TXN-9", N),
        (5, "TXN-3", E),
        (5, "TXN-7", E),
    ],
    "subscribe-tcp.pcap": [
        (4, "HDR-3", E),
        (4, "HDR-11c", W),
        (4, "HDR-17", E),
        (5, "HDR-3", E),
        (5, "HDR-17", E),
        (5, "HDR-11c", W),
        (10, "HDR-12", E),
        (10, "CSEQ-2", E),
        (10, "TXN-1", E),
        (10, "TXN-5", N),  # matched by the RFC 2543 rule for want of the cookie
        (10, "HDR-10", E),
        (10, "HDR-17", E),
        (10, "HDR-11b", E),
        (10, "HDR-11c", W),
        (10, "HDR-6", E),
        (10, "HDR-4", E),
    ],
}

CLEAN = [
    "welcome-notice-corrected.pcap",
    "message-corrected.pcap",
    "subscribe-tcp-corrected.pcap",
    "basic-call.pcap",
]


@cache
def _findings(name: str) -> tuple[Finding, ...]:
    return tuple(run_rules(analyze(SAMPLES / name), Options(select=GROUPS)))


def _cases() -> list[tuple[str, int, str, Severity]]:
    return [(name, *d) for name, defects in DEFECTS.items() for d in defects]


@pytest.mark.parametrize(("capture", "frame", "rid", "severity"), _cases())
def test_defect_is_reported(capture: str, frame: int, rid: str, severity: Severity) -> None:
    hits = [f for f in _findings(capture) if f.rule == rid and frame in f.frames]
    assert hits, f"{capture}: no {rid} at frame {frame}"
    assert {f.severity for f in hits} == {severity}, [f.message for f in hits]


@pytest.mark.parametrize("capture", sorted(DEFECTS))
def test_nothing_else_is_reported(capture: str) -> None:
    expected = {(frame, rid) for frame, rid, _ in DEFECTS[capture]}
    for f in _findings(capture):
        if f.severity is Severity.INFO:
            continue
        assert any((fr, f.rule) in expected for fr in f.frames), (
            f"unexpected {f.rule} at {f.frames}: {f.message}"
        )


@pytest.mark.parametrize("capture", CLEAN)
def test_corrected_captures_are_clean(capture: str) -> None:
    bad = [f for f in _findings(capture) if f.severity >= Severity.WARNING]
    assert bad == [], [(f.rule, f.frames, f.message) for f in bad]


def test_welcome_notice_corrected_keeps_only_the_udp_note() -> None:
    """RFC 3680 sends the MESSAGE over UDP: only MSG-1b, as info."""
    assert [(f.rule, f.frames, f.severity) for f in _findings("welcome-notice-corrected.pcap")] == [
        ("MSG-1b", (9,), Severity.INFO)
    ]


def test_tcp_mixed_reports_only_the_large_udp_notify() -> None:
    """The deliberate 3597-byte NOTIFY over UDP, reassembled at frame 14."""
    found = _findings("tcp-mixed.pcap")
    assert [(f.rule, f.severity) for f in found] == [("HDR-15", Severity.WARNING)]
    assert 14 in found[0].frames and "3597 bytes" in found[0].message
