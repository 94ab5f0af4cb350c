"""Interactive HTML ladders: a fragment per ladder, the CSS and JS they share, a whole page.

:func:`ladder_fragment` gives one ``<div class="ladder">`` holding the SVG
(:mod:`analyzer.ladder.svg`), a detail pane (``.detail``), a dialog filter
(``select.ladder-dialog-filter``), the findings list and the data of every
shown message in a ``<script type="application/json" class="ladder-data">``
block.  A page may hold many fragments (distinct ``id_prefix`` values) and
include :data:`LADDER_CSS` and :data:`LADDER_JS` once; the script wires every
``.ladder`` container on the page on its own, finding its parts by class
inside the container, never by a page-wide id:

* clicking an arrow (or Enter on a focused one; the up and down keys move
  between arrows) selects it and shows the message's full text in the
  container's detail pane, with the header lines its findings point at
  highlighted in the finding's colour;
* a finding's frame links scroll to their arrow and select it;
* the dialog filter hides the arrows of other dialogs and closes the gaps.

Which lines are highlighted is decided here, not in the browser
(:func:`highlight_lines`): the lines a finding's sentence cites by number
(``line 3 'From: ...'``, ``lines 13-16``), and the header lines whose name
the sentence mentions as a word (``CSeq``, ``Via``, ``Content-Length``,
``Contatct``; compact forms by their long name).  When the sentence names no
header at all, the rule's summary is read the same way.  Names are matched
case-sensitively in their usual spelling, so the word "to" in a sentence is
not the To header, and the way sentences identify a request
(``NOTIFY (CSeq 1288) has ...``, ``request with CSeq 1288 NOTIFY``) does not
count as naming its CSeq header.

Everything from the capture is escaped: text and attributes with
:func:`html.escape`, and the JSON block with ``<``, ``>`` and ``&`` as
``\\u003c``, ``\\u003e``, ``\\u0026``, so no message can close the script
element.  :func:`render_html` makes a self-contained page: inline CSS and
JS, no URL at all, and a Content-Security-Policy that allows only that
inline CSS and JS (by hash) and no network load.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..render.messages import format_time
from ..rules.base import Finding
from ..sip.headers import canonical_name
from .layout import relative_time
from .model import Ladder, cut, one_line
from .svg import SEVERITY_COLORS, check_id_prefix, svg_document, xml_escape

if TYPE_CHECKING:
    from ..analysis import Analysis

__all__ = [
    "LADDER_CSS",
    "LADDER_JS",
    "MAX_DETAIL_CHARS",
    "content_security_policy",
    "highlight_lines",
    "ladder_fragment",
    "render_html",
]

# The detail pane shows a message's whole text; SIP messages are a few
# kilobytes, and this bound keeps one hostile message (or 2000 large ones)
# from making a page of hundreds of megabytes.  What is cut is announced.
MAX_DETAIL_CHARS = 32_768

_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}

# Header names whose spelling is not the capitalised words of their key.
_SPELLING = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "rseq": "RSeq",
    "rack": "RAck",
    "mime-version": "MIME-Version",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
    "min-se": "Min-SE",
    "p-asserted-identity": "P-Asserted-Identity",
}

# Names a finding sentence may use for a header, to tell whether it names
# one at all (then the rule summary is not consulted).
_KNOWN_HEADERS = (
    "Accept",
    "Allow",
    "Allow-Events",
    "Call-ID",
    "Contact",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Event",
    "Expires",
    "From",
    "Max-Forwards",
    "Min-Expires",
    "Record-Route",
    "Route",
    "Session-ID",
    "Subscription-State",
    "To",
    "Via",
)

# How sentences identify a request ("NOTIFY (CSeq 1288) has no ...", "NOFITY
# request with CSeq 1288 NOTIFY has ..."): naming the request, not its CSeq
# header, so these are removed before looking for header names.
_REQUEST_ID_RE = re.compile(r"\(CSeq \d+[^)]*\)|\bwith CSeq \d+(?: [A-Za-z]+)?")

# "line 3 'From...'", "line 1: ...", "lines 13-16 are ...", but not the
# "line 2, column 6" of an XML parser talking about a body.
_LINE_REF_RE = re.compile(r"\blines? (\d+)(?:-(\d+))?(?=[:\s']|$)")
_HEADER_NAME_RE = re.compile(r"[!-9;-~]+")  # a token-ish name before the colon


def _spelling(key: str) -> str:
    return _SPELLING.get(key) or "-".join(part.capitalize() for part in key.split("-"))


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9-]){re.escape(name)}(?![A-Za-z0-9-])", text) is not None


def _header_section_end(lines: Sequence[str]) -> int:
    for i, line in enumerate(lines):
        if i and not line.strip():
            return i
    return len(lines)


def highlight_lines(
    lines: Sequence[str], findings: Iterable[Finding]
) -> dict[int, tuple[str, str]]:
    """Line index (0 = start line) -> (worst severity, rule IDs) for the lines to highlight.

    See the module docstring for which lines a finding points at.
    """
    end = _header_section_end(lines)
    names: list[tuple[int, tuple[str, ...]]] = []
    for i in range(1, end):
        name, colon, _ = lines[i].partition(":")
        name = name.strip()
        if not colon or not _HEADER_NAME_RE.fullmatch(name):
            continue
        spelled = _spelling(canonical_name(name))
        candidates = {spelled}
        if len(name) > 1:
            candidates.add(name)
        names.append((i, tuple(candidates)))
    out: dict[int, tuple[str, list[str]]] = {}

    def mark(i: int, f: Finding) -> None:
        sev = f.severity.value
        old = out.get(i)
        if old is None:
            out[i] = (sev, [f.rule])
            return
        worst = sev if _SEVERITY_RANK[sev] > _SEVERITY_RANK[old[0]] else old[0]
        rules = old[1] if f.rule in old[1] else [*old[1], f.rule]
        out[i] = (worst, rules)

    for f in findings:
        text = f.message
        for m in _LINE_REF_RE.finditer(text):
            first = int(m.group(1))
            last = int(m.group(2)) if m.group(2) else first
            for n in range(first, min(last, first + len(lines)) + 1):
                if 1 <= n <= len(lines):
                    mark(n - 1, f)
        text = _REQUEST_ID_RE.sub("", text)
        if not any(_mentions(text, h) for h in _KNOWN_HEADERS) and not any(
            _mentions(text, c) for _, cs in names for c in cs
        ):
            text = _REQUEST_ID_RE.sub("", f.summary)
        for i, spellings in names:
            if any(_mentions(text, c) for c in spellings):
                mark(i, f)
    return {i: (sev, ", ".join(rules)) for i, (sev, rules) in sorted(out.items())}


def _json_for_script(value: Any) -> str:
    """JSON that cannot end or comment out the script element it sits in."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _message_data(ladder: Ladder, analysis: Analysis) -> dict[str, Any]:
    by_message: dict[int, list[Finding]] = {}
    for f in ladder.findings:
        for i in f.messages:
            by_message.setdefault(i, []).append(f)
    t0 = ladder.start_ns or 0
    parts = ladder.participants
    out: dict[str, Any] = {}
    for n, a in enumerate(ladder.arrows):
        text = analysis.message(a.index)
        extra = max(0, len(text) - MAX_DETAIL_CHARS)
        if extra:
            text = text[:MAX_DETAIL_CHARS]
        lines = text.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        origin = analysis.sip_messages[a.index].origin
        highlight = highlight_lines(lines, by_message.get(a.index, ()))
        out[str(a.index)] = {
            "n": n,
            "frame": a.frame,
            "frame_text": a.frame_text,
            "time": format_time(a.ts_ns),
            "rel": relative_time(a.ts_ns, t0),
            "src": str(origin.src),
            "dst": str(origin.dst),
            "src_label": parts[a.src].label,
            "dst_label": parts[a.dst].label,
            "transport": a.transport,
            "label": a.label,
            "call_id": a.call_id,
            "dialog": a.dialog,
            "retransmission": a.retransmission,
            "lines": lines,
            "cut": extra,
            "highlight": {str(i): [sev, rules] for i, (sev, rules) in highlight.items()},
            "marks": [{"rule": m.rule, "severity": m.severity, "text": m.text} for m in a.marks],
        }
    return out


