"""SUBSCRIBE / NOTIFY rules (catalogue §7, SUB): RFC 6665, with the RFC 3265 profile.

A subscription is a dialog usage identified by the Event package and ``id``
(RFC 6665 §4.5.2).  The message rules judge each SUBSCRIBE, NOTIFY and
response on its own; the subscription rules read the correlation's
:class:`~analyzer.correlation.Subscription` records (requests, granted
durations, notifications with their Subscription-State) and follow the
subscription over the capture's clock.

A request whose method is misspelt or replaced but whose CSeq says NOTIFY
(``NOFITY``, or a NOTIFY whose request line was overwritten with REGISTER)
is judged as the NOTIFY it really is: its method is reported by HDR-12 and
CSEQ-2, and its Subscription-State, Contact and tags here.

False-positive guards (catalogue §1):

* G-1: a subscription whose SUBSCRIBE was not captured has no baseline; its
  first NOTIFY is taken as one, and nothing is said about what came before.
* G-2: what is missing is a warning, and only once the capture has gone on
  long enough after the event that should have caused it
  (:data:`NOTIFY_WAIT_NS`).
* G-3: retransmissions are copies within one transaction and are never
  counted twice; the same NOTIFY seen at two hops has one CSeq.
* G-10: timing rules allow :data:`LENGTHEN_TOLERANCE_NS` and
  :data:`EXPIRY_GRACE_NS` for clock skew, transit and rounding.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

from ..correlation import (
    Notification,
    SubscribeKind,
    SubscribeRequest,
    Subscription,
    SubState,
    Transaction,
)
from ..correlation.subscriptions import SUBSCRIPTION_ENDING_STATUS
from ..errors import SipParseError
from ..net.flow import Endpoint
from ..sip.message import IANA_METHOD_SET, SipMessage, SipRequest, SipResponse
from ..sip.values import Event, parse_event, parse_name_addr, parse_subscription_state
from . import rule
from .base import Context, Issue, Scope, Severity, addr_uri, quote, uri_key
from .triggers import Trigger

__all__ = [
    "EXPIRY_GRACE_NS",
    "LENGTHEN_TOLERANCE_NS",
    "NOTIFY_WAIT_NS",
    "PACKAGE_BODY_TYPES",
    "PACKAGE_DEFAULT_EXPIRES",
    "RESPONSE_WAIT_NS",
    "accepts",
    "is_notify_like",
]

_NS = 1_000_000_000

# RFC 3261 §17.1.1.1: T1 = 500 ms.
T1_NS = 500_000_000

# RFC 6665 §4.1.2.4 Timer N = 64*T1 (32 s): how long a subscriber waits for
# the NOTIFY after a 2xx to SUBSCRIBE.  The catalogue (§11.5) uses it as the
# window for "missing NOTIFY" findings, which are made only when the capture
# continues at least this long after the 2xx (G-2, G-10).
NOTIFY_WAIT_NS = 64 * T1_NS

# SUB-13: a NOTIFY that says active/pending is "after expiry" only when it
# is sent more than this long after the last granted expiry.  The catalogue
# gives 32 s: notifiers expire subscriptions on their own clock, and a
# capture point sees the refresh and the NOTIFY with transit delays.
EXPIRY_GRACE_NS = 64 * T1_NS

# SUB-9: the catalogue's tolerance for "expires lengthens the subscription"
# (at least 2 s): expires is whole seconds, a notifier rounds the time left
# up, and the capture clock is not the notifier's.
LENGTHEN_TOLERANCE_NS = 2 * _NS

# SUB-25: Timer F = 64*T1 (RFC 3261 §17.1.2.2); a final response later than
# this means the transaction already timed out at the client.
RESPONSE_WAIT_NS = 64 * T1_NS

#: Default subscription durations of event packages, in seconds, used when a
#: SUBSCRIBE has no Expires (RFC 6665 §3.1.1: "the implied default MUST be
#: defined by the event package being used").  Only packages whose default
#: the catalogue verified: ``reg``, RFC 3680 §4.4: "the default duration of
#: subscriptions to registration state is slightly longer, 3761 seconds".
PACKAGE_DEFAULT_EXPIRES: Mapping[str, int] = MappingProxyType({"reg": 3761})

#: Default NOTIFY body types of event packages, used when a SUBSCRIBE has no
#: Accept (RFC 6665 §3.2.1); ``reg``: RFC 3680 §4.5.
PACKAGE_BODY_TYPES: Mapping[str, str] = MappingProxyType({"reg": "application/reginfo+xml"})

# RFC 6665 §8.2.1: Event "is defined only for use in SUBSCRIBE and NOTIFY
# requests and other requests whose definition explicitly calls for its
# use"; RFC 3903 (PUBLISH) is one.
_EVENT_METHODS = frozenset(("SUBSCRIBE", "NOTIFY", "PUBLISH"))

# The methods of the IANA registry: a request with another method whose CSeq
# names an Event method is a misspelt one (HDR-12), not a misuse of Event.
_KNOWN_METHODS = IANA_METHOD_SET

_STATES = frozenset(("active", "pending", "terminated"))

# An expires parameter in a Subscription-State value (SEMI and EQUAL allow
# blanks, RFC 3261 §25.1): SUB-8 needs no full parse of a value that has one.
_EXPIRES_PARAM_RE = re.compile(r";[ \t]*expires[ \t]*=", re.IGNORECASE)

# The Subscription-State values nearly every NOTIFY carries, in RFC 6665 §8.4
# grammar (token values, SEMI and EQUAL with optional blanks): such a value is
# valid and needs no full parse.
_COMMON_STATE_RE = re.compile(
    r"(?:active|pending)[ \t]*;[ \t]*expires[ \t]*=[ \t]*[0-9]{1,10}"
    r"|terminated(?:[ \t]*;[ \t]*reason[ \t]*=[ \t]*[A-Za-z0-9.!%*_+`'~-]+)?",
    re.IGNORECASE,
)

_LIVE = frozenset(("active", "pending"))

# RFC 6665 §7.2: the reason codes of the IANA registry (badfilter: RFC 4660).
_REASONS = frozenset(
    (
        "deactivated",
        "probation",
        "rejected",
        "timeout",
        "giveup",
        "noresource",
        "invariant",
        "badfilter",
    )
)

# RFC 6665 §4.1.3: 'The "retry-after" parameter has no semantics for' these.
_NO_RETRY_REASONS = frozenset(("deactivated", "rejected", "timeout", "noresource"))

# Requests that ask the notifier for state (RFC 6665 §4.2.1.2: a NOTIFY
# follows "any 200-class response to a SUBSCRIBE request").
_SUBSCRIBE_KINDS = frozenset((SubscribeKind.INITIAL, SubscribeKind.REFRESH))
_ZERO_KINDS = frozenset((SubscribeKind.UNSUBSCRIBE, SubscribeKind.FETCH))

# RFC 5839 (conditional event notification): a SUBSCRIBE answered with 204
# (No Notification) is followed by no NOTIFY.
_NO_NOTIFICATION = 204


# -- helpers -------------------------------------------------------------------


def is_notify_like(msg: SipMessage) -> bool:
    """A NOTIFY request, or a request whose CSeq says NOTIFY under another method."""
    return isinstance(msg, SipRequest) and (msg.method == "NOTIFY" or msg.cseq_method == "NOTIFY")


def _event(value: str | None) -> Event | None:
    """An Event value parsed, or None when absent or unreadable."""
    if value is None:
        return None
    try:
        return parse_event(value)
    except SipParseError:
        return None


def _package_of(msg: SipMessage) -> str | None:
    ev = _event(msg.headers.get("event"))
    return None if ev is None else ev.package


def _state_of(msg: SipMessage) -> str | None:
    """The Subscription-State value in lower case, or None when absent or unreadable."""
    value = msg.headers.get("subscription-state")
    if value is None:
        return None
    if _COMMON_STATE_RE.fullmatch(value) is not None:
        return value.split(";", 1)[0].strip().lower()
    try:
        return parse_subscription_state(value).state.lower()
    except SipParseError:
        return None


def _delta(value: str | None) -> int | None:
    # delta-seconds = 1*DIGIT (RFC 3261 §25.1); ten digits are far beyond
    # any duration and keep int() cheap on hostile input.
    if value is None:
        return None
    v = value.strip()
    if v.isdigit() and v.isascii() and len(v) <= 10:
        return int(v)
    return None


def _is_2xx(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _seconds(ns: int) -> str:
    return f"{ns / _NS:.3f} s"


def accepts(ranges: Sequence[str], media: str) -> bool:
    """Whether an Accept list (media ranges as written) admits ``media`` (``type/sub``).

    RFC 3261 §20.1 media ranges: ``*/*``, ``type/*`` or ``type/subtype``,
    compared case-insensitively; parameters are ignored.
    """
    kind, _, sub = media.lower().partition("/")
    for r in ranges:
        rng = r.split(";", 1)[0].strip().lower()
        rkind, _, rsub = rng.partition("/")
        if rkind == "*" or (rkind == kind and (rsub == "*" or rsub == sub)):
            return True
    return False


def _accept_ranges(msg: SipMessage) -> list[str] | None:
    """The media ranges of every Accept header, or None when there is none."""
    if "accept" not in msg.headers:
        return None
    return msg.headers.values("accept")


def _sent_notifies(
    ctx: Context, call_id: str | None, subscriber_tag: str | None, package: str | None
) -> list[tuple[int, int, str | None, str | None]]:
    """(message, time, notifier tag, state) of the NOTIFYs to a subscriber in one Call-ID.

    Every NOTIFY-like request whose To tag is ``subscriber_tag``, whatever
    its notifier tag (RFC 6665 §4.1.4: a forked SUBSCRIBE is answered by
    NOTIFYs with other From tags), and whose Event package is ``package``
    (or unreadable).  Retransmissions are not listed (one per transaction).
    """
    out: list[tuple[int, int, str | None, str | None]] = []
    messages = ctx.messages
    for t in ctx.transactions_with_call_id(call_id):
        if t.request is None:
            continue
        m = messages[t.request]
        if not is_notify_like(m) or m.to_tag != subscriber_tag:
            continue
        if package is not None:
            got = _package_of(m)
            if got is not None and got != package:
                continue
        out.append((t.request, m.origin.ts_ns, m.from_tag, _state_of(m)))
    out.sort(key=lambda n: n[1])
    return out


def _own_requests(s: Subscription) -> list[SubscribeRequest]:
    """The subscription's requests, without the SUBSCRIBE a fork shares with its origin."""
    if s.forked_from is None:
        return list(s.requests)
    return [r for r in s.requests if r.message != s.forked_from]


def _reference_request(s: Subscription) -> SubscribeRequest | None:
    """The captured request that gave the subscription its Event, if any (G-1)."""
    for r in s.requests:
        if r.message is not None:
            return r
    return None


def _with_request(index: int, txn: Transaction) -> tuple[int, ...]:
    """``index`` and the transaction's request, when that was captured."""
    return (index,) if txn.request is None else (index, txn.request)


def _notify_final_ts(ctx: Context, n: Notification) -> int | None:
    return None if n.final is None else ctx.messages[n.final].origin.ts_ns


# -- SUBSCRIBE -----------------------------------------------------------------


@rule(
    "SUB-1",
    severity=Severity.ERROR,
    rfc="RFC 6665 §3.1.2, §8.2.1",
    scope=Scope.MESSAGE,
    methods=("SUBSCRIBE",),
    responses=False,
)
def subscribe_event(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """SUBSCRIBE without exactly one readable Event header

    RFC 6665 §3.1.2: "Subscribers MUST include exactly one "Event" header
    field in SUBSCRIBE requests, indicating to which event or class of
    events they are subscribing."  §8.2.1: "There MUST be exactly one event
    type listed per "Event" header field."  Reported: no Event (or ``o``),
    several Event headers or values, and a value that is not an event type.
    The notifier should answer such a request with 489 (§4.2.3).
    """
    lines = msg.headers.get_all("event")
    if not lines:
        yield Issue("SUBSCRIBE has no Event header", (i,))
        return
    values = msg.headers.values("event")
    if len(lines) > 1 or len(values) > 1:
        shown = ", ".join(quote(v) for v in values[:4])
        yield Issue(f"SUBSCRIBE lists {len(values)} Event values ({shown}); one is allowed", (i,))
        return
    if _event(lines[0]) is None:
        yield Issue(f"SUBSCRIBE Event {quote(lines[0])} is not an event type", (i,))


@rule(
    "SUB-3",
    severity=Severity.WARNING,
    rfc="RFC 6665 §3.1.1",
    scope=Scope.MESSAGE,
    methods=("SUBSCRIBE",),
    responses=False,
)
def subscribe_without_expires(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """SUBSCRIBE without a readable Expires header

    RFC 6665 §3.1.1: "SUBSCRIBE requests SHOULD contain an "Expires" header
    field".  Without it the event package's default applies (``reg``: 3761 s,
    RFC 3680 §4.4; RI-14 notes it).  An Expires that is not delta-seconds is
    reported too: the notifier cannot read it either.  An ``expires``
    parameter on Contact does not count (§3.1.1: it "has no semantics for
    the SUBSCRIBE method").
    """
    value = msg.headers.get("expires")
    package = _package_of(msg)
    default = PACKAGE_DEFAULT_EXPIRES.get(package or "")
    applies = (
        f"the {quote(package)} package default of {default} s applies"
        if default is not None
        else "the event package's default applies"
    )
    if value is None:
        yield Issue(f"SUBSCRIBE has no Expires header; {applies}", (i,))
    elif _delta(value) is None:
        yield Issue(f"SUBSCRIBE Expires {quote(value)} is not delta-seconds; {applies}", (i,))


@rule(
    "SUB-4",
    severity=Severity.ERROR,
    rfc="RFC 6665 §3.1.1",
    scope=Scope.MESSAGE,
    methods=("SUBSCRIBE",),
    requests=False,
)
def ok_without_expires(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """2xx response to SUBSCRIBE without a readable Expires header

    RFC 6665 §3.1.1: "200-class responses to SUBSCRIBE requests also MUST
    contain an "Expires" header field."  The Expires tells the subscriber
    the duration granted; without it the subscriber cannot know when to
    refresh.
    """
    assert isinstance(msg, SipResponse)
    if not 200 <= msg.status < 300:
        return
    value = msg.headers.get("expires")
    if value is None:
        yield Issue(f"{msg.status} response to SUBSCRIBE has no Expires header", (i,))
    elif _delta(value) is None:
        yield Issue(
            f"{msg.status} response to SUBSCRIBE has Expires {quote(value)}, not delta-seconds",
            (i,),
        )


def _requested(req: SipMessage) -> tuple[int | None, str]:
    """The duration a SUBSCRIBE asks for and how it was known (header or package default)."""
    value = req.headers.get("expires")
    if value is not None:
        n = _delta(value)
        return n, f"requested {n} s" if n is not None else ""
    package = _package_of(req)
    default = PACKAGE_DEFAULT_EXPIRES.get(package or "")
    if default is None:
        return None, ""
    return default, f"requested no Expires, so the {quote(package)} default of {default} s"


@rule(
    "SUB-5",
    severity=Severity.ERROR,
    rfc="RFC 6665 §3.1.1",
    scope=Scope.TRANSACTION,
    methods=("SUBSCRIBE",),
)
def granted_longer_than_requested(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """2xx to SUBSCRIBE grants a longer duration than the request asked for

    RFC 6665 §3.1.1: "The period of time in the response MAY be shorter but
    MUST NOT be longer than specified in the request."  When the SUBSCRIBE
    has no Expires, the package default is the request (a derived reading,
    catalogue SUB-5); for packages whose default is not known nothing is
    said.  Shortening to 0 is explicitly allowed.
    """
    req = ctx.request(txn)
    if req is None:
        return
    requested, how = _requested(req)
    if requested is None:
        return
    for r in txn.responses:
        if not 200 <= r.status < 300:
            continue
        resp = ctx.messages[r.message]
        granted = _delta(resp.headers.get("expires"))
        if granted is not None and granted > requested:
            yield Issue(
                f"{r.status} response grants Expires {granted} s, longer than the SUBSCRIBE "
                f"at frame {req.origin.frame} ({how})",
                _with_request(r.message, txn),
            )


# -- NOTIFY headers ------------------------------------------------------------


def _what(msg: SipRequest) -> str:
    """How a NOTIFY-like request is named in sentences."""
    if msg.method == "NOTIFY":
        return f"NOTIFY (CSeq {msg.cseq_num})"
    return f"{msg.method} request with CSeq {msg.cseq_num} NOTIFY"


@rule(
    "SUB-6",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.1.3",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.EVENTS_METHOD,
)
def notify_without_state(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """NOTIFY without a Subscription-State header

    RFC 6665 §4.1.3: "NOTIFY requests MUST contain "Subscription-State"
    header fields that indicate the status of the subscription."  The
    header has no compact form.  (The RFC 3680 §6 example omits it: erratum
    EID 3494 adds ``Subscription-State: active;expires=3600``.)  A request
    whose CSeq says NOTIFY is judged as a NOTIFY whatever its method.
    """
    if not is_notify_like(msg) or "subscription-state" in msg.headers:
        return
    assert isinstance(msg, SipRequest)
    yield Issue(f"{_what(msg)} has no Subscription-State header", (i,))


@rule(
    "SUB-7",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.2.2, §8.2.3",
    scope=Scope.MESSAGE,
    triggers=Trigger.SUBSCRIPTION_STATE,
)
def bad_subscription_state(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Subscription-State unreadable, repeated, of an unknown value, or outside NOTIFY

    RFC 6665 §4.2.2: "NOTIFY requests MUST contain a "Subscription-State"
    header field with a value of "active", "pending", or "terminated"."
    A value that does not follow the §8.4 grammar, or two Subscription-State
    headers, is an error; another token is a warning (the grammar allows an
    ``extension-substate``).  §8.2.3: "They MUST NOT appear in other SIP
    requests or responses": Subscription-State in any other request or in a
    response is an error.
    """
    # A dictionary lookup first: this runs for every message, and almost
    # none carries the header.
    if msg.headers.get("subscription-state") is None:
        return
    lines = msg.headers.get_all("subscription-state")
    if not is_notify_like(msg):
        what = msg.method if isinstance(msg, SipRequest) else f"{msg.status} response"
        yield Issue(f"Subscription-State {quote(lines[0])} in a {what}", (i,))
        return
    if len(lines) > 1:
        shown = ", ".join(quote(v) for v in lines[:4])
        yield Issue(f"NOTIFY has {len(lines)} Subscription-State headers ({shown})", (i,))
        return
    if _COMMON_STATE_RE.fullmatch(lines[0]) is not None:
        return
    try:
        state = parse_subscription_state(lines[0])
    except SipParseError as exc:
        yield Issue(f"unreadable Subscription-State: {exc.reason}", (i,))
        return
    if state.state.lower() not in _STATES:
        yield Issue(
            f"Subscription-State {quote(state.state)} is none of active, pending, terminated",
            (i,),
            Severity.WARNING,
        )


@rule(
    "SUB-8",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.2.2; RFC 3265 §3.2.2",
    scope=Scope.MESSAGE,
    responses=False,
    rfc3265_severity=Severity.WARNING,
    triggers=Trigger.SUBSCRIPTION_STATE,
)
def live_state_without_expires(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Subscription-State active or pending without an expires parameter

    RFC 6665 §4.2.2: "If the value of the "Subscription-State" header field
    is "active" or "pending", the notifier MUST also include in the
    "Subscription-State" header field an "expires" parameter that indicates
    the time remaining on the subscription."  RFC 3265 §3.2.2 had SHOULD
    (RFC 6665 App. B.6 "Mandate "expires" in NOTIFY"), so in RFC 3265 mode
    this is a warning.
    """
    if not is_notify_like(msg):
        return
    value = msg.headers.get("subscription-state")
    # Cheap tests first: most values are "active;expires=N" or "terminated...".
    if value is None or value[:1] in "tT" or _EXPIRES_PARAM_RE.search(value) is not None:
        return
    try:
        state = parse_subscription_state(value)
    except SipParseError:
        return
    if state.state.lower() in _LIVE and state.expires is None:
        assert isinstance(msg, SipRequest)
        yield Issue(f"{_what(msg)} has Subscription-State {quote(value)} without expires", (i,))


@rule(
    "SUB-10",
    severity=Severity.WARNING,
    rfc="RFC 6665 §4.2.2, §4.1.3",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.SUBSCRIPTION_STATE,
)
def terminated_parameters(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Subscription-State terminated without a reason, or with parameters that mean nothing

    RFC 6665 §4.2.2: "If the value of the "Subscription-State" header field
    is "terminated", the notifier SHOULD also include a "reason"
    parameter."  §4.1.3: "notifiers SHOULD NOT include an "expires"
    parameter on a "Subscription-State" header field with a value of
    "terminated"".  Both are warnings.  Notes (info): a reason outside the
    IANA registry (§7.2), and ``retry-after`` with deactivated, rejected,
    timeout or noresource, for which it "has no semantics".
    """
    if not is_notify_like(msg):
        return
    value = msg.headers.get("subscription-state")
    if value is None or not value[:10].lower().startswith("terminated"):
        return
    try:
        state = parse_subscription_state(value)
    except SipParseError:
        return
    if state.state.lower() != "terminated":
        return
    reason = state.reason
    if reason is None:
        yield Issue(f"Subscription-State {quote(value)} has no reason parameter", (i,))
    if state.expires is not None:
        yield Issue(f"Subscription-State {quote(value)} carries expires with terminated", (i,))
    if reason is not None:
        low = reason.lower()
        if low not in _REASONS:
            yield Issue(
                f"Subscription-State reason {quote(reason)} is not a registered reason code",
                (i,),
                Severity.INFO,
            )
        elif state.retry_after is not None and low in _NO_RETRY_REASONS:
            yield Issue(
                f"Subscription-State {quote(value)}: retry-after has no semantics for {low}",
                (i,),
                Severity.INFO,
            )


@rule(
    "SUB-16",
    severity=Severity.ERROR,
    rfc="RFC 6665 §8.2.1",
    scope=Scope.MESSAGE,
    triggers=Trigger.EVENT,
)
def event_outside_events(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Event header in a response or in a request other than SUBSCRIBE, NOTIFY or PUBLISH

    RFC 6665 §8.2.1: "The "Event" header field is defined only for use in
    SUBSCRIBE and NOTIFY requests and other requests whose definition
    explicitly calls for its use.  It MUST NOT appear in any other SIP
    requests and MUST NOT appear in responses."  PUBLISH calls for it (RFC
    3903).  A request with an unknown method whose CSeq names one of these
    is a misspelt method (HDR-12), not reported here.  RFC 3265 §7.2.1
    still matched responses by their Event, so in RFC 3265 mode an Event in
    a response is a warning.
    """
    value = msg.headers.get("event")
    if value is None:
        return
    if isinstance(msg, SipRequest):
        method = msg.method
        if method in _EVENT_METHODS:
            return
        if method not in _KNOWN_METHODS and msg.cseq_method in _EVENT_METHODS:
            return
        yield Issue(f"{method} request carries Event {quote(value)}", (i,))
        return
    legacy = ctx.options.events_rfc == "3265"
    yield Issue(
        f"{msg.status} response to {msg.cseq_method} carries Event {quote(value)}",
        (i,),
        Severity.WARNING if legacy else None,
    )


@rule(
    "SUB-17",
    severity=Severity.WARNING,
    rfc="RFC 6665 §4.4.4; RFC 3265 §7.2",
    scope=Scope.MESSAGE,
    methods=("SUBSCRIBE", "NOTIFY"),
    requests=False,
)
def bad_event_without_allow_events(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """489 (Bad Event) response without Allow-Events

    RFC 3265 §7.2 table: Allow-Events is mandatory in a 489 to SUBSCRIBE
    and NOTIFY; RFC 6665 §4.4.4 makes the list, when present,
    "comprehensive and inclusive".  Without it the sender of the request
    cannot tell which packages are supported.
    """
    assert isinstance(msg, SipResponse)
    if msg.status == 489 and "allow-events" not in msg.headers:
        yield Issue(f"489 response to {msg.cseq_method} has no Allow-Events header", (i,))


@rule(
    "SUB-18",
    severity=Severity.ERROR,
    rfc="RFC 6665 §8.3.1",
    scope=Scope.MESSAGE,
    methods=("SUBSCRIBE", "NOTIFY"),
    requests=False,
    rfc3265_severity=Severity.INFO,
)
def accepted_202(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """202 (Accepted) response to SUBSCRIBE or NOTIFY

    RFC 6665 §8.3.1: "Implementations conformant with the current
    specification MUST treat an incoming 202 response as identical to a 200
    response and MUST NOT generate 202 response codes to SUBSCRIBE or NOTIFY
    requests."  RFC 3265 §3.1.6.1 used 202 itself, so in RFC 3265 mode this
    is only noted.
    """
    assert isinstance(msg, SipResponse)
    if msg.status == 202:
        yield Issue(f"202 response to {msg.cseq_method} (RFC 6665 forbids 202 here)", (i,))


_NO_CONTACT = "has no Contact header"


def _contact_problem(msg: SipMessage) -> str | None:
    """Why the Contact of a dialog-creating message is not exactly one SIP/SIPS URI."""
    values = msg.headers.values("contact")
    if not values:
        return _NO_CONTACT
    if len(values) > 1:
        return f"has {len(values)} Contact values; one is allowed"
    try:
        uri = parse_name_addr(values[0]).uri
    except SipParseError:
        return f"has an unreadable Contact {quote(values[0])}"
    scheme = uri.partition(":")[0].lower()
    if scheme not in ("sip", "sips"):
        return f"has Contact {quote(uri)}, not a SIP or SIPS URI"
    return None


def _earlier_notify(ctx: Context, msg: SipRequest) -> tuple[bool, bool]:
    """(a SUBSCRIBE or REFER of this Call-ID was captured, an earlier NOTIFY of this
    notifier to this subscriber was)."""
    messages = ctx.messages
    ts = msg.origin.ts_ns
    subscribe = False
    for t in ctx.transactions_with_call_id(msg.call_id):
        if t.request is None:
            continue
        if t.method in ("SUBSCRIBE", "REFER"):
            subscribe = True
            continue
        m = messages[t.request]
        if (
            m is not msg
            and is_notify_like(m)
            and m.origin.ts_ns < ts
            and m.from_tag == msg.from_tag
            and m.to_tag == msg.to_tag
        ):
            # Transactions are in capture order: an earlier NOTIFY is met
            # soon, so a dialog of many NOTIFYs is not scanned for each.
            return subscribe, True
    return subscribe, False


@rule(
    "SUB-24",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.8; RFC 3265 §7.1",
    scope=Scope.MESSAGE,
    triggers=Trigger.EVENTS_METHOD,
)
def contact_for_usage(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """SUBSCRIBE, its 2xx or a NOTIFY without exactly one SIP or SIPS Contact

    RFC 3261 §8.1.1.8: "The Contact header field MUST be present and contain
    exactly one SIP or SIPS URI in any request that can result in the
    establishment of a dialog."  RFC 3265 §7.1 table: Contact is mandatory
    in SUBSCRIBE and NOTIFY requests and in 2xx to SUBSCRIBE.  A NOTIFY can
    create the dialog usage (RFC 6665 §4.4.1), so the first NOTIFY of a
    notifier is an error; a later one, a refresh SUBSCRIBE inside the
    dialog, or a NOTIFY whose SUBSCRIBE was not captured (G-1) is a warning
    (RFC 3261 §12.2.1.1: "A UAC SHOULD include a Contact header field in any
    target refresh requests within a dialog").  A misspelt Contact
    (``Contatct``) counts as missing (HDR-11b names it).
    """
    if isinstance(msg, SipResponse):
        if msg.cseq_method != "SUBSCRIBE" or not 200 <= msg.status < 300:
            return
        problem = _contact_problem(msg)
        if problem is not None:
            yield Issue(f"{msg.status} response to SUBSCRIBE {problem}", (i,))
        return
    if msg.method == "SUBSCRIBE":
        problem = _contact_problem(msg)
        if problem is None:
            return
        if msg.to_tag is not None and problem == _NO_CONTACT:
            yield Issue(f"refresh SUBSCRIBE {problem}", (i,), Severity.WARNING)
        else:
            yield Issue(f"SUBSCRIBE {problem}", (i,))
        return
    if not is_notify_like(msg):
        return
    problem = _contact_problem(msg)
    if problem is None:
        return
    subscribe, earlier = _earlier_notify(ctx, msg)
    if problem == _NO_CONTACT and (earlier or not subscribe):
        why = "a later NOTIFY" if earlier else "its SUBSCRIBE was not captured"
        yield Issue(f"{_what(msg)} {problem} ({why})", (i,), Severity.WARNING)
        return
    yield Issue(f"{_what(msg)} {problem}", (i,))


@rule("SUB-26", severity=Severity.ERROR, rfc="RFC 6665 §4.1.3", scope=Scope.ANALYSIS)
def notify_matches_nothing(ctx: Context) -> Iterator[Issue]:
    """NOTIFY that matches no subscription and is not rejected

    RFC 6665 §4.1.3: "Upon receiving a NOTIFY request, the subscriber should
    check that it matches at least one of its outstanding subscriptions; if
    not, it MUST return a 481 (Subscription does not exist) response unless
    another 400- or 500-class response is more appropriate."  Reported:

    * error: a NOTIFY without From tag or To tag (it can match no
      subscription), unless it was rejected;
    * error: a NOTIFY whose To tag is the From tag of no SUBSCRIBE or REFER
      captured in its Call-ID, or whose Event package is that of none of
      them, answered with a 2xx; a warning when it has no final response
      in the capture.

    A NOTIFY rejected with 3xx-6xx is what the RFC requires.  A Call-ID
    without any captured SUBSCRIBE is not judged (G-1: it was sent before
    the capture started).  One pass over the transactions collects the
    subscribers of every Call-ID first.
    """
    messages = ctx.messages
    # Call-ID -> subscriber (From) tag -> packages subscribed to.
    subscribers: dict[str | None, dict[str | None, set[str | None]]] = {}
    notifies: list[tuple[Transaction, SipRequest]] = []
    for t in ctx.correlation.transactions:
        if t.request is None:
            continue
        m = messages[t.request]
        if not isinstance(m, SipRequest):
            continue
        method = t.method
        if method == "SUBSCRIBE" or method == "REFER":
            by_tag = subscribers.setdefault(t.call_id, {})
            by_tag.setdefault(m.from_tag, set()).add(
                "refer" if method == "REFER" else _package_of(m)
            )
        elif method == "NOTIFY" or m.cseq_method == "NOTIFY":
            notifies.append((t, m))
    for t, m in notifies:
        status = t.final_status
        if status is not None and status >= 300:
            continue
        i = t.request
        assert i is not None
        answered = f", yet it was answered {status}" if status is not None else ""
        missing = [n for n, tag in (("From", m.from_tag), ("To", m.to_tag)) if tag is None]
        if missing:
            yield Issue(
                f"{_what(m)} has no {' or '.join(missing)} tag: it matches no subscription"
                + answered,
                (i,),
            )
            continue
        tags = subscribers.get(t.call_id)
        if tags is None:
            continue
        packages = tags.get(m.to_tag)
        if packages is None:
            yield Issue(
                f"{_what(m)} has To tag {quote(m.to_tag)}, the From tag of no SUBSCRIBE "
                f"captured in its Call-ID: it matches no subscription" + answered,
                (i,),
                None if _is_2xx(status) else Severity.WARNING,
            )
            continue
        package = _package_of(m)
        # A mismatched Event without a 2xx is SUB-2's finding alone.
        if package is None or not _is_2xx(status) or package in packages or None in packages:
            continue
        shown = ", ".join(sorted(quote(p) for p in packages if p is not None))
        yield Issue(
            f"{_what(m)} has Event package {quote(package)}, but its subscriber subscribed "
            f"to {shown}: it matches no subscription" + answered,
            (i,),
        )


# -- transactions --------------------------------------------------------------


@rule(
    "SUB-21",
    severity=Severity.WARNING,
    rfc="RFC 6665 §4.6",
    scope=Scope.TRANSACTION,
    methods=("CANCEL",),
)
def cancel_of_subscribe(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """CANCEL sent for a SUBSCRIBE or NOTIFY transaction

    RFC 6665 §4.6: "UACs SHOULD NOT send CANCEL requests for SUBSCRIBE or
    NOTIFY transactions."  The CANCEL is matched to the request it cancels
    by its Via branch (RFC 3261 §9.1).
    """
    if txn.branch is None or txn.request is None:
        return
    for other in ctx.transactions_with_call_id(txn.call_id):
        if other.branch == txn.branch and other.method in ("SUBSCRIBE", "NOTIFY"):
            yield Issue(
                f"CANCEL for the {other.method} (CSeq {other.cseq}) at frame {ctx.frame(other.id)}",
                (txn.request, other.id),
            )
            return


@rule(
    "SUB-23",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.2.1.1; RFC 3265 §7.1",
    scope=Scope.TRANSACTION,
    methods=("SUBSCRIBE",),
)
def interval_too_brief(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """423 (Interval Too Brief) to SUBSCRIBE without Min-Expires, or for a legal duration

    RFC 6665 §4.2.1.1: "If and only if the expiration interval is greater
    than zero AND smaller than one hour AND less than a notifier-configured
    minimum, the notifier MAY return a 423 (Interval Too Brief) error that
    contains a "Min-Expires" header field."  Reported: a 423 without
    Min-Expires (RFC 3265 §7.1 table: mandatory), and a 423 to a SUBSCRIBE
    asking for 0 s or for an hour or more (the package default when it has
    no Expires).
    """
    req = ctx.request(txn)
    for r in txn.responses:
        if r.status != 423:
            continue
        resp = ctx.messages[r.message]
        if "min-expires" not in resp.headers:
            yield Issue("423 response to SUBSCRIBE has no Min-Expires header", (r.message,))
        if req is None:
            continue
        requested, how = _requested(req)
        if requested is not None and (requested == 0 or requested >= 3600):
            yield Issue(
                f"423 response to a SUBSCRIBE that {how or f'requested {requested} s'}: "
                "only durations above 0 and under one hour may be refused as too brief",
                _with_request(r.message, txn),
            )


@rule(
    "SUB-25",
    severity=Severity.INFO,
    rfc="RFC 6665 §4.2.1.1, §4.1.3",
    scope=Scope.TRANSACTION,
    methods=("SUBSCRIBE", "NOTIFY"),
)
def slow_final_response(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """Final response to SUBSCRIBE or NOTIFY later than Timer F (32 s)

    RFC 6665 §4.2.1.1: "notifiers MUST NOT wait for a user response before
    returning a final response to a SUBSCRIBE request"; §4.1.3 says the same
    of subscribers and NOTIFY.  A final response more than 64*T1 after the
    request arrives after the client transaction has timed out.
    """
    elapsed = txn.response_time_ns
    if elapsed is None or elapsed <= RESPONSE_WAIT_NS or txn.final is None:
        return
    yield Issue(
        f"final response {txn.final_status} to {txn.method} came {_seconds(elapsed)} after "
        "the request, later than Timer F (32 s)",
        _with_request(txn.final, txn),
    )


# -- subscriptions -------------------------------------------------------------


@rule(
    "SUB-2",
    severity=Severity.ERROR,
    rfc="RFC 6665 §3.2.1; RFC 3265 §7.2",
    scope=Scope.SUBSCRIPTION,
)
def notify_event_differs(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """NOTIFY without Event, or with another Event package than its SUBSCRIBE

    RFC 6665 §3.2.1: "The package name in the "Event" header field MUST
    match the "Event" header field in the corresponding SUBSCRIBE request."
    RFC 3265 §7.2 table: Event is mandatory in NOTIFY.  Package names are
    compared byte by byte (§8.2.1).  When the SUBSCRIBE was not captured
    (G-1) only a missing Event is reported.  (The ``id`` is SUB-15's.)
    """
    ref = _reference_request(s)
    expected = s.event_package if ref is not None else None
    for n in s.notifications:
        if n.event is None:
            yield Issue(f"NOTIFY (CSeq {n.cseq}) has no Event header", (n.message,))
            continue
        if expected is None:
            continue
        ev = _event(n.event)
        got = None if ev is None else ev.package
        if got != expected:
            assert ref is not None and ref.message is not None
            yield Issue(
                f"NOTIFY (CSeq {n.cseq}) has Event {quote(n.event)}; the request at frame "
                f"{ctx.frame(ref.message)} subscribed to {quote(expected)}",
                (n.message, ref.message),
            )


@rule(
    "SUB-15",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.5.2, §8.2.1",
    scope=Scope.SUBSCRIPTION,
)
def notify_event_id_differs(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """NOTIFY whose Event id differs from its SUBSCRIBE's

    RFC 6665 §4.5.2: "If an "id" parameter is present in the SUBSCRIBE
    request used to establish a subscription, that "id" parameter MUST also
    be present in all corresponding NOTIFY requests."  §8.2.1: "An "Event"
    header field containing an "id" parameter never matches an "Event"
    header field without an "id" parameter."  Both directions are reported.
    A NOTIFY for a REFER may leave the id out (RFC 3515 §2.4.6).  Checked
    only when the package itself matches (SUB-2 reports a different one).
    """
    ref = _reference_request(s)
    if ref is None or ref.message is None or s.event_package is None:
        return
    want = s.event_id
    for n in s.notifications:
        ev = _event(n.event)
        if ev is None or ev.package != s.event_package or ev.id == want:
            continue
        if s.event_package == "refer" and ev.id is None:
            continue
        got = "no id" if ev.id is None else f"id {quote(ev.id)}"
        asked = "no id" if want is None else f"id {quote(want)}"
        yield Issue(
            f"NOTIFY (CSeq {n.cseq}) Event {quote(n.event)} has {got}; the request at "
            f"frame {ctx.frame(ref.message)} has {asked}",
            (n.message, ref.message),
        )


class _Bound:
    """The expiry in force at some time, and what set it.

    ``message`` is the 2xx to SUBSCRIBE (``status`` is its code) or the
    NOTIFY (``status`` None) whose Expires or ``expires`` set it.
    """

    __slots__ = ("at", "until", "message", "status")

    def __init__(self, at: int, until: int, message: int, status: int | None) -> None:
        self.at = at
        self.until = until
        self.message = message
        self.status = status

    def label(self, ctx: Context) -> str:
        """What set the expiry, for a sentence."""
        what = "NOTIFY" if self.status is None else f"{self.status} to SUBSCRIBE"
        return f"the {what} at frame {ctx.frame(self.message)}"


def _grants(s: Subscription) -> list[_Bound]:
    """Every duration a 2xx to SUBSCRIBE granted, as expiries."""
    out: list[_Bound] = []
    for r in s.requests:
        if r.kind in _ZERO_KINDS or not _is_2xx(r.final_status):
            continue
        if r.final_ts_ns is None or r.granted_expires is None or r.final is None:
            continue
        out.append(
            _Bound(r.final_ts_ns, r.final_ts_ns + r.granted_expires * _NS, r.final, r.final_status)
        )
    return out


def _pending_request(s: Subscription, ts: int) -> SubscribeRequest | None:
    """A SUBSCRIBE sent before ``ts`` whose final response had not been captured by then."""
    for r in s.requests:
        if r.kind is SubscribeKind.REFER or r.message is None:
            continue
        if r.ts_ns <= ts and (r.final_ts_ns is None or r.final_ts_ns > ts):
            return r
    return None


def _bounds(
    grants: Sequence[_Bound], notes: Sequence[Notification]
) -> list[tuple[Notification, _Bound | None]]:
    """Each NOTIFY (in time order) with the expiry in force when it was sent.

    Both a 2xx Expires and a NOTIFY ``expires`` set the expiry; the later of
    them is current (RFC 6665 §4.2.2: expires "indicates the time remaining
    on the subscription").  One walk in time order, however many NOTIFYs.
    """
    gs = sorted(grants, key=lambda g: g.at)
    out: list[tuple[Notification, _Bound | None]] = []
    current: _Bound | None = None
    k = 0
    for n in sorted(notes, key=lambda n: n.ts_ns):
        ts = n.ts_ns
        while k < len(gs) and gs[k].at <= ts:
            if current is None or gs[k].at >= current.at:
                current = gs[k]
            k += 1
        out.append((n, current))
        if n.state in _LIVE and n.expires is not None and (current is None or ts >= current.at):
            current = _Bound(ts, ts + n.expires * _NS, n.message, None)
    return out


@rule("SUB-9", severity=Severity.ERROR, rfc="RFC 6665 §4.2.2", scope=Scope.SUBSCRIPTION)
def notify_lengthens(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """NOTIFY expires lengthens the subscription

    RFC 6665 §4.2.2: "The notifier MAY use this mechanism to shorten a
    subscription; however, this mechanism MUST NOT be used to lengthen a
    subscription."  The time left is that of the last 2xx to SUBSCRIBE or
    the last NOTIFY ``expires``, minus the time since, with a tolerance of
    :data:`LENGTHEN_TOLERANCE_NS`.  A NOTIFY sent while a SUBSCRIBE is
    outstanding is compared with the grant of that SUBSCRIBE's 2xx (it may
    come first, §4.1.2.4), and not judged when that 2xx was not captured.
    Without any grant seen (G-1) the first NOTIFY is the baseline, and a
    later NOTIFY that lengthens it is a warning: with no SUBSCRIBE captured
    at all, the refreshes may pass where the capture does not look.
    """
    grants = _grants(s)
    # Without any captured SUBSCRIBE, refreshes may travel a path the capture
    # does not see (G-1, G-4): a NOTIFY-to-NOTIFY comparison is then a warning.
    unseen = all(r.message is None for r in s.requests)
    for n, bound in _bounds(grants, s.notifications):
        if n.state not in _LIVE or n.expires is None:
            continue
        ts = n.ts_ns
        pending = _pending_request(s, ts)
        if pending is not None:
            # The NOTIFY may answer this SUBSCRIBE before its 2xx arrives.
            bound = next((g for g in grants if g.message == pending.final), None)
        if bound is None:
            continue
        if ts + n.expires * _NS > bound.until + LENGTHEN_TOLERANCE_NS:
            left = max(bound.until - ts, 0)
            yield Issue(
                f"NOTIFY (CSeq {n.cseq}) says expires={n.expires}, but only "
                f"{_seconds(left)} remained after {bound.label(ctx)}: it lengthens the "
                "subscription",
                (n.message, bound.message),
                Severity.WARNING if unseen and bound.status is None else None,
            )


@rule(
    "SUB-11",
    severity=Severity.WARNING,
    rfc="RFC 6665 §4.2.2, §4.2.1.2",
    scope=Scope.SUBSCRIPTION,
)
def no_notify_after_accept(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """No NOTIFY after a 2xx to SUBSCRIBE

    RFC 6665 §4.2.2: "When a SUBSCRIBE request is answered with a 200-class
    response, the notifier MUST immediately construct and send a NOTIFY
    request to the subscriber."  A NOTIFY from any notifier tag of the
    Call-ID to the subscriber counts (forking, §4.1.4), also one sent
    before the 2xx (§4.1.2.4).  A warning (G-2: it may be lost), and only
    when the capture goes on at least :data:`NOTIFY_WAIT_NS` (Timer N)
    after the 2xx.  A 204 (RFC 5839) needs no NOTIFY; unsubscribe and fetch
    requests are SUB-12's.
    """
    end = ctx.correlation.capture_end_ns
    if end is None:
        return
    seen: list[tuple[int, int, str | None, str | None]] | None = None
    for r in _own_requests(s):
        if r.kind not in _SUBSCRIBE_KINDS or r.final_ts_ns is None or r.final is None:
            continue
        status = r.final_status
        if not _is_2xx(status) or status == _NO_NOTIFICATION:
            continue
        until = r.final_ts_ns + NOTIFY_WAIT_NS
        if end < until:
            continue
        if seen is None:
            seen = _sent_notifies(ctx, s.call_id, s.subscriber_tag, s.event_package)
        start = r.ts_ns if r.message is not None else r.final_ts_ns - NOTIFY_WAIT_NS
        notifier = s.notifier_tag if r.kind is SubscribeKind.REFRESH else None
        if any(
            start <= ts <= until and (notifier is None or tag == notifier) for _, ts, tag, _ in seen
        ):
            continue
        what = "refresh SUBSCRIBE" if r.kind is SubscribeKind.REFRESH else "SUBSCRIBE"
        yield Issue(
            f"no NOTIFY within {_seconds(NOTIFY_WAIT_NS)} of the {status} to the {what} "
            f"(the capture goes on {_seconds(end - r.final_ts_ns)} after it)",
            (r.final,) if r.message is None else (r.final, r.message),
        )


@rule(
    "SUB-12",
    severity=Severity.WARNING,
    rfc="RFC 6665 §4.4.3, §4.2.1.4",
    scope=Scope.SUBSCRIPTION,
)
def unsubscribe_not_terminated(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """Accepted Expires: 0 not followed by a NOTIFY with Subscription-State terminated

    RFC 6665 §4.4.3: "the NOTIFY requests triggered by SUBSCRIBE requests
    with "Expires" header fields of 0 will contain a "Subscription-State"
    value of "terminated" and a "reason" parameter of "timeout"."  After a
    2xx to an unsubscribe (or fetch): an error when the first NOTIFY sent
    after the 2xx says active or pending and no terminated one follows; a
    warning when no terminated NOTIFY arrives within
    :data:`NOTIFY_WAIT_NS` and the capture covers that window (G-2).
    """
    end = ctx.correlation.capture_end_ns
    if end is None:
        return
    seen: list[tuple[int, int, str | None, str | None]] | None = None
    for r in _own_requests(s):
        if r.kind not in _ZERO_KINDS or r.final_ts_ns is None or r.final is None:
            continue
        if not _is_2xx(r.final_status):
            continue
        if seen is None:
            seen = _sent_notifies(ctx, s.call_id, s.subscriber_tag, s.event_package)
        f_ts = r.final_ts_ns
        until = f_ts + NOTIFY_WAIT_NS
        start = r.ts_ns if r.message is not None else f_ts
        notifier = s.notifier_tag if r.kind is SubscribeKind.UNSUBSCRIBE else None
        window = [
            n for n in seen if start <= n[1] <= until and (notifier is None or n[2] == notifier)
        ]
        if any(n[3] == "terminated" for n in window):
            continue
        refs = (r.final,) if r.message is None else (r.final, r.message)
        after = [n for n in window if n[1] > f_ts]
        what = "unsubscribe" if r.kind is SubscribeKind.UNSUBSCRIBE else "fetch"
        if after and after[0][3] in _LIVE:
            yield Issue(
                f"the NOTIFY after the {r.final_status} to the {what} (Expires: 0) says "
                f"{after[0][3]}, not terminated",
                (after[0][0], *refs),
                Severity.ERROR,
            )
        elif end >= until:
            yield Issue(
                f"no NOTIFY with Subscription-State terminated within "
                f"{_seconds(NOTIFY_WAIT_NS)} of the {r.final_status} to the {what} (Expires: 0)",
                refs,
            )


def _reopened(s: Subscription, after: int, before: int) -> bool:
    """A SUBSCRIBE (not an unsubscribe) was sent in ``(after, before]`` and not rejected."""
    for r in s.requests:
        if r.message is None or r.kind in _ZERO_KINDS or not after < r.ts_ns <= before:
            continue
        if r.final_status is None or r.final_status < 300:
            return True
    return False


@rule(
    "SUB-13",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.2.1.4, §4.4.1",
    scope=Scope.SUBSCRIPTION,
)
def notify_after_end(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """NOTIFY after the subscription expired or after a terminated NOTIFY

    RFC 6665 §4.2.1.4: "If no refresh for a notification address is
    received before its expiration time, the subscription is removed."
    Reported:

    * a NOTIFY saying active or pending sent more than
      :data:`EXPIRY_GRACE_NS` after the expiry granted last (2xx Expires or
      NOTIFY ``expires``), when no SUBSCRIBE was outstanding (a refresh whose
      2xx is lost may have extended it: G-2); a warning when no SUBSCRIBE of
      the subscription was captured at all (its refreshes may pass where the
      capture does not look: G-1);
    * any NOTIFY sent after a NOTIFY with ``terminated`` whose transaction
      had completed; a warning when that NOTIFY's final response was not
      captured.

    A new SUBSCRIBE in the dialog after the end reopens the usage (legacy
    dialog reuse, §4.5.2) and is not reported.
    """
    ended: Notification | None = None
    unseen = all(r.message is None for r in s.requests)
    for n, bound in _bounds(_grants(s), s.notifications):
        ts = n.ts_ns
        if ended is not None and n.cseq != ended.cseq and not _reopened(s, ended.ts_ns, ts):
            done = _notify_final_ts(ctx, ended)
            completed = done is not None and done <= ts
            yield Issue(
                f"NOTIFY (CSeq {n.cseq}) sent {_seconds(ts - ended.ts_ns)} after the NOTIFY "
                f"at frame {ctx.frame(ended.message)} terminated the subscription"
                + ("" if completed else " (its final response was not captured)"),
                (n.message, ended.message),
                None if completed else Severity.WARNING,
            )
            continue
        if n.state == "terminated":
            if ended is None or _reopened(s, ended.ts_ns, ts):
                ended = n
            continue
        if n.state not in _LIVE or _pending_request(s, ts) is not None:
            continue
        if bound is not None and ts > bound.until + EXPIRY_GRACE_NS:
            yield Issue(
                f"NOTIFY (CSeq {n.cseq}) says {n.state} {_seconds(ts - bound.until)} after "
                f"the subscription expired (expiry set by {bound.label(ctx)})",
                (n.message, bound.message),
                Severity.WARNING if unseen and bound.status is None else None,
            )


@rule(
    "SUB-14",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.2.2, §4.1.2.2",
    scope=Scope.SUBSCRIPTION,
)
def activity_after_ending_response(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """NOTIFY or refresh after a response that ended the subscription

    RFC 6665 §4.2.2: "If the NOTIFY transaction fails due to the receipt of
    a 404, 405, 410, 416, 480-485, 489, 501, or 604 response to the NOTIFY
    request, the notifier MUST remove the corresponding subscription."
    §4.1.2.2 says the same of such a response to a refresh SUBSCRIBE.
    Afterwards a NOTIFY of the subscription is an error; a refresh SUBSCRIBE
    in the same dialog is a warning (re-subscribing needs a fresh Call-ID
    and From tag).  A new SUBSCRIBE that is accepted reopens it.  RFC 3265
    gave this meaning only to 481, so in RFC 3265 mode other codes give
    warnings.
    """
    legacy = ctx.options.events_rfc == "3265"
    endings: list[tuple[int, int, int, str]] = []  # (time, message, status, what)
    for n in s.notifications:
        if n.final_status in SUBSCRIPTION_ENDING_STATUS and n.state != "terminated":
            done = _notify_final_ts(ctx, n)
            if done is not None and n.final is not None:
                endings.append((done, n.final, n.final_status or 0, f"NOTIFY (CSeq {n.cseq})"))
    for r in s.requests:
        ended = r.kind is SubscribeKind.REFRESH and r.final_status in SUBSCRIPTION_ENDING_STATUS
        if ended and r.final_ts_ns is not None and r.final is not None:
            endings.append((r.final_ts_ns, r.final, r.final_status or 0, "refresh SUBSCRIBE"))
    if not endings:
        return
    endings.sort()
    at, final, status, what = endings[0]
    mild = Severity.WARNING if legacy and status != 481 else None
    cause = f"the {status} to the {what} at frame {ctx.frame(final)}"
    for n in s.notifications:
        if n.ts_ns > at and not _reopened(s, at, n.ts_ns):
            yield Issue(
                f"NOTIFY (CSeq {n.cseq}) sent after {cause} ended the subscription",
                (n.message, final),
                mild,
            )
    if what == "refresh SUBSCRIBE":
        for r in s.requests:
            if r.kind is SubscribeKind.REFRESH and r.message is not None and r.ts_ns > at:
                yield Issue(
                    f"refresh SUBSCRIBE in the same dialog after {cause}; a new subscription "
                    "needs a new Call-ID and From tag",
                    (r.message, final),
                    Severity.WARNING,
                )


@rule("SUB-19", severity=Severity.INFO, rfc="RFC 6665 §4.1.4", scope=Scope.SUBSCRIPTION)
def forked_subscription(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """NOTIFY from a second notifier for one SUBSCRIBE: a forked subscription

    RFC 6665 §4.1.4: "The subscriber MUST therefore be prepared to receive
    NOTIFY requests with "From:" tags that differ from the "To:" tag
    received in the SUBSCRIBE 200-class response."  Each notifier tag is a
    dialog of its own; whether that is allowed depends on the package
    (``reg`` forbids it: RI-16).
    """
    if s.forked_from is None or s.notifier_tag is None or not s.notifications:
        return
    first = s.notifications[0]
    yield Issue(
        f"NOTIFY from notifier tag {quote(s.notifier_tag)} for the SUBSCRIBE at frame "
        f"{ctx.frame(s.forked_from)}: the subscription was forked",
        (first.message, s.forked_from),
    )


@rule("SUB-22", severity=Severity.ERROR, rfc="RFC 6665 §3.2.1", scope=Scope.SUBSCRIPTION)
def notify_body_not_accepted(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """NOTIFY body of a type the SUBSCRIBE did not accept

    RFC 6665 §3.2.1: "When present, the body of the NOTIFY request MUST be
    formatted into one of the body formats specified in the "Accept" header
    field of the corresponding SUBSCRIBE request (or the default type
    according to the event package description, if no "Accept" header field
    was specified)."  The latest SUBSCRIBE sent before the NOTIFY is the
    corresponding one; packages whose default type is not known are judged
    only against an Accept.  Reported once per body type and SUBSCRIBE.
    """
    if s.event_package == "refer":
        return
    requests = [r for r in s.requests if r.message is not None]
    if not requests:
        return
    reported: set[tuple[str, int]] = set()
    for n in s.notifications:
        ctype = n.content_type
        if ctype is None or not ctx.messages[n.message].body:
            continue
        before = [r for r in requests if r.ts_ns <= n.ts_ns]
        if not before:
            continue
        sub = before[-1]
        assert sub.message is not None
        if (ctype, sub.message) in reported:
            continue
        ranges = _accept_ranges(ctx.messages[sub.message])
        if ranges is None:
            default = PACKAGE_BODY_TYPES.get(s.event_package or "")
            if default is None or ctype == default:
                continue
            why = f"the {quote(s.event_package)} default {quote(default)} (no Accept)"
        elif accepts(ranges, ctype):
            continue
        else:
            why = f"Accept {quote(', '.join(ranges))}" if ranges else "an empty Accept"
        reported.add((ctype, sub.message))
        yield Issue(
            f"NOTIFY (CSeq {n.cseq}) body is {quote(ctype)}; the SUBSCRIBE at frame "
            f"{ctx.frame(sub.message)} allows {why}",
            (n.message, sub.message),
        )


# -- refreshes -----------------------------------------------------------------


def _live_until(s: Subscription) -> int | None:
    """When a subscription stopped being active: its end, else its expiry (None: unknown)."""
    if s.state is SubState.TERMINATED:
        return s.timeline[-1].ts_ns if s.timeline else None
    return s.expires_at_ns


# (source address, From URI, Request-URI, package, id) of an initial SUBSCRIBE.
_UriKey = tuple[str, str, str, str]
_SubscriberKey = tuple[Endpoint, _UriKey | None, _UriKey, str | None, str | None]


def _subscriber_key(req: SipRequest, s: Subscription) -> _SubscriberKey:
    frm = addr_uri(req.headers.get("from"))
    return (
        req.origin.src,
        None if frm is None else uri_key(frm),
        uri_key(req.uri),
        s.event_package,
        s.event_id,
    )


class _Initial:
    """The initial subscriptions of one subscriber and resource, in time order.

    ``best[k]`` is the position, among the first k + 1, of the one that
    stayed active longest (for "was any earlier one still active at t").
    """

    __slots__ = ("times", "subs", "until", "best")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.subs: list[Subscription] = []
        self.until: list[int] = []
        self.best: list[int] = []


def _initial_subscriptions(
    ctx: Context,
) -> tuple[dict[_SubscriberKey, _Initial], dict[int, _SubscriberKey]]:
    """Subscriptions created by a captured initial SUBSCRIBE, by subscriber and resource.

    Also the key of each of them, by subscription id.
    """
    key = "initial-subscriptions"
    cached = ctx.memo.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    found: dict[_SubscriberKey, list[tuple[int, int, Subscription]]] = {}
    keys: dict[int, _SubscriberKey] = {}
    for s in ctx.correlation.subscriptions:
        if s.forked_from is not None or not s.requests:
            continue
        first = s.requests[0]
        if first.kind is not SubscribeKind.INITIAL or first.message is None:
            continue
        req = ctx.messages[first.message]
        if not isinstance(req, SipRequest) or req.to_tag is not None:
            continue
        k = keys[s.id] = _subscriber_key(req, s)
        found.setdefault(k, []).append((first.ts_ns, s.id, s))
    out: dict[_SubscriberKey, _Initial] = {}
    for k, items in found.items():
        items.sort()
        entry = out[k] = _Initial()
        for ts, _, s in items:
            until = _live_until(s) if s.state is not None else None
            entry.times.append(ts)
            entry.subs.append(s)
            entry.until.append(-1 if until is None else until)
            n = len(entry.until) - 1
            if entry.best and entry.until[entry.best[-1]] >= entry.until[n]:
                entry.best.append(entry.best[-1])
            else:
                entry.best.append(n)
    ctx.memo[key] = out, keys
    return out, keys


@rule(
    "SUB-20",
    severity=Severity.ERROR,
    rfc="RFC 6665 §4.1.2.2; RFC 3261 §12.2.1.1",
    scope=Scope.SUBSCRIPTION,
)
def refresh_outside_subscription(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """Refresh sent after the subscription expired, or a new subscription instead of a refresh

    RFC 6665 §4.1.2.2: "At any time before a subscription expires, the
    subscriber may refresh the timer on such a subscription by sending
    another SUBSCRIBE request on the same dialog as the existing
    subscription."  A refresh carries the dialog's Call-ID and tags (DLG-3,
    DLG-4), its Event (SUB-15) and the next CSeq (CSEQ-7); what this rule
    adds is what the capture can only suggest:

    * warning: a refresh SUBSCRIBE sent more than
      :data:`LENGTHEN_TOLERANCE_NS` after the expiry last granted (the
      notifier has removed the subscription and answers 481);
    * info: an initial SUBSCRIBE (no To tag, a new Call-ID) from the same
      address and From URI to the same Request-URI for the same package
      while the earlier subscription was still active: a refresh belongs
      in that dialog.
    """
    for r in s.requests:
        if r.kind is not SubscribeKind.REFRESH or r.message is None:
            continue
        before = [e for e in s.timeline if e.ts_ns < r.ts_ns]
        if not before or before[-1].cause != "expired":
            continue
        late = r.ts_ns - before[-1].ts_ns
        if late > LENGTHEN_TOLERANCE_NS:
            yield Issue(
                f"refresh SUBSCRIBE sent {_seconds(late)} after the subscription expired; "
                "the notifier no longer has it",
                (r.message,),
                Severity.WARNING,
            )
    if s.forked_from is not None or not s.requests:
        return
    first = s.requests[0]
    initial, keys = _initial_subscriptions(ctx)
    # The subscriptions created by a captured initial SUBSCRIBE have a key.
    subscriber = keys.get(s.id)
    if subscriber is None:
        return
    entry = initial[subscriber]
    assert first.message is not None
    req = ctx.messages[first.message]
    assert isinstance(req, SipRequest)
    k = bisect_left(entry.times, first.ts_ns)
    if k > 0:
        best = entry.best[k - 1]
        other = entry.subs[best]
        if entry.until[best] <= first.ts_ns or other.call_id == s.call_id:
            return
        assert other.requests[0].message is not None
        yield Issue(
            f"new SUBSCRIBE (Call-ID {quote(s.call_id)}) to {quote(req.uri)} for "
            f"{quote(s.event_package)} while the subscription of the SUBSCRIBE at frame "
            f"{ctx.frame(other.requests[0].message)} (Call-ID {quote(other.call_id)}) was "
            "still active: a refresh belongs in that dialog",
            (first.message, other.requests[0].message),
            Severity.INFO,
        )


# -- 489 (Bad Event) -----------------------------------------------------------


def _advertised(ctx: Context) -> dict[Endpoint, list[tuple[int, frozenset[str]]]]:
    """(time, packages) of every Allow-Events a source address sent, in capture order."""
    key = "allow-events"
    cached = ctx.memo.get(key)
    if isinstance(cached, dict):
        return cached
    out: dict[Endpoint, list[tuple[int, frozenset[str]]]] = {}
    for m in ctx.messages:
        if "allow-events" not in m.headers:
            continue
        packages = frozenset(v.split(";", 1)[0].strip() for v in m.headers.values("allow-events"))
        out.setdefault(m.origin.src, []).append((m.origin.ts_ns, packages))
    ctx.memo[key] = out
    return out


@rule(
    "SUB-27",
    severity=Severity.WARNING,
    rfc="RFC 6665 §8.3.2, §4.1.3, §4.1.2.1",
    scope=Scope.SUBSCRIPTION,
)
def bad_event(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """489 (Bad Event) to a SUBSCRIBE for an advertised package, or NOTIFY after a 489

    RFC 6665 §8.3.2: "489 (Bad Event) is used to indicate that the server
    did not understand the event package specified in a "Event" header
    field."  Reported:

    * info: a 489 to an initial SUBSCRIBE (no subscription exists) and a
      489 from a subscriber to a NOTIFY (it does not support the package;
      the subscription ends, SUB-14);
    * warning: a 489 to a SUBSCRIBE for a package that the responding
      address listed in an earlier Allow-Events (§4.4.4: the list is
      "comprehensive and inclusive"); template packages such as
      ``presence.winfo`` count only when listed whole;
    * error: a NOTIFY of the subscription sent after the 489 to its initial
      SUBSCRIBE.  (After a 489 to a refresh the subscription is gone too:
      SUB-14 reports what follows.)
    """
    package = s.event_package
    for r in s.requests:
        if r.final_status != 489 or r.final is None or r.final_ts_ns is None:
            continue
        resp = ctx.messages[r.final]
        refs = (r.final,) if r.message is None else (r.final, r.message)
        if r.kind in (SubscribeKind.INITIAL, SubscribeKind.FETCH):
            yield Issue(
                f"489 to the SUBSCRIBE for {quote(package)}: the notifier does not support the "
                "package, no subscription exists",
                refs,
                Severity.INFO,
            )
            for n in s.notifications:
                if n.ts_ns > r.final_ts_ns:
                    yield Issue(
                        f"NOTIFY (CSeq {n.cseq}) sent after the 489 at frame "
                        f"{ctx.frame(r.final)} refused the subscription",
                        (n.message, r.final),
                        Severity.ERROR,
                    )
                    break
        if package is None:
            continue
        for ts, packages in _advertised(ctx).get(resp.origin.src, ()):
            if ts < resp.origin.ts_ns and package in packages:
                yield Issue(
                    f"489 to the SUBSCRIBE for {quote(package)}, which {resp.origin.src} listed "
                    "in its Allow-Events earlier",
                    refs,
                )
                break
    for n in s.notifications:
        if n.final_status == 489 and n.final is not None:
            yield Issue(
                f"subscriber answered the NOTIFY (CSeq {n.cseq}) for {quote(package)} with 489: "
                "it does not support the package",
                (n.final, n.message),
                Severity.INFO,
            )
