"""Subscriptions (RFC 6665): SUBSCRIBE, its refreshes, and the NOTIFYs.

A subscription is one dialog usage: "the combination of the "Event" header
field value and the "id" parameter" within a dialog (RFC 6665 §4.5.2).  It
starts with an out-of-dialog SUBSCRIBE (or a REFER, whose implicit
subscription has the package ``refer``, RFC 3515 §2.4.4), gets its dialog
from the 2xx or from the first NOTIFY, whichever comes first (§4.1.2.4),
and gains one more subscription for every further notifier tag that sends
a NOTIFY for the same SUBSCRIBE (forking, §4.1.4).

State is taken from what the capture shows: each NOTIFY's
Subscription-State, the responses that end a subscription (§4.1.2.2 and
§4.2.2: "404, 405, 410, 416, 480-485, 489, 501, or 604"), an accepted
unsubscribe, and expiry by time when the granted duration (2xx Expires,
or a NOTIFY ``expires`` parameter) passed without a refresh.

Matching is tolerant on purpose: a NOTIFY whose Event differs from its
SUBSCRIBE's still joins the only subscription of its dialog, so that the
rules can report the mismatch (catalogue SUB-2, SUB-15) with both values at
hand.  Every Event and Subscription-State value is kept as seen.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SipParseError
from ..sip.message import SipMessage, SipRequest, SipResponse
from ..sip.values import SubscriptionState, parse_event, parse_subscription_state
from .dialogs import DialogDraft, DialogState, DialogTable, frames_of
from .reginfo import (
    REGINFO_CONTENT_TYPE,
    ParsedReginfo,
    ReginfoAor,
    ReginfoDocument,
    ReginfoError,
    ReginfoTracker,
    parse_reginfo,
)
from .transactions import MessageLookup, TxnDraft, record_constructor, unique_sorted

#: Final responses to a NOTIFY or a refresh SUBSCRIBE after which the
#: subscription is gone (RFC 6665 §4.1.2.2, §4.2.2).
SUBSCRIPTION_ENDING_STATUS = frozenset(
    (404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604)
)

# Expires and Subscription-State expires are delta-seconds; more digits than
# this are not a duration anyone means, and int() on them would be slow.
_MAX_DELTA_DIGITS = 10

_NS = 1_000_000_000


class SubState(enum.Enum):
    """Subscription states (RFC 6665 §4.1.3 substate-value)."""

    PENDING = "pending"
    ACTIVE = "active"
    TERMINATED = "terminated"


class SubscribeKind(enum.Enum):
    """What a SUBSCRIBE (or REFER) did to its subscription."""

    INITIAL = "initial"
    REFRESH = "refresh"
    UNSUBSCRIBE = "unsubscribe"
    #: An out-of-dialog SUBSCRIBE with Expires: 0 (RFC 6665 §4.4.3: a fetch).
    FETCH = "fetch"
    REFER = "refer"


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """The subscription entered ``state`` at ``ts_ns``.

    ``cause`` is "NOTIFY" (its Subscription-State), "rejected <status>" (a
    non-2xx final response to the initial SUBSCRIBE), "NOTIFY <status>" /
    "SUBSCRIBE <status>" (a response that ends the subscription),
    "unsubscribed" (a 2xx to Expires: 0 and no final NOTIFY), or "expired"
    (the granted duration passed without refresh: then ``message`` and
    ``frame`` are None and ``ts_ns`` is the computed expiry time).
    """

    ts_ns: int
    state: SubState
    message: int | None
    frame: int | None
    cause: str


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    """One SUBSCRIBE (or REFER) transaction of a subscription.

    ``message`` is None when only the response was captured.  ``event`` is
    the Event header value as written (None when absent) and ``expires`` the
    requested Expires (None when absent or not a number: ``expires_raw``
    shows which).  ``granted_expires`` is the Expires of the 2xx.
    """

    transaction: int
    message: int | None
    ts_ns: int
    kind: SubscribeKind
    event: str | None
    expires: int | None
    expires_raw: str | None
    final_status: int | None
    final: int | None
    final_ts_ns: int | None
    granted_expires: int | None


@dataclass(frozen=True, slots=True)
class Notification:
    """One NOTIFY (its first copy) and the values it carried.

    ``event`` / ``subscription_state`` are the header values as written
    (None when absent).  ``state``, ``expires``, ``reason``, ``retry_after``
    are read from Subscription-State (state in lower case); they are None
    when absent or unreadable.  ``content_type`` is the media type in lower
    case without parameters.  ``document`` is the id of the reginfo document
    it carried.
    """

    transaction: int
    message: int
    ts_ns: int
    cseq: int | None
    event: str | None
    subscription_state: str | None
    state: str | None
    expires: int | None
    reason: str | None
    retry_after: int | None
    content_type: str | None
    final_status: int | None
    final: int | None
    document: int | None


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription: its requests, notifications and state over time.

    ``id`` is the message index of the message that created it: the initial
    SUBSCRIBE / REFER (or its first response, if it was not captured), or
    the NOTIFY of a forked or mid-capture subscription.  ``dialog`` is None
    until a 2xx or NOTIFY names the notifier (so stays None for a rejected
    SUBSCRIBE).  ``event_package`` and ``event_id`` come from the creating
    request's Event header (from the first NOTIFY when no request was seen).

    ``timeline`` lists state changes in time order; ``state`` is the last
    one (None when nothing said pending/active/terminated).
    ``expires_at_ns`` is when the last granted duration runs out (None when
    nothing was granted or the subscription ended).  ``forked_from`` is the
    subscription whose SUBSCRIBE this one shares; ``mid_dialog`` is set when
    no SUBSCRIBE/REFER creating it was captured (catalogue G-1).
    """

    id: int
    call_id: str | None
    dialog: int | None
    event_package: str | None
    event_id: str | None
    subscriber_tag: str | None
    notifier_tag: str | None
    requests: tuple[SubscribeRequest, ...]
    notifications: tuple[Notification, ...]
    timeline: tuple[SubscriptionEvent, ...]
    state: SubState | None
    expires_at_ns: int | None
    forked_from: int | None
    mid_dialog: bool
    transactions: tuple[int, ...]
    messages: tuple[int, ...]
    frames: tuple[int, ...]


