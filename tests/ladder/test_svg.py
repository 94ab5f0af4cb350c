"""The hand-drawn SVG (checked structurally with lxml) and the layout it shares with PNG/PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from analyzer.analysis import analyze
from analyzer.ladder import build_ladder, render_svg
from analyzer.ladder.layout import LINE_HEIGHT, layout_ladder, text_width
from analyzer.ladder.svg import xml_escape
from tests.ladder.flows import analysis_of, proxy_calls
from tests.sipmsg import Trace, req, resp

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SVG = "{http://www.w3.org/2000/svg}"


def _arrows(root: etree._Element) -> list[etree._Element]:
    return [g for g in root.iter(f"{SVG}g") if "arrow" in (g.get("class") or "").split()]


@pytest.mark.parametrize("sample", ["basic-call", "welcome-notice", "subscribe-tcp", "tcp-mixed"])
def test_one_arrow_group_per_message(sample: str) -> None:
    a = analyze(SAMPLES / f"{sample}.pcap")
    ladder = build_ladder(a)
    root = etree.fromstring(render_svg(ladder).encode())
    assert root.tag == f"{SVG}svg"
    groups = _arrows(root)
    assert len(groups) == len(ladder.arrows) == len(a.sip_messages)
    ids = [g.get("id") for g in groups]
    assert ids == [f"arrow-{n}" for n in range(len(groups))]
    all_ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(all_ids) == len(set(all_ids))
    for g, arrow in zip(groups, ladder.arrows, strict=True):
        assert g.get("data-message") == str(arrow.index)
        assert g.get("data-frame") == str(arrow.frame)
        assert g.find(f"{SVG}title") is not None
        classes = set(g.get("class", "").split())
        assert arrow.kind in classes
        if arrow.marks:
            assert f"finding-{arrow.worst}" in classes
            assert g.find(f".//{SVG}circle") is not None  # the visible badge
            assert arrow.marks[0].rule in "".join(g.itertext())
        else:
            assert not any(c.startswith("finding-") for c in classes)


def test_marked_classes_on_welcome_notice() -> None:
    ladder = build_ladder(analyze(SAMPLES / "welcome-notice.pcap"))
    root = etree.fromstring(render_svg(ladder, id_prefix="wn-").encode())
    by_frame = {g.get("data-frame"): set(g.get("class", "").split()) for g in _arrows(root)}
    assert "finding-error" in by_frame["5"]  # REGISTER without Max-Forwards (HDR-8)
    assert "finding-error" in by_frame["1"]
    assert not any(c.startswith("finding") for c in by_frame["4"])
    assert all(g.get("id", "").startswith("wn-arrow-") for g in _arrows(root))


def test_retransmission_class_and_dash() -> None:
    ladder = build_ladder(proxy_calls(1))
    root = etree.fromstring(render_svg(ladder).encode())
    groups = _arrows(root)
    assert "retransmission" in groups[1].get("class", "").split()
    line = groups[1].find(f"{SVG}line")
    assert line is not None and line.get("stroke-dasharray")
    assert "retransmission" not in groups[0].get("class", "").split()


def test_capture_text_is_escaped() -> None:
    t = Trace()
    bad = resp(499, "INVITE", branch="z9hG4bK-1").replace(
        "499 Reason", '499 <script>alert("x")</script>&amp;\x01'
    )
    t.add(req("INVITE", branch="z9hG4bK-1", call="<b>&call</b>"), 0.0)
    t.add(bad.replace("call-1", "<b>&call</b>"), 0.1, reverse=True)
    ladder = build_ladder(analysis_of(t.messages, name="<i>.pcap"), aliases={"10.0.0.1": "<x&y>"})
    text = render_svg(ladder)
    assert "<script" not in text and "<b>" not in text and "<i>" not in text and "<x&" not in text
    root = etree.fromstring(text.encode())  # well-formed despite the control character
    labels = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "label"]
    assert '499 <script>alert("x")</script>&amp;\\x01' in labels
    assert xml_escape("a\x00<") == "a\\x00&lt;"


def test_id_prefix_is_checked() -> None:
    ladder = build_ladder(proxy_calls(1))
    with pytest.raises(ValueError, match="id_prefix"):
        render_svg(ladder, id_prefix='x" onload="alert(1)')


def test_svg_grows_with_arrows() -> None:
    small = etree.fromstring(render_svg(build_ladder(proxy_calls(1))).encode())
    large = etree.fromstring(render_svg(build_ladder(proxy_calls(3))).encode())
    assert float(large.get("height")) > float(small.get("height"))


def test_layout_of_300_messages_never_overlaps() -> None:
    ladder = build_ladder(proxy_calls(22))
    assert len(ladder.arrows) > 300
    layout = layout_ladder(ladder)
    rows = layout.rows
    assert len(rows) == len(ladder.arrows)
    assert rows[0].label_top >= layout.header_bottom
    for prev, row in zip(rows, rows[1:], strict=False):
        # Rows advance by at least a line of text, and a row's label and arrow
        # stay above the next row's label.
        assert row.y_top - prev.y_top >= LINE_HEIGHT
        assert row.label_y - prev.label_y >= LINE_HEIGHT
        assert prev.arrow_y + 4 < row.label_top
        assert prev.label_bottom <= prev.arrow_y
    for row in rows:
        a = ladder.arrows[row.n]
        assert row.label_right - row.label_left == pytest.approx(text_width(a.label))
        if not row.loop:
            # The label stays between the two lifelines of its arrow.
            lo, hi = sorted((row.x1, row.x2))
            assert lo < row.label_left and row.label_right < hi
        assert row.label_right < layout.notes_x or row.loop
    # Participant boxes do not overlap each other.
    xs = layout.column_x
    assert all(b - a > layout.box_width for a, b in zip(xs, xs[1:], strict=False))
    assert layout.height > layout.rows[-1].arrow_y


def test_layout_pages_line_up() -> None:
    ladder = build_ladder(proxy_calls(3))
    whole = layout_ladder(ladder)
    page = layout_ladder(ladder, start=20, stop=30)
    assert page.column_x == whole.column_x
    assert [r.n for r in page.rows] == list(range(20, 30))
    assert page.rows[0].time == whole.rows[20].time  # one time zero for every page
    assert page.rows[1].y_top - page.rows[0].y_top == whole.row_height
    assert any("messages 21-30 of" in s for s in page.subtitles)


def test_loop_layout() -> None:
    t = Trace()
    t.add(req("OPTIONS", branch="z9hG4bK-1"), 0.0, src="10.0.0.1:5060", dst="10.0.0.1:5080")
    ladder = build_ladder(analysis_of(t.messages), per_host=True, findings=[])
    (row,) = layout_ladder(ladder).rows
    assert row.loop and row.x1 == row.x2 and row.label_left > row.x1
    root = etree.fromstring(render_svg(ladder).encode())
    (g,) = _arrows(root)
    assert g.find(f"{SVG}path[@class='line']") is not None
