"""``sip-analyzer ladder``: every output format, selections, and unusable input."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from analyzer.cli import main
from tests.ladder.flows import hostile_capture

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
BASIC = str(SAMPLES / "basic-call.pcap")
WELCOME = str(SAMPLES / "welcome-notice.pcap")


def run(*argv: str, tty: bool = False) -> tuple[int, str, str]:
    out = io.StringIO()
    err = _Tty() if tty else io.StringIO()
    code = main(["ladder", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_to_stdout() -> None:
    code, out, err = run(BASIC)
    assert code == 0 and err == ""
    assert out.startswith("basic-call.pcap: all messages\n")
    assert "INVITE (CSeq 314159)" in out and "|<----" in out


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("l.txt", lambda b: b.startswith(b"welcome-notice.pcap: all messages")),
        ("l.mmd", lambda b: b.startswith(b"sequenceDiagram\n")),
        ("l.svg", lambda b: etree.fromstring(b).tag == "{http://www.w3.org/2000/svg}svg"),
        ("l.png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n") and len(b) > 10_000),
        ("l.pdf", lambda b: b.startswith(b"%PDF-")),
        ("l.html", lambda b: lxml.html.document_fromstring(b).xpath("//div[@class='ladder']")),
    ],
)
def test_formats_by_extension(tmp_path: Path, name: str, check: object) -> None:
    path = tmp_path / name
    code, out, err = run(WELCOME, "-o", str(path), "-q")
    assert code == 0 and out == "" and err == ""
    assert callable(check) and check(path.read_bytes())


def test_format_option_overrides_extension(tmp_path: Path) -> None:
    path = tmp_path / "ladder.out"
    code, _, _ = run(BASIC, "-o", str(path), "--format", "mermaid")
    assert code == 0 and path.read_text().startswith("sequenceDiagram")
    code, out, _ = run(BASIC, "--format", "svg")
    assert code == 0 and out.startswith("<svg")


def test_selection_options(tmp_path: Path) -> None:
    code, out, _ = run(WELCOME, "--dialog", "1")
    assert code == 0 and "REGISTER" not in out and "NOTIFY (CSeq 1289)" in out
    code, out, _ = run(WELCOME, "--call-id", "9988@app.example.com")
    assert code == 0 and "MESSAGE (CSeq 82779)" in out and "SUBSCRIBE" not in out
    code, out, _ = run(WELCOME, "--start", "+14", "--end", "2024-03-01T09:00:14.300Z")
    assert code == 0 and re.findall(r"^ +(\d+) +\|", out, re.M) == ["5", "6"]
    code, out, _ = run(WELCOME, "--filter", "method=NOTIFY", "--filter", "kind=request")
    assert code == 0 and len(re.findall(r"\|\s+NOTIFY \(CSeq \d+\)\s+\|", out)) == 2
    code, out, _ = run(WELCOME, "--alias", "192.0.2.19=registrar", "--per-host", "--related")
    assert code == 0 and re.search(r"frame +192\.0\.2\.1 +registrar +198\.51\.100\.34\n", out)
    code, out, err = run(WELCOME, "--max-arrows", "3")
    assert code == 0 and "(first 3 of 10 messages)" in out
    assert "sip-analyzer: note: first 3 of 10 messages" in err


def test_progress_on_a_terminal(tmp_path: Path) -> None:
    code, _, err = run(WELCOME, "-o", str(tmp_path / "x.svg"), tty=True)
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == "sip-analyzer: reading the capture..."
    assert any(line.startswith("sip-analyzer: drawing 10 arrows as svg") for line in lines)
    assert lines[-1].startswith("sip-analyzer: wrote ")
    code, _, err = run(WELCOME, "-o", str(tmp_path / "y.svg"))
    assert err == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--call-id", "nope"), "no message has Call-ID 'nope'"),
        (("--dialog", "99"), "no dialog 99 (dialog ids: 1)"),
        (("--filter", "method=FOO"), "no message matches the selection"),
        (("--filter", "colour=red"), "unknown filter field 'colour'"),
        (("--start", "tomorrow"), "cannot read time 'tomorrow'"),
        (("--alias", "pbx=x"), "is not an IP address"),
        (("--alias", "10.0.0.1"), "expected HOST[:PORT]=NAME"),
        (("--max-arrows", "0"), "--max-arrows must be at least 1"),
        (("--format", "png"), "png output needs -o FILE"),
        (("-o", "ladder.gif"), "cannot tell the format of 'ladder.gif'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(argv: tuple[str, ...], message: str) -> None:
    code, out, err = run(WELCOME, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sip-analyzer: ") and message in err


def test_unusable_capture(tmp_path: Path) -> None:
    bogus = tmp_path / "not.pcap"
    bogus.write_bytes(b"hello, this is not a capture")
    code, out, err = run(str(bogus))
    assert code == 2 and out == "" and err.count("\n") == 1 and "not a pcap" in err
    code, _, err = run(str(tmp_path / "missing.pcap"))
    assert code == 2 and err.count("\n") == 1


def test_unwritable_output(tmp_path: Path) -> None:
    code, _, err = run(BASIC, "-o", str(tmp_path / "no" / "such" / "dir.png"))
    assert code == 2 and err.count("\n") == 1


def test_several_captures_and_hostile_html(tmp_path: Path) -> None:
    hostile = hostile_capture(tmp_path / "hostile.pcap")
    page = tmp_path / "h.html"
    code, _, _ = run(str(hostile), BASIC, "-o", str(page))
    assert code == 0
    text = page.read_text()
    assert "<script>alert" not in text
    doc = lxml.html.document_fromstring(text)
    (block,) = doc.xpath("//script[@type='application/json']")
    assert len(json.loads(block.text)["messages"]) == 9