def _dialog_filter(ladder: Ladder) -> str:
    dialogs: dict[int, str | None] = {}
    without = False
    for a in ladder.arrows:
        if a.dialog is None:
            without = True
        else:
            dialogs.setdefault(a.dialog, a.call_id)
    options = ['<option value="">all dialogs</option>']
    for d in sorted(dialogs):
        call_id = cut(one_line(dialogs[d] or ""), 40)
        options.append(f'<option value="{d}">dialog {d} ({xml_escape(call_id)})</option>')
    if without:
        options.append('<option value="none">outside dialogs</option>')
    return (
        '<label class="ladder-filter">Show <select class="ladder-dialog-filter">'
        + "".join(options)
        + "</select></label>"
    )


def _findings_list(ladder: Ladder, analysis: Analysis, id_prefix: str) -> str:
    arrow_of = {a.index: n for n, a in enumerate(ladder.arrows)}
    messages = analysis.sip_messages
    items = []
    for f in ladder.findings:
        links = []
        for i in dict.fromkeys(f.messages):
            frame = messages[i].origin.frame
            n = arrow_of.get(i)
            if n is None:
                links.append(f'<span class="finding-frame">frame {frame}</span>')
            else:
                links.append(
                    f'<a class="finding-link" href="#{id_prefix}arrow-{n}" data-message="{i}">'
                    f"frame {frame}</a>"
                )
        sev = f.severity.value
        items.append(
            f'<li class="finding finding-{sev}" data-messages="{" ".join(map(str, f.messages))}">'
            f'<span class="sev">{sev.upper()}</span> '
            f'<span class="rule">{xml_escape(f.rule)}</span> '
            f'<span class="rfc">{xml_escape(f.rfc)}</span> '
            f'<span class="text">{xml_escape(f.message)}</span> '
            f'<span class="where">{" ".join(links)}</span></li>'
        )
    head = f"Findings ({len(ladder.findings)})"
    body = f'<ol class="findings">{"".join(items)}</ol>' if items else '<p class="none">None.</p>'
    return f'<div class="ladder-findings"><h3>{head}</h3>{body}</div>'


