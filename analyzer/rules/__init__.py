"""Validation rules: the registry, the decorator that fills it, and the engine.

Every rule is a function registered with :func:`rule` into :data:`RULES`,
keyed by its ID from the rules catalogue (``docs/rules-catalogue.md``:
``HDR-8``, ``CSEQ-2``, ``MSG-1``...).  The rule modules are imported
explicitly at the bottom of this file; there is no discovery by name.

:func:`run_rules` runs the selected rules over an analysis and returns
:class:`~analyzer.rules.base.Finding` records sorted by first frame, then
rule ID::

    from analyzer.analysis import analyze
    from analyzer.rules import Options, run_rules

    findings = run_rules(analyze("call.pcap"), Options(ignore=("MSG-1b",)))
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from ..collector import gc_paused
from ..sip.message import SipRequest
from .base import (
    RULE_ID_RE,
    AnalysisLike,
    Context,
    Finding,
    Issue,
    Options,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    rule_sort_key,
)
from .triggers import ALL_TRIGGERS, Trigger, message_triggers

__all__ = [
    "NOT_IMPLEMENTED",
    "RULES",
    "AnalysisLike",
    "Context",
    "Finding",
    "Issue",
    "Options",
    "Rule",
    "RuleConfig",
    "Scope",
    "Severity",
    "Trigger",
    "finding_sort_key",
    "patterns_without_rules",
    "rule",
    "run_rules",
    "select_rules",
]

#: Every registered rule by ID.
RULES: dict[str, Rule] = {}

#: Catalogue IDs that are deliberately not rules, with the reason.  Every ID
#: of the catalogue is either a registered rule or listed here
#: (tests/rules/test_registry.py checks both ways); ``sip-analyzer rules``
#: lists only rules.
NOT_IMPLEMENTED: dict[str, str] = {
    "HDR-11": "split into HDR-11a (malformed header line), HDR-11b (misspelt header name) "
    "and HDR-11c (underscore in a host name), one rule per case the catalogue lists",
    "HDR-13": "a requirement on the parser, not on the traffic: compact forms are read "
    "everywhere (analyzer.sip.headers.COMPACT_FORMS), so a message cannot violate it",
    "TXN-4": "the server-side transaction key; it is how analyzer.correlation.transactions "
    "matches requests, not a requirement a message can violate",
    "DLG-1": "the dialog model (dialog ID, early and confirmed dialogs); it is how "
    "analyzer.correlation.dialogs builds dialogs, not a requirement a message can violate",
    "MSG-10": "how to read MESSAGE response codes (200 delivered, 202 accepted by a relay, "
    "4xx/5xx not delivered, 6xx refused); an interpretation for reports, not a requirement",
    "REG-4": "how the requested expiry of a binding is worked out (Contact expires, else "
    "Expires, else the registrar's choice); analyzer.correlation.registrations applies it "
    "and REG-5/REG-6 judge the result",
    **{
        f"PUB-{n}": "RFC 3903 PUBLISH rules: the catalogue quotes RFC 3903 second-hand "
        "only (§0) and the product does not check PUBLISH yet"
        for n in range(1, 8)
    },
}

F = TypeVar("F", bound=Callable[..., Iterable[Issue]])


def rule(
    rule_id: str,
    *,
    severity: Severity,
    rfc: str,
    scope: Scope,
    methods: Iterable[str] | None = None,
    requests: bool = True,
    responses: bool = True,
    defects: Iterable[str] | None = None,
    rfc3265_severity: Severity | None = None,
    triggers: Trigger | None = None,
) -> Callable[[F], F]:
    """Register the decorated check as rule ``rule_id``.

    The check's docstring is required: its first line (without the final
    period) is the rule's summary, the rest its explanation.  ``methods``,
    ``requests``, ``responses``, ``defects`` and ``triggers`` narrow what a
    MESSAGE-scope check is called for (see :class:`~analyzer.rules.base.Rule`
    and :mod:`analyzer.rules.triggers`).

    Raises (at import time):
        ValueError: the ID does not follow the catalogue's pattern, is
            already registered, or the RFC reference or docstring is missing.
    """
    if RULE_ID_RE.fullmatch(rule_id) is None:
        raise ValueError(f"rule ID {rule_id!r} does not match {RULE_ID_RE.pattern}")
    if rule_id in RULES:
        raise ValueError(f"rule ID {rule_id!r} is registered twice")
    if not rfc.strip():
        raise ValueError(f"rule {rule_id} has no RFC reference")
    filtered = defects is not None or triggers is not None or not (requests and responses)
    if scope is not Scope.MESSAGE and filtered:
        raise ValueError(f"rule {rule_id}: message filters apply only to Scope.MESSAGE")
    if methods is not None and scope not in (Scope.MESSAGE, Scope.TRANSACTION):
        raise ValueError(f"rule {rule_id}: methods apply only to messages and transactions")

    def register(check: F) -> F:
        doc = inspect.getdoc(check)
        if not doc:
            raise ValueError(f"rule {rule_id} ({check.__name__}) has no docstring")
        summary, _, explanation = doc.partition("\n")
        RULES[rule_id] = Rule(
            rule_id,
            severity,
            rfc,
            scope,
            summary.strip().rstrip("."),
            explanation.strip(),
            check,
            None if methods is None else frozenset(methods),
            requests,
            responses,
            None if defects is None else frozenset(defects),
            rfc3265_severity,
            None if triggers is None else int(triggers),
        )
        return check

    return register


def _matches(rule_id: str, patterns: Iterable[str]) -> bool:
    # Case-insensitive: "hdr-*" selects HDR-8, "HDR-3B" selects HDR-3b.
    key = rule_id.upper()
    return any(fnmatch.fnmatchcase(key, p.strip().upper()) for p in patterns)


def select_rules(options: Options | None = None) -> list[Rule]:
    """The rules ``options`` select, in ID order (all of them by default)."""
    options = options or Options()
    chosen = [
        r
        for r in RULES.values()
        if _matches(r.id, options.select) and not _matches(r.id, options.ignore)
    ]
    chosen.sort(key=lambda r: rule_sort_key(r.id))
    return chosen


def patterns_without_rules(patterns: Iterable[str]) -> list[str]:
    """The patterns among ``patterns`` that match no registered rule (likely typos)."""
    return [p for p in patterns if not any(_matches(rid, (p,)) for rid in RULES)]


@gc_paused()
def run_rules(analysis: AnalysisLike, options: Options | None = None) -> list[Finding]:
    """Run the selected rules over ``analysis``.

    Returns the findings sorted by first frame, then rule ID.  Each
    :class:`~analyzer.rules.base.Issue` a check yields becomes a Finding
    with the rule's ID, RFC reference, summary and severity (the Issue's
    severity when it sets one; in RFC 3265 mode the rule's
    ``rfc3265_severity`` when that is milder), and the frames of the
    messages it names.  The cyclic garbage collector is paused meanwhile
    (:func:`~analyzer.collector.gc_paused`): the findings form no cycles.
    """
    options = options or Options()
    rules = select_rules(options)
    messages = analysis.sip_messages
    correlation = analysis.correlation
    ctx = Context(messages, correlation, options, analysis.diagnostic_records)
    legacy = options.events_rfc == "3265"
    findings: list[Finding] = []

    def add(r: Rule, issue: Issue) -> None:
        severity = issue.severity or r.severity
        if legacy and r.rfc3265_severity is not None and r.rfc3265_severity < severity:
            severity = r.rfc3265_severity
        frames: set[int] = set()
        for i in issue.messages:
            frames.update(messages[i].origin.frames)
        findings.append(
            Finding(
                r.id,
                severity,
                r.rfc,
                r.summary,
                _printable(issue.message),
                issue.messages,
                tuple(sorted(frames)),
            )
        )

    def emit(r: Rule, issues: Iterable[Issue]) -> None:
        for issue in issues:
            add(r, issue)

    by_scope: dict[Scope, list[Rule]] = {}
    for r in rules:
        by_scope.setdefault(r.scope, []).append(r)

    per_message = by_scope.get(Scope.MESSAGE)
    if per_message:
        _run_message_rules(ctx, per_message, add)
    # Record by record, each with all its rules: a record and the messages
    # it points at are read by every rule while they are in the processor's
    # caches (rule by rule, each rule would walk the whole capture's records
    # again, mostly from memory).  Each check is called directly (not through
    # emit): most calls yield nothing.
    txn_rules = by_scope.get(Scope.TRANSACTION)
    if txn_rules:
        # The rules for each transaction method (a rule may name methods).
        per_method: dict[str, list[Rule]] = {}
        for txn in correlation.transactions:
            chosen = per_method.get(txn.method)
            if chosen is None:
                chosen = per_method[txn.method] = [
                    r for r in txn_rules if r.methods is None or txn.method in r.methods
                ]
            for r in chosen:
                for issue in r.check(ctx, txn):
                    add(r, issue)
    records: tuple[tuple[Scope, Sequence[object]], ...] = (
        (Scope.DIALOG, correlation.dialogs),
        (Scope.SUBSCRIPTION, correlation.subscriptions),
        (Scope.REGISTRATION, correlation.registrations),
    )
    for scope, items in records:
        scoped = by_scope.get(scope)
        if scoped:
            for item in items:
                for r in scoped:
                    for issue in r.check(ctx, item):
                        add(r, issue)
    for r in by_scope.get(Scope.ANALYSIS, ()):
        emit(r, r.check(ctx))

    findings.sort(key=finding_sort_key)
    return findings


def finding_sort_key(f: Finding) -> tuple[int, tuple[str, int, str], tuple[int, ...]]:
    """The order of :func:`run_rules`' findings: first frame, then rule ID, then messages."""
    return (f.first_frame, rule_sort_key(f.rule), f.messages)


