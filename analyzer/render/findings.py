"""Validation findings as text, JSON, JUnit XML and a DataFrame; the rule catalogue as text/JSON.

Pure functions: they take findings and rules and return strings or plain
data.  pandas is imported only by :func:`findings_frame`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..rules.base import Finding, Rule, Severity, rule_sort_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FINDING_COLUMNS",
    "findings_dict",
    "findings_frame",
    "frames_text",
    "render_junit",
    "render_rules_text",
    "render_text",
    "rules_list",
    "severity_counts",
]

#: Columns of :func:`findings_frame`.
FINDING_COLUMNS = (
    "rule",
    "severity",
    "rfc",
    "summary",
    "message",
    "messages",
    "frames",
    "first_frame",
)

_SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """One row per finding; ``messages`` and ``frames`` hold lists, ``severity`` is a category."""
    import pandas as pd

    rows = [
        {
            "rule": f.rule,
            "severity": f.severity.value,
            "rfc": f.rfc,
            "summary": f.summary,
            "message": f.message,
            "messages": list(f.messages),
            "frames": list(f.frames),
            "first_frame": f.first_frame,
        }
        for f in findings
    ]
    df = pd.DataFrame.from_records(rows, columns=list(FINDING_COLUMNS))
    return df.astype(
        {
            "rule": "string",
            "severity": pd.CategoricalDtype([s.value for s in reversed(_SEVERITIES)], ordered=True),
            "rfc": "string",
            "summary": "string",
            "message": "string",
            "first_frame": "int64",
        }
    )


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """``{"error": n, "warning": n, "info": n}``."""
    counts = {s.value: 0 for s in _SEVERITIES}
    for f in findings:
        counts[f.severity.value] += 1
    return counts


def at_or_above(findings: Iterable[Finding], threshold: Severity) -> int:
    """How many findings have at least severity ``threshold``."""
    return sum(1 for f in findings if f.severity >= threshold)


def frames_text(frames: Sequence[int]) -> str:
    """Frame numbers compactly: ``7``, ``12-14``, ``3,7``, ``4-6,9``; ``-`` for none."""
    if not frames:
        return "-"
    parts: list[str] = []
    start = prev = frames[0]
    for f in frames[1:]:
        if f == prev + 1:
            prev = f
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = f
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


_CONTROL_RE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters written as escapes."""
    return _CONTROL_RE.sub(_escaped, text)