def ladder_fragment(ladder: Ladder, analysis: Analysis, *, id_prefix: str = "") -> str:
    """One interactive ladder as an HTML fragment (see the module docstring).

    ``analysis`` supplies the messages' text.  ``id_prefix`` starts every id
    in the fragment; give each ladder on a page its own.

    Raises:
        ValueError: an ``id_prefix`` that cannot start an HTML id.
    """
    check_id_prefix(id_prefix)
    svg = svg_document(ladder, id_prefix=id_prefix, standalone=False)
    notes = "".join(f'<p class="ladder-note">{xml_escape(n)}</p>' for n in ladder.notes)
    data = _json_for_script({"messages": _message_data(ladder, analysis)})
    return (
        f'<div class="ladder" id="{id_prefix}ladder" data-id-prefix="{id_prefix}">\n'
        f'<div class="ladder-toolbar">{_dialog_filter(ladder)}'
        '<span class="ladder-hint">Click an arrow to read its message.</span></div>\n'
        f"{notes}"
        '<div class="ladder-body">\n'
        f'<div class="ladder-diagram">\n{svg}</div>\n'
        '<div class="detail" aria-live="polite"><p class="detail-hint">'
        "Select an arrow to see the message.</p></div>\n"
        "</div>\n"
        f"{_findings_list(ladder, analysis, id_prefix)}\n"
        f'<script type="application/json" class="ladder-data">{data}</script>\n'
        "</div>\n"
    )


