"""PNG, PDF and SVG files through matplotlib: magic bytes, sizes, pages."""

from __future__ import annotations

import dataclasses
import io
import re
import struct
from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.ladder import build_ladder, ladder_figure, save_ladder
from analyzer.ladder.figure import FIGURE_DPI, PDF_ARROWS_PER_PAGE, PNG_DPI, png_dpi
from analyzer.ladder.layout import layout_ladder
from tests.ladder.flows import analysis_of, proxy_calls
from tests.sipmsg import Trace, req, resp

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_of_basic_call(tmp_path: Path) -> None:
    ladder = build_ladder(analyze(SAMPLES / "basic-call.pcap"))
    path = tmp_path / "call.png"
    save_ladder(ladder, path, "png")
    width, height = _png_size(path.read_bytes())
    layout = layout_ladder(ladder)
    scale = PNG_DPI / FIGURE_DPI
    assert abs(width - layout.width * scale) <= 1 and abs(height - layout.height * scale) <= 1
    assert 600 < width < 2000 and 500 < height < 1500


def test_png_to_a_file_object_and_growth() -> None:
    small, large = io.BytesIO(), io.BytesIO()
    save_ladder(build_ladder(proxy_calls(1)), small, "png")
    save_ladder(build_ladder(proxy_calls(3)), large, "png")
    assert _png_size(large.getvalue())[1] > 2 * _png_size(small.getvalue())[1]


def test_png_of_300_messages(tmp_path: Path) -> None:
    ladder = build_ladder(proxy_calls(22))
    assert len(ladder.arrows) > 300
    path = tmp_path / "long.png"
    save_ladder(ladder, path, "png")
    width, height = _png_size(path.read_bytes())
    # A fixed row height per arrow: the image is as tall as its rows need.
    assert height >= len(ladder.arrows) * 32 * PNG_DPI / FIGURE_DPI
    assert width < 1500


def test_png_resolution_is_lowered_for_huge_ladders() -> None:
    ladder = build_ladder(proxy_calls(1))
    layout = layout_ladder(ladder)
    assert png_dpi(layout) == PNG_DPI
    tall = dataclasses.replace(layout, height=90_000)
    assert png_dpi(tall) * 90_000 / FIGURE_DPI == pytest.approx(60_000)


def test_pdf_single_and_multi_page(tmp_path: Path) -> None:
    one = tmp_path / "one.pdf"
    save_ladder(build_ladder(analyze(SAMPLES / "welcome-notice.pcap")), one, "pdf")
    data = one.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    many = tmp_path / "many.pdf"
    ladder = build_ladder(proxy_calls(8))
    save_ladder(ladder, many, "pdf")
    pages = len(re.findall(rb"/Type\s*/Page\b", many.read_bytes()))
    assert pages == -(-len(ladder.arrows) // PDF_ARROWS_PER_PAGE) > 1


def test_svg_through_matplotlib() -> None:
    out = io.BytesIO()
    save_ladder(build_ladder(analyze(SAMPLES / "basic-call.pcap")), out, "svg")
    assert b"<svg" in out.getvalue()[:2000]


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="png, pdf, svg"):
        save_ladder(build_ladder(proxy_calls(1)), io.BytesIO(), "gif")


def test_figure_is_headless_and_sized() -> None:
    ladder = build_ladder(analyze(SAMPLES / "welcome-notice.pcap"))
    fig = ladder_figure(ladder)
    layout = layout_ladder(ladder)
    width, height = fig.get_size_inches()
    assert (width * FIGURE_DPI, height * FIGURE_DPI) == pytest.approx((layout.width, layout.height))
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "REGISTER (CSeq 9976)" in texts and "HDR-8" in texts


def test_dollar_signs_are_not_math(tmp_path: Path) -> None:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-1"), 0.0)
    t.add(
        resp(499, branch="z9hG4bK-1").replace("499 Reason", "499 $\\frac{a}{$"), 0.1, reverse=True
    )
    ladder = build_ladder(analysis_of(t.messages), findings=[])
    save_ladder(ladder, tmp_path / "x.png", "png")
    save_ladder(ladder, tmp_path / "x.pdf", "pdf")
    assert "499 $\\frac{a}{$" in {t.get_text() for t in ladder_figure(ladder).axes[0].texts}


def test_long_figures_draw_row_text_as_few_artists() -> None:
    """Beyond GLYPH_TEXT_ARROWS arrows the rows' text is merged into one path per
    colour, so drawing cost does not grow with thousands of text artists."""
    ladder = build_ladder(proxy_calls(22))
    fig = ladder_figure(ladder)
    ax = fig.axes[0]
    assert len(ladder.arrows) > 300
    assert len(ax.texts) < 30 and len(ax.artists) < 10


def test_a_long_title_is_not_cut_in_the_png() -> None:
    import matplotlib.image

    ladder = build_ladder(proxy_calls(3), max_arrows=2)  # two columns, a title longer than them
    assert "(first 2 of" in ladder.title
    buf = io.BytesIO()
    save_ladder(ladder, buf, "png")
    buf.seek(0)
    pixels = matplotlib.image.imread(buf, format="png")
    layout = layout_ladder(ladder)
    scale = pixels.shape[1] / layout.width
    band = pixels[: int(layout.title_y * scale) + 4, :, :3]
    inked = (band < 0.5).any(axis=(0, 2)).nonzero()[0]
    # The title's last glyph ends before the right margin: nothing was clipped.
    assert inked.size and inked[-1] < pixels.shape[1] - 4
