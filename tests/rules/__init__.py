"""Helpers for the rule tests: build messages, run one rule, check table cases.

Every rule test module defines ``VIOLATING`` and ``COMPLIANT``, lists of
:class:`Case`; ``tests/rules/test_registry.py`` checks that every registered
rule has at least one of each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.analysis import Analysis
from analyzer.correlation import correlate
from analyzer.errors import Diagnostic
from analyzer.net.flow import Origin, Transport
from analyzer.rules import Finding, Options, Severity, run_rules
from analyzer.sip.message import SipMessage, parse_message
from tests.sipmsg import A, B, Trace, ep, req

__all__ = [
    "Step",
    "flow",
    "A",
    "B",
    "Case",
    "analysis_of",
    "check_compliant",
    "check_violating",
    "findings",
    "request",
    "wire",
]


def analysis_of(messages: Sequence[SipMessage], diagnostics: Sequence[Diagnostic] = ()) -> Analysis:
    """An Analysis over ``messages`` (correlated) as if read from one capture."""
    msgs = list(messages)
    return Analysis(msgs, correlate(msgs), list(diagnostics), [], ["test.pcap"])


def findings(
    messages: Sequence[SipMessage],
    rule_id: str,
    diagnostics: Sequence[Diagnostic] = (),
    **options: Any,
) -> list[Finding]:
    """The findings of rule ``rule_id`` alone over ``messages``."""
    return run_rules(analysis_of(messages, diagnostics), Options(select=(rule_id,), **options))


def request(method: str, **kw: Any) -> str:
    """:func:`tests.sipmsg.req` with ``Max-Forwards: 70`` first among the extra headers."""
    headers = ["Max-Forwards: 70", *kw.pop("headers", ())]
    return req(method, headers=headers, **kw)


def wire(
    data: bytes,
    *,
    frame: int = 1,
    ts: int = 0,
    src: str = A,
    dst: str = B,
    transport: Transport = Transport.UDP,
    truncated: bool = False,
) -> SipMessage:
    """Parse exact wire bytes (for line-ending and spacing cases)."""
    origin = Origin(
        frame=frame,
        frames=(frame,),
        ts_ns=ts,
        src=ep(src),
        dst=ep(dst),
        transport=transport,
        truncated=truncated,
    )
    return parse_message(data, origin)


@dataclass(frozen=True)
class Case:
    """One table entry: the messages a rule is run over and what it must report.

    For a violating case, ``frames`` (when given) must be the frames of one
    finding and ``severity`` the severity of every finding; ``text`` must
    appear in one finding's sentence.
    """

    rule: str
    name: str
    build: Callable[[], Sequence[SipMessage]]
    frames: tuple[int, ...] | None = None
    severity: Severity | None = None
    text: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()

    def __str__(self) -> str:
        return f"{self.rule}:{self.name}"

    def run(self) -> list[Finding]:
        return findings(self.build(), self.rule, self.diagnostics, **self.options)


def check_violating(case: Case) -> None:
    """The case's rule reports, at the expected frames and severity, quoting the text."""
    found = case.run()
    assert found, f"{case}: no finding"
    assert all(f.rule == case.rule for f in found)
    for f in found:
        assert f.message and f.rfc and f.summary
        assert f.frames and f.messages
    if case.frames is not None:
        assert case.frames in [f.frames for f in found], [f.frames for f in found]
    if case.severity is not None:
        assert {f.severity for f in found} == {case.severity}, [
            (f.severity, f.message) for f in found
        ]
    if case.text is not None:
        assert any(case.text in f.message for f in found), [f.message for f in found]


def check_compliant(case: Case) -> None:
    """The case's rule reports nothing."""
    found = case.run()
    assert found == [], [f.message for f in found]


# One step of a flow: (text, time in seconds, sent by the answering side
# instead of the one that starts the flow).
Step = tuple[str, float, bool]


def flow(*steps: Step) -> list[SipMessage]:
    """The messages of ``steps``, parsed as a two-party exchange (see tests.sipmsg.Trace)."""
    t = Trace()
    for text, at, reverse in steps:
        t.add(text, at, reverse=reverse)
    return t.messages