if TYPE_CHECKING:
    _new_subscription_event = SubscriptionEvent
    _new_subscribe_request = SubscribeRequest
    _new_notification = Notification
    _new_subscription = Subscription
    _new_reginfo_document = ReginfoDocument
    _new_reginfo_aor = ReginfoAor
else:
    _new_subscription_event = record_constructor(SubscriptionEvent)
    _new_subscribe_request = record_constructor(SubscribeRequest)
    _new_notification = record_constructor(Notification)
    _new_subscription = record_constructor(Subscription)
    _new_reginfo_document = record_constructor(ReginfoDocument)
    _new_reginfo_aor = record_constructor(ReginfoAor)


def delta_seconds(value: str | None) -> int | None:
    """A delta-seconds header value as an int, or None when absent or not a number."""
    if value is None:
        return None
    v = value.strip()
    if v.isdigit() and v.isascii() and len(v) <= _MAX_DELTA_DIGITS:
        return int(v)
    return None


def media_type(value: str | None) -> str | None:
    """``type/subtype`` of a Content-Type value, lower case, without parameters."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def reginfo_bodies(messages: Iterable[SipMessage]) -> Iterator[bytes]:
    """The bodies of the NOTIFY requests that carry a reginfo document (RFC 3680).

    Only NOTIFYs with a Call-ID: without one there is no subscription to
    read them for.
    """
    for m in messages:
        if (
            isinstance(m, SipRequest)
            and m.method == "NOTIFY"
            and m.call_id is not None
            and media_type(m.headers.get("content-type")) == REGINFO_CONTENT_TYPE
        ):
            yield m.body


class _Request:
    __slots__ = ("txn", "message", "ts", "kind", "event", "expires", "expires_raw", "final")

    def __init__(
        self,
        txn: TxnDraft,
        message: int | None,
        ts: int,
        kind: SubscribeKind,
        event: str | None,
        expires_raw: str | None,
    ) -> None:
        self.txn = txn
        self.message = message
        self.ts = ts
        self.kind = kind
        self.event = event
        self.expires_raw = expires_raw
        self.expires = delta_seconds(expires_raw)
        # (status, message, ts, granted expires) of the first final response.
        self.final: tuple[int, int, int, int | None] | None = None

    def freeze(self) -> SubscribeRequest:
        f = self.final
        return _new_subscribe_request(
            self.txn.id,
            self.message,
            self.ts,
            self.kind,
            self.event,
            self.expires,
            self.expires_raw,
            None if f is None else f[0],
            None if f is None else f[1],
            None if f is None else f[2],
            None if f is None else f[3],
        )


class _Notify:
    __slots__ = ("txn", "message", "ts", "fields", "final", "document")

    def __init__(self, txn: TxnDraft, message: int, ts: int) -> None:
        self.txn = txn
        self.message = message
        self.ts = ts
        # cseq, event, subscription_state, state, expires, reason,
        # retry_after, content_type
        self.fields: tuple[
            int | None,
            str | None,
            str | None,
            str | None,
            int | None,
            str | None,
            int | None,
            str | None,
        ] = (None, None, None, None, None, None, None, None)
        self.final: tuple[int, int] | None = None
        self.document: int | None = None

    def freeze(self) -> Notification:
        cseq, event, raw, state, expires, reason, retry, ctype = self.fields
        f = self.final
        return _new_notification(
            self.txn.id,
            self.message,
            self.ts,
            cseq,
            event,
            raw,
            state,
            expires,
            reason,
            retry,
            ctype,
            None if f is None else f[0],
            None if f is None else f[1],
            self.document,
        )


class SubscriptionDraft:
    """A subscription while its Call-ID group is being read."""

    __slots__ = (
        "id",
        "dialog",
        "package",
        "event_id",
        "subscriber_tag",
        "notifier_tag",
        "requests",
        "notifies",
        "timeline",
        "state",
        "deadline",
        "forked_from",
        "mid_dialog",
        "unsubscribed",
        "reginfo",
    )

    def __init__(
        self,
        first: int,
        package: str | None,
        event_id: str | None,
        subscriber_tag: str | None,
        mid: bool,
    ) -> None:
        self.id = first
        self.dialog: DialogDraft | None = None
        self.package = package
        self.event_id = event_id
        self.subscriber_tag = subscriber_tag
        self.notifier_tag: str | None = None
        self.requests: list[_Request] = []
        self.notifies: list[_Notify] = []
        self.timeline: list[SubscriptionEvent] = []
        self.state: SubState | None = None
        self.deadline: int | None = None
        self.forked_from: int | None = None
        self.mid_dialog = mid
        # (message, ts) of the 2xx to an Expires: 0 request.
        self.unsubscribed: tuple[int, int] | None = None
        self.reginfo: ReginfoTracker | None = None

    def check_expiry(self, ts: int) -> None:
        """Record expiry by time if ``ts`` is past the granted duration."""
        deadline = self.deadline
        if deadline is not None and ts > deadline and self.state is not SubState.TERMINATED:
            self.timeline.append(
                _new_subscription_event(deadline, SubState.TERMINATED, None, None, "expired")
            )
            self.state = SubState.TERMINATED
            self.deadline = None

    def enter(self, state: SubState, msg: SipMessage, i: int, cause: str) -> None:
        if state is self.state:
            return
        self.state = state
        o = msg.origin
        self.timeline.append(_new_subscription_event(o.ts_ns, state, i, o.frame, cause))
        if state is SubState.TERMINATED:
            self.deadline = None


# Event and Subscription-State values repeat across a capture ("reg",
# "active;expires=3600"), so their parses are kept, by value, in bounded
# caches: a capture of unique values only costs the eviction.
_VALUE_CACHE_SIZE = 4096


def _event(msg: SipMessage) -> tuple[str | None, str | None, str | None]:
    """(raw Event value, package, id) of a message; package None when unreadable."""
    raw = msg.headers.get("event")
    if raw is None:
        return None, None, None
    return _parsed_event(raw)


@functools.lru_cache(maxsize=_VALUE_CACHE_SIZE)
def _parsed_event(raw: str) -> tuple[str, str | None, str | None]:
    try:
        ev = parse_event(raw)
    except SipParseError:
        return raw, None, None
    return raw, ev.package, ev.id


@functools.lru_cache(maxsize=_VALUE_CACHE_SIZE)
def _parsed_state(raw: str) -> SubscriptionState | str:
    """A Subscription-State value parsed, or why it could not be."""
    try:
        return parse_subscription_state(raw)
    except SipParseError as exc:
        return exc.reason


class SubscriptionBuilder:
    """Builds the subscriptions of one Call-ID group (see :func:`build_subscriptions`)."""

    def __init__(
        self,
        call_id: str | None,
        messages: MessageLookup,
        table: DialogTable,
        parsed: Mapping[bytes, ParsedReginfo | str],
    ) -> None:
        self.call_id = call_id
        self.messages = messages
        self.table = table
        # Reginfo bodies read beforehand (see parse_reginfo_bodies); others
        # are read when met.
        self.parsed = parsed
        self.subs: list[SubscriptionDraft] = []
        self.by_dialog: dict[int, list[SubscriptionDraft]] = {}
        # Initial SUBSCRIBE/REFER subscriptions by subscriber (From) tag.
        self.by_subscriber: dict[str | None, list[SubscriptionDraft]] = {}
        self.requests: dict[int, tuple[SubscriptionDraft, _Request]] = {}
        self.notifies: dict[int, tuple[SubscriptionDraft, _Notify]] = {}
        self.documents: list[ReginfoDocument] = []
        # (message index, note code, text) of values that could not be read.
        self.problems: list[tuple[int, str, str]] = []

    # -- helpers -----------------------------------------------------------

    def _new(
        self,
        i: int,
        package: str | None,
        event_id: str | None,
        subscriber: str | None,
        mid: bool,
        dialog: DialogDraft | None,
    ) -> SubscriptionDraft:
        s = SubscriptionDraft(i, package, event_id, subscriber, mid)
        self.subs.append(s)
        if dialog is not None:
            self._bind(s, dialog)
        return s

    def _bind(self, s: SubscriptionDraft, d: DialogDraft) -> None:
        s.dialog = d
        self.by_dialog.setdefault(d.id, []).append(s)
        # The notifier's tag is the dialog tag that is not the subscriber's.
        s.notifier_tag = d.remote_tag if d.local_tag == s.subscriber_tag else d.local_tag

    @staticmethod
    def _same_event(s: SubscriptionDraft, package: str | None, event_id: str | None) -> bool:
        if s.package != package:
            return False
        if s.event_id == event_id:
            return True
        # RFC 3515 §2.4.6: a NOTIFY for the first REFER in a dialog may
        # leave out the id (the REFER's CSeq).
        return package == "refer" and event_id is None

    def _in_dialog(
        self, d: DialogDraft | None, package: str | None, event_id: str | None
    ) -> SubscriptionDraft | None:
        if d is None:
            return None
        subs = self.by_dialog.get(d.id)
        if not subs:
            return None
        for s in reversed(subs):
            if self._same_event(s, package, event_id):
                return s
        return None

    # -- messages ----------------------------------------------------------

    def feed(self, i: int, msg: SipMessage, t: TxnDraft) -> None:
        """Read one message of the group (in message order)."""
        if isinstance(msg, SipRequest):
            if t.request != i:
                return
            method = msg.method
            if method == "SUBSCRIBE" or method == "REFER":
                self._subscribe(i, msg, t, method)
            elif method == "NOTIFY":
                self._notify(i, msg, t)
            return
        if t.final != i:
            return
        method = t.method
        if method == "SUBSCRIBE" or method == "REFER":
            self._subscribe_final(i, msg, t)
        elif method == "NOTIFY":
            entry = self.notifies.get(t.id)
            if entry is None:
                return
            s, n = entry
            status = msg.status
            n.final = (status, i)
            if status in SUBSCRIPTION_ENDING_STATUS:
                s.check_expiry(msg.origin.ts_ns)
                s.enter(SubState.TERMINATED, msg, i, f"NOTIFY {status}")

    def _subscribe(self, i: int, msg: SipRequest, t: TxnDraft, method: str) -> None:
        ts = msg.origin.ts_ns
        raw: str | None
        package: str | None
        event_id: str | None
        expires_raw: str | None
        if method == "REFER":
            raw, package, event_id = None, "refer", str(msg.cseq_num)
            expires_raw = None
        else:
            raw, package, event_id = _event(msg)
            expires_raw = msg.headers.get("expires")
        if msg.to_tag is None:
            kind = SubscribeKind.REFER if method == "REFER" else SubscribeKind.INITIAL
            s = self._new(i, package, event_id, msg.from_tag, False, None)
            self.by_subscriber.setdefault(msg.from_tag, []).append(s)
        else:
            d = self.table.lookup(msg)
            found = self._in_dialog(d, package, event_id)
            if found is None:
                # A refresh of a subscription created before the capture, or
                # (RFC 6665 §4.5.2) a new subscription in an existing dialog.
                s = self._new(i, package, event_id, msg.from_tag, d is None or d.mid_dialog, d)
                kind = SubscribeKind.INITIAL if method == "SUBSCRIBE" else SubscribeKind.REFER
            else:
                s = found
                kind = SubscribeKind.REFRESH if method == "SUBSCRIBE" else SubscribeKind.REFER
            s.check_expiry(ts)
        req = _Request(t, i, ts, kind, raw, expires_raw)
        if req.expires == 0 and method == "SUBSCRIBE":
            req.kind = (
                SubscribeKind.FETCH
                if kind is SubscribeKind.INITIAL
                else (SubscribeKind.UNSUBSCRIBE)
            )
        s.requests.append(req)
        self.requests[t.id] = (s, req)

    def _subscribe_final(self, i: int, msg: SipResponse, t: TxnDraft) -> None:
        entry = self.requests.get(t.id)
        ts = msg.origin.ts_ns
        status = msg.status
        if entry is None:
            # Only the response was captured.
            raw, package, event_id = _event(msg)
            d = self.table.lookup(msg) if msg.to_tag is not None else None
            s = self._in_dialog(d, package, event_id)
            if s is None and d is not None and len(self.by_dialog.get(d.id, ())) == 1:
                s = self.by_dialog[d.id][0]
            if s is None:
                s = self._new(i, package, event_id, msg.from_tag, True, d)
            req = _Request(t, None, ts, SubscribeKind.REFRESH, None, None)
            s.requests.append(req)
            self.requests[t.id] = (s, req)
        else:
            s, req = entry
        granted = delta_seconds(msg.headers.get("expires")) if 200 <= status < 300 else None
        req.final = (status, i, ts, granted)
        s.check_expiry(ts)
        if 200 <= status < 300:
            if s.dialog is None and msg.to_tag is not None:
                d = self.table.lookup(msg)
                if d is not None:
                    self._bind(s, d)
            if req.kind is SubscribeKind.UNSUBSCRIBE or req.kind is SubscribeKind.FETCH:
                s.unsubscribed = (i, ts)
                s.deadline = None
            elif granted is not None:
                # A grant (also after an expiry: the refresh came late) runs
                # from the 2xx.
                s.deadline = ts + granted * _NS
        elif status >= 300:
            if req.kind in (SubscribeKind.INITIAL, SubscribeKind.REFER, SubscribeKind.FETCH):
                if not s.notifies:
                    s.enter(SubState.TERMINATED, msg, i, f"rejected {status}")
            elif status in SUBSCRIPTION_ENDING_STATUS:
                s.enter(SubState.TERMINATED, msg, i, f"SUBSCRIBE {status}")

    def _match_notify(
        self, i: int, msg: SipRequest, package: str | None, event_id: str | None
    ) -> SubscriptionDraft:
        d = self.table.lookup(msg)
        s = self._in_dialog(d, package, event_id)
        if s is not None:
            return s
        if d is not None:
            subs = self.by_dialog.get(d.id)
            if subs and len(subs) == 1:
                return subs[0]
        pending = self.by_subscriber.get(msg.to_tag)
        if pending:
            unbound = [s for s in pending if s.dialog is None]
            for s in reversed(unbound):
                if self._same_event(s, package, event_id):
                    break
            else:
                s = unbound[-1] if len(unbound) == 1 else None
            if s is not None:
                if d is not None:
                    self._bind(s, d)
                return s
            # Every SUBSCRIBE from this subscriber already has its dialog:
            # this NOTIFY comes from another notifier (RFC 6665 §4.1.4).
            origin = pending[-1]
            for s in reversed(pending):
                if self._same_event(s, package, event_id):
                    origin = s
                    break
            fork = self._new(i, origin.package, origin.event_id, msg.to_tag, False, d)
            fork.forked_from = origin.id
            fork.requests.extend(r for r in origin.requests if r.message == origin.id)
            return fork
        return self._new(i, package, event_id, msg.to_tag, True, d)

    def _notify(self, i: int, msg: SipRequest, t: TxnDraft) -> None:
        raw_event, package, event_id = _event(msg)
        s = self._match_notify(i, msg, package, event_id)
        ts = msg.origin.ts_ns
        s.check_expiry(ts)
        headers = msg.headers
        raw_state = headers.get("subscription-state")
        state: str | None = None
        expires: int | None = None
        reason: str | None = None
        retry: int | None = None
        if raw_state is not None:
            ss = _parsed_state(raw_state)
            if isinstance(ss, str):
                self.problems.append(
                    (i, "unreadable-value", f"unreadable Subscription-State: {ss}")
                )
            else:
                state = ss.state.lower()
                expires, reason, retry = ss.expires, ss.reason, ss.retry_after
        ctype = media_type(headers.get("content-type"))
        n = _Notify(t, i, ts)
        n.fields = (msg.cseq_num, raw_event, raw_state, state, expires, reason, retry, ctype)
        s.notifies.append(n)
        self.notifies[t.id] = (s, n)
        if state == "active" or state == "pending":
            s.enter(SubState.ACTIVE if state == "active" else SubState.PENDING, msg, i, "NOTIFY")
            if expires is not None:
                # RFC 6665 §4.2.2: the "expires" parameter "indicates the
                # time remaining on the subscription".
                s.deadline = ts + expires * _NS
        elif state == "terminated":
            s.enter(SubState.TERMINATED, msg, i, "NOTIFY")
        if ctype == REGINFO_CONTENT_TYPE:
            self._reginfo(i, msg, s, n)

    def _reginfo(self, i: int, msg: SipRequest, s: SubscriptionDraft, n: _Notify) -> None:
        o = msg.origin
        frames = o.frames
        body = msg.body
        doc = self.parsed.get(body)
        if doc is None:
            try:
                doc = parse_reginfo(body)
            except ReginfoError as exc:
                doc = exc.reason
        if isinstance(doc, str):
            self.documents.append(
                _new_reginfo_document(
                    i,
                    i,
                    o.ts_ns,
                    self.call_id,
                    s.id,
                    None,
                    None,
                    (),
                    (),
                    doc,
                    None,
                    None,
                    False,
                    frames,
                )
            )
            self.problems.append((i, "reginfo", doc))
            n.document = i
            return
        tracker = s.reginfo
        if tracker is None:
            tracker = s.reginfo = ReginfoTracker()
        applied, previous, delta = tracker.apply(i, o.ts_ns, doc)
        self.documents.append(
            _new_reginfo_document(
                i,
                i,
                o.ts_ns,
                self.call_id,
                s.id,
                doc.version,
                doc.state,
                doc.registrations,
                doc.problems,
                None,
                previous,
                delta,
                applied,
                frames,
            )
        )
        n.document = i

    # -- results -----------------------------------------------------------

    def finish(self) -> None:
        """Close unsubscribed subscriptions and end subscription-only dialogs."""
        for s in self.subs:
            if s.unsubscribed is not None and s.state is not SubState.TERMINATED:
                at, ts = s.unsubscribed
                if not any(n.ts > ts for n in s.notifies):
                    s.enter(SubState.TERMINATED, self.messages[at], at, "unsubscribed")
        for subs in self.by_dialog.values():
            d = subs[0].dialog
            if d is None or d.method == "INVITE" or d.state is DialogState.TERMINATED:
                continue
            last: SubscriptionEvent | None = None
            for s in subs:
                if s.state is not SubState.TERMINATED:
                    break
                end = s.timeline[-1]
                if last is None or end.ts_ns > last.ts_ns:
                    last = end
            else:
                # RFC 6665 §4.4.1: the dialog ends when its last usage does.
                if last is not None and last.message is not None:
                    d.enter(
                        DialogState.TERMINATED,
                        self.messages[last.message],
                        last.message,
                        "subscription terminated",
                    )

    def freeze(self) -> tuple[list[Subscription], list[ReginfoAor]]:
        """The frozen subscriptions and per-AoR reginfo histories, in id order."""
        messages = self.messages
        subs: list[Subscription] = []
        aors: list[ReginfoAor] = []
        for s in self.subs:
            txns: list[int] = []
            msg_ids: list[int] = []
            frames: list[int] = []
            for t in [r.txn for r in s.requests] + [n.txn for n in s.notifies]:
                if t.id not in txns:
                    txns.append(t.id)
                    msg_ids += t.messages
                    frames += t.frames
            txns.sort()
            msg_ids.sort()
            d = s.dialog
            state = s.state
            subs.append(
                _new_subscription(
                    s.id,
                    self.call_id,
                    None if d is None else d.id,
                    s.package,
                    s.event_id,
                    s.subscriber_tag,
                    s.notifier_tag,
                    tuple([r.freeze() for r in s.requests]),
                    tuple([n.freeze() for n in s.notifies]),
                    tuple(s.timeline),
                    state,
                    None if state is SubState.TERMINATED else s.deadline,
                    s.forked_from,
                    s.mid_dialog,
                    tuple(txns),
                    tuple(msg_ids),
                    unique_sorted(frames),
                )
            )
            if s.reginfo is not None:
                for aor, table in s.reginfo.tables.items():
                    aors.append(
                        _new_reginfo_aor(
                            s.id,
                            self.call_id,
                            aor,
                            tuple(table.history),
                            tuple(table.messages),
                            frames_of(table.messages, messages),
                        )
                    )
        subs.sort(key=_sub_id)
        return subs, aors


def _sub_id(s: Subscription) -> int:
    return s.id


def build_subscriptions(
    call_id: str | None,
    messages: MessageLookup,
    indices: Sequence[int],
    per_message: Sequence[TxnDraft],
    table: DialogTable,
    parsed: Mapping[bytes, ParsedReginfo | str],
) -> SubscriptionBuilder:
    """Read the SUBSCRIBE, REFER and NOTIFY transactions of one Call-ID group.

    ``parsed`` holds reginfo bodies already read (see
    :func:`~.reginfo.parse_reginfo_bodies`); it may be empty.
    """
    b = SubscriptionBuilder(call_id, messages, table, parsed)
    for pos, i in enumerate(indices):
        t = per_message[pos]
        method = t.method
        if method == "SUBSCRIBE" or method == "NOTIFY" or method == "REFER":
            b.feed(i, messages[i], t)
    b.finish()
    return b
