"""``sip-analyzer report`` in-process: formats, outputs, options and bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.progress import ProgressLine

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
WELCOME = str(SAMPLES / "welcome-notice.pcap")
BASIC = str(SAMPLES / "basic-call.pcap")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_markdown_to_stdout_without_output() -> None:
    status, out, err = run("report", BASIC)
    assert status == 0
    assert out.startswith("# SIP report: basic-call.pcap\n")
    assert err == ""  # not a terminal: no progress line


def test_json_by_extension(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    status, out, _ = run("report", WELCOME, "-o", str(target))
    assert status == 0 and out == ""
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1
    assert doc["captures"][0]["name"] == "welcome-notice.pcap"


def test_markdown_by_extension(tmp_path: Path) -> None:
    target = tmp_path / "r.md"
    assert run("report", WELCOME, "-o", str(target))[0] == 0
    assert "## Findings" in target.read_text(encoding="utf-8")


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    assert run("report", BASIC, "--format", "json", "-o", str(target))[0] == 0
    assert json.loads(target.read_text(encoding="utf-8"))["summary"]["sip_messages"] == 7
    status, out, _ = run("report", BASIC, "--format", "json")
    assert status == 0 and json.loads(out)["schema_version"] == 1


def test_unknown_extension_is_a_usage_error(tmp_path: Path) -> None:
    status, out, err = run("report", BASIC, "-o", str(tmp_path / "report.txt"))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "--format" in err
    assert not (tmp_path / "report.txt").exists()


def test_select_ignore_and_events_rfc(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    assert (
        run("report", WELCOME, "--select", "HDR-*", "--ignore", "HDR-4", "-o", str(target))[0] == 0
    )
    rules = {g["rule"] for g in json.loads(target.read_text())["findings"]}
    assert rules and all(r.startswith("HDR-") for r in rules) and "HDR-4" not in rules
    status, _, err = run("report", WELCOME, "--select", "NOPE-*")
    assert status == 2 and "no rule matches 'NOPE-*'" in err


def test_several_captures(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    assert run("report", WELCOME, BASIC, "-o", str(target))[0] == 0
    doc = json.loads(target.read_text())
    assert [c["name"] for c in doc["captures"]] == ["welcome-notice.pcap", "basic-call.pcap"]


def test_not_a_capture_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pcap"
    bad.write_text("not a capture at all\n")
    status, out, err = run("report", str(bad), "-o", str(tmp_path / "r.html"))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sip-analyzer: ") and "notes.pcap" in err
    status, _, err = run("report", str(tmp_path / "missing.pcap"))
    assert status == 2 and "no such file" in err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    with ProgressLine(quiet) as p:
        p("reading", 50, 100)
        p.phase("rendering")
    assert quiet.getvalue() == ""

    tty = FakeTerminal()
    with ProgressLine(tty) as p:
        p("reading", 45, 100)
        p("reading", 46, 100)  # within the redraw interval: skipped
        p("reading", 100, 100)  # the end of a phase is always shown
        p.phase("checking")
    text = tty.getvalue()
    assert "\rreading capture\u2026 45%" in text
    assert "46%" not in text and "100%" in text
    assert "\rchecking rules\u2026" in text
    # The line is wiped at the end: the last write is spaces between two \r.
    last = text.rsplit("\r", 2)
    assert last[-1] == "" and last[-2].strip() == ""


def test_progress_shorter_text_clears_the_longer_one() -> None:
    tty = FakeTerminal()
    p = ProgressLine(tty)
    p("reading", 1, 3)
    p("x", 0, None)
    assert tty.getvalue().endswith("\rx\u2026" + " " * (len("reading capture\u2026 33%") - 2))
    p.close()


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_report_cli_is_deterministic(fmt: str) -> None:
    assert run("report", WELCOME, "--format", fmt)[1] == run("report", WELCOME, "--format", fmt)[1]