def _run_message_rules(
    ctx: Context,
    rules: Sequence[Rule],
    add: Callable[[Rule, Issue], None],
) -> None:
    """Call each MESSAGE-scope rule for the messages it applies to.

    A message's kind (request or response), method (a response's CSeq
    method) and :mod:`triggers <analyzer.rules.triggers>` pick the rules
    to call; the list for each combination is worked out once and cached,
    as a capture has few distinct combinations and many messages.  Rules
    that react to parser defects are called only for messages with one of
    their defect codes.  Retransmissions are skipped (catalogue G-3: a copy
    repeats what its original showed).
    """
    skip = ctx.retransmissions
    features = message_triggers if _use_triggers else _every_trigger
    dispatch: dict[tuple[bool, str | None, int], tuple[list[Rule], list[Rule]]] = {}
    for i, msg in enumerate(ctx.messages):
        if i in skip:
            continue
        if isinstance(msg, SipRequest):
            is_request = True
            method: str | None = msg.method
        else:
            is_request = False
            method = msg.cseq_method
        key = (is_request, method, features(msg))
        applicable = dispatch.get(key)
        if applicable is None:
            chosen = [r for r in rules if _applies(r, is_request, method, key[2])]
            applicable = dispatch[key] = (
                [r for r in chosen if r.defects is None],
                [r for r in chosen if r.defects is not None],
            )
        for r in applicable[0]:
            for issue in r.check(ctx, i, msg):
                add(r, issue)
        if applicable[1]:
            codes = {d.code for d in msg.defects}
            for r in applicable[1]:
                assert r.defects is not None
                if not r.defects.isdisjoint(codes):
                    for issue in r.check(ctx, i, msg):
                        add(r, issue)


