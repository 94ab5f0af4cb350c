"""The rule registry: every rule is documented, referenced and tested both ways."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.rules import (
    NOT_IMPLEMENTED,
    RULES,
    Issue,
    Options,
    Scope,
    Severity,
    Trigger,
    patterns_without_rules,
    rule,
    run_rules,
    select_rules,
)
from analyzer.rules.base import RULE_ID_RE, rule_sort_key
from analyzer.sip.message import SipMessage
from tests.rules import Case, analysis_of

CATALOGUE = Path(__file__).resolve().parents[3] / "shared" / "docs" / "rules-catalogue.md"

# Rules of the product that the catalogue does not list (their docstrings say so).
PRODUCT_RULES = {"MSG-14", "HDR-17"}


def _test_module(rule_module: str) -> str:
    # analyzer.rules.message_rules -> tests.rules.test_message_rules
    return "tests.rules.test_" + rule_module.rsplit(".", 1)[1]


def test_every_rule_is_documented() -> None:
    assert RULES
    for rid, r in RULES.items():
        assert r.id == rid and RULE_ID_RE.fullmatch(rid)
        assert r.rfc.startswith("RFC "), rid
        assert r.summary and not r.summary.endswith("."), rid
        assert r.explanation, f"{rid}: the docstring needs more than its summary line"
        assert isinstance(r.severity, Severity) and isinstance(r.scope, Scope)


@pytest.mark.parametrize("rid", sorted(RULES, key=rule_sort_key))
def test_every_rule_has_violating_and_compliant_cases(rid: str) -> None:
    module = importlib.import_module(_test_module(RULES[rid].check.__module__))
    violating: list[Case] = module.VIOLATING
    compliant: list[Case] = module.COMPLIANT
    assert any(c.rule == rid for c in violating), f"{rid}: no violating case"
    assert any(c.rule == rid for c in compliant), f"{rid}: no compliant case"


def test_rule_ids_come_from_the_catalogue() -> None:
    if not CATALOGUE.exists():
        pytest.skip(f"catalogue not found at {CATALOGUE}")
    text = CATALOGUE.read_text(encoding="utf-8")
    for rid in RULES:
        if rid in PRODUCT_RULES:
            assert not re.search(rf"\b{rid}\b", text), f"{rid} is in the catalogue now"
        else:
            assert re.search(rf"\b{re.escape(rid)}\b", text), f"{rid} is not in the catalogue"


# A catalogue ID as the first cell of a table row: "| DLG-3 | error | ...".
_CATALOGUE_ROW_RE = re.compile(
    r"^\|\s*((?:HDR|CSEQ|TXN|DLG|MSG|SUB|RI|REG|PUB)-\d+[a-z]?)\s*\|", re.M
)


def test_every_catalogue_id_is_a_rule_or_documented_as_not_one() -> None:
    """Each catalogue ID is a registered rule or in NOT_IMPLEMENTED with a reason, not both."""
    if not CATALOGUE.exists():
        pytest.skip(f"catalogue not found at {CATALOGUE}")
    ids = set(_CATALOGUE_ROW_RE.findall(CATALOGUE.read_text(encoding="utf-8")))
    assert len(ids) > 100, "the catalogue's tables were not found"
    missing = sorted(ids - set(RULES) - set(NOT_IMPLEMENTED), key=rule_sort_key)
    assert missing == [], f"catalogue IDs that are neither a rule nor in NOT_IMPLEMENTED: {missing}"
    assert set(NOT_IMPLEMENTED) <= ids, sorted(set(NOT_IMPLEMENTED) - ids)
    assert not set(NOT_IMPLEMENTED) & set(RULES), sorted(set(NOT_IMPLEMENTED) & set(RULES))


def test_not_implemented_ids_have_reasons() -> None:
    for rid, reason in NOT_IMPLEMENTED.items():
        assert RULE_ID_RE.fullmatch(rid), rid
        assert len(reason) > 30 and not reason.endswith("."), (rid, reason)


def test_registration_is_checked() -> None:
    def check(ctx: object) -> Iterator[Issue]:
        """A check."""
        yield from ()

    with pytest.raises(ValueError, match="does not match"):
        rule("SIP-MSG-001", severity=Severity.ERROR, rfc="RFC 3261", scope=Scope.ANALYSIS)
    with pytest.raises(ValueError, match="registered twice"):
        rule("HDR-1", severity=Severity.ERROR, rfc="RFC 3261", scope=Scope.ANALYSIS)
    with pytest.raises(ValueError, match="no RFC"):
        rule("HDR-999", severity=Severity.ERROR, rfc=" ", scope=Scope.ANALYSIS)
    with pytest.raises(ValueError, match="Scope.MESSAGE"):
        rule(
            "HDR-999",
            severity=Severity.ERROR,
            rfc="RFC 3261",
            scope=Scope.TRANSACTION,
            triggers=Trigger.UNTYPED_BODY,
        )
    with pytest.raises(ValueError, match="messages and transactions"):
        rule(
            "HDR-999",
            severity=Severity.ERROR,
            rfc="RFC 3261",
            scope=Scope.DIALOG,
            methods=("INVITE",),
        )
    register = rule("HDR-999", severity=Severity.ERROR, rfc="RFC 3261", scope=Scope.ANALYSIS)

    def undocumented(ctx: object) -> Iterator[Issue]:
        yield from ()

    with pytest.raises(ValueError, match="no docstring"):
        register(undocumented)
    assert "HDR-999" not in RULES
    assert check.__doc__


def test_severity_order_and_parse() -> None:
    assert Severity.INFO < Severity.WARNING < Severity.ERROR
    assert max(Severity) is Severity.ERROR
    assert Severity.parse(" Warning ") is Severity.WARNING
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse("fatal")


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="events_rfc"):
        Options(events_rfc="2543")
    with pytest.raises(ValueError, match="message_body_limit"):
        Options(message_body_limit=-1)
    assert Options(extra_headers=frozenset({"X-Foo"})).extra_headers == {"x-foo"}


@pytest.mark.parametrize(
    ("select", "ignore", "expected"),
    [
        (("CSEQ-*",), (), {f"CSEQ-{n}" for n in range(1, 9)}),
        (("hdr-4*",), ("HDR-4C",), {"HDR-4", "HDR-4b"}),
        (("MSG-1", "MSG-1b"), (), {"MSG-1", "MSG-1b"}),
        (("*",), ("*",), set()),
    ],
)
def test_select_and_ignore_globs(
    select: tuple[str, ...], ignore: tuple[str, ...], expected: set[str]
) -> None:
    chosen = select_rules(Options(select=select, ignore=ignore))
    assert {r.id for r in chosen} == expected
    assert [r.id for r in chosen] == sorted((r.id for r in chosen), key=rule_sort_key)


def test_patterns_without_rules() -> None:
    assert patterns_without_rules(["HDR-*", "NOPE-*", "msg-1b"]) == ["NOPE-*"]


def test_rule_sort_key_is_natural() -> None:
    ids = ["HDR-10", "HDR-3b", "HDR-3", "CSEQ-2", "HDR-4"]
    assert sorted(ids, key=rule_sort_key) == ["CSEQ-2", "HDR-3", "HDR-3b", "HDR-4", "HDR-10"]


def _messages() -> list[SipMessage]:
    from tests.rules.test_header_rules import options

    return options(drop=("Max-Forwards", "To:", "Content-Length"))


def test_run_rules_fills_findings_from_the_rule() -> None:
    found = run_rules(analysis_of(_messages()), Options(select=("HDR-*",)))
    assert [f.rule for f in found] == ["HDR-1", "HDR-3b", "HDR-8"]
    for f in found:
        r = RULES[f.rule]
        assert (f.rfc, f.summary) == (r.rfc, r.summary)
        assert f.severity is r.severity
        assert f.frames == (1,) and f.messages == (0,) and f.first_frame == 1


def test_sentences_are_printable() -> None:
    """Captured control characters and undecodable bytes never reach a report line."""
    from tests.rules import wire

    data = (
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
        b"Max-Forwards: 7\xff\x01\r\nContent-Length: 0\r\n\r\n"
    )
    found = run_rules(analysis_of([wire(data)]), Options(select=("HDR-8", "HDR-11a")))
    assert found
    for f in found:
        assert f.message.isprintable()
        f.message.encode("utf-8")


def test_rfc3265_mode_uses_the_milder_severity() -> None:
    """A rule declaring ``rfc3265_severity`` reports with it in RFC 3265 mode."""
    from analyzer.rules import RULES as registry

    rid = "SUB-900"
    try:

        @rule(
            rid,
            severity=Severity.ERROR,
            rfc="RFC 6665 §4.2.2",
            scope=Scope.ANALYSIS,
            rfc3265_severity=Severity.WARNING,
        )
        def stricter(ctx: object) -> Iterator[Issue]:
            """A requirement RFC 6665 made stricter.

            Used by this test only.
            """
            yield Issue("NOTIFY without expires", (0,))

        a = analysis_of(_messages())
        (strict,) = run_rules(a, Options(select=(rid,)))
        (legacy,) = run_rules(a, Options(select=(rid,), events_rfc="3265"))
        assert strict.severity is Severity.ERROR and legacy.severity is Severity.WARNING
    finally:
        registry.pop(rid, None)
