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


def _proc_files(status: str | None, meminfo: str | None) -> Any:
    """An ``open`` that serves /proc/self/status and /proc/meminfo from strings."""
    files = {"/proc/self/status": status, "/proc/meminfo": meminfo}

    def fake_open(path: str, *args: Any, **kwargs: Any) -> io.StringIO:
        text = files.get(path)
        if text is None:
            raise FileNotFoundError(path)
        return io.StringIO(text)

    return fake_open


@pytest.mark.parametrize(
    ("status", "meminfo", "room"),
    [
        ("Name:\tx\nVmRSS:\t  600 kB\n", "MemTotal: 9000 kB\nMemAvailable: 2000 kB\n", True),
        ("VmRSS:\t  600 kB\n", "MemAvailable: 1000 kB\n", False),
        ("VmRSS:\t  600 kB\n", "MemAvailable: 1200 kB\n", False),
        ("VmRSS:\t  600 kB\n", "MemFree: 5000 kB\n", False),  # no MemAvailable
        ("VmRSS:\t  600 kB\n", None, False),  # not Linux
        (None, "MemAvailable: 2000 kB\n", False),
    ],
)
def test_room_to_fork(
    monkeypatch: pytest.MonkeyPatch, status: str | None, meminfo: str | None, room: bool
) -> None:
    monkeypatch.setattr(parallel, "open", _proc_files(status, meminfo), raising=False)
    assert parallel.room_to_fork() is room


@pytest.mark.parametrize(
    ("jobs", "min_bytes", "cpus", "room", "expected"),
    [
        (None, 0, 2, True, 2),
        (None, 0, 2, False, 1),  # no memory for a second copy
        (None, 0, 1, True, 1),  # one CPU
        (None, 1 << 40, 2, True, 1),  # a small capture
        ("1", 0, 2, True, 1),
        ("2", 1 << 40, 1, False, 2),  # -j says so
    ],
)
def test_default_rule_processes(
    monkeypatch: pytest.MonkeyPatch,
    jobs: str | None,
    min_bytes: int,
    cpus: int,
    room: bool,
    expected: int,
) -> None:
    import analyzer.cli as cli

    monkeypatch.setattr(cli, "PARALLEL_MIN_BYTES", min_bytes)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(parallel, "room_to_fork", lambda: room)
    argv = ["check", str(SAMPLES / "message.pcap")] + ([] if jobs is None else ["-j", jobs])
    args = cli._build_parser().parse_args(argv)
    assert cli._rule_processes(args) == expected


@pytest.mark.parametrize(
    "command",
    [
        ["ladder", "--format", "text"],
        ["report", "--format", "json"],
        ["report", "--format", "markdown"],
    ],
    ids=["ladder", "report json", "report markdown"],
)
def test_cli_commands_with_findings_jobs(command: list[str]) -> None:
    outputs = []
    for jobs in ("1", "2"):
        out, err = io.StringIO(), io.StringIO()
        status = main(
            [command[0], str(SAMPLES / "welcome-notice.pcap"), *command[1:], "-j", jobs],
            out=out,
            err=err,
        )
        outputs.append((status, out.getvalue()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 0 and outputs[0][1]
