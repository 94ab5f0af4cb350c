"""The sample captures (samples/README.md) against the SUBSCRIBE/NOTIFY and reginfo rules.

Each defect of the SUB and RI families in the README's defect tables is
reported by its rule, with its severity, at its frame (the frame of the
message the finding is about first); nothing else of these families is
reported as an error or warning there; and the corrected and clean captures
give no error and no warning from these families.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from analyzer.analysis import Analysis, analyze
from analyzer.rules import Finding, Options, Severity, run_rules

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

GROUPS = ("SUB-*", "RI-*")

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: note (info)

# (frame, rule, severity) per capture, from the defect tables of samples/README.md.
DEFECTS: dict[str, list[tuple[int, str, Severity]]] = {
    "welcome-notice.pcap": [
        (1, "SUB-3", W),  # no Expires
        (1, "RI-14", N),  # the reg default of 3761 s applies
        (3, "SUB-6", E),  # no Subscription-State (RFC 3680 EID 3494)
        (7, "SUB-6", E),
        (7, "RI-1", E),  # body starts with CRLF: XML declaration not at the start
        (7, "RI-17", N),  # <uri>sip:joe@pc34.example.com </uri>
    ],
    "welcome-notice-nbsp.pcap": [
        (1, "SUB-3", W),
        (1, "RI-14", N),
        (3, "SUB-6", E),
        (3, "RI-1", E),  # U+00A0 indentation and attribute separator
        (7, "SUB-6", E),
        (7, "RI-1", E),
        (7, "RI-17", E),  # U+00A0 in the URI is not collapsed
    ],
    "welcome-notice-wiki.pcap": [
        (1, "SUB-3", W),
        (3, "SUB-26", E),  # From: sip:joe@example (no tag)
        (3, "SUB-6", E),
        (3, "RI-1", E),  # xmlns="um:..." (XML glued to the headers)
        (4, "SUB-16", E),  # Event: reg in a REGISTER
        (4, "RI-1", E),  # xmlns="um:..." again
        (4, "SUB-6", E),  # taken for the NOTIFY its CSeq says it is
    ],
    "subscribe-tcp.pcap": [
        (10, "SUB-26", E),  # From ...;tab=xyzygg: no tag
        (10, "SUB-24", E),  # Contatct: so no Contact
        (10, "SUB-8", E),  # Subscription-State: active without expires
    ],
}

CLEAN = [
    "welcome-notice-corrected.pcap",
    "subscribe-tcp-corrected.pcap",
    "basic-call.pcap",
    "tcp-mixed.pcap",
]


@cache
def _analysis(name: str) -> Analysis:
    return analyze(SAMPLES / name)


@cache
def _findings(name: str, events_rfc: str = "6665") -> tuple[Finding, ...]:
    options = Options(select=GROUPS, events_rfc=events_rfc)
    return tuple(run_rules(_analysis(name), options))


def _frame(name: str, f: Finding) -> int:
    """The frame of the message a finding is first about."""
    return _analysis(name).sip_messages[f.messages[0]].origin.frame


def _cases() -> list[tuple[str, int, str, Severity]]:
    return [(name, *d) for name, defects in DEFECTS.items() for d in defects]


@pytest.mark.parametrize(("capture", "frame", "rid", "severity"), _cases())
def test_defect_is_reported(capture: str, frame: int, rid: str, severity: Severity) -> None:
    hits = [f for f in _findings(capture) if f.rule == rid and _frame(capture, f) == frame]
    assert hits, f"{capture}: no {rid} at frame {frame}"
    assert {f.severity for f in hits} == {severity}, [f.message for f in hits]


@pytest.mark.parametrize("capture", sorted(DEFECTS))
def test_nothing_else_is_reported(capture: str) -> None:
    expected = {(frame, rid) for frame, rid, _ in DEFECTS[capture]}
    for f in _findings(capture):
        if f.severity is not Severity.INFO:
            assert (_frame(capture, f), f.rule) in expected, (
                f"unexpected {f.rule} at {f.frames}: {f.message}"
            )


@pytest.mark.parametrize("capture", CLEAN)
def test_corrected_and_clean_captures(capture: str) -> None:
    bad = [f for f in _findings(capture) if f.severity >= Severity.WARNING]
    assert bad == [], [(f.rule, f.frames, f.message) for f in bad]


def test_corrected_welcome_notice_says_nothing() -> None:
    """Expires: 3761 made explicit, Subscription-State added: not even a note."""
    assert _findings("welcome-notice-corrected.pcap") == ()


def test_legacy_mode_downgrades_missing_expires() -> None:
    """RFC 3265 §3.2.2 had SHOULD for expires in Subscription-State (catalogue SUB-8)."""
    (f,) = [f for f in _findings("subscribe-tcp.pcap", "3265") if f.rule == "SUB-8"]
    assert f.severity is Severity.WARNING and f.frames == (10,)