LADDER_CSS = (
    """
.ladder { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px;
  color: #212121; margin: 1em 0; }
.ladder .ladder-toolbar { display: flex; gap: 1.5em; align-items: center; margin: .4em 0; }
.ladder .ladder-hint { color: #607d8b; font-size: 12px; }
.ladder .ladder-note { margin: .2em 0; color: #e65100; }
.ladder .ladder-body { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.ladder .ladder-diagram { flex: 1 1 560px; min-width: 0; max-height: 85vh; overflow: auto;
  border: 1px solid #cfd8dc; background: #fff; }
.ladder .ladder-svg { display: block; }
.ladder .detail { flex: 0 1 520px; min-width: 280px; max-height: 85vh; overflow: auto;
  position: relative; border: 1px solid #cfd8dc; padding: 8px 10px; background: #fafafa; }
.ladder .detail-hint { color: #607d8b; }
.ladder .detail h3 { margin: 0 0 .3em; font-size: 15px; }
.ladder .detail .meta { margin: .1em 0; color: #455a64; font-size: 12px; word-break: break-all; }
.ladder .detail ul.marks { margin: .5em 0; padding-left: 1.2em; font-size: 12px; }
.ladder pre.raw { margin: .6em 0 0; font: 12px/1.45 "DejaVu Sans Mono", Menlo, Consolas,
  monospace; white-space: pre-wrap; word-break: break-all; counter-reset: line; }
.ladder pre.raw .line { display: block; padding-left: 3.6em; text-indent: -3.6em;
  border-left: 3px solid transparent; }
.ladder pre.raw .line::before { counter-increment: line; content: counter(line);
  display: inline-block; width: 2.8em; margin-right: .8em; text-align: right; color: #90a4ae;
  text-indent: 0; }
.ladder pre.raw .hl-error { background: #ffebee; border-left-color: #c62828; }
.ladder pre.raw .hl-warning { background: #fff3e0; border-left-color: #e65100; }
.ladder pre.raw .hl-info { background: #e3f2fd; border-left-color: #1565c0; }
.ladder pre.raw .cut { display: block; color: #e65100; }
.ladder g.arrow { cursor: pointer; outline: none; }
.ladder g.arrow:hover rect.hit, .ladder g.arrow:hover rect.label-bg { fill: #eef5fb; }
.ladder g.arrow:focus rect.hit, .ladder g.arrow:focus rect.label-bg { fill: #e3f2fd; }
.ladder g.arrow.selected rect.hit, .ladder g.arrow.selected rect.label-bg { fill: #fff3c4; }
.ladder .ladder-findings h3 { font-size: 15px; margin: .8em 0 .3em; }
.ladder ol.findings { margin: 0; padding-left: 1.6em; }
.ladder ol.findings li { margin: .2em 0; }
.ladder ol.findings li.current { background: #fff3c4; }
.ladder .sev { display: inline-block; min-width: 5.2em; font-weight: bold; font-size: 11px; }
.ladder .rule { font-weight: bold; }
.ladder .rfc { color: #607d8b; font-size: 12px; }
.ladder .finding-link { margin-left: .3em; }
"""
    + "".join(
        f".ladder .finding-{sev} .sev, .ladder .mark-{sev} .sev {{ color: {color}; }}\n"
        for sev, color in SEVERITY_COLORS.items()
    )
).lstrip()


