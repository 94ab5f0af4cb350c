"""render_html(): a self-contained page, one ladder per dialog, linked findings, escaping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from analyzer.analysis import analyze
from analyzer.report import build_report, render_html
from analyzer.report import html as htmlmod
from analyzer.report.plots import inline_svg
from tests.report.hostile import CALL_ID, IMG, REASON_IMG, SCRIPT, SVG, write_hostile_pcap

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

# Attributes through which a page loads or navigates to something.
URL_ATTRIBUTES = ("src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset")


def page_of(capture: Path | list[Path]) -> tuple[str, Any]:
    analysis = analyze(capture)
    text = render_html(build_report(analysis), analysis)
    return text, lxml.html.document_fromstring(text)


@pytest.fixture(scope="module")
def welcome() -> tuple[str, Any]:
    return page_of(SAMPLES / "welcome-notice.pcap")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    return page_of(write_hostile_pcap(tmp_path_factory.mktemp("hostile")))


def assert_self_contained(text: str, doc: Any) -> None:
    assert doc.xpath("//link") == []
    assert doc.xpath("//iframe | //object | //embed | //img | //video | //audio") == []
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for name in URL_ATTRIBUTES:
            value = el.get(name)
            if value is not None:
                assert value.startswith(("#", "data:")), f"<{el.tag} {name}={value!r}>"
        assert "url(" not in (el.get("style") or "").replace("url(#", "")
    for style in doc.xpath("//style"):
        css = style.text_content()
        assert "@import" not in css and not re.search(r"url\((?!#)", css)
    # No URL anywhere outside the capture's own text: strip text nodes and look.
    markup_only = re.sub(r">[^<]*<", "><", text)
    assert "://" not in markup_only
    (csp,) = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert "default-src 'none'" in csp
    assert "connect-src" not in csp or "connect-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


def test_page_is_self_contained(welcome: tuple[str, Any]) -> None:
    text, doc = welcome
    assert text.startswith("<!DOCTYPE html>")
    assert_self_contained(text, doc)


def test_scripts_are_allowed_by_their_hashes(welcome: tuple[str, Any]) -> None:
    import base64
    import hashlib

    _, doc = welcome
    (csp,) = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    scripts = [s for s in doc.xpath("//script") if s.get("type") != "application/json"]
    assert len(scripts) == 2
    for s in scripts:
        digest = base64.b64encode(hashlib.sha256(s.text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


@pytest.mark.parametrize(
    "sample", ["basic-call", "welcome-notice", "tcp-mixed", "subscribe-tcp", "message"]
)
def test_one_ladder_per_dialog(sample: str) -> None:
    analysis = analyze(SAMPLES / f"{sample}.pcap")
    doc = lxml.html.document_fromstring(render_html(build_report(analysis), analysis))
    groups = doc.xpath("//details[contains(@class, 'ladder-group')]")
    dialog_groups = [g for g in groups if g.get("data-kind") == "dialog"]
    assert sorted(int(g.get("data-dialog")) for g in dialog_groups) == sorted(
        d.id for d in analysis.correlation.dialogs
    )
    for g in groups:
        assert len(g.xpath(".//div[contains(concat(' ', @class, ' '), ' ladder ')]")) == 1
    # Every message is drawn in some ladder.
    drawn = {int(m) for m in doc.xpath("//g[contains(@class, 'arrow')]/@data-message")}
    assert drawn == set(range(len(analysis.sip_messages)))


def test_findings_link_to_existing_arrows(welcome: tuple[str, Any]) -> None:
    _, doc = welcome
    ids = set(doc.xpath("//@id"))
    links = doc.xpath("//section[@id='findings']//a[@data-arrow]")
    occurrences = doc.xpath("//section[@id='findings']//ol[@class='occurrences']/li")
    assert links and len(links) == len(occurrences) == 16
    for a in links:
        target = a.get("data-arrow")
        assert a.get("href") == f"#{target}" and target in ids
        arrow = doc.get_element_by_id(target)
        # The arrow is the message the occurrence names, by frame.
        frames = a.text_content().split()[-1]
        assert arrow.get("data-frame") in re.split(r"[-,]", frames)
    # The rules are grouped with their counts.
    hdr4 = doc.xpath("//details[contains(@class, 'rule')][.//span[@class='rule-id']='HDR-4']")
    assert len(hdr4) == 1 and "\u00d73" in hdr4[0].text_content()


def test_tables_and_timelines(welcome: tuple[str, Any]) -> None:
    _, doc = welcome
    for section in ("summary", "findings", "dialogs", "subscriptions", "registrations", "plots"):
        assert doc.get_element_by_id(section) is not None
    assert doc.xpath("//section[@id='calls']") == []  # no call in this capture
    sub_bar = doc.xpath("//section[@id='subscriptions']//div[@class='tl']")
    assert len(sub_bar) == 1 and len(sub_bar[0].xpath("./span[contains(@class, 'notify')]")) == 2
    reg_bar = doc.xpath("//section[@id='registrations']//div[@class='tl']")
    assert len(reg_bar) == 1 and reg_bar[0].xpath("./span[contains(@class, 'seg active')]")


def test_plots_only_with_data(welcome: tuple[str, Any]) -> None:
    _, doc = welcome
    figures = [f.get("id") for f in doc.xpath("//section[@id='plots']//figure")]
    # No call in the capture: no call-outcome plot.
    assert figures == ["plot-response-times", "plot-messages-over-time"]
    for svg in doc.xpath("//section[@id='plots']//svg"):
        assert svg.get("class") == "plot-svg"
    basic, _ = page_of(SAMPLES / "basic-call.pcap")
    assert 'id="plot-call-outcomes"' in basic


def test_plot_svg_is_made_inline() -> None:
    svg = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" width="10pt">\n<metadata><a href='
        '"http://x"/></metadata>\n<defs><style type="text/css">*{stroke-linecap: butt}</style>'
        '</defs><g id="p1"><use xlink:href="#m1" clip-path="url(#c1)"/></g></svg>'
    )
    out = inline_svg(svg, "q-")
    assert out.startswith('<svg class="plot-svg" role="img" style="stroke-linecap: butt"')
    assert "://" not in out and "<style" not in out and "metadata" not in out
    assert 'id="q-p1"' in out and 'href="#q-m1"' in out and "url(#q-c1)" in out


def test_ladder_cap_is_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(htmlmod, "MAX_LADDERS", 1)
    text, doc = page_of(SAMPLES / "welcome-notice.pcap")
    groups = doc.xpath("//details[contains(@class, 'ladder-group')]")
    assert len(groups) == 1
    # The dialog with the most severe findings is kept.
    assert groups[0].get("data-kind") == "dialog"
    assert "1 of 3 ladders drawn" in doc.get_element_by_id("ladders").text_content()
    assert "ladders: 1 of 3 drawn" in doc.get_element_by_id("limits").text_content()


def test_many_ladders_start_collapsed(monkeypatch: pytest.MonkeyPatch) -> None:
    _, doc = page_of(SAMPLES / "welcome-notice.pcap")
    assert all(g.get("open") is not None for g in doc.xpath("//details[@data-kind]"))
    monkeypatch.setattr(htmlmod, "OPEN_LADDERS", 2)
    _, doc = page_of(SAMPLES / "welcome-notice.pcap")
    assert all(g.get("open") is None for g in doc.xpath("//details[@data-kind]"))


def test_hostile_capture_is_escaped(hostile: tuple[str, Any]) -> None:
    text, doc = hostile
    assert_self_contained(text, doc)
    # Only the page's own scripts; the JSON data blocks are not code.
    code = [s for s in doc.xpath("//script") if s.get("type") != "application/json"]
    assert len(code) == 2
    assert all("alert(" not in s.text for s in code)
    assert doc.xpath("//img | //*[@onerror] | //*[@onload] | //*[@onclick]") == []
    assert [b for b in doc.xpath("//b") if b.text_content().startswith("x|")] == []
    calls = doc.get_element_by_id("calls").text_content()
    assert f'"{SCRIPT}" <sip:alice@example.com>' in calls
    assert f'"{IMG}" <sip:bob@example.com>' in calls
    assert CALL_ID in calls
    body = doc.body.text_content()
    for payload in (SCRIPT, IMG, REASON_IMG):
        assert payload in body
    # The MESSAGE's From is in its ladder's data block, escaped for a script element.
    assert SVG not in text and "\\u003csvg onload=alert(4)\\u003e" in text


def test_several_captures() -> None:
    text, doc = page_of([SAMPLES / "welcome-notice.pcap", SAMPLES / "basic-call.pcap"])
    assert doc.xpath("//title")[0].text == "SIP report: welcome-notice.pcap, basic-call.pcap"
    assert len(doc.xpath("//details[@data-kind='dialog']")) == 2


def test_messages_without_call_id_are_counted_not_drawn(tmp_path: Path) -> None:
    from tests.builders import pcap_bytes
    from tests.packets import MAC_A, MAC_B, SIP_INVITE, SIP_OPTIONS, ether, ipv4, udp

    frames = [
        ether(MAC_B, MAC_A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp(5060, 5060, payload)))
        for payload in (SIP_OPTIONS, SIP_INVITE)
    ]
    path = tmp_path / "no-call-id.pcap"
    path.write_bytes(pcap_bytes([(k * 1_000_000_000, f) for k, f in enumerate(frames, 1)]))
    text, doc = page_of(path)
    groups = doc.xpath("//details[contains(@class, 'ladder-group')]")
    drawn = {int(m) for m in doc.xpath("//g[contains(@class, 'arrow')]/@data-message")}
    assert len(groups) == 1 and drawn == {1}
    assert "1 message without a Call-ID is in no ladder" in text