def _escaped(m: re.Match[str]) -> str:
    code = ord(m[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def severity_text(findings: Iterable[Finding]) -> str:
    """The findings counted by severity in words: ``2 errors, 1 warning, 0 info``."""
    c = severity_counts(findings)
    return f"{_plural(c['error'], 'error')}, {_plural(c['warning'], 'warning')}, {c['info']} info"


def _summary_line(findings: Sequence[Finding], captures: Sequence[str], rules_run: int) -> str:
    where = ", ".join(captures)
    return f"{severity_text(findings)} ({rules_run} rules; {where})"


def render_text(
    findings: Sequence[Finding],
    captures: Sequence[str],
    rules_run: int,
    located: Sequence[str] | None = None,
) -> str:
    """One line per finding, ``frames  SEVERITY  RULE  RFC  sentence``, then a count line.

    ``located``, for findings over several captures (whose frame numbers are
    per file), names the capture of each finding: its frames are then
    written ``FILE:FRAMES``.
    """
    where = located if located is not None else [""] * len(findings)
    rows = [
        (
            f"{loc}:{frames_text(f.frames)}" if loc else frames_text(f.frames),
            f.severity.value.upper(),
            f.rule,
            f.rfc,
            _one_line(f.message),
        )
        for f, loc in zip(findings, where, strict=True)
    ]
    lines: list[str] = []
    if rows:
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        w2 = max(len(r[2]) for r in rows)
        w3 = max(len(r[3]) for r in rows)
        for fr, sev, rid, rfc, text in rows:
            lines.append(f"{fr:>{w0}}  {sev:<{w1}}  {rid:<{w2}}  {rfc:<{w3}}  {text}")
    lines.append(_summary_line(findings, captures, rules_run))
    return "\n".join(lines) + "\n"


def findings_dict(
    findings: Sequence[Finding],
    captures: Sequence[str],
    rules_run: int,
    fail_on: Severity = Severity.ERROR,
    located: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The JSON document of ``check``: ``{"findings": [...], "summary": {...}}``.

    With ``located`` (several captures) each finding also has ``capture``:
    the file its frames are numbered in.
    """
    counts = severity_counts(findings)
    rows: list[dict[str, Any]] = [
        {
            "rule": f.rule,
            "severity": f.severity.value,
            "rfc": f.rfc,
            "frames": list(f.frames),
            "messages": list(f.messages),
            "message": f.message,
            "summary": f.summary,
        }
        for f in findings
    ]
    if located is not None:
        for row, loc in zip(rows, located, strict=True):
            row["capture"] = loc
    return {
        "findings": rows,
        "summary": {
            **counts,
            "total": len(findings),
            "captures": list(captures),
            "rules_run": rules_run,
            "fail_on": fail_on.value,
            "failing": at_or_above(findings, fail_on),
        },
    }


# Characters XML 1.0 does not allow even escaped (C0 controls other than
# TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF).  Sentences are already
# printable; rule texts and capture names might not be.
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL_RE.sub(_escaped, text)


def render_junit(
    findings: Sequence[Finding],
    rules: Sequence[Rule],
    captures: Sequence[str],
    fail_on: Severity = Severity.ERROR,
    located: Sequence[str] | None = None,
) -> str:
    """JUnit XML: a testsuite per rule family, a testcase per rule run.

    A testcase fails (one ``<failure>`` listing its findings) when the rule
    has findings at or above ``fail_on``; findings below the threshold go to
    the testcase's ``<system-out>``.
    """
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    loc_of = {id(f): loc for f, loc in zip(findings, located, strict=True)} if located else {}
    families: dict[str, list[Rule]] = {}
    for r in sorted(rules, key=lambda r: rule_sort_key(r.id)):
        families.setdefault(r.family, []).append(r)
    where = _xml_text(", ".join(captures))
    root = ET.Element("testsuites", name="sip-analyzer check")
    total_tests = total_failures = 0
    for family, members in families.items():
        suite = ET.SubElement(root, "testsuite", name=family)
        failures = 0
        for r in members:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"sip-analyzer.{family}",
                name=_xml_text(f"{r.id}: {r.summary}"),
            )
            mine = by_rule.get(r.id, [])
            failing = [f for f in mine if f.severity >= fail_on]
            other = [f for f in mine if f.severity < fail_on]
            if failing:
                failures += 1
                worst = max(f.severity for f in failing)
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=worst.value,
                    message=_xml_text(
                        f"{_plural(len(failing), 'finding')} ({r.rfc}) in {where}: "
                        f"{failing[0].message}"
                    ),
                )
                failure.text = "\n".join(
                    _xml_text(_junit_line(f, loc_of.get(id(f), ""))) for f in failing
                )
            if other:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(
                    _xml_text(_junit_line(f, loc_of.get(id(f), ""))) for f in other
                )
        suite.set("tests", str(len(members)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += len(members)
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _junit_line(f: Finding, capture: str = "") -> str:
    where = f"{capture} " if capture else ""
    return f"{where}frame {frames_text(f.frames)}: {f.severity.value}: {f.message}"


def rules_list(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """The rule catalogue as plain data, in ID order."""
    return [
        {
            "id": r.id,
            "severity": r.severity.value,
            "rfc": r.rfc,
            "scope": r.scope.value,
            "summary": r.summary,
            "explanation": r.explanation,
            "rfc3265_severity": None if r.rfc3265_severity is None else r.rfc3265_severity.value,
        }
        for r in sorted(rules, key=lambda r: rule_sort_key(r.id))
    ]


def render_rules_text(rules: Iterable[Rule]) -> str:
    """``ID  SEVERITY  RFC  summary``, one rule per line, in ID order."""
    ordered = sorted(rules, key=lambda r: rule_sort_key(r.id))
    if not ordered:
        return "(no rules)\n"
    w0 = max(len(r.id) for r in ordered)
    w1 = max(len(r.severity.value) for r in ordered)
    w2 = max(len(r.rfc) for r in ordered)
    return "".join(
        f"{r.id:<{w0}}  {r.severity.value:<{w1}}  {r.rfc:<{w2}}  {r.summary}\n" for r in ordered
    )
