"""Text and Mermaid ladders: golden files for the samples, escaping, loops.

Golden files live in tests/golden/ladder/; ``UPDATE_GOLDEN=1 python -m
pytest tests/ladder`` rewrites them (check the diff before committing).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.ladder import build_ladder, render_mermaid, render_text
from analyzer.ladder.mermaid import mermaid_text
from analyzer.ladder.model import Arrow, Ladder, Mark, Participant
from tests.ladder.flows import analysis_of, proxy_calls
from tests.sipmsg import Trace, req, resp

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ladder"
GOLDEN_SAMPLES = ("basic-call", "welcome-notice", "subscribe-tcp", "tcp-mixed")


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with the golden file ``name``; rewrite it with UPDATE_GOLDEN=1."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it")
    want = path.read_text(encoding="utf-8")
    if text != want:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"golden/{name}",
                tofile="output",
            )
        )
        pytest.fail(f"output differs from golden/{name} (UPDATE_GOLDEN=1 rewrites it):\n{diff}")


@pytest.mark.parametrize("sample", GOLDEN_SAMPLES)
def test_text_golden(sample: str) -> None:
    ladder = build_ladder(analyze(SAMPLES / f"{sample}.pcap"))
    check_golden(f"{sample}.txt", render_text(ladder))


@pytest.mark.parametrize("sample", GOLDEN_SAMPLES)
def test_mermaid_golden(sample: str) -> None:
    ladder = build_ladder(analyze(SAMPLES / f"{sample}.pcap"))
    check_golden(f"{sample}.mmd", render_mermaid(ladder))


def test_text_with_aliases_golden() -> None:
    ladder = build_ladder(
        analyze(SAMPLES / "welcome-notice.pcap"),
        aliases={"192.0.2.1": "app", "192.0.2.19:5060": "registrar"},
    )
    check_golden("welcome-notice-aliases.txt", render_text(ladder))


def test_text_marks_and_arrows() -> None:
    ladder = build_ladder(proxy_calls(1))
    text = render_text(ladder)
    lines = text.splitlines()
    # Two lines per arrow: the frame and label, then the time and the arrow.
    first_arrow = next(line for line in lines if line.lstrip().startswith("0.000000"))
    assert "-->|" in first_arrow
    retrans = next(line for line in lines if line.lstrip().startswith("0.500000"))
    assert "- - " in retrans and retrans.rstrip().endswith("(retransmission)")
    bye = next(line for line in lines if line.lstrip().startswith("9.000000"))
    assert "|<--" in bye and bye.rstrip().endswith("[!] HDR-8")
    assert "Findings (1):" in text
    assert re.search(r"ERROR +HDR-8 +frame 12: BYE request has no Max-Forwards header", text)


def test_text_info_marks_and_loops() -> None:
    t = Trace()
    t.add(req("OPTIONS", branch="z9hG4bK-1"), 0.0, src="10.0.0.1:5060", dst="10.0.0.1:5080")
    t.add(resp(200, "OPTIONS", branch="z9hG4bK-1"), 0.1, src="10.0.0.1:5080", dst="10.0.0.1:5060")
    ladder = build_ladder(analysis_of(t.messages), per_host=True, findings=[])
    text = render_text(ladder)
    assert "|--. OPTIONS (CSeq 1)" in text and "|<-'" in text
    marked = Ladder(
        "t",
        (Participant("a", "a", ("a",)), Participant("b", "b", ("b",))),
        (
            Arrow(
                0,
                1,
                0,
                1,
                0,
                "MESSAGE (CSeq 1)",
                "udp",
                None,
                None,
                False,
                (Mark("MSG-1b", "info", "x"),),
            ),
        ),
        (),
    )
    assert "|<" in render_text(marked) and "[i] MSG-1b" in render_text(marked)


def test_mermaid_neutralises_syntax() -> None:
    text = 'a;b#c<d>e"f%%g\nh'
    assert mermaid_text(text) == "a#59;b#35;c#lt;d#gt;e#quot;f#37;#37;g h"
    assert mermaid_text("wrap: x").startswith("wrap#58;")
    assert mermaid_text("x\x00y") == "x\\x00y"


def test_mermaid_structure() -> None:
    t = Trace()
    odd = resp(499, "INVITE", branch="z9hG4bK-1").replace("499 Reason", "499 Busy; #1 <now>")
    t.add(req("INVITE", branch="z9hG4bK-1", headers=["Max-Forwards: 70"]), 0.0)
    t.add(odd, 0.1, reverse=True)
    a = analysis_of(t.messages)
    ladder = build_ladder(a, aliases={"10.0.0.1": "alice;#1"})
    text = render_mermaid(ladder)
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant p0 as alice#59;#35;1 (10.0.0.1:5060)" in lines
    assert "    participant p1 as 10.0.0.2:5060" in lines
    assert "    p0->>p1: INVITE (CSeq 1)" in lines
    assert "    p1-->>p0: 499 Busy#59; #35;1 #lt;now#gt;" in lines
    notes = [line for line in lines if line.lstrip().startswith("Note over")]
    assert notes and all(line.startswith("    Note over p") for line in notes)
    # Nothing from the capture can start a comment or end a statement.
    for line in lines[1:]:
        plain = re.sub(r"#\w+;", "", line)
        assert "#" not in plain and ";" not in plain and "%%" not in plain


def test_mermaid_retransmission_and_notes() -> None:
    ladder = build_ladder(proxy_calls(1), max_arrows=3)
    text = render_mermaid(ladder)
    assert "p0->>p1: INVITE (CSeq 1) (retransmission)" in text
    assert "Note over p0,p1: first 3 of 15 messages" in text
