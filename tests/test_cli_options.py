"""The option flags are one set across check, report and ladder (one Options object)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from analyzer.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
WELCOME = str(SAMPLES / "welcome-notice.pcap")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_ladder_marks_follow_select() -> None:
    code, text, _ = run("ladder", WELCOME, "--select", "CSEQ-*")
    assert code == 0
    assert "CSEQ-1" in text
    assert "HDR-8" not in text
    code, everything, _ = run("ladder", WELCOME)
    assert "HDR-8" in everything


def test_report_ladders_use_aliases(tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    code, _, _ = run("report", WELCOME, "--alias", "192.0.2.1=alice-ua", "-o", str(page))
    assert code == 0
    assert "alice-ua" in page.read_text(encoding="utf-8")


def test_report_honours_the_message_body_limit(tmp_path: Path) -> None:
    doc = tmp_path / "r.json"
    code, _, _ = run("report", WELCOME, "--message-body-limit", "1", "-o", str(doc))
    assert code == 0
    rules = {f["rule"] for f in json.loads(doc.read_text(encoding="utf-8"))["findings"]}
    assert "MSG-14" in rules
    run("report", WELCOME, "-o", str(doc))
    rules = {f["rule"] for f in json.loads(doc.read_text(encoding="utf-8"))["findings"]}
    assert "MSG-14" not in rules


@pytest.mark.parametrize("command", ["check", "report", "ladder"])
def test_unknown_rule_glob_is_a_usage_error(command: str) -> None:
    code, _, err = run(command, WELCOME, "--select", "NOPE-*")
    assert code == 2
    assert err.strip() == "sip-analyzer: no rule matches 'NOPE-*' (see 'sip-analyzer rules')"


@pytest.mark.parametrize("command", ["report", "ladder"])
def test_bad_alias_is_a_usage_error(command: str) -> None:
    code, _, err = run(command, WELCOME, "--alias", "192.0.2.1")
    assert code == 2
    assert err.startswith("sip-analyzer: ") and err.count("\n") == 1
