"""Correlation of a whole message list: the entry point of this package.

Transactions, dialogs, calls and subscriptions never span Call-IDs, so the
messages are grouped by Call-ID and each group is correlated on its own
(:func:`correlate_group`); only registrations, which follow an AoR across
Call-IDs, are built afterwards from the groups' REGISTER attempts
(:func:`merge`).  Record ids are message indices (the message that created
the record), so a group's records are final as soon as it is correlated:
groups can be correlated in any order, in other processes, from any split
of the capture, and :func:`merge` gives the same :class:`Correlation`.

Message indices, not frame numbers, identify messages: messages merged from
several capture files may share frame numbers.
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from ..errors import Level
from ..sip.message import SipMessage, SipRequest
from .dialogs import (
    Call,
    Dialog,
    DialogState,
    Exchange,
    build_calls,
    build_dialogs,
    build_exchange,
    freeze_dialog,
)
from .reginfo import ParsedReginfo, ReginfoAor, ReginfoDocument, parse_reginfo_bodies
from .registrations import (
    RegisterAttempt,
    Registration,
    build_registrations,
    link_retries,
    register_attempt,
)
from .subscriptions import (
    Subscription,
    SubscriptionEvent,
    SubState,
    build_subscriptions,
    reginfo_bodies,
)
from .transactions import (
    MessageLookup,
    Transaction,
    freeze_transaction,
    link_hops,
    match_transactions,
    record_constructor,
)


@dataclass(frozen=True, slots=True)
class Note:
    """An observation about the capture made while correlating.

    Not a validation finding: it says what the correlation had to assume or
    could not read, so that rules and readers can weigh their conclusions
    (catalogue G-1, G-2).  ``code`` is one of ``orphan-response``,
    ``mid-dialog``, ``no-call-id``, ``reginfo`` and ``unreadable-value``.
    """

    code: str
    level: Level
    messages: tuple[int, ...]
    frames: tuple[int, ...]
    text: str


@dataclass(frozen=True, slots=True)
class GroupCorrelation:
    """The correlation of the messages of one Call-ID (see :func:`correlate_group`).

    Records are final (their ids are message indices); ``register_attempts``
    wait for :func:`merge` to be grouped into registrations.
    """

    call_id: str | None
    messages: tuple[int, ...]
    first_ts_ns: int
    last_ts_ns: int
    transactions: tuple[Transaction, ...]
    dialogs: tuple[Dialog, ...]
    calls: tuple[Call, ...]
    exchanges: tuple[Exchange, ...]
    subscriptions: tuple[Subscription, ...]
    reginfo: tuple[ReginfoDocument, ...]
    reginfo_aors: tuple[ReginfoAor, ...]
    register_attempts: tuple[RegisterAttempt, ...]
    notes: tuple[Note, ...]


if TYPE_CHECKING:
    _new_note = Note
    _new_group_correlation = GroupCorrelation
else:
    _new_note = record_constructor(Note)
    _new_group_correlation = record_constructor(GroupCorrelation)


R = TypeVar("R")


def _find(records: Sequence[R], ident: int, key: attrgetter[int]) -> R | None:
    pos = bisect_left(records, ident, key=key)
    if pos < len(records) and key(records[pos]) == ident:
        return records[pos]
    return None


_ID = attrgetter("id")


@dataclass(frozen=True, slots=True)
class Correlation:
    """Everything correlated from a message list.

    All record tuples are sorted by ``id``; an id is the index of the
    message that created the record (see each record's docstring), so ids
    are unique within a kind and follow capture order.  ``registrations``
    are per AoR across Call-IDs.  ``reginfo_aors`` are keyed by
    (subscription, aor).

    ``message_transaction[i]`` / ``message_dialog[i]`` give the transaction
    and dialog id of message ``i`` (None when it has none).  A message shared
    by several forked dialogs (the INVITE and its 100 Trying) maps to the
    dialog that was confirmed, else to the first one; ``Dialog.messages``
    lists it in all of them.  ``capture_start_ns`` / ``capture_end_ns`` are
    the first and last message timestamps (None for no messages).
    """

    transactions: tuple[Transaction, ...]
    dialogs: tuple[Dialog, ...]
    calls: tuple[Call, ...]
    exchanges: tuple[Exchange, ...]
    subscriptions: tuple[Subscription, ...]
    reginfo: tuple[ReginfoDocument, ...]
    reginfo_aors: tuple[ReginfoAor, ...]
    registrations: tuple[Registration, ...]
    message_transaction: tuple[int | None, ...]
    message_dialog: tuple[int | None, ...]
    notes: tuple[Note, ...]
    capture_start_ns: int | None
    capture_end_ns: int | None

    def transaction(self, ident: int) -> Transaction | None:
        """The transaction with id ``ident``."""
        return _find(self.transactions, ident, _ID)

    def dialog(self, ident: int) -> Dialog | None:
        """The dialog with id ``ident``."""
        return _find(self.dialogs, ident, _ID)

    def call(self, ident: int) -> Call | None:
        """The call with id ``ident``."""
        return _find(self.calls, ident, _ID)

    def subscription(self, ident: int) -> Subscription | None:
        """The subscription with id ``ident``."""
        return _find(self.subscriptions, ident, _ID)

    def document(self, ident: int) -> ReginfoDocument | None:
        """The reginfo document with id ``ident`` (its NOTIFY's message index)."""
        return _find(self.reginfo, ident, _ID)

    def registration(self, ident: int) -> Registration | None:
        """The registration with id ``ident``."""
        return _find(self.registrations, ident, _ID)


def group_by_call_id(messages: Sequence[SipMessage]) -> dict[str | None, list[int]]:
    """Message indices by Call-ID, each list ascending, groups in order of first message."""
    groups: dict[str | None, list[int]] = {}
    get = groups.get
    for i, m in enumerate(messages):
        cid = m.call_id
        g = get(cid)
        if g is None:
            groups[cid] = [i]
        else:
            g.append(i)
    return groups


def _group_and_find_notifies(
    messages: Sequence[SipMessage],
) -> tuple[dict[str | None, list[int]], list[SipRequest]]:
    """:func:`group_by_call_id`, and the NOTIFY requests.

    One pass over the capture instead of two: reading a message's fields
    costs mostly the memory access, which the second field shares.  The
    NOTIFYs are for reading their reginfo bodies ahead.  Requests and
    responses take separate branches so that each attribute read sees one
    class (see :func:`~.transactions.match_transactions`).
    """
    # A defaultdict makes the new-group case a C-level miss, not a branch.
    groups: defaultdict[str | None, list[int]] = defaultdict(list)
    notifies: list[SipRequest] = []
    for i, m in enumerate(messages):
        if isinstance(m, SipRequest):
            groups[m.call_id].append(i)
            if m.method == "NOTIFY":
                notifies.append(m)
        else:
            groups[m.call_id].append(i)
    return groups, notifies


_EMPTY: tuple[()] = ()


class _Collector:
    """Records of one or more Call-ID groups, collected before they are merged."""

    __slots__ = (
        "transactions",
        "dialogs",
        "calls",
        "exchanges",
        "subscriptions",
        "reginfo",
        "reginfo_aors",
        "register_attempts",
        "notes",
        "first_ts",
        "last_ts",
    )

    def __init__(self) -> None:
        self.transactions: list[Transaction] = []
        self.dialogs: list[Dialog] = []
        self.calls: list[Call] = []
        self.exchanges: list[Exchange] = []
        self.subscriptions: list[Subscription] = []
        self.reginfo: list[ReginfoDocument] = []
        self.reginfo_aors: list[ReginfoAor] = []
        self.register_attempts: list[RegisterAttempt] = []
        self.notes: list[Note] = []
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def add_group(self, g: GroupCorrelation) -> None:
        self.transactions += g.transactions
        self.dialogs += g.dialogs
        self.calls += g.calls
        self.exchanges += g.exchanges
        self.subscriptions += g.subscriptions
        self.reginfo += g.reginfo
        self.reginfo_aors += g.reginfo_aors
        self.register_attempts += g.register_attempts
        self.notes += g.notes
        self._times(g.first_ts_ns, g.last_ts_ns)

    def _times(self, first: int, last: int) -> None:
        if self.first_ts is None or first < self.first_ts:
            self.first_ts = first
        if self.last_ts is None or last > self.last_ts:
            self.last_ts = last


def correlate_group(messages: MessageLookup, indices: Sequence[int]) -> GroupCorrelation:
    """Correlate the messages of one Call-ID.

    ``indices`` are the message indices of the group, ascending; ``messages``
    gives each message by its index (a list of all messages, or a dict with
    just this group's).  All messages must share one Call-ID (or all lack
    one).
    """
    c = _Collector()
    _correlate_into(c, messages, indices, _NOTHING_PARSED)
    return _group_correlation(c, messages, indices)


def _group_correlation(
    c: _Collector, messages: MessageLookup, indices: Sequence[int]
) -> GroupCorrelation:
    assert c.first_ts is not None and c.last_ts is not None
    return _new_group_correlation(
        messages[indices[0]].call_id,
        tuple(indices),
        c.first_ts,
        c.last_ts,
        tuple(c.transactions),
        tuple(c.dialogs),
        tuple(c.calls),
        tuple(c.exchanges),
        tuple(c.subscriptions),
        tuple(c.reginfo),
        tuple(c.reginfo_aors),
        tuple(c.register_attempts),
        tuple(c.notes),
    )


# What a Call-ID group needs besides transactions, from the methods of its
# transactions (and a To tag on a request, which always means a dialog).
_DIALOG = 1
_SUBSCRIPTION = 2
_INVITE = 4
_REGISTER = 8
_EXCHANGE = 16
_METHOD_FLAGS: dict[str, int] = {
    "INVITE": _DIALOG | _INVITE,
    "ACK": _DIALOG,
    "CANCEL": _DIALOG,
    "BYE": _DIALOG,
    "PRACK": _DIALOG,
    "UPDATE": _DIALOG,
    "INFO": _DIALOG | _EXCHANGE,
    "SUBSCRIBE": _DIALOG | _SUBSCRIPTION,
    "NOTIFY": _DIALOG | _SUBSCRIPTION,
    "REFER": _DIALOG | _SUBSCRIPTION,
    "REGISTER": _REGISTER,
}


_NOTHING_PARSED: Mapping[bytes, ParsedReginfo | str] = MappingProxyType({})


def _correlate_into(
    c: _Collector,
    messages: MessageLookup,
    indices: Sequence[int],
    parsed: Mapping[bytes, ParsedReginfo | str],
) -> None:
    """Correlate one Call-ID group and add its records to ``c``.

    ``parsed`` holds reginfo bodies already read (see
    :func:`~.reginfo.parse_reginfo_bodies`).
    """
    first_msg = messages[indices[0]]
    call_id = first_msg.call_id
    first_ts = first_msg.origin.ts_ns
    last_ts = messages[indices[-1]].origin.ts_ns
    if c.first_ts is None or first_ts < c.first_ts:
        c.first_ts = first_ts
    if c.last_ts is None or last_ts > c.last_ts:
        c.last_ts = last_ts
    drafts, per_message = match_transactions(messages, indices)
    if len(drafts) > 1:
        link_hops(drafts)
    flags = 0
    orphans = False
    get_flags = _METHOD_FLAGS.get
    for t in drafts:
        flags |= get_flags(t.method, _EXCHANGE)
        if t.req_to_tag is not None:
            flags |= _DIALOG
        if t.request is None:
            orphans = True
    txns = [freeze_transaction(t, call_id) for t in drafts]
    c.transactions += txns
    notes = c.notes
    if orphans:
        for txn in txns:
            if txn.request is None:
                notes.append(
                    _new_note(
                        "orphan-response",
                        Level.INFO,
                        txn.messages,
                        txn.frames,
                        f"{txn.method} response(s) without the request in the capture",
                    )
                )
    problems: list[tuple[int, str, str]] = []
    in_dialog: set[int] = set()
    if call_id is None:
        notes.append(
            _new_note(
                "no-call-id",
                Level.WARNING,
                tuple(indices),
                _frames(messages, indices),
                "messages without a Call-ID: matched to transactions only",
            )
        )
    elif flags & _DIALOG:
        table = build_dialogs(messages, indices, per_message)
        if flags & _SUBSCRIPTION:
            sb = build_subscriptions(call_id, messages, indices, per_message, table, parsed)
            sub_list, aor_list = sb.freeze()
            c.subscriptions += sub_list
            c.reginfo += sb.documents
            c.reginfo_aors += aor_list
            problems += sb.problems
        frozen: dict[int, Dialog] = {}
        for d in table.dialogs:
            frozen[d.id] = freeze_dialog(d, call_id, messages)
            if flags & _EXCHANGE:
                in_dialog.update(t.id for t in d.txns)
        c.dialogs += frozen.values()
        for i in table.mid_dialog:
            notes.append(
                _new_note(
                    "mid-dialog",
                    Level.INFO,
                    (i,),
                    messages[i].origin.frames,
                    "capture starts inside a dialog: its creating request was not captured",
                )
            )
        if flags & _INVITE:
            c.calls += build_calls(call_id, drafts, table, frozen, messages)
    if flags & _EXCHANGE:
        exchange = build_exchange(call_id, drafts, in_dialog)
        if exchange is not None:
            c.exchanges.append(exchange)
    if flags & _REGISTER:
        attempts = [
            register_attempt(call_id, t, messages, problems)
            for t in drafts
            if t.method == "REGISTER"
        ]
        c.register_attempts += link_retries(attempts)
    for i, code, text in problems:
        notes.append(
            _new_note(
                code,
                Level.WARNING,
                (i,),
                messages[i].origin.frames,
                text,
            )
        )


def _frames(messages: MessageLookup, indices: Iterable[int]) -> tuple[int, ...]:
    frames: set[int] = set()
    for i in indices:
        frames.update(messages[i].origin.frames)
    return tuple(sorted(frames))


def correlate_groups(
    messages: MessageLookup, groups: Iterable[Sequence[int]]
) -> list[GroupCorrelation]:
    """:func:`correlate_group` for each group of message indices."""
    groups = [g for g in groups if g]
    parsed = parse_reginfo_bodies(reginfo_bodies(messages[i] for g in groups for i in g))
    out: list[GroupCorrelation] = []
    for g in groups:
        c = _Collector()
        _correlate_into(c, messages, g, parsed)
        out.append(_group_correlation(c, messages, g))
    return out


def merge(groups: Iterable[GroupCorrelation], message_count: int) -> Correlation:
    """Combine correlated groups into one :class:`Correlation`.

    ``message_count`` is the length of the whole message list.  The result
    does not depend on the order of ``groups``, nor on how the messages
    were divided among processes, as long as each Call-ID was correlated in
    one group.
    """
    c = _Collector()
    for g in groups:
        c.add_group(g)
    return _finish(c, message_count)


def _finish(c: _Collector, message_count: int) -> Correlation:
    end = c.last_ts
    transactions = _sorted(c.transactions)
    dialogs = _sorted(c.dialogs)
    subscriptions = _sorted(c.subscriptions)
    if end is not None:
        subscriptions = tuple([_expire(s, end) for s in subscriptions])
    aors = c.reginfo_aors
    aors.sort(key=_aor_key)
    notes = c.notes
    notes.sort(key=_note_key)

    msg_txn: list[int | None] = [None] * message_count
    for t in transactions:
        tid = t.id
        for i in t.messages:
            msg_txn[i] = tid
    msg_dialog: list[int | None] = [None] * message_count
    later: list[Dialog] = []
    confirmed = DialogState.CONFIRMED
    for d in dialogs:
        changes = d.state_changes
        if changes[0].state is confirmed or (len(changes) > 1 and changes[1].state is confirmed):
            did = d.id
            for i in d.messages:
                if msg_dialog[i] is None:
                    msg_dialog[i] = did
        else:
            later.append(d)
    for d in later:
        did = d.id
        for i in d.messages:
            if msg_dialog[i] is None:
                msg_dialog[i] = did
    return Correlation(
        transactions,
        dialogs,
        _sorted(c.calls),
        _sorted(c.exchanges),
        subscriptions,
        _sorted(c.reginfo),
        tuple(aors),
        tuple(build_registrations(c.register_attempts, end)),
        tuple(msg_txn),
        tuple(msg_dialog),
        tuple(notes),
        c.first_ts,
        end,
    )


def _sorted(records: list[R]) -> tuple[R, ...]:
    records.sort(key=_ID)
    return tuple(records)


def _aor_key(a: ReginfoAor) -> tuple[int, str]:
    return (-1 if a.subscription is None else a.subscription, a.aor)


def _note_key(n: Note) -> tuple[int, str]:
    return (n.messages[0] if n.messages else -1, n.code)


def _expire(s: Subscription, capture_end_ns: int) -> Subscription:
    """Record expiry by time for a subscription whose granted duration ended in the capture."""
    at = s.expires_at_ns
    if at is None or at > capture_end_ns or s.state is SubState.TERMINATED:
        return s
    event = SubscriptionEvent(at, SubState.TERMINATED, None, None, "expired")
    return replace(s, timeline=(*s.timeline, event), state=SubState.TERMINATED, expires_at_ns=None)


def correlate(messages: Sequence[SipMessage]) -> Correlation:
    """Correlate a message list; message index = position in ``messages``.

    Messages must be in capture order (for several captures: merged by
    time); frame numbers are not assumed unique.
    """
    # Correlation allocates hundreds of thousands of long-lived records and
    # no reference cycles; the cyclic collector would repeatedly walk every
    # message and record for nothing (a third of the time on a 200,000-message
    # capture).  It is paused for the duration and restored as it was found.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        groups, notifies = _group_and_find_notifies(messages)
        parsed = parse_reginfo_bodies(reginfo_bodies(notifies))
        c = _Collector()
        for indices in groups.values():
            _correlate_into(c, messages, indices, parsed)
        return _finish(c, len(messages))
    finally:
        if paused:
            gc.enable()
