"""Analysis.ladder / ladder_model / ladder_html / report / _repr_html_ on the samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import analyzer
from analyzer.ladder import EmptySelectionError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def welcome() -> analyzer.Analysis:
    return analyzer.analyze(SAMPLES / "welcome-notice.pcap")


def test_ladder_model_selection(welcome: analyzer.Analysis) -> None:
    everything = welcome.ladder_model()
    assert len(everything.arrows) == len(welcome.sip_messages)
    call_id = welcome.sip_messages[0].call_id
    assert call_id is not None
    one = welcome.ladder_model(call_id)
    assert {a.call_id for a in one.arrows} == {call_id}
    assert welcome.ladder_model([call_id]).arrows == one.arrows
    with pytest.raises(EmptySelectionError):
        welcome.ladder_model("no-such-call-id")


def test_ladder_time_bounds_in_every_form(welcome: analyzer.Analysis) -> None:
    times = [m.origin.ts_ns for m in welcome.sip_messages]
    middle = sorted(times)[len(times) // 2]
    expected = [i for i, t in enumerate(times) if t >= middle]
    as_ns = welcome.ladder_model(start=middle)
    as_datetime = welcome.ladder_model(
        start=datetime.fromtimestamp(middle // 1_000_000_000, UTC).replace(
            microsecond=(middle % 1_000_000_000) // 1000
        )
    )
    as_offset = welcome.ladder_model(start=f"+{(middle - min(times)) / 1e9:.9f}")
    for ladder in (as_ns, as_datetime, as_offset):
        assert [a.index for a in ladder.arrows] == expected
    with pytest.raises(ValueError):
        welcome.ladder_model(start=1.5)  # type: ignore[arg-type]


def test_ladder_marks_follow_the_analysis_options() -> None:
    only_cseq = analyzer.analyze(SAMPLES / "welcome-notice.pcap", select="CSEQ-*")
    rules = {m.rule for a in only_cseq.ladder_model().arrows for m in a.marks}
    assert rules and all(r.startswith("CSEQ-") for r in rules)


def test_aliases_from_options_name_the_columns() -> None:
    plain = analyzer.analyze(SAMPLES / "welcome-notice.pcap")
    host = plain.sip_messages[0].origin.src.text.rsplit(":", 1)[0]
    named = analyzer.analyze(SAMPLES / "welcome-notice.pcap", aliases={host: "alice-ua"})
    labels = [p.label for p in named.ladder_model().participants]
    assert "alice-ua" in labels
    assert "alice-ua" not in [p.label for p in plain.ladder_model().participants]


def test_ladder_figure_and_html(welcome: analyzer.Analysis) -> None:
    from matplotlib.figure import Figure

    fig = welcome.ladder()
    assert isinstance(fig, Figure)
    page = welcome.ladder_html()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('class="arrow') >= len(welcome.sip_messages)


@pytest.mark.parametrize(
    ("name", "marker"), [("r.json", "{"), ("r.md", "#"), ("r.html", "<!DOCTYPE html>")]
)
def test_report_writes_by_extension(
    welcome: analyzer.Analysis, tmp_path: Path, name: str, marker: str
) -> None:
    doc = welcome.report(tmp_path / name)
    assert doc["schema_version"] == 1
    text = (tmp_path / name).read_text(encoding="utf-8")
    assert text.lstrip().startswith(marker)
    if name.endswith(".json"):
        assert json.loads(text)["schema_version"] == 1


def test_report_format_errors(welcome: analyzer.Analysis, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="report format"):
        welcome.report(tmp_path / "r.txt")
    welcome.report(tmp_path / "r.txt", format="md")
    assert (tmp_path / "r.txt").read_text(encoding="utf-8").startswith("#")
    assert welcome.report()["summary"]


def test_repr_html_counts_and_worst_findings(welcome: analyzer.Analysis) -> None:
    html = welcome._repr_html_()
    assert "welcome-notice.pcap" in html
    assert f"<th>SIP messages</th><td>{len(welcome.sip_messages)}</td>" in html
    worst = max(welcome.finding_records, key=lambda f: f.severity.rank)
    assert f"<td>{worst.severity.value}</td>" in html


def test_ladder_repr_html_is_inline_svg(welcome: analyzer.Analysis) -> None:
    ladder = welcome.ladder_model()
    svg = ladder._repr_html_()
    assert svg.startswith("<svg")
    assert svg.count('<g class="arrow ') == len(ladder.arrows)
