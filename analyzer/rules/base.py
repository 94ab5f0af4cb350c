"""Validation records: severities, scopes, rules, issues, findings, options, and the check context.

A rule is a function registered with :func:`analyzer.rules.rule`.  Its scope
says what it is called with:

* ``MESSAGE``: ``check(ctx, index, message)`` for every message (not for
  retransmissions, which are copies of a message already checked: catalogue
  G-3), optionally only for some methods and only requests or responses;
* ``TRANSACTION`` / ``DIALOG`` / ``SUBSCRIPTION`` / ``REGISTRATION``:
  ``check(ctx, record)`` for every record of that kind in the correlation;
* ``ANALYSIS``: ``check(ctx)`` once.

A check yields :class:`Issue` records (a sentence and the message indices it
is about); the engine turns them into :class:`Finding` records, filling in
the rule's ID, RFC reference and severity, so a check cannot mislabel itself.
The one thing a check may choose is a different severity for a case its
rule's docstring documents (a gap instead of a decrease, UDP instead of
TCP, a message cut by the capture).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..correlation import Correlation, Transaction
from ..errors import Diagnostic, SipParseError
from ..net.flow import Transport
from ..options import MESSAGE_BODY_LIMIT, Options
from ..sip.message import SipMessage, SipRequest
from ..sip.values import Via, parse_via

__all__ = [
    "MESSAGE_BODY_LIMIT",
    "RULE_ID_RE",
    "T1_NS",
    "TIMER_64_T1_NS",
    "AnalysisLike",
    "Context",
    "addr_uri",
    "answers_along_path",
    "Finding",
    "Issue",
    "Options",
    "Rule",
    "RuleConfig",
    "Scope",
    "Severity",
    "quote",
    "request_index",
    "sent_before_final",
    "rule_sort_key",
    "same_uri",
    "uri_key",
]


class Severity(enum.Enum):
    """How bad a finding is; ordered ``INFO < WARNING < ERROR``.

    * ``ERROR``: a MUST or MUST NOT is violated and the bytes alone show it.
    * ``WARNING``: a SHOULD is violated, or a MUST whose detection needs
      context the capture may lack (timing, lost packets, the other hop).
    * ``INFO``: an observation, a legacy behaviour or a capture gap.
    """

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for error."""
        return _RANKS[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANKS[self] < _RANKS[other]

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANKS[self] <= _RANKS[other]

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANKS[self] > _RANKS[other]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANKS[self] >= _RANKS[other]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``"error"`` / ``"warning"`` / ``"info"`` (any case) as a Severity.

        Raises:
            ValueError: any other text.
        """
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown severity {text!r} (error, warning or info)") from None


_RANKS = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Scope(enum.Enum):
    """What a rule's check is called with (see the module docstring)."""

    MESSAGE = "message"
    TRANSACTION = "transaction"
    DIALOG = "dialog"
    SUBSCRIPTION = "subscription"
    REGISTRATION = "registration"
    ANALYSIS = "analysis"


#: Rule IDs are those of the rules catalogue (docs/rules-catalogue.md):
#: a family, a number, and for some an extra letter ("HDR-3b").  IDs are
#: never reused or renumbered.
RULE_ID_RE = re.compile(r"(HDR|CSEQ|TXN|DLG|MSG|SUB|RI|REG|PUB)-[1-9][0-9]*[a-z]?")


def rule_sort_key(rule_id: str) -> tuple[str, int, str]:
    """Natural order of rule IDs: HDR-3 < HDR-3b < HDR-4 < HDR-10."""
    family, _, rest = rule_id.partition("-")
    digits = rest.rstrip("abcdefghijklmnopqrstuvwxyz")
    return family, int(digits) if digits.isdigit() else 0, rest[len(digits) :]


@dataclass(frozen=True, slots=True)
class Rule:
    """One registered rule.

    ``summary`` is the first line of the check's docstring (what a user
    sees next to the ID), ``explanation`` the rest of it.  ``methods``
    limits a MESSAGE-scope rule to requests with these methods and
    responses with these CSeq methods (None: all); ``requests`` /
    ``responses`` say which kinds of message it looks at.
    A TRANSACTION-scope rule may name ``methods`` too: it is then called
    only for transactions of these methods.
    ``defects`` limits it further to messages carrying one of these
    parser defect codes (most messages have none, so such rules cost
    nothing on clean traffic).  ``triggers`` limits it to messages with
    at least one of these :class:`~analyzer.rules.triggers.Trigger`
    features (None: every message).  ``rfc3265_severity`` is the severity used
    when checking against RFC 3265 instead of RFC 6665 (for requirements
    RFC 6665 made stricter).
    """

    id: str
    severity: Severity
    rfc: str
    scope: Scope
    summary: str
    explanation: str
    check: Callable[..., Iterable[Issue]]
    methods: frozenset[str] | None = None
    requests: bool = True
    responses: bool = True
    defects: frozenset[str] | None = None
    rfc3265_severity: Severity | None = None
    triggers: int | None = None

    @property
    def family(self) -> str:
        """The ID's prefix: ``HDR``, ``CSEQ``, ``MSG``, ..."""
        return self.id.partition("-")[0]


@dataclass(frozen=True, slots=True)
class Issue:
    """What a check yields: a sentence and the messages it is about.

    ``message`` is a plain sentence quoting the offending values;
    ``messages`` are message indices, the most relevant first.
    ``severity`` overrides the rule's severity, only for a case the rule's
    docstring documents.
    """

    message: str
    messages: tuple[int, ...]
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One reported problem.

    ``rule`` is the rule ID; ``severity``, ``rfc`` and ``summary`` come from
    the rule (the severity possibly as documented for the case); ``message``
    is the sentence about this occurrence; ``messages`` the message indices
    it points at and ``frames`` the capture frames of those messages,
    ascending.
    """

    rule: str
    severity: Severity
    rfc: str
    summary: str
    message: str
    messages: tuple[int, ...]
    frames: tuple[int, ...]

    @property
    def first_frame(self) -> int:
        """The lowest frame number, 0 when the finding has no frames."""
        return self.frames[0] if self.frames else 0


#: The same record under the name the configuration files use.
RuleConfig = Options


class AnalysisLike(Protocol):
    """What the rules read from an :class:`~analyzer.analysis.Analysis`."""

    @property
    def sip_messages(self) -> Sequence[SipMessage]: ...

    @property
    def correlation(self) -> Correlation: ...

    @property
    def diagnostic_records(self) -> Sequence[Diagnostic]: ...


# Transports whose messages are delimited by the transport itself (the body
# ends with the datagram) and those where only Content-Length delimits them
# (RFC 3261 §18.3; the catalogue counts SCTP with the stream transports).
DATAGRAM_TRANSPORTS = frozenset((Transport.UDP, Transport.HEP_UDP))
STREAM_TRANSPORTS = frozenset(
    (Transport.TCP, Transport.SCTP, Transport.HEP_TCP, Transport.HEP_SCTP)
)

_UDP = Transport.UDP
_HEP_UDP = Transport.HEP_UDP

# Values quoted in sentences are cut to this many characters: a finding is
# one line, and captured values can be kilobytes of garbage.
MAX_QUOTED = 80


def quote(value: str | bytes | None) -> str:
    """A value for a sentence: ``repr`` (so control characters and U+00A0 show), cut."""
    if value is None:
        return "(none)"
    if len(value) > MAX_QUOTED:
        return f"{value[:MAX_QUOTED]!r}..."
    return repr(value)


#: A request record (SipRequest, or SipMessage where the caller has no narrower type).
R = TypeVar("R", bound=SipMessage)


def sent_before_final(
    pairs: Iterable[tuple[Transaction, R]],
) -> Iterator[tuple[Transaction, R, Transaction, R]]:
    """Consecutive requests, in time order, where the later one left too early.

    ``pairs`` are (transaction, request) of one sender and target.  Yields
    (previous, its request, next, its request) wherever the next request was
    sent before the final response to the previous one, that final response
    being in the capture (a lost one proves nothing) and the next request not
    the previous one seen at another hop (linked transactions).
    """
    ordered = sorted(pairs, key=lambda p: (p[1].origin.ts_ns, p[0].id))
    for (prev, prev_req), (cur, cur_req) in zip(ordered, ordered[1:], strict=False):
        done = prev.final_ts_ns
        if done is not None and cur.id not in prev.linked and cur_req.origin.ts_ns < done:
            yield prev, prev_req, cur, cur_req


def answers_along_path(resp: SipMessage, req: SipMessage) -> bool:
    """Whether ``resp`` travels back along the path ``req`` came by, at the same hop.

    The response comes from the address and port the request was sent to
    (RFC 3581 §4: "the response MUST be sent from the same address and port
    that the corresponding request was received on"; over TCP it is the same
    connection) and goes back to the request's source address.  Used to
    pair a response with a request it does not match by branch without
    pairing messages of different hops (catalogue G-4).
    """
    ro, qo = resp.origin, req.origin
    return ro.src == qo.dst and ro.dst.ip == qo.src.ip


# RFC 3261 §17.1.1.1: T1 = 500 ms; Timers B, F, H and J are 64*T1 (32 s).
T1_NS = 500_000_000
TIMER_64_T1_NS = 64 * T1_NS


def addr_uri(value: str | None) -> str | None:
    """The URI of a From, To, Contact or Route value, None when absent or unreadable.

    ``name-addr`` (the URI between "<" and ">") or ``addr-spec`` (the URI up
    to the first ";", RFC 3261 §20.10).  A quoted display name is skipped,
    so a "<" inside it does not count.
    """
    if value is None:
        return None
    rest = value.strip()
    if rest.startswith('"'):
        end = rest.find('"', 1)
        while end > 0 and rest[end - 1] == "\\":
            end = rest.find('"', end + 1)
        if end < 0:
            return None
        rest = rest[end + 1 :]
    lt = rest.find("<")
    if lt >= 0:
        gt = rest.find(">", lt)
        uri = rest[lt + 1 : gt].strip() if gt > lt else ""
    else:
        uri = rest.split(";", 1)[0].strip()
    return uri or None


_DEFAULT_PORTS = {"sip": "5060", "sips": "5061"}


# URIs repeat across the requests of a dialog and a capture; the keys are
# kept in a bounded cache so that a capture of unique URIs costs evictions only.
@functools.lru_cache(maxsize=8192)
def uri_key(uri: str) -> tuple[str, str, str, str]:
    """What identifies a URI for comparisons between messages: (scheme, user, host, port).

    Scheme and host compare case-insensitively, the user part as written
    (RFC 3261 §19.1.4); URI parameters and headers are left out, and a
    SIP(S) URI without a port equals one with the default port.  Used where
    two elements should have copied the same URI (a dialog's remote target,
    its local and remote URIs) and a re-serialised parameter list is not
    worth a finding.
    """
    scheme, colon, rest = uri.strip().partition(":")
    scheme = scheme.lower()
    if not colon:
        return "", "", uri.strip().lower(), ""
    if scheme not in _DEFAULT_PORTS:
        return scheme, "", rest.split(";", 1)[0].lower(), ""
    rest = rest.split("?", 1)[0]
    user, at, hostport = rest.rpartition("@")
    hostport = hostport.split(";", 1)[0] if at else rest.split(";", 1)[0]
    if not at:
        user = ""
    user = user.split(":", 1)[0].split(";", 1)[0]
    if hostport.startswith("["):
        end = hostport.find("]")
        host, port = hostport[: end + 1], hostport[end + 2 :] if end >= 0 else ""
    else:
        host, _, port = hostport.partition(":")
    return scheme, user, host.lower(), port or _DEFAULT_PORTS[scheme]


def same_uri(a: str | None, b: str | None) -> bool:
    """Whether two URIs are the same by :func:`uri_key` (False when one is None)."""
    if a is None or b is None:
        return False
    return a == b or uri_key(a) == uri_key(b)


def request_index(txn: Transaction) -> int:
    """The message index of a transaction's request, or of its first message."""
    return txn.id if txn.request is None else txn.request


class Context:
    """What a check can read besides the record it is called with.

    ``messages``, ``correlation`` and ``options`` as given; helpers cache
    what several rules need (parsed Via lists, transactions by Call-ID,
    framing diagnostics by frame).
    """

    def __init__(
        self,
        messages: Sequence[SipMessage],
        correlation: Correlation,
        options: Options,
        diagnostics: Sequence[Diagnostic] = (),
    ) -> None:
        self.messages = messages
        self.correlation = correlation
        self.options = options
        self.diagnostics = diagnostics
        self._vias: dict[int, tuple[Via, ...] | None] = {}
        self._via_lines: dict[int, list[str]] = {}
        #: Results several rules share, keyed by the rule module's own keys.
        self.memo: dict[object, object] = {}
        self._by_call_id: dict[str | None, list[Transaction]] | None = None
        self._framing: dict[int, list[str]] | None = None
        self._retransmissions: frozenset[int] | None = None
        self._transactions: dict[int, Transaction] | None = None

    # -- messages and transactions -------------------------------------------

    def frame(self, index: int) -> int:
        """The frame that completed message ``index``."""
        return self.messages[index].origin.frame

    def transaction(self, ident: int) -> Transaction | None:
        """The transaction with id ``ident`` (a dictionary lookup, unlike the correlation's)."""
        table = self._transactions
        if table is None:
            table = self._transactions = {t.id: t for t in self.correlation.transactions}
        return table.get(ident)

    def transaction_of(self, index: int) -> Transaction | None:
        """The transaction message ``index`` belongs to."""
        tid = self.correlation.message_transaction[index]
        return None if tid is None else self.transaction(tid)

    def request(self, txn: Transaction) -> SipRequest | None:
        """The request of a transaction, when it was captured."""
        if txn.request is None:
            return None
        msg = self.messages[txn.request]
        return msg if isinstance(msg, SipRequest) else None

    def transactions_with_call_id(self, call_id: str | None) -> Sequence[Transaction]:
        """All transactions of one Call-ID, in id order."""
        table = self._by_call_id
        if table is None:
            table = {}
            for t in self.correlation.transactions:
                table.setdefault(t.call_id, []).append(t)
            self._by_call_id = table
        return table.get(call_id, ())

    @property
    def retransmissions(self) -> frozenset[int]:
        """Message indices that are retransmissions (requests, responses, ACKs)."""
        found = self._retransmissions
        if found is None:
            out: set[int] = set()
            for t in self.correlation.transactions:
                out.update(t.retransmissions)
            found = self._retransmissions = frozenset(out)
        return found

    # -- headers ---------------------------------------------------------------

    def vias(self, index: int) -> tuple[Via, ...] | None:
        """Every via-parm of message ``index``, top first; None when one does not parse."""
        cache = self._vias
        if index in cache:
            return cache[index]
        try:
            vias: tuple[Via, ...] | None = tuple(
                parse_via(v) for v in self.messages[index].headers.values("via")
            )
        except SipParseError:
            vias = None
        cache[index] = vias
        return vias

    def via_lines(self, index: int) -> list[str]:
        """The Via header lines of message ``index`` as written (cached)."""
        lines = self._via_lines.get(index)
        if lines is None:
            lines = self._via_lines[index] = self.messages[index].headers.get_all("via")
        return lines

    def top_via(self, index: int) -> Via | None:
        """The top via-parm of message ``index``; None when absent or unreadable."""
        value = self.messages[index].headers.get("via")
        if value is None:
            return None
        first = value.split(",", 1)[0] if '"' not in value else value
        try:
            return parse_via(first)
        except SipParseError:
            vias = self.vias(index)
            return vias[0] if vias else None

    # -- transport -------------------------------------------------------------

    @staticmethod
    def over_datagrams(msg: SipMessage) -> bool:
        """The message came over UDP (directly or as reported by HEP)."""
        # Identity tests: hashing an Enum member runs Python code.
        t = msg.origin.transport
        return t is _UDP or t is _HEP_UDP

    @staticmethod
    def over_stream(msg: SipMessage) -> bool:
        """The message came over TCP or SCTP (directly or as reported by HEP)."""
        t = msg.origin.transport
        return t is not _UDP and t in STREAM_TRANSPORTS

    def framing_reasons(self, frames: Iterable[int]) -> list[str]:
        """Reasons of the SIP framing diagnostics that mention any of ``frames``."""
        table = self._framing
        if table is None:
            table = {}
            for d in self.diagnostics:
                if d.layer == "sip-framing":
                    for f in d.frames:
                        table.setdefault(f, []).append(d.reason)
            self._framing = table
        out: list[str] = []
        for f in frames:
            for reason in table.get(f, ()):
                if reason not in out:
                    out.append(reason)
        return out
