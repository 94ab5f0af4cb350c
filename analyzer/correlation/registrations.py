"""Registrations (RFC 3261 §10): REGISTER attempts and bindings per address-of-record.

Each REGISTER transaction becomes a :class:`RegisterAttempt` inside its
Call-ID group.  Bindings span Call-IDs (a UA may re-register with a new
Call-ID after a reboot, and several UAs register one AoR), so
:func:`build_registrations` runs over the attempts of all groups at once.

The requested expiry of a binding follows §10.2.1.1 and §10.3 step 7:
"If the field value has an "expires" parameter, that value MUST be taken as
the requested expiration.  If there is no such parameter, but the request
has an Expires header field, that value MUST be taken as the requested
expiration.  If there is neither, the registrar SHOULD take a locally-
configured default value".  What the registrar granted is the ``expires``
parameter of the Contact in the 2xx (§10.3 step 8), or its Expires header
when an older registrar puts it there; a binding lives for the granted time
when known, else the requested one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..errors import SipParseError
from ..sip.message import SipMessage, SipRequest
from ..sip.values import parse_name_addr
from .dialogs import frames_of
from .subscriptions import delta_seconds
from .transactions import MessageLookup, TxnDraft

_NS = 1_000_000_000


class RegisterOutcome(enum.Enum):
    """How one REGISTER attempt ended."""

    #: 2xx; at least one binding added or refreshed.
    REGISTERED = "registered"
    #: 2xx; every requested binding removed (expires 0 or ``Contact: *``).
    DEREGISTERED = "deregistered"
    #: 2xx to a REGISTER without Contact: a query of the bindings (§10.2.3).
    QUERIED = "queried"
    #: 401 or 407: the registrar asks for credentials (§22.1).
    CHALLENGED = "challenged"
    #: Any other final response >= 300.
    REJECTED = "rejected"
    #: No final response in the capture.
    NO_FINAL = "no_final"


@dataclass(frozen=True, slots=True)
class RequestedBinding:
    """One Contact of a REGISTER request.

    ``contact`` is the Contact URI as written (``*`` for the wildcard);
    ``expires`` the requested expiry and ``source`` where it came from:
    ``"contact"`` (its ``expires`` parameter), ``"header"`` (the Expires
    header) or ``"none"`` (neither: the registrar chooses).  A value that is
    not a number counts as absent for ``expires``; ``expires_raw`` keeps it.
    """

    contact: str
    expires: int | None
    expires_raw: str | None
    source: str


@dataclass(frozen=True, slots=True)
class GrantedBinding:
    """One Contact of a 2xx to REGISTER and its ``expires`` parameter."""

    contact: str
    expires: int | None


@dataclass(frozen=True, slots=True)
class RegisterAttempt:
    """One REGISTER transaction.

    ``aor`` is the To URI in canonical form (scheme and host in lower case,
    URI parameters and headers removed: RFC 3261 §10.3 step 5), ``to_uri``
    as written.  ``request`` is None when only responses were captured (then
    ``requested`` is empty).  ``granted`` lists the Contacts of the first
    2xx; ``granted_expires_header`` its Expires header.  ``retry_of`` is the
    transaction id of the 401/407-challenged attempt (same Call-ID and AoR)
    that this one retries.
    """

    transaction: int
    call_id: str | None
    aor: str | None
    to_uri: str | None
    from_tag: str | None
    cseq: int | None
    request: int | None
    ts_ns: int
    requested: tuple[RequestedBinding, ...]
    wildcard: bool
    expires_header: int | None
    final_status: int | None
    final: int | None
    final_frame: int | None
    final_ts_ns: int | None
    granted: tuple[GrantedBinding, ...]
    granted_expires_header: int | None
    outcome: RegisterOutcome
    retry_of: int | None
    messages: tuple[int, ...]
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BindingEvent:
    """A change of one binding of an AoR.

    ``event`` is ``"registered"`` (new binding), ``"refreshed"``,
    ``"deregistered"`` (expires 0 or ``Contact: *``), ``"listed"`` (a binding
    the registrar reported that no captured REGISTER created, e.g. another
    UA's), ``"removed"`` (a known binding the registrar no longer lists) or
    ``"expired"`` (its expiry time passed without refresh: then ``attempt``,
    ``message`` and ``frame`` are None).  ``expires`` is the duration in
    seconds the event set.
    """

    ts_ns: int
    contact: str
    event: str
    expires: int | None
    attempt: int | None
    message: int | None
    frame: int | None


@dataclass(frozen=True, slots=True)
class Binding:
    """A binding still in place when the capture ends."""

    contact: str
    expires: int | None
    since_ts_ns: int
    expires_at_ns: int | None


@dataclass(frozen=True, slots=True)
class Registration:
    """All REGISTER attempts for one address-of-record and the bindings they made.

    ``id`` is the transaction id of the first attempt.  ``attempts`` are in
    time order; ``events`` are the binding changes in time order.
    """

    id: int
    aor: str | None
    attempts: tuple[RegisterAttempt, ...]
    events: tuple[BindingEvent, ...]
    bindings: tuple[Binding, ...]
    call_ids: tuple[str, ...]
    messages: tuple[int, ...]
    frames: tuple[int, ...]


def canonical_aor(uri: str) -> str:
    """An AoR in the canonical form of RFC 3261 §10.3 step 5 (approximated).

    "all URI parameters MUST be removed (including the user-param), and any
    escaped characters MUST be converted to their unescaped form": parameters
    and headers are cut, scheme and host lowered.  Escapes are kept.
    """
    cut = len(uri)
    for ch in ";?":
        j = uri.find(ch)
        if 0 <= j < cut:
            cut = j
    base = uri[:cut].strip()
    scheme, colon, rest = base.partition(":")
    if not colon:
        return base.lower()
    user, at, host = rest.rpartition("@")
    if at:
        return f"{scheme.lower()}:{user}@{host.lower()}"
    return f"{scheme.lower()}:{rest.lower()}"


def _contact_key(uri: str) -> str:
    return uri.strip().lower()


def _contact(value: str) -> tuple[str, str | None] | None:
    """(URI, expires parameter) of one Contact value; None when unreadable."""
    try:
        na = parse_name_addr(value)
    except SipParseError:
        return None
    expires: str | None = None
    for name, val in na.params:
        if name.lower() == "expires":
            expires = val
            break
    return na.uri, expires


def register_attempt(
    call_id: str | None,
    t: TxnDraft,
    messages: MessageLookup,
    problems: list[tuple[int, str, str]],
) -> RegisterAttempt:
    """The :class:`RegisterAttempt` for a REGISTER transaction draft."""
    head: SipMessage = messages[t.request if t.request is not None else t.id]
    to_uri: str | None = None
    to_value = head.headers.get("to")
    if to_value is not None:
        try:
            to_uri = parse_name_addr(to_value).uri
        except SipParseError as exc:
            problems.append((t.id, "unreadable-value", f"unreadable To of REGISTER: {exc.reason}"))
    requested: list[RequestedBinding] = []
    wildcard = False
    expires_header: int | None = None
    if isinstance(head, SipRequest):
        raw_header = head.headers.get("expires")
        expires_header = delta_seconds(raw_header)
        for value in head.headers.values("contact"):
            if value == "*":
                wildcard = True
                requested.append(RequestedBinding("*", expires_header, raw_header, "header"))
                continue
            parsed = _contact(value)
            if parsed is None:
                problems.append(
                    (t.id, "unreadable-value", f"unreadable Contact {value!r} in REGISTER")
                )
                continue
            uri, raw = parsed
            if raw is not None:
                requested.append(RequestedBinding(uri, delta_seconds(raw), raw, "contact"))
            elif raw_header is not None:
                requested.append(RequestedBinding(uri, expires_header, raw_header, "header"))
            else:
                requested.append(RequestedBinding(uri, None, None, "none"))
    granted: list[GrantedBinding] = []
    granted_header: int | None = None
    status = t.final_status
    if t.final is not None and status is not None and 200 <= status < 300:
        ok = messages[t.final]
        granted_header = delta_seconds(ok.headers.get("expires"))
        for value in ok.headers.values("contact"):
            parsed = _contact(value)
            if parsed is None:
                problems.append(
                    (
                        t.final,
                        "unreadable-value",
                        f"unreadable Contact {value!r} in 2xx to REGISTER",
                    )
                )
                continue
            granted.append(GrantedBinding(parsed[0], delta_seconds(parsed[1])))
    msg_ids = sorted(t.messages)
    return RegisterAttempt(
        t.id,
        call_id,
        None if to_uri is None else canonical_aor(to_uri),
        to_uri,
        t.from_tag,
        t.cseq,
        t.request,
        head.origin.ts_ns,
        tuple(requested),
        wildcard,
        expires_header,
        status,
        t.final,
        None if t.final is None else messages[t.final].origin.frame,
        t.final_ts,
        tuple(granted),
        granted_header,
        _outcome(status, requested, t.request is not None),
        None,
        tuple(msg_ids),
        frames_of(msg_ids, messages),
    )


def _outcome(
    status: int | None, requested: Sequence[RequestedBinding], seen_request: bool
) -> RegisterOutcome:
    if status is None:
        return RegisterOutcome.NO_FINAL
    if status in (401, 407):
        return RegisterOutcome.CHALLENGED
    if status >= 300:
        return RegisterOutcome.REJECTED
    if status < 200:
        return RegisterOutcome.NO_FINAL
    if not requested:
        # Without the request, a 2xx only shows the bindings exist.
        return RegisterOutcome.QUERIED if seen_request else RegisterOutcome.REGISTERED
    if all(b.expires == 0 for b in requested):
        return RegisterOutcome.DEREGISTERED
    return RegisterOutcome.REGISTERED


def link_retries(attempts: list[RegisterAttempt]) -> list[RegisterAttempt]:
    """Set ``retry_of`` on attempts that follow a 401/407 for the same AoR (one Call-ID)."""
    if len(attempts) < 2:
        return attempts
    out: list[RegisterAttempt] = []
    last_challenge: dict[str | None, RegisterAttempt] = {}
    for a in attempts:
        challenged = last_challenge.pop(a.aor, None)
        if challenged is not None and (
            a.cseq is None or challenged.cseq is None or a.cseq >= challenged.cseq
        ):
            a = replace(a, retry_of=challenged.transaction)
        if a.outcome is RegisterOutcome.CHALLENGED:
            last_challenge[a.aor] = a
        out.append(a)
    return out


class _Bound:
    __slots__ = ("contact", "expires", "since", "expires_at")

    def __init__(self, contact: str, expires: int | None, since: int, expires_at: int | None):
        self.contact = contact
        self.expires = expires
        self.since = since
        self.expires_at = expires_at


def build_registrations(
    attempts: Iterable[RegisterAttempt], capture_end_ns: int | None
) -> list[Registration]:
    """Group REGISTER attempts by AoR and follow each AoR's bindings through time.

    ``capture_end_ns`` (the last timestamp of the capture) decides which
    bindings expired by time before the capture ended.
    """
    by_aor: dict[str | None, list[RegisterAttempt]] = {}
    for a in sorted(attempts, key=_attempt_order):
        by_aor.setdefault(a.aor, []).append(a)
    out: list[Registration] = []
    for aor, items in by_aor.items():
        out.append(_registration(aor, items, capture_end_ns))
    out.sort(key=_registration_id)
    return out


def _event_ts(e: BindingEvent) -> int:
    return e.ts_ns


def _attempt_order(a: RegisterAttempt) -> tuple[int, int]:
    return (a.ts_ns, a.transaction)


def _registration_id(r: Registration) -> int:
    return r.id


def _registration(
    aor: str | None, attempts: list[RegisterAttempt], capture_end_ns: int | None
) -> Registration:
    bound: dict[str, _Bound] = {}
    events: list[BindingEvent] = []

    def expire(until: int) -> None:
        for key, b in list(bound.items()):
            if b.expires_at is not None and b.expires_at < until:
                events.append(
                    BindingEvent(b.expires_at, b.contact, "expired", None, None, None, None)
                )
                del bound[key]

    for a in attempts:
        status = a.final_status
        if a.final is None or a.final_ts_ns is None or status is None or not 200 <= status < 300:
            continue
        ts = a.final_ts_ns
        expire(ts)
        msg, frame, txn = a.final, a.final_frame, a.transaction
        granted = {_contact_key(g.contact): g for g in a.granted}
        touched: set[str] = set()
        for r in a.requested:
            if r.contact == "*":
                # §10.2.2: "Contact: *" with Expires: 0 removes all bindings.
                for key, b in list(bound.items()):
                    events.append(BindingEvent(ts, b.contact, "deregistered", 0, txn, msg, frame))
                    del bound[key]
                continue
            key = _contact_key(r.contact)
            touched.add(key)
            g = granted.get(key)
            if r.expires == 0:
                events.append(BindingEvent(ts, r.contact, "deregistered", 0, txn, msg, frame))
                bound.pop(key, None)
                continue
            if g is not None and g.expires is not None:
                expires: int | None = g.expires
            elif a.granted_expires_header is not None:
                expires = a.granted_expires_header
            else:
                expires = r.expires
            if expires == 0:
                events.append(BindingEvent(ts, r.contact, "deregistered", 0, txn, msg, frame))
                bound.pop(key, None)
                continue
            at = None if expires is None else ts + expires * _NS
            old = bound.get(key)
            if old is None:
                bound[key] = _Bound(r.contact, expires, ts, at)
                events.append(BindingEvent(ts, r.contact, "registered", expires, txn, msg, frame))
            else:
                old.expires, old.expires_at = expires, at
                events.append(BindingEvent(ts, r.contact, "refreshed", expires, txn, msg, frame))
        if a.granted:
            # §10.3 step 8: the 2xx "MUST contain Contact header field values
            # enumerating all current bindings".
            for key, g in granted.items():
                if key in touched or g.expires == 0:
                    continue
                at = None if g.expires is None else ts + g.expires * _NS
                old = bound.get(key)
                if old is None:
                    bound[key] = _Bound(g.contact, g.expires, ts, at)
                    events.append(BindingEvent(ts, g.contact, "listed", g.expires, txn, msg, frame))
                else:
                    old.expires, old.expires_at = g.expires, at
            for key, b in list(bound.items()):
                if key not in granted and key not in touched:
                    events.append(BindingEvent(ts, b.contact, "removed", None, txn, msg, frame))
                    del bound[key]
    if capture_end_ns is not None:
        expire(capture_end_ns + 1)
    events.sort(key=_event_ts)
    msg_ids = sorted({i for a in attempts for i in a.messages})
    frame_ids = sorted({f for a in attempts for f in a.frames})
    call_ids: list[str] = []
    for a in attempts:
        if a.call_id is not None and a.call_id not in call_ids:
            call_ids.append(a.call_id)
    return Registration(
        min(a.transaction for a in attempts),
        aor,
        tuple(attempts),
        tuple(events),
        tuple(Binding(b.contact, b.expires, b.since, b.expires_at) for b in bound.values()),
        tuple(call_ids),
        tuple(msg_ids),
        tuple(frame_ids),
    )
