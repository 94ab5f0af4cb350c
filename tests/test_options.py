"""The one options object: construction, normalisation, keywords, and its use by analyze()."""

from __future__ import annotations

from pathlib import Path

import pytest

import analyzer
from analyzer.options import MESSAGE_BODY_LIMIT, Options

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"),
    [
        ({}, "select", ("*",)),
        ({"select": "HDR-*, CSEQ-1"}, "select", ("HDR-*", "CSEQ-1")),
        ({"select": ()}, "select", ("*",)),
        ({"ignore": ["MSG-1b", " "]}, "ignore", ("MSG-1b",)),
        ({"extra_headers": "X-Foo,P-Bar"}, "extra_headers", frozenset({"x-foo", "p-bar"})),
        ({"extra_methods": ["FOO"]}, "extra_methods", frozenset({"FOO"})),
        ({"events_rfc": 3265}, "events_rfc", "3265"),
        (
            {"aliases": {"10.0.0.2": "b", "10.0.0.1": "a"}},
            "aliases",
            (("10.0.0.1", "a"), ("10.0.0.2", "b")),
        ),
        ({"aliases": [("10.0.0.1:5060", "pcscf")]}, "aliases", (("10.0.0.1:5060", "pcscf"),)),
        ({}, "message_body_limit", MESSAGE_BODY_LIMIT),
    ],
)
def test_normalised(kwargs: dict[str, object], field: str, expected: object) -> None:
    assert getattr(Options(**kwargs), field) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"events_rfc": "2543"}, {"message_body_limit": -1}, {"aliases": {"10.0.0.1": ""}}],
)
def test_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Options(**kwargs)  # type: ignore[arg-type]


def test_hashable_and_alias_map() -> None:
    o = Options(aliases={"10.0.0.1": "proxy"})
    assert hash(o) == hash(Options(aliases=[("10.0.0.1", "proxy")]))
    assert o.alias_map == {"10.0.0.1": "proxy"}


def test_from_keywords_overrides_and_rejects_unknown() -> None:
    base = Options(select=("SUB-*",), events_rfc="3265")
    o = Options.from_keywords(base, message_body_limit=10)
    assert (o.select, o.events_rfc, o.message_body_limit) == (("SUB-*",), "3265", 10)
    with pytest.raises(TypeError, match="unknown option selct"):
        Options.from_keywords(base, selct="x")


def test_analyze_keywords_drive_findings() -> None:
    sample = SAMPLES / "welcome-notice.pcap"
    everything = analyzer.analyze(sample)
    only_sub = analyzer.analyze(sample, select="SUB-*")
    assert only_sub.options.select == ("SUB-*",)
    rules = set(only_sub.findings["rule"])
    assert rules and all(r.startswith("SUB-") for r in rules)
    assert rules < set(everything.findings["rule"])
    # check() without arguments is the analysis' own options; keywords override.
    assert [f.rule for f in only_sub.check()] == list(only_sub.findings["rule"])
    assert {f.rule for f in only_sub.check(select="CSEQ-*")} <= {
        r for r in everything.findings["rule"] if r.startswith("CSEQ-")
    }
    with pytest.raises(TypeError):
        analyzer.analyze(sample, no_such_option=1)


def test_analyze_reports_progress() -> None:
    sample = SAMPLES / "welcome-notice.pcap"
    calls: list[tuple[str, int, int | None]] = []
    analyzer.analyze(sample, progress=lambda *a: calls.append(a))
    size = sample.stat().st_size
    reading = [c for c in calls if c[0] == "reading"]
    assert reading and reading[-1] == ("reading", size, size)
    assert all(0 <= done <= size and total == size for _, done, total in reading)
    assert calls[-2:] == [("correlating", 0, 1), ("correlating", 1, 1)]


def test_analyze_reports_progress_over_several_captures() -> None:
    files = [SAMPLES / "welcome-notice.pcap", SAMPLES / "basic-call.pcap"]
    calls: list[tuple[str, int, int | None]] = []
    analyzer.analyze(files, progress=lambda *a: calls.append(a))
    total = sum(f.stat().st_size for f in files)
    assert [c for c in calls if c[0] == "reading"][-1] == ("reading", total, total)
