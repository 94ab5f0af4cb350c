"""The command line in-process: outputs, filters and exit statuses."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.cli import main
from tests.builders import gzip_bytes, pcap_bytes
from tests.packets import ether, ipv4, udp

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n"
    b"From: <sip:alice@example.com>;tag=a1\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: c1@h\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 0\r\n\r\n"
)
BUSY = (
    b"SIP/2.0 486 Busy Here\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n"
    b"From: <sip:alice@example.com>;tag=a1\r\n"
    b"To: <sip:bob@example.com>;tag=b1\r\n"
    b"Call-ID: c1@h\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)
RTP = b"\x80\x00" + bytes(170)


def frame(src: str, dst: str, payload: bytes, sport: int = 5060, dport: int = 5060) -> bytes:
    return ether(
        "02:00:00:00:00:02",
        "02:00:00:00:00:01",
        0x0800,
        ipv4(src, dst, 17, udp(sport, dport, payload)),
    )


@pytest.fixture()
def capture(tmp_path: Path) -> Path:
    p = tmp_path / "call.pcap"
    p.write_bytes(
        pcap_bytes(
            [
                (1_000_000_000, frame("10.0.0.1", "10.0.0.2", INVITE)),
                (1_010_000_000, frame("10.0.0.1", "10.0.0.2", RTP, 4000, 4002)),
                (1_500_000_000, frame("10.0.0.2", "10.0.0.1", BUSY)),
            ]
        )
    )
    return p


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_jsonl(capture: Path) -> None:
    status, out, err = run("messages", "--format", "jsonl", str(capture))
    assert status == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["frame"], r["method"], r["status"]) for r in rows] == [
        (1, "INVITE", None),
        (3, "INVITE", 486),
    ]
    assert rows[0]["src"] == "10.0.0.1:5060" and rows[1]["to_tag"] == "b1"
    assert rows[1]["time"] == "1970-01-01T00:00:01.500000000Z"


def test_table_and_csv(capture: Path) -> None:
    status, out, _ = run("messages", str(capture))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["frame", "time"]
    assert "INVITE sip:bob@example.com" in lines[1] and "486 Busy Here" in lines[2]
    status, out, _ = run("messages", "--format", "csv", str(capture))
    assert status == 0 and out.splitlines()[0].startswith("frame,frames,time")
    assert len(out.splitlines()) == 3


def test_filter(capture: Path) -> None:
    status, out, _ = run("messages", "--format", "jsonl", "--filter", "status>=400", str(capture))
    assert status == 0
    assert [json.loads(line)["frame"] for line in out.splitlines()] == [3]


def test_bad_filter_is_usage_error(capture: Path) -> None:
    status, out, err = run("messages", "--filter", "colour=red", str(capture))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "unknown filter field" in err


def test_output_file(capture: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    status, out, _ = run("messages", "--format", "jsonl", "-o", str(dest), str(capture))
    assert status == 0 and out == ""
    assert len(dest.read_text().splitlines()) == 2


def test_gzip_capture(capture: Path, tmp_path: Path) -> None:
    gz = tmp_path / "call.pcap.gz.bin"  # the name says nothing: the magic decides
    gz.write_bytes(gzip_bytes(capture.read_bytes()))
    status, out, _ = run("messages", "--format", "jsonl", str(gz))
    assert status == 0 and len(out.splitlines()) == 2


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"hello, this is text and not a capture\n", "not a pcap or pcapng capture"),
        (b"%PDF-1.7\n" + bytes(100), "not a pcap or pcapng capture"),
    ],
)
def test_unusable_input(tmp_path: Path, content: bytes | None, needle: str) -> None:
    path = tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    status, out, err = run("messages", str(path))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and needle in err.lower() and "Traceback" not in err


def test_directory_is_unusable(tmp_path: Path) -> None:
    status, _, err = run("messages", str(tmp_path))
    assert status == 2 and err.count("\n") == 1


def test_truncated_capture_warns_and_keeps_messages(capture: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(capture.read_bytes()[:-20])
    status, out, err = run("messages", "--format", "jsonl", str(cut))
    assert status == 0
    assert [json.loads(line)["frame"] for line in out.splitlines()] == [1]
    assert "capture ends mid-record" in err


def test_usage_error_exit_status() -> None:
    status, _, _ = run("messages")
    assert status == 2


def test_console_entry_point_on_a_sample() -> None:
    """``python -m analyzer`` as a real process: no traceback, status 2 on a missing file."""
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "messages", str(SAMPLES / "nope.pcap")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "messages", str(SAMPLES / "basic-call.pcap")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 8
