"""Finding renderers: DataFrame, frame ranges, text, JSON dict, JUnit, rule list."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from analyzer.render.findings import (
    FINDING_COLUMNS,
    findings_dict,
    findings_frame,
    frames_text,
    render_junit,
    render_rules_text,
    render_text,
    rules_list,
    severity_counts,
)
from analyzer.rules import RULES, Finding, Severity

F1 = Finding("HDR-8", Severity.ERROR, "RFC 3261 §8.1.1.6", "s8", "no Max-Forwards", (4,), (5,))
F2 = Finding(
    "HDR-15", Severity.WARNING, "RFC 3261 §18.1.1", "s15", 'big <"&">\x0b', (6,), (12, 13, 14)
)


def test_findings_frame() -> None:
    df = findings_frame([F1, F2])
    assert tuple(df.columns) == FINDING_COLUMNS
    assert df["first_frame"].tolist() == [5, 12]
    assert df["frames"].tolist() == [[5], [12, 13, 14]]
    assert df["messages"].tolist() == [[4], [6]]
    assert df["severity"].max() == "error"  # ordered category
    assert len(findings_frame([])) == 0


@pytest.mark.parametrize(
    ("frames", "shown"),
    [((), "-"), ((7,), "7"), ((12, 13, 14), "12-14"), ((3, 7), "3,7"), ((4, 5, 6, 9), "4-6,9")],
)
def test_frames_text(frames: tuple[int, ...], shown: str) -> None:
    assert frames_text(frames) == shown


def test_text_and_counts() -> None:
    text = render_text([F1, F2], ["a.pcap"], 45)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["5", "ERROR", "HDR-8"]
    assert lines[1].split()[:3] == ["12-14", "WARNING", "HDR-15"]
    assert lines[2] == "1 error, 1 warning, 0 info (45 rules; a.pcap)"
    assert severity_counts([F1, F2]) == {"error": 1, "warning": 1, "info": 0}
    assert render_text([], ["a.pcap"], 3) == "0 errors, 0 warnings, 0 info (3 rules; a.pcap)\n"


def test_json_dict() -> None:
    doc = findings_dict([F1, F2], ["a.pcap"], 45, Severity.WARNING)
    assert doc["summary"]["failing"] == 2 and doc["summary"]["fail_on"] == "warning"
    assert doc["findings"][1]["frames"] == [12, 13, 14]


def test_junit_is_well_formed_with_hostile_text() -> None:
    rules = [RULES["HDR-8"], RULES["HDR-15"], RULES["CSEQ-1"]]
    xml = render_junit([F1, F2], rules, ["a&b.pcap"], Severity.WARNING)
    root = ET.fromstring(xml)
    assert root.get("tests") == "3" and root.get("failures") == "2"
    failures = {f.get("type"): f for f in root.iter("failure")}
    assert 'big <"&">' in (failures["warning"].text or "")
    assert "a&b.pcap" in (failures["error"].get("message") or "")


def test_rules_list_and_text() -> None:
    doc = rules_list(RULES.values())
    assert len(doc) == len(RULES)
    assert {"id", "severity", "rfc", "scope", "summary", "explanation"} <= set(doc[0])
    assert render_rules_text(RULES.values()).count("\n") == len(RULES)
    assert render_rules_text([]) == "(no rules)\n"
