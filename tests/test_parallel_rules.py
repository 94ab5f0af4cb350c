"""Validation rules shared with a forked process give the findings of one process."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

import analyzer.parallel as parallel
import analyzer.rules as rules_module
from analyzer.analysis import Analysis, analyze
from analyzer.cli import main
from analyzer.options import Options
from analyzer.parallel import FORKED_SCOPES, run_rules_forked
from analyzer.rules import RULES, run_rules

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CAPTURES = sorted(SAMPLES.glob("*.pcap"))

OPTIONS = [
    Options(),
    Options(select=("SUB-*", "HDR-*", "TXN-*", "RI-*")),
    Options(ignore=("HDR-*", "DLG-3")),
    Options(events_rfc="3265", message_body_limit=100),
    # Only rules of the forked side: one process runs them.
    Options(select=("MSG-1", "SUB-1")),
]


@pytest.fixture(scope="module")
def analyses() -> dict[str, Analysis]:
    return {p.name: analyze(p) for p in CAPTURES}


def _no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_forked_scopes_exist() -> None:
    scopes = {r.scope.value for r in RULES.values()}
    assert FORKED_SCOPES.issubset(scopes)
    assert scopes - FORKED_SCOPES


@pytest.mark.parametrize("options", OPTIONS, ids=range(len(OPTIONS)))
@pytest.mark.parametrize("name", [p.name for p in CAPTURES])
def test_same_findings_as_one_process(
    analyses: dict[str, Analysis], name: str, options: Options
) -> None:
    analysis = analyses[name]
    expected = run_rules(analysis, options)
    assert run_rules_forked(analysis, options) == expected
    assert _no_child_left()


def test_findings_from_both_processes(analyses: dict[str, Analysis]) -> None:
    findings = run_rules_forked(analyses["welcome-notice.pcap"])
    scopes = {RULES[f.rule].scope.value for f in findings}
    assert scopes & FORKED_SCOPES and scopes - FORKED_SCOPES


def test_a_failing_fork_costs_no_finding(
    analyses: dict[str, Analysis], monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = analyses["welcome-notice.pcap"]
    expected = run_rules(analysis)

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("cannot send")

    # Only the forked process pickles: it fails and exits with status 1.
    monkeypatch.setattr(parallel.pickle, "dumps", broken)
    assert run_rules_forked(analysis) == expected
    assert _no_child_left()


def test_an_error_here_stops_the_fork(
    analyses: dict[str, Analysis], monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = analyses["welcome-notice.pcap"]
    original = rules_module.run_rules

    def fails_here(a: Any, options: Options | None = None) -> Any:
        assert options is not None
        if any(RULES[r].scope.value not in FORKED_SCOPES for r in options.select):
            raise RuntimeError("a rule failed")
        return original(a, options)

    monkeypatch.setattr(rules_module, "run_rules", fails_here)
    with pytest.raises(RuntimeError, match="a rule failed"):
        run_rules_forked(analysis)
    assert _no_child_left()


def test_analysis_check_with_two_processes() -> None:
    capture = SAMPLES / "welcome-notice.pcap"
    one = analyze(capture).check()
    analysis = analyze(capture)
    assert analysis.check(processes=2) == one
    assert analysis.check() == one  # kept
    assert analysis.check(select="SUB-*", processes=2) == analyze(capture).check(select="SUB-*")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_check_jobs(fmt: str) -> None:
    outputs = []
    for jobs in ("1", "2"):
        out, err = io.StringIO(), io.StringIO()
        status = main(
            ["check", str(SAMPLES / "welcome-notice.pcap"), "--format", fmt, "--jobs", jobs],
            out=out,
            err=err,
        )
        outputs.append((status, out.getvalue()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 1  # the published flow has errors
