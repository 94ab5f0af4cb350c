"""Findings over several captures name the file their frame numbers belong to."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import analyzer
from analyzer.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# Two captures whose frame numbers overlap (both start at frame 1), one with
# findings of every severity; the merged analysis interleaves them by time.
FIRST = str(SAMPLES / "welcome-notice.pcap")
SECOND = str(SAMPLES / "message.pcap")


def test_each_finding_names_its_file_and_files_stay_in_order() -> None:
    a = analyzer.analyze([FIRST, SECOND])
    assert a.message_sources is not None
    located = [a.finding_capture(f) for f in a.finding_records]
    assert set(located) == {FIRST, SECOND}
    # File by file, frame order within each file.
    assert located == sorted(located, key=[FIRST, SECOND].index)
    for f, where in zip(a.finding_records, located, strict=True):
        files = {a.sources[a.message_sources[i]] for i in f.messages}
        assert files == {where}
        expected = sorted({fr for i in f.messages for fr in a.sip_messages[i].origin.frames})
        assert list(f.frames) == expected
    df = a.findings
    assert list(df.columns[:2]) == ["capture", "rule"]
    assert df["capture"].tolist() == located
    alone = analyzer.analyze(SECOND)
    assert alone.finding_capture(alone.finding_records[0]) == ""
    assert "capture" not in alone.findings.columns
    # The rules' own findings for the second file, with its own frame numbers.
    second = [
        (f.rule, f.frames) for f, w in zip(a.finding_records, located, strict=True) if w == SECOND
    ]
    assert sorted(second) == sorted((f.rule, f.frames) for f in alone.finding_records)


def run(*argv: str) -> str:
    out = io.StringIO()
    main(list(argv), out, io.StringIO())
    return out.getvalue()


def test_check_outputs_name_the_file() -> None:
    text = run("check", FIRST, SECOND)
    lines = [line.strip() for line in text.splitlines()[:-1]]
    assert lines and all(line.startswith((FIRST + ":", SECOND + ":")) for line in lines)
    doc = json.loads(run("check", FIRST, SECOND, "--format", "json"))
    assert {f["capture"] for f in doc["findings"]} == {FIRST, SECOND}
    single = json.loads(run("check", SECOND, "--format", "json"))
    assert all("capture" not in f for f in single["findings"])
    junit = ET.fromstring(run("check", FIRST, SECOND, "--format", "junit"))
    texts = [el.text or "" for el in junit.iter() if el.tag in ("failure", "system-out")]
    assert texts and all(line.startswith((FIRST, SECOND)) for t in texts for line in t.splitlines())