# False only in tests/rules/test_triggers.py, which compares the findings
# with and without triggers.
_use_triggers = True


def _every_trigger(msg: object) -> int:
    return _ALL


_ALL = int(ALL_TRIGGERS)
_DEFECTS = int(Trigger.DEFECTS)


# Characters a sentence must not carry into a report line: controls, and
# lone surrogates from undecodable captured bytes (they cannot be encoded).
_UNPRINTABLE_RE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _printable(text: str) -> str:
    """``text`` with control characters and lone surrogates written as escapes."""
    if text.isascii() and text.isprintable():
        return text
    return _UNPRINTABLE_RE.sub(_escape, text)


def _applies(r: Rule, is_request: bool, method: str | None, found: int) -> bool:
    if not (r.requests if is_request else r.responses):
        return False
    if r.methods is not None and method not in r.methods:
        return False
    if r.defects is not None and not found & _DEFECTS:
        return False
    return r.triggers is None or bool(r.triggers & found)


# The rule modules, imported for their registrations.  Explicit on purpose:
# adding a module means adding it here (subscription_rules, reginfo_rules...).
from . import (  # noqa: E402, F401
    cseq_rules,
    dialog_rules,
    header_rules,
    message_rules,
    reginfo_rules,
    register_rules,
    subscription_rules,
    transaction_rules,
)
