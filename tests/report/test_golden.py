"""JSON and Markdown reports of the samples against golden files.

``UPDATE_GOLDEN=1 python -m pytest tests/report`` rewrites the golden files
(``tests/golden/report/``) from the current output; otherwise any difference
fails, with a unified diff.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pytest

from analyzer.analysis import analyze
from analyzer.report import build_report, render_json, render_markdown

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
GOLDEN = ROOT / "tests" / "golden" / "report"
CASES = ("welcome-notice", "basic-call", "tcp-mixed", "subscribe-tcp")

# The number of rules run grows with the catalogue, whether or not a new rule
# finds anything in the samples; the golden files hold a placeholder for it
# (test_rules_run checks the number itself).
RULES_RUN = "RULES_RUN"


def _normalised_json(report: dict[str, Any]) -> str:
    report["summary"]["findings"]["rules_run"] = RULES_RUN
    return render_json(report)


def _normalised_markdown(report: dict[str, Any]) -> str:
    n = report["summary"]["findings"]["rules_run"]
    return render_markdown(report).replace(f"({n} rules run)", f"({RULES_RUN} rules run)")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"golden/{name}",
                "output",
            )
        )
        pytest.fail(f"{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it):\n{diff}")


@pytest.mark.parametrize("sample", CASES)
def test_json_golden(sample: str) -> None:
    report = build_report(analyze(SAMPLES / f"{sample}.pcap"))
    check_golden(f"{sample}.json", _normalised_json(report))


@pytest.mark.parametrize("sample", CASES)
def test_markdown_golden(sample: str) -> None:
    report = build_report(analyze(SAMPLES / f"{sample}.pcap"))
    check_golden(f"{sample}.md", _normalised_markdown(report))


def test_rules_run() -> None:
    from analyzer.rules import select_rules

    report = build_report(analyze(SAMPLES / "basic-call.pcap"))
    assert report["summary"]["findings"]["rules_run"] == len(select_rules())


def test_output_does_not_depend_on_the_directory(tmp_path: Path) -> None:
    copy = tmp_path / "basic-call.pcap"
    copy.write_bytes((SAMPLES / "basic-call.pcap").read_bytes())
    here = render_json(build_report(analyze(SAMPLES / "basic-call.pcap")))
    there = render_json(build_report(analyze(copy)))
    assert here == there
    assert str(tmp_path) not in there and str(SAMPLES) not in here