LADDER_JS = r"""
(function () {
  "use strict";

  function make(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function initLadder(root) {
    if (root.getAttribute("data-ladder-ready")) { return; }
    root.setAttribute("data-ladder-ready", "1");
    var data = { messages: {} };
    var dataEl = root.querySelector("script.ladder-data");
    if (dataEl) {
      try { data = JSON.parse(dataEl.textContent); } catch (e) { data = { messages: {} }; }
    }
    var svg = root.querySelector("svg.ladder-svg");
    var pane = root.querySelector(".ladder-diagram");
    var detail = root.querySelector(".detail");
    var filter = root.querySelector("select.ladder-dialog-filter");
    var arrows = Array.prototype.slice.call(root.querySelectorAll("g.arrow"));
    var byMessage = {};
    arrows.forEach(function (g) { byMessage[g.getAttribute("data-message")] = g; });
    var selected = null;

    function showMessage(index) {
      var m = data.messages[index];
      if (!detail) { return; }
      detail.textContent = "";
      if (!m) {
        detail.appendChild(make("p", "detail-hint", "No text for this message."));
        return;
      }
      detail.appendChild(make("h3", "title", m.label));
      detail.appendChild(make("p", "meta", "frame " + m.frame_text + " \u00b7 " + m.time +
        " (+" + m.rel + " s)"));
      detail.appendChild(make("p", "meta", m.src + " \u2192 " + m.dst + " (" + m.transport + ")"));
      if (m.call_id !== null) { detail.appendChild(make("p", "meta", "Call-ID " + m.call_id)); }
      if (m.dialog !== null) { detail.appendChild(make("p", "meta", "dialog " + m.dialog)); }
      if (m.retransmission) { detail.appendChild(make("p", "meta", "retransmission")); }
      if (m.marks.length) {
        var ul = make("ul", "marks");
        m.marks.forEach(function (k) {
          var li = make("li", "mark mark-" + k.severity);
          li.appendChild(make("span", "sev", k.severity.toUpperCase()));
          li.appendChild(document.createTextNode(" "));
          li.appendChild(make("span", "rule", k.rule));
          li.appendChild(document.createTextNode(" " + k.text));
          ul.appendChild(li);
        });
        detail.appendChild(ul);
      }
      var pre = make("pre", "raw");
      var first = null;
      m.lines.forEach(function (line, i) {
        var span = make("span", "line", line === "" ? "\u200b" : line);
        var h = m.highlight[String(i)];
        if (h) {
          span.className += " hl hl-" + h[0];
          span.title = h[1];
          if (!first) { first = span; }
        }
        pre.appendChild(span);
      });
      if (m.cut) {
        pre.appendChild(make("span", "cut", "\u2026 " + m.cut + " more characters not shown"));
      }
      detail.appendChild(pre);
      detail.scrollTop = first ? Math.max(0, first.offsetTop - 60) : 0;
    }

    function markFindings(index) {
      var items = root.querySelectorAll(".ladder-findings li");
      Array.prototype.forEach.call(items, function (li) {
        var ids = " " + (li.getAttribute("data-messages") || "") + " ";
        li.classList.toggle("current", ids.indexOf(" " + index + " ") >= 0);
      });
    }

    function reveal(g) {
      if (!pane) { return; }
      var r = g.getBoundingClientRect();
      var b = pane.getBoundingClientRect();
      if (r.top < b.top || r.bottom > b.bottom) {
        pane.scrollTop += (r.top - b.top) - b.height / 3;
      }
      if (pane.scrollIntoView) { pane.scrollIntoView({ block: "nearest" }); }
    }

    function select(g, scroll) {
      if (selected) { selected.classList.remove("selected"); }
      selected = g;
      g.classList.add("selected");
      var index = g.getAttribute("data-message");
      showMessage(index);
      markFindings(index);
      if (scroll) { reveal(g); }
    }

    function visible() {
      return arrows.filter(function (g) { return g.getAttribute("display") !== "none"; });
    }

    function applyFilter() {
      var want = filter ? filter.value : "";
      if (!svg) { return; }
      var rowH = parseFloat(svg.getAttribute("data-row-height"));
      var top = parseFloat(svg.getAttribute("data-rows-top"));
      var footTop = parseFloat(svg.getAttribute("data-footer-top"));
      var fullH = parseFloat(svg.getAttribute("data-full-height"));
      var k = 0;
      arrows.forEach(function (g) {
        var d = g.getAttribute("data-dialog");
        var show = want === "" || (want === "none" ? d === "" : d === want);
        if (show) {
          g.removeAttribute("display");
          var dy = (k - parseInt(g.getAttribute("data-row"), 10)) * rowH;
          if (dy) { g.setAttribute("transform", "translate(0," + dy + ")"); }
          else { g.removeAttribute("transform"); }
          k += 1;
        } else {
          g.setAttribute("display", "none");
        }
      });
      var bottom = top + k * rowH + 6;
      Array.prototype.forEach.call(svg.querySelectorAll("line.lifeline"), function (l) {
        l.setAttribute("y2", String(bottom));
      });
      var foot = svg.querySelector("g.participants-bottom");
      if (foot) { foot.setAttribute("transform", "translate(0," + (bottom - footTop) + ")"); }
      var h = fullH - footTop + bottom;
      var w = svg.getAttribute("width");
      svg.setAttribute("height", String(h));
      svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      var bg = svg.querySelector("rect.background");
      if (bg) { bg.setAttribute("height", String(h)); }
    }

    root.addEventListener("click", function (ev) {
      var t = ev.target;
      if (!t || !t.closest) { return; }
      var link = t.closest("a.finding-link");
      if (link && root.contains(link)) {
        ev.preventDefault();
        var target = byMessage[link.getAttribute("data-message")];
        if (target) {
          if (target.getAttribute("display") === "none" && filter) {
            filter.value = "";
            applyFilter();
          }
          select(target, true);
          if (target.focus) { target.focus({ preventScroll: true }); }
        }
        return;
      }
      var g = t.closest("g.arrow");
      if (g && root.contains(g)) { select(g, false); }
    });

    root.addEventListener("keydown", function (ev) {
      var t = ev.target;
      var g = t && t.closest ? t.closest("g.arrow") : null;
      if (!g || !root.contains(g)) { return; }
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        select(g, false);
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        var list = visible();
        var i = list.indexOf(g) + (ev.key === "ArrowDown" ? 1 : -1);
        if (i >= 0 && i < list.length) {
          ev.preventDefault();
          select(list[i], true);
          if (list[i].focus) { list[i].focus({ preventScroll: true }); }
        }
      }
    });

    if (filter) { filter.addEventListener("change", applyFilter); }
  }

  function initAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".ladder"), initLadder);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initAll);
  } else {
    initAll();
  }
})();
""".lstrip()


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(css: str = LADDER_CSS, js: str = LADDER_JS) -> str:
    """A policy allowing exactly this inline CSS and JS (by hash) and nothing else."""
    return (
        f"default-src 'none'; style-src {_sha256(css)}; script-src {_sha256(js)}; "
        "img-src 'none'; connect-src 'none'; font-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


_PAGE_CSS = """
body { margin: 16px 24px; background: #fff; }
h1 { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 18px; margin: 0; }
""".lstrip()


def render_html(ladder: Ladder, analysis: Analysis, *, title: str | None = None) -> str:
    """A complete, self-contained HTML page with one interactive ladder.

    No external resource at all; the Content-Security-Policy allows only the
    page's own inline style and script.
    """
    css = _PAGE_CSS + LADDER_CSS
    page_title = xml_escape(title if title is not None else ladder.title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(css)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{page_title}</title>\n"
        f"<style>{css}</style>\n"
        "</head>\n<body>\n"
        f"<h1>{page_title}</h1>\n"
        f"{ladder_fragment(ladder, analysis)}"
        f"<script>{LADDER_JS}</script>\n"
        "</body>\n</html>\n"
    )
