"""``messages --jobs N``: the same output as one process, and failures that surface."""

from __future__ import annotations

import functools
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyzer import parallel, pipeline
from analyzer.cli import main
from analyzer.errors import CaptureError
from analyzer.parallel import ParallelMessages, WorkerError
from analyzer.pipeline import read_messages
from analyzer.render.messages import jsonl_message
from tests.builders import Interface, Packet, Section, pcap_bytes, pcapng_bytes
from tests.test_pipeline import mixed_frames

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REPO = SAMPLES.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def mixed_pcap(tmp_path: Path, repeat: int = 1) -> Path:
    """The mixed capture of tests/test_pipeline.py (``repeat`` times over)."""
    frames = mixed_frames() * repeat
    path = tmp_path / f"mixed{repeat}.pcap"
    path.write_bytes(pcap_bytes([(1_000_000_000 + i * 1000, f) for i, f in enumerate(frames)]))
    return path


def mixed_pcapng(tmp_path: Path) -> Path:
    packets = [Packet(0, 1_000_000 + i, f) for i, f in enumerate(mixed_frames())]
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(pcapng_bytes(Section([Interface(linktype=1), *packets])))
    return path


CASES = [
    ("--format", "jsonl"),
    ("--format", "csv"),
    ("--format", "jsonl", "--filter", "kind=request"),
    ("--format", "csv", "--filter", "status>=0", "--filter", "transport!=udp"),
    ("--format", "table"),
]


def assert_same_for_any_jobs(capture: Path, args: tuple[str, ...], jobs: tuple[int, ...]) -> str:
    status, out, err = run("messages", *args, "--jobs", "1", str(capture))
    assert status == 0, err
    for n in jobs:
        assert run("messages", *args, "--jobs", str(n), str(capture)) == (status, out, err), n
    return out


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a))
def test_samples_give_the_same_output_with_any_number_of_jobs(args: tuple[str, ...]) -> None:
    for capture in sorted(SAMPLES.glob("*.pcap")):
        assert_same_for_any_jobs(capture, args, (2,))


@pytest.mark.parametrize("args", CASES[:4], ids=lambda a: " ".join(a))
@pytest.mark.parametrize("max_flows", [20_000, 1])
def test_built_capture_gives_the_same_output_with_any_number_of_jobs(
    tmp_path: Path, args: tuple[str, ...], max_flows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TCP (reordered, split, coalesced, left open), IP fragments, SCTP,
    # HEP, VLANs, IPv6 and damaged frames; with a TCP table of one entry,
    # evictions too.  Small blocks and progress marks make the merge work.
    monkeypatch.setattr(pipeline, "MAX_TCP_FLOWS", max_flows)
    monkeypatch.setattr(parallel, "BLOCK_LINES", 3)
    monkeypatch.setattr(parallel, "PROGRESS_FRAMES", 7)
    out = assert_same_for_any_jobs(mixed_pcap(tmp_path), args, (2, 3, 4))
    assert out.count("\n") > (2 if "--filter" in args else 70)


def test_pcapng_gives_the_same_output_with_any_number_of_jobs(tmp_path: Path) -> None:
    assert_same_for_any_jobs(mixed_pcapng(tmp_path), ("--format", "jsonl"), (2,))


def test_diagnostics_are_those_of_one_process(tmp_path: Path) -> None:
    path = mixed_pcap(tmp_path, repeat=2)
    reader = read_messages(path)
    lines = [jsonl_message(m, "\n") for m in reader]
    with ParallelMessages(path, 3, functools.partial(jsonl_message, end="\n")) as run_:
        text = "".join(run_)
    assert text == "".join(lines)
    assert run_.diagnostics == reader.diagnostics
    assert len(reader.diagnostics) > 10


def test_unusable_capture_is_one_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "not.pcap"
    path.write_bytes(b"not a capture at all")
    status, out, err = run("messages", "--format", "jsonl", "--jobs", "2", str(path))
    assert (status, out) == (2, "") and err.count("\n") == 1 and "not a pcap" in err


def test_capture_gone_before_the_workers_open_it(tmp_path: Path) -> None:
    path = mixed_pcap(tmp_path)
    messages = ParallelMessages(path, 2, functools.partial(jsonl_message, end="\n"))
    path.unlink()
    with pytest.raises(CaptureError, match="no such file"):
        list(messages)


def test_a_failing_worker_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(msg: object, end: str = "") -> str:
        raise RuntimeError("formatter bug")

    monkeypatch.setattr("analyzer.cli.jsonl_message", broken)
    status, _out, err = run(
        "messages", "--format", "jsonl", "--jobs", "2", str(mixed_pcap(tmp_path))
    )
    assert status == 3
    assert "worker" in err and "exit status 1" in err and "incomplete" in err
    assert "RuntimeError: formatter bug" in capfd.readouterr().err  # the worker's own report


def test_a_killed_worker_is_an_error(tmp_path: Path) -> None:
    def suicide(msg: object) -> str:
        os.kill(os.getpid(), signal.SIGKILL)
        return ""

    with pytest.raises(WorkerError, match="SIGKILL"):
        list(ParallelMessages(mixed_pcap(tmp_path), 2, suicide))


def test_leaving_early_stops_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BLOCK_LINES", 1)
    messages = ParallelMessages(mixed_pcap(tmp_path, 20), 2, functools.partial(jsonl_message))
    pieces = iter(messages)
    assert next(pieces)
    procs = list(messages._procs)
    messages.close()
    assert procs and all(p.exitcode is not None for p in procs)


@pytest.mark.parametrize("group", [True, False], ids=["ctrl-c", "sigint-to-parent"])
def test_interrupt_leaves_no_worker_behind(tmp_path: Path, group: bool) -> None:
    # Ctrl-C signals the whole foreground process group; kill -INT only the
    # parent, which then stops its workers.  Either way none is left.
    path = mixed_pcap(tmp_path, 1500)  # about 5 s of work
    proc = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "messages", "--format", "jsonl", "-j", "2", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
        start_new_session=True,
    )
    time.sleep(1.0)
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0, err
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a worker outlived the interrupt"
        time.sleep(0.05)


def test_one_job_uses_no_multiprocessing(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from analyzer.cli import main\n"
        f"main(['messages', '--format', 'jsonl', '-j', '1', '-o', {os.devnull!r}, "
        f"{str(mixed_pcap(tmp_path))!r}])\n"
        "print(sorted(m for m in ('analyzer.parallel', 'multiprocessing') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_jobs_must_be_a_positive_number(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _out, _err = run("messages", "--jobs", value, str(mixed_pcap(tmp_path)))
    assert status == 2 and "--jobs" in capsys.readouterr().err  # argparse's own message


def test_jobs_must_exist() -> None:
    with pytest.raises(ValueError):
        ParallelMessages(SAMPLES / "basic-call.pcap", 0, jsonl_message)


def test_default_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzer import cli

    big = tmp_path / "big.pcap"
    with open(big, "wb") as f:
        f.truncate(cli.PARALLEL_MIN_BYTES)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cli._default_jobs(str(big)) == cli.MAX_DEFAULT_JOBS
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert cli._default_jobs(str(big)) == 2
    assert cli._default_jobs(str(SAMPLES / "basic-call.pcap")) == 1
    assert cli._default_jobs(str(tmp_path / "missing.pcap")) == 1
