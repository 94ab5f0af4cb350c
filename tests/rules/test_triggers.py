"""Rule triggers: what each one notices, and that they never hide a finding.

A trigger only saves calls (see :mod:`analyzer.rules.triggers`), so every
rule must report exactly the same with triggers as when called for every
message.  That is checked on every case of the rule tables (violating and
compliant, all rules run over each), on the sample captures and on the
corpus captures when present.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import analyzer.rules as engine
from analyzer.analysis import analyze
from analyzer.net.flow import Transport
from analyzer.rules import RULES, Finding, Options, Scope, Trigger, run_rules
from analyzer.rules.base import AnalysisLike
from analyzer.rules.triggers import ALL_TRIGGERS, message_triggers
from tests.corpus import corpus_entries
from tests.rules import Case, analysis_of, wire

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").glob("*.pcap"))
TABLE_MODULES = (
    "cseq_rules",
    "dialog_rules",
    "header_rules",
    "message_rules",
    "reginfo_rules",
    "register_rules",
    "subscription_rules",
    "transaction_rules",
)


def _cases() -> Iterator[Case]:
    for name in TABLE_MODULES:
        module = importlib.import_module(f"tests.rules.test_{name}")
        yield from module.VIOLATING
        yield from module.COMPLIANT


CASES = list(_cases())


def _both_ways(
    analysis: AnalysisLike, monkeypatch: pytest.MonkeyPatch, options: Options | None = None
) -> tuple[list[Finding], list[Finding]]:
    """The findings with triggers, and with every rule called for every message."""
    with_triggers = run_rules(analysis, options)
    with monkeypatch.context() as m:
        m.setattr(engine, "_use_triggers", False)
        without = run_rules(analysis, options)
    return with_triggers, without


@pytest.mark.parametrize("case", CASES, ids=str)
def test_table_cases_find_the_same_with_triggers(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = analysis_of(case.build(), case.diagnostics)
    with_triggers, without = _both_ways(analysis, monkeypatch, Options(**case.options))
    assert with_triggers == without


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_samples_find_the_same_with_triggers(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_triggers, without = _both_ways(analyze(path), monkeypatch)
    assert with_triggers == without


@pytest.mark.parametrize("entry", corpus_entries(), ids=lambda e: e.name)
def test_corpus_finds_the_same_with_triggers(entry, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with_triggers, without = _both_ways(analyze(entry.path), monkeypatch)
    assert with_triggers == without


def test_the_check_without_triggers_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    # A trigger that never fires hides HDR-8's finding: the comparison above
    # would catch a trigger that is too narrow.
    data = b"OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" + (
        b"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )
    analysis = analysis_of([wire(data)])
    monkeypatch.setattr(engine, "message_triggers", lambda msg: 0)
    with_triggers, without = _both_ways(analysis, monkeypatch, Options(select=("HDR-8",)))
    assert with_triggers == [] and [f.rule for f in without] == ["HDR-8"]


def test_triggers_only_on_message_rules() -> None:
    for r in RULES.values():
        if r.triggers is not None:
            assert r.scope is Scope.MESSAGE, r.id


# -- what each trigger notices ---------------------------------------------------------

REQUEST = (
    "INVITE sip:bob@example.com SIP/2.0",
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1",
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=a1",
    "To: <sip:bob@example.com>;tag=b1",
    "Call-ID: c1@example.com",
    "CSeq: 1 INVITE",
    "Content-Length: 0",
)
RESPONSE = (
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1",
    "From: <sip:alice@example.com>;tag=a1",
    "To: <sip:bob@example.com>;tag=b1",
    "Call-ID: c1@example.com",
    "CSeq: 1 INVITE",
    "Content-Length: 0",
)


def _bytes(base: Sequence[str], replace: dict[str, str], body: str = "") -> bytes:
    out = []
    for line in base:
        for old, new in replace.items():
            line = line.replace(old, new)
        if line:
            out.append(line)
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


# (trigger, base message, replacements that give it the feature, body)
FEATURES: list[tuple[Trigger, Sequence[str], dict[str, str], str]] = [
    (Trigger.DEFECTS, REQUEST, {"Content-Length: 0": "Content-Length: x"}, ""),
    (Trigger.UNTYPED_BODY, REQUEST, {"Content-Length: 0": "Content-Length: 3"}, "v=0"),
    (Trigger.NO_CONTENT_LENGTH, REQUEST, {"Content-Length: 0": ""}, ""),
    (Trigger.LARGE, REQUEST, {"Call-ID: c1": "Call-ID: " + "c" * 1300}, ""),
    (Trigger.EAGER_GAP, REQUEST, {"To: <sip:bob@example.com>;tag=b1": ""}, ""),
    (Trigger.EAGER_GAP, REQUEST, {";tag=a1": ""}, ""),
    (Trigger.EAGER_GAP, RESPONSE, {"Call-ID: c1@example.com": ""}, ""),
    (Trigger.ODD_VIA, REQUEST, {"z9hG4bK-1": "1"}, ""),
    (Trigger.ODD_VIA, REQUEST, {"SIP/2.0/UDP": "SIP/3.0/UDP"}, ""),
    (Trigger.ODD_CSEQ, REQUEST, {"CSeq: 1 INVITE": "CSeq: 1 BYE"}, ""),
    (Trigger.ODD_CSEQ, REQUEST, {"CSeq: 1 INVITE": "CSeq: 2147483648 INVITE"}, ""),
    (Trigger.ODD_MAX_FORWARDS, REQUEST, {"Max-Forwards: 70": ""}, ""),
    (Trigger.ODD_MAX_FORWARDS, REQUEST, {"Max-Forwards: 70": "Max-Forwards: 0"}, ""),
    (Trigger.ODD_MAX_FORWARDS, REQUEST, {"Max-Forwards: 70": "Max-Forwards: 256"}, ""),
    (Trigger.UNKNOWN_METHOD, REQUEST, {"INVITE": "NOFITY"}, ""),
    (Trigger.UNKNOWN_HEADER, REQUEST, {"Max-Forwards: 70": "Contatct: <sip:a@h>"}, ""),
    (Trigger.UNDERSCORE, REQUEST, {"bob@example.com>": "bob@ex_ample.com>"}, ""),
    (Trigger.PARAMETERS, REQUEST, {";tag=a1": ";tag=a1;tag=a2"}, ""),
    (Trigger.PARAMETERS, REQUEST, {"z9hG4bK-1": "z9hG4bK-1;rport"}, ""),
    (Trigger.PARAMETERS, RESPONSE, {";tag=b1": ";tag=b1;tag=b2"}, ""),
    (Trigger.SEVERAL_VIAS, RESPONSE, {"z9hG4bK-1": "z9hG4bK-1, SIP/2.0/UDP h;branch=z9hG4bK2"}, ""),
    (Trigger.SUBSCRIPTION_STATE, REQUEST, {"Max-Forwards: 70": "Subscription-State: active"}, ""),
    (Trigger.EVENT, REQUEST, {"Max-Forwards: 70": "Event: presence"}, ""),
    (Trigger.EVENTS_METHOD, REQUEST, {"INVITE": "NOTIFY"}, ""),
    (Trigger.EVENTS_METHOD, RESPONSE, {"1 INVITE": "1 SUBSCRIBE"}, ""),
]


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda t: t.name)
def test_every_trigger_has_a_feature_case(trigger: Trigger) -> None:
    assert any(t is trigger for t, *_ in FEATURES)


def test_a_plain_request_and_response_have_no_trigger() -> None:
    assert message_triggers(wire(_bytes(REQUEST, {}))) == 0
    assert message_triggers(wire(_bytes(RESPONSE, {}))) == 0
    # An initial request and a 100 Trying: a To without a tag is no gap.
    assert message_triggers(wire(_bytes(REQUEST, {";tag=b1": ""}))) == 0
    trying = {"200 OK": "100 Trying", ";tag=b1": ""}
    assert message_triggers(wire(_bytes(RESPONSE, trying))) == 0
    typed = {"Content-Length: 0": "Content-Type: application/sdp\r\nContent-Length: 3"}
    assert message_triggers(wire(_bytes(REQUEST, typed, "v=0"))) == 0


@pytest.mark.parametrize(
    ("trigger", "base", "replace", "body"),
    FEATURES,
    ids=[f"{t.name}-{n}" for n, (t, *_) in enumerate(FEATURES)],
)
def test_each_feature_sets_its_trigger(
    trigger: Trigger, base: Sequence[str], replace: dict[str, str], body: str
) -> None:
    found = message_triggers(wire(_bytes(base, replace, body), transport=Transport.TCP))
    assert found & trigger
    assert found != int(ALL_TRIGGERS)
