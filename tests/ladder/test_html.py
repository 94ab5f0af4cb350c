"""Interactive HTML ladders: structure, self-containment, escaping, highlights, the script."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest

from analyzer.analysis import Analysis, analyze
from analyzer.ladder import LADDER_CSS, LADDER_JS, build_ladder, ladder_fragment, render_html
from analyzer.ladder.html import MAX_DETAIL_CHARS, highlight_lines
from analyzer.rules import Finding, Severity
from tests.ladder.flows import analysis_of, hostile_capture, proxy_calls
from tests.sipmsg import Trace, req

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _page(analysis: Analysis, **kwargs: object) -> str:
    return render_html(build_ladder(analysis, **kwargs), analysis)  # type: ignore[arg-type]


def _data(container: lxml.html.HtmlElement) -> dict[str, dict[str, object]]:
    (block,) = container.xpath(".//script[@type='application/json']")
    messages: dict[str, dict[str, object]] = json.loads(block.text)["messages"]
    return messages


def test_page_is_self_contained() -> None:
    page = _page(analyze(SAMPLES / "welcome-notice.pcap"))
    assert page.startswith("<!DOCTYPE html>")
    assert re.search(r"https?://", page) is None  # no URL at all, not even an XML namespace
    doc = lxml.html.document_fromstring(page)
    assert doc.xpath("//meta[@charset='utf-8']")
    for el in doc.iter():
        for attr in ("src", "href", "xlink:href", "action", "srcset"):
            value = el.get(attr)
            assert value is None or value.startswith("#"), (el.tag, attr, value)
    assert not doc.xpath("//link | //iframe | //img | //object | //embed")
    (csp,) = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "unsafe-inline" not in csp
    scripts = doc.xpath("//script[not(@type)]")
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].text.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    (style,) = doc.xpath("//style")
    digest = base64.b64encode(hashlib.sha256(style.text.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert not doc.xpath("//*[@style]")  # inline style attributes would be blocked
    assert not [a for el in doc.iter() for a in el.attrib if a.lower().startswith("on")]


def test_container_parts() -> None:
    a = analyze(SAMPLES / "welcome-notice.pcap")
    ladder = build_ladder(a)
    doc = lxml.html.fragment_fromstring(ladder_fragment(ladder, a, id_prefix="wn-"))
    assert doc.get("class") == "ladder" and doc.get("id") == "wn-ladder"
    arrows = ".//*[local-name()='g' and contains(concat(' ', @class, ' '), ' arrow ')]"
    assert len(doc.xpath(arrows)) == 10
    assert doc.xpath(".//div[@class='detail']")
    options = doc.xpath(".//select[@class='ladder-dialog-filter']/option/@value")
    assert options == ["", "1", "none"]
    links = doc.xpath(".//ol[@class='findings']//a[@class='finding-link']")
    assert len(doc.xpath(".//ol[@class='findings']/li")) == len(ladder.findings) == 16
    assert {link.get("href") for link in links} <= {f"#wn-arrow-{n}" for n in range(10)}
    first = doc.xpath(".//ol[@class='findings']/li")[0]
    assert first.get("data-messages") == "1 0" and "finding-error" in first.get("class")
    data = _data(doc)
    assert set(data) == {str(i) for i in range(10)}
    notify = data["6"]
    assert notify["frame"] == 7 and notify["lines"][0] == "NOTIFY sip:app.example.com SIP/2.0 "  # type: ignore[index]
    assert notify["highlight"] == {"0": ["error", "HDR-7"], "10": ["error", "HDR-4"]}
    assert data["1"]["highlight"] == {"5": ["error", "CSEQ-1"]}  # the response's CSeq line
    assert data["0"]["marks"][0]["rule"] == "CSEQ-1"  # type: ignore[index]


def test_two_fragments_on_one_page_have_distinct_ids() -> None:
    a = analyze(SAMPLES / "basic-call.pcap")
    b = analyze(SAMPLES / "welcome-notice.pcap")
    body = ladder_fragment(build_ladder(a), a, id_prefix="l1-") + ladder_fragment(
        build_ladder(b), b, id_prefix="l2-"
    )
    page = (
        f"<html><head><style>{LADDER_CSS}</style></head>"
        f"<body>{body}<script>{LADDER_JS}</script></body></html>"
    )
    doc = lxml.html.document_fromstring(page)
    ids = [el.get("id") for el in doc.iter() if el.get("id")]
    assert len(ids) == len(set(ids)) == 2 + 7 + 10
    assert len(doc.xpath("//div[@class='ladder']")) == 2
    # The script looks parts up inside each container, never by a global id.
    assert "getElementById" not in LADDER_JS
    assert 'querySelectorAll(".ladder")' in LADDER_JS


def test_hostile_capture_is_escaped_everywhere(tmp_path: Path) -> None:
    a = analyze(hostile_capture(tmp_path / "hostile.pcap"))
    page = render_html(build_ladder(a), a)
    assert "<script>alert" not in page
    assert "</script><script>" not in page
    assert "<img" not in page
    assert "<!-- &" not in page
    doc = lxml.html.document_fromstring(page)
    assert len(doc.xpath("//script")) == 2  # the JSON block and the ladder script, nothing injected
    assert not doc.xpath("//img") and not doc.xpath("//@onerror")
    (block,) = doc.xpath("//script[@type='application/json']")
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in block.text
    data = json.loads(block.text)["messages"]
    lines = data["0"]["lines"]
    assert 'From: "<script>alert(1)</script>" <sip:alice@example.com>;tag=x1' in lines
    assert "</script><script>alert(2)</script><!-- & -->" in lines
    # The reason phrase is text in the SVG label, its tooltip and the JSON.
    labels = doc.xpath("//*[local-name()='text' and @class='label']/text()")
    assert "486 Busy <img src=x onerror=alert(3)>" in labels


def test_highlight_rules() -> None:
    lines = [
        "NOTIFY sip:x SIP/2.0 ",
        "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
        "f: <sip:a@b>",
        "To: <sip:c@d>",
        "CSeq: 7 NOTIFY",
        "Contatct: sip:x",
        "Content-Length: 3",
        "",
        "body line 1",
        "To be or not",
    ]

    def hl(message: str, summary: str = "s") -> dict[int, tuple[str, str]]:
        f = Finding("HDR-1", Severity.WARNING, "RFC", summary, message, (0,), (1,))
        return highlight_lines(lines, [f])

    assert hl("line 1: 'NOTIFY sip:x SIP/2.0 ' has a trailing SP") == {0: ("warning", "HDR-1")}
    assert set(hl("lines 9-10 are a body")) == {8, 9}
    assert hl("XML error at line 2, column 6") == {}
    assert set(hl("From tag missing; Via branch odd")) == {1, 2}  # compact f: is From
    assert set(hl("header 'Contatct' is misspelt")) == {5}
    assert set(hl("NOTIFY (CSeq 7) has no Event header")) == set()  # identifies, not blames
    assert set(hl("request with CSeq 7 NOTIFY has no Event")) == set()
    assert set(hl("bad CSeq 7 NOTIFY")) == {4}
    assert set(hl("sent to the registrar")) == set()  # the word "to" is not the To header
    # The summary is read only when the sentence names no header at all.
    assert set(hl("something odd", "Content-Length is wrong")) == {6}
    assert set(hl("no Event header", "Content-Length is wrong")) == set()


def test_long_messages_are_cut_and_said_so() -> None:
    t = Trace()
    t.add(req("MESSAGE", branch="z9hG4bK-1", body="x" * (MAX_DETAIL_CHARS + 100)), 0.0)
    a = analysis_of(t.messages)
    doc = lxml.html.fragment_fromstring(ladder_fragment(build_ladder(a, findings=[]), a))
    (entry,) = _data(doc).values()
    assert entry["cut"] == len(a.message(0)) - MAX_DETAIL_CHARS


def test_bad_id_prefix() -> None:
    a = proxy_calls(1)
    with pytest.raises(ValueError, match="id_prefix"):
        ladder_fragment(build_ladder(a), a, id_prefix="1x")


_TRAP = '<head><script>window.alert = function () { document.title = "ALERTED"; };</script>'
_HARNESS = """<script>
window.addEventListener("load", function () {
  var out = [];
  var arrows = document.querySelectorAll("g.arrow");
  arrows[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
  var pane = document.querySelector(".detail");
  out.push("selected=" + document.querySelectorAll("g.arrow.selected").length);
  out.push("from=" + (pane.textContent.indexOf('From: "<script>alert(1)<\\/script>"') >= 0));
  out.push("hl=" + pane.querySelectorAll(".hl").length);
  var link = document.querySelector("a.finding-link[data-message='6']");
  if (link) { link.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true })); }
  out.push("linked=" + (arrows.length > 6 && arrows[6].classList.contains("selected")));
  var sel = document.querySelector("select.ladder-dialog-filter");
  sel.value = "1";
  sel.dispatchEvent(new Event("change"));
  out.push("hidden=" + document.querySelectorAll("g.arrow[display='none']").length);
  out.push("moved=" + document.querySelectorAll("g.arrow[transform]").length);
  document.body.setAttribute("data-result", out.join(" "));
});
</script></body>"""


def _run_in_chromium(analysis: Analysis, tmp_path: Path) -> str:
    page = render_html(build_ladder(analysis), analysis)
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    path = tmp_path / "page.html"
    page = page.replace("<head>", _TRAP).replace("</body>", _HARNESS)
    path.write_text(page, encoding="utf-8")
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    m = re.search(r'data-result="([^"]*)"', proc.stdout)
    if m is None:
        pytest.skip(f"chromium did not run the page: {proc.stderr[-300:]}")
    assert "<title>ALERTED</title>" not in proc.stdout
    return m.group(1)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs a headless chromium")
def test_script_in_a_browser(tmp_path: Path) -> None:
    """Clicks, finding links and the dialog filter in headless Chromium (the
    page's CSP is removed so that the test harness may run)."""
    hostile = _run_in_chromium(analyze(hostile_capture(tmp_path / "h.pcap")), tmp_path)
    assert "selected=1" in hostile and "from=true" in hostile
    welcome = _run_in_chromium(analyze(SAMPLES / "welcome-notice.pcap"), tmp_path)
    assert "selected=1" in welcome and "hl=1" in welcome  # CSEQ-1 on the CSeq line
    assert "linked=true" in welcome
    # Dialog 1 is the subscription: REGISTER, MESSAGE and their 200s are hidden,
    # and the NOTIFY exchange after them moves up.
    assert "hidden=4" in welcome and "moved=2" in welcome
