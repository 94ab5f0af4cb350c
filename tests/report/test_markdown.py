"""render_markdown(): escaping of capture text and the shape of the tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.report import build_report, render_markdown
from analyzer.report import markdown as mdmod
from analyzer.report.markdown import clock, duration, md
from tests.report.hostile import write_hostile_pcap

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", r"a\|b"),
        ("`code`", r"\`code\`"),
        ("<script>alert(1)</script>", r"\<script\>alert(1)\</script\>"),
        ("1*DIGIT_x", r"1\*DIGIT\_x"),
        ("[link](x)", r"\[link\](x)"),
        ("a & b &lt;", "a &amp; b &amp;lt;"),
        ("back\\slash", "back\\\\slash"),
        ("line\r\nbreak", r"line\x0d\x0abreak"),
        (None, ""),
        (3600, "3600"),
    ],
)
def test_md_escapes(raw: object, escaped: str) -> None:
    assert md(raw) == escaped


def test_times_and_durations() -> None:
    assert clock("2024-03-01T09:00:04.210000000Z") == "09:00:04.210"
    assert clock(None) == ""
    assert [duration(x) for x in (None, 0.064, 4.21, 27.66, 133.0)] == [
        "",
        "64 ms",
        "4.210 s",
        "27.660 s",
        "2 min 13.0 s",
    ]


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def _cells(row: str) -> int:
    # A cell separator is a '|' not preceded by a backslash.
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def test_hostile_capture_stays_text(tmp_path: Path) -> None:
    text = render_markdown(build_report(analyze(write_hostile_pcap(tmp_path))))
    # No '<' that Markdown would read as the start of a tag: each one is escaped.
    assert not re.search(r"(?<!\\)<(?!br>)", text)
    assert r"\<script\>alert(1)\</script\>" in text
    assert r"\<b\>x\|\`y\`\</b\>@evil.example" in text
    # Every row of a table has as many cells as its header: no '|' from the
    # capture split a cell.
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("|---"):
            width = _cells(lines[k - 1])
            j = k + 1
            while j < len(lines) and lines[j].startswith("|"):
                assert _cells(lines[j]) == width, lines[j]
                j += 1


def test_sections_follow_the_capture() -> None:
    basic = render_markdown(build_report(analyze(SAMPLES / "basic-call.pcap")))
    assert basic.startswith("# SIP report: basic-call.pcap\n")
    assert "## Calls" in basic and "## Dialogs" in basic
    assert "## Subscriptions" not in basic and "## Registrations" not in basic
    assert "No findings." in basic
    assert "## Limits" not in basic
    welcome = render_markdown(build_report(analyze(SAMPLES / "welcome-notice.pcap")))
    assert "## Subscriptions" in welcome and "## Registrations" in welcome
    assert "### ERROR HDR-4: Content-Length is not a number" in welcome


def test_markdown_limits_are_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdmod, "MAX_MARKDOWN_OCCURRENCES", 1)
    text = render_markdown(build_report(analyze(SAMPLES / "welcome-notice.pcap")))
    assert "*1 of 3 occurrences listed here" in text
