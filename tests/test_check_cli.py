"""``sip-analyzer check`` and ``sip-analyzer rules`` in-process: exit statuses and outputs."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.rules import RULES

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
WELCOME = str(SAMPLES / "welcome-notice.pcap")
CLEAN = str(SAMPLES / "basic-call.pcap")
TCP_MIXED = str(SAMPLES / "tcp-mixed.pcap")
# The rule groups whose findings on the samples these tests count (other
# groups, such as the subscription rules, have findings of their own there).
MINE = ("--select", "HDR-*,CSEQ-*,MSG-*,TXN-*")
GROUPS = {"HDR", "CSEQ", "MSG", "TXN"}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_clean_capture_exits_0() -> None:
    status, out, _ = run("check", CLEAN)
    assert status == 0
    assert out.strip().startswith("0 errors, 0 warnings, 0 info (")


def test_errors_exit_1_with_one_line_per_finding() -> None:
    status, out, _ = run("check", *MINE, WELCOME)
    assert status == 1
    lines = out.splitlines()
    # frame(s)  SEVERITY  RULE  RFC  sentence; by first frame, then rule ID.
    assert lines[0].split()[:3] == ["1-2", "ERROR", "CSEQ-1"]
    assert lines[1].split()[:3] == ["1", "WARNING", "HDR-3b"]
    assert "CSeq 9987 SUBSCRIBE" in out
    assert lines[-1].startswith("6 errors, 3 warnings, 1 info (")
    assert WELCOME in lines[-1]


@pytest.mark.parametrize(
    ("fail_on", "status"),
    [("error", 0), ("warning", 1), ("info", 1)],
)
def test_fail_on_threshold(fail_on: str, status: int) -> None:
    # tcp-mixed.pcap has exactly one finding: an HDR-15 warning.
    assert run("check", *MINE, "--fail-on", fail_on, TCP_MIXED)[0] == status


def test_select_and_ignore_globs() -> None:
    status, out, _ = run("check", "--select", "HDR-3*,CSEQ-*", "--ignore", "hdr-3b", WELCOME)
    assert status == 1
    rules = {line.split()[2] for line in out.splitlines()[:-1]}
    assert rules == {"CSEQ-1"}
    status, out, _ = run(
        "check", *MINE, "--ignore", "CSEQ-*", "--ignore", "HDR-4,HDR-7,HDR-8", WELCOME
    )
    assert status == 0
    assert out.splitlines()[-1].startswith("0 errors, 3 warnings, 1 info")


def test_json_shape() -> None:
    status, out, _ = run("check", *MINE, "--format", "json", WELCOME)
    assert status == 1
    doc = json.loads(out)
    assert set(doc) == {"findings", "summary"}
    first = doc["findings"][0]
    assert set(first) == {"rule", "severity", "rfc", "frames", "messages", "message", "summary"}
    # The response first (what the finding is about), then its request.
    assert (first["rule"], first["frames"], first["messages"]) == ("CSEQ-1", [1, 2], [1, 0])
    summary = doc["summary"]
    assert (summary["error"], summary["warning"], summary["info"]) == (6, 3, 1)
    assert summary["total"] == len(doc["findings"]) == 10
    assert summary["captures"] == [WELCOME]
    assert summary["rules_run"] == sum(1 for r in RULES if r.split("-")[0] in GROUPS)
    assert summary["fail_on"] == "error" and summary["failing"] == 6


def test_junit_parses_and_fails_per_rule() -> None:
    status, out, _ = run("check", *MINE, "--format", "junit", WELCOME)
    assert status == 1
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert {"HDR", "CSEQ", "MSG", "TXN"} <= set(suites)
    assert int(root.get("tests", "0")) == sum(1 for r in RULES if r.split("-")[0] in GROUPS)
    cases = {c.get("name", "").split(":")[0]: c for c in root.iter("testcase")}
    failure = cases["CSEQ-1"].find("failure")
    assert failure is not None and failure.get("type") == "error"
    assert "9987" in (failure.text or "")
    # Warnings are below the default threshold: reported, not failed.
    assert cases["HDR-3b"].find("failure") is None
    out_text = cases["HDR-3b"].find("system-out")
    assert out_text is not None and "frame 1" in (out_text.text or "")
    assert suites["HDR"].get("failures") == "3"  # HDR-4, HDR-7, HDR-8


def test_junit_escapes_captured_text(tmp_path: Path) -> None:
    """Quotes, angle brackets and ampersands in sentences survive as XML."""
    out_file = tmp_path / "report.xml"
    status, out, _ = run(
        "check", "--format", "junit", "-o", str(out_file), str(SAMPLES / "message.pcap")
    )
    assert status == 1 and out == ""
    root = ET.parse(out_file).getroot()
    texts = [f.text or "" for f in root.iter("failure")]
    assert any("'Bob <sip:bob@biloxi.com>'" in t for t in texts)


def test_output_file_and_quiet(tmp_path: Path) -> None:
    target = tmp_path / "findings.txt"
    status, out, err = run("check", "-q", "-o", str(target), str(SAMPLES / "message.pcap"))
    assert status == 1 and out == "" and err == ""
    assert "TXN-3" in target.read_text(encoding="utf-8")
    # Without -q the framing diagnostic of the short body is listed on stderr.
    assert "short of Content-Length" in run("check", str(SAMPLES / "message.pcap"))[2]


def test_message_body_limit() -> None:
    args = ("check", "--select", "MSG-14", str(SAMPLES / "welcome-notice-corrected.pcap"))
    assert run(*args)[0] == 0
    status, out, _ = run(*args, "--message-body-limit", "10")
    assert status == 1 and "35 bytes, over the limit of 10 bytes" in out


def test_events_rfc_is_accepted() -> None:
    assert run("check", "--events-rfc", "3265", CLEAN)[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ("check", "--select", "NOPE-*", CLEAN),
        ("check", "--ignore", "HDR-99", CLEAN),
        ("check", "--message-body-limit", "-5", CLEAN),
        ("check", "--events-rfc", "2543", CLEAN),
        ("check", "--format", "xml", CLEAN),
        ("check",),
    ],
)
def test_bad_usage_exits_2(argv: tuple[str, ...]) -> None:
    status, _, err = run(*argv)
    assert status == 2
    if "NOPE-*" in argv or "HDR-99" in argv:
        assert "no rule matches" in err


def test_unusable_input_exits_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all")
    status, _, err = run("check", str(junk))
    assert status == 2 and "sip-analyzer:" in err
    assert run("check", str(tmp_path / "missing.pcap"))[0] == 2


def test_rules_text_and_json() -> None:
    status, out, _ = run("rules")
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == len(RULES)
    first = lines[0].split()
    assert first[:4] == ["CSEQ-1", "error", "RFC", "3261"]
    status, out, _ = run("rules", "--format", "json")
    doc = json.loads(out)
    assert [d["id"] for d in doc][:3] == ["CSEQ-1", "CSEQ-2", "CSEQ-3"]
    assert {d["id"] for d in doc} == set(RULES)
    assert all(d["summary"] and d["rfc"] and d["severity"] for d in doc)
