"""open_capture: recognising formats, refusing unusable files, gzip, lifecycle, real captures."""

from __future__ import annotations

import csv
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import analyzer.capture as capture
from analyzer.capture import Capture, open_capture
from analyzer.errors import CaptureError, Level
from tests.builders import Interface, Packet, Section, gzip_bytes, pcap_bytes, pcapng_bytes

TS = 1_700_000_000_000_000_000
PACKETS = [(TS + i * 20_000_000, bytes([i]) * (40 + i)) for i in range(50)]
PCAP = pcap_bytes(PACKETS)
PCAPNG = pcapng_bytes(Section([Interface(tsresol=9), *(Packet(0, t, d) for t, d in PACKETS)]))
EXPECTED = [(i, ts, 1, data, len(data)) for i, (ts, data) in enumerate(PACKETS, 1)]

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def rows(cap: Capture) -> list[tuple[int, int, int, bytes, int]]:
    return [(no, ts, lt, buf[off : off + n], orig) for no, ts, lt, buf, off, n, orig in cap]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# Unusable input ---------------------------------------------------------------


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.pcap"


def _directory(tmp_path: Path) -> Path:
    path = tmp_path / "dir.pcap"
    path.mkdir()
    return path


def _file(data: bytes, name: str = "bad.pcap") -> Callable[[Path], Path]:
    return lambda tmp_path: write(tmp_path, name, data)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_missing, "no such file"),
        (_directory, "is a directory, not a capture file"),
        (_file(b""), r"empty file \(0 bytes\), not a capture"),
        (_file(b"abc"), r"too short to be a capture \(3 bytes\)"),
        (
            _file(b"hello, world\nthis is text\n"),
            r"not a pcap or pcapng capture \(starts with 68 65 6c 6c\)",
        ),
        (
            _file(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
            r"not a pcap or pcapng capture \(starts with 25 50 44 46\)",
        ),
        (
            _file(gzip_bytes(b"hello, world\n" * 10)),
            r"gzip-compressed, but the content is not a pcap or pcapng capture "
            r"\(starts with 68 65 6c 6c\)",
        ),
        (_file(gzip_bytes(b"")), "gzip-compressed, but the content is empty"),
        (
            _file(gzip_bytes(b"\xd4\xc3")),
            r"gzip-compressed, but the content is too short to be a capture \(2 bytes\)",
        ),
        (_file(b"\x1f\x8b\x08\x00garbage-garbage"), "gzip-compressed, but the gzip stream"),
        (_file(gzip_bytes(PCAP)[:15]), "gzip-compressed, but the gzip stream ends without"),
        (_file(PCAP[:14]), r"too short for a pcap file header \(14 of 24 bytes\)"),
        (_file(PCAPNG[:20]), r"too short for a pcapng section header \(20 of 28 bytes\)"),
        (_file(b"\x34\xcd\xb2\xa1" + PCAP[4:]), r"a modified \(Kuznetzov\) pcap file"),
        (_file(b"\xa1\xb2\xc3\xd4\x00\x01\x00\x00" + bytes(16)), "unsupported pcap version 1.0"),
    ],
    ids=[
        "missing",
        "directory",
        "empty",
        "3-bytes",
        "text",
        "pdf",
        "gzip-of-text",
        "gzip-of-nothing",
        "gzip-of-2-bytes",
        "corrupt-gzip",
        "gzip-cut-short",
        "short-pcap-header",
        "short-pcapng-header",
        "modified-pcap",
        "pcap-version",
    ],
)
def test_unusable_input_is_refused_on_open(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(CaptureError, match=f"^{path}: {message}"):
        open_capture(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused_on_open(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.pcap", PCAP)
    path.chmod(0)
    with pytest.raises(CaptureError, match=f"^{path}: permission denied"):
        open_capture(path)


# Format recognition -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "fmt"),
    [
        (PCAP, "trace.pcap", "pcap"),
        (PCAP, "trace.pcapng", "pcap"),  # the name is never trusted
        (PCAP, "trace.txt", "pcap"),
        (PCAPNG, "trace.pcap", "pcapng"),
        (PCAPNG, "trace", "pcapng"),
        (gzip_bytes(PCAP), "trace.pcap", "pcap+gzip"),
        (gzip_bytes(PCAPNG), "trace.pcapng.gz", "pcapng+gzip"),
    ],
)
def test_format_is_recognised_by_content(tmp_path: Path, data: bytes, name: str, fmt: str) -> None:
    cap = open_capture(write(tmp_path, name, data))
    assert cap.format == fmt
    assert rows(cap) == EXPECTED
    assert cap.diagnostics == []


def test_path_may_be_str_or_pathlike(tmp_path: Path) -> None:
    path = write(tmp_path, "a.pcap", PCAP)
    assert open_capture(str(path)).path == str(path)
    assert open_capture(path).path == str(path)


# gzip -------------------------------------------------------------------------


def test_gzip_members_are_read_as_one_stream(tmp_path: Path) -> None:
    data = gzip_bytes(PCAP[:1000]) + gzip_bytes(PCAP[1000:2000]) + gzip_bytes(PCAP[2000:])
    cap = open_capture(write(tmp_path, "multi.gz", data))
    assert rows(cap) == EXPECTED
    assert cap.diagnostics == []


def test_zero_padding_after_gzip_stream_is_ignored(tmp_path: Path) -> None:
    cap = open_capture(write(tmp_path, "padded.gz", gzip_bytes(PCAP) + bytes(1000)))
    assert rows(cap) == EXPECTED
    assert cap.diagnostics == []


def test_garbage_after_gzip_stream_is_reported(tmp_path: Path) -> None:
    compressed = gzip_bytes(PCAP)
    cap = open_capture(write(tmp_path, "trailing.gz", compressed + b"trailing garbage"))
    assert rows(cap) == EXPECTED
    (diag,) = cap.diagnostics
    assert (diag.level, diag.frames) == (Level.WARNING, (50,))
    assert f"at compressed byte offset {len(compressed)}) is not gzip data" in diag.reason


def test_damaged_gzip_checksum_keeps_every_frame(tmp_path: Path) -> None:
    compressed = bytearray(gzip_bytes(PCAP))
    compressed[-8] ^= 0xFF  # the CRC-32 of the trailer
    cap = open_capture(write(tmp_path, "crc.gz", bytes(compressed)))
    assert rows(cap) == EXPECTED
    (diag,) = cap.diagnostics
    assert diag.level is Level.WARNING and diag.frames == (50,)
    assert "the gzip stream is corrupt at compressed byte offset" in diag.reason
    assert "incorrect data check" in diag.reason


def test_damaged_gzip_data_keeps_the_frames_before_the_damage(tmp_path: Path) -> None:
    compressed = bytearray(gzip_bytes(PCAP, level=0))  # stored blocks: damage stays local
    at = len(compressed) // 2
    compressed[at - 2 : at + 2] = b"\xff\xff\xff\xff"
    cap = open_capture(write(tmp_path, "damaged.gz", bytes(compressed)))
    got = rows(cap)
    assert got[:20] == EXPECTED[:20]
    reasons = [d.reason for d in cap.diagnostics if d.level is not Level.INFO]
    assert any("gzip stream is corrupt" in r for r in reasons)


# Lifecycle ----------------------------------------------------------------------


def test_capture_is_a_context_manager_and_iterates_once(tmp_path: Path) -> None:
    path = write(tmp_path, "a.pcap", PCAP)
    with open_capture(path) as cap:
        it = iter(cap)
        first = next(it)
        assert first[0] == 1
        with pytest.raises(RuntimeError, match="only once"):
            iter(cap)
    assert cap.frames_read == 1
    assert list(it) == []  # closed: no more frames


def test_frames_read_counts_what_was_yielded(tmp_path: Path) -> None:
    cap = open_capture(write(tmp_path, "a.pcap", PCAP))
    assert cap.frames_read == 0
    assert sum(1 for _ in cap) == 50
    assert cap.frames_read == 50
    assert "frames_read=50" in repr(cap)


def test_close_without_iterating(tmp_path: Path) -> None:
    cap = open_capture(write(tmp_path, "a.pcap", PCAP))
    cap.close()
    cap.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_pipe_is_read_without_seeking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool
) -> None:
    monkeypatch.setattr(capture, "CHUNK_SIZE", 100)  # many chunk boundaries
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = gzip_bytes(PCAP) if gz else PCAP

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        cap = open_capture(fifo)
        assert cap.format == ("pcap+gzip" if gz else "pcap")
        assert rows(cap) == EXPECTED
        assert cap.diagnostics == []
    finally:
        writer.join(timeout=10)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_memory_stays_near_the_chunk_size(tmp_path: Path, gz: bool) -> None:
    # About 8 MB of capture, read frame by frame without keeping anything.
    packets = [(TS + i, bytes([i % 251]) * 1400) for i in range(6000)]
    data = pcap_bytes(packets)
    path = write(tmp_path, "big", gzip_bytes(data, level=1) if gz else data)
    tracemalloc.start()
    try:
        n = 0
        for _frame in open_capture(path):
            n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 6000
    assert peak < 6 * capture.CHUNK_SIZE


# Real captures ------------------------------------------------------------------


def _corpus() -> list[dict[str, str]]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with open(manifest, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_corpus_frame_counts_match_the_manifest() -> None:
    entries = _corpus()
    if not entries:
        pytest.skip(f"shared corpus not found at {CORPUS}")
    mismatches = []
    for entry in entries:
        cap = open_capture(CORPUS / "files" / entry["name"])
        n = sum(1 for _ in cap)
        problems = [str(d) for d in cap.diagnostics]
        if n != int(entry["packets"]):
            mismatches.append((entry["name"], n, entry["packets"], problems))
        if entry["name"] == "ajbanjara_sip.pcap":
            # Every record claims an original length 16 bytes below its
            # captured length; reported once, not per record.
            assert len(problems) == 1 and "4558 record(s)" in problems[0]
        else:
            assert problems == [], entry["name"]
    assert mismatches == []
