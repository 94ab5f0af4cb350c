"""Captured bytes that are not UTF-8 never make an output fail to be written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import pcap_bytes
from tests.packets import MAC_A, MAC_B, ether, ipv4, udp

ALICE, BOB = "192.0.2.10", "192.0.2.20"
# 0xA3 alone is not UTF-8: the parser keeps it as a lone surrogate.
NOT_UTF8 = b"\xa3"


def _capture(tmp_path: Path) -> Path:
    invite = (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
        b"Max-Forwards: 70\r\n"
        b'From: "Al' + NOT_UTF8 + b'ce" <sip:alice@example.com>;tag=a1\r\n'
        b"To: <sip:bob@example.com>\r\n"
        b"Call-ID: c" + NOT_UTF8 + b"1@example.com\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Contact: <sip:alice@192.0.2.10>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    ringing = (
        b"SIP/2.0 180 Ring" + NOT_UTF8 + b"ng\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
        b'From: "Al' + NOT_UTF8 + b'ce" <sip:alice@example.com>;tag=a1\r\n'
        b"To: <sip:bob@example.com>;tag=b1\r\n"
        b"Call-ID: c" + NOT_UTF8 + b"1@example.com\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Contact: <sip:bob@192.0.2.20>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    start = 1_700_000_000 * 1_000_000_000
    packets = [
        (start + k * 50_000_000, ether(MAC_B, MAC_A, 0x0800, ipv4(s, d, 17, udp(5060, 5060, p))))
        for k, (s, d, p) in enumerate([(ALICE, BOB, invite), (BOB, ALICE, ringing)])
    ]
    path = tmp_path / "latin1.pcap"
    path.write_bytes(pcap_bytes(packets))
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *argv], capture_output=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("command", "suffix"),
    [
        ("report", "html"),
        ("report", "json"),
        ("report", "md"),
        ("ladder", "txt"),
        ("ladder", "html"),
        ("ladder", "svg"),
        ("ladder", "mmd"),
        ("check", None),
    ],
)
def test_outputs_are_written_with_escapes(tmp_path: Path, command: str, suffix: str | None) -> None:
    capture = _capture(tmp_path)
    out = tmp_path / f"out.{suffix}"
    argv = [command, str(capture), "-q"] + (["-o", str(out)] if suffix else [])
    done = _run(*argv)
    assert done.returncode in (0, 1), done.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in done.stderr
    text = (out.read_bytes() if suffix else done.stdout).decode("utf-8")  # valid UTF-8
    if suffix == "json":
        json.loads(text)


def test_standard_output_too(tmp_path: Path) -> None:
    done = _run("report", str(_capture(tmp_path)))
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    text = done.stdout.decode("utf-8")
    assert "\\udca3" in text  # the undecodable byte, shown as an escape
