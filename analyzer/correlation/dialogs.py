"""Dialogs (RFC 3261 §12), calls, and exchanges that create no dialog.

A dialog is identified by the Call-ID, the local tag (the From tag of the
request that created it) and the remote tag (the To tag of the response):
"Each response is distinguished by the tag parameter in the To header field,
and each represents a distinct dialog" (§13.2.2.4), so a forked INVITE gives
several dialogs under one Call-ID.  Requests inside a dialog are matched by
Call-ID and the two tags in either order, since either side may send them.

What creates one (§12.1, RFC 6665 §4.4.1, RFC 3515 §2.4.4): an INVITE,
SUBSCRIBE or REFER outside a dialog, by a 101-199 response with a To tag
(early) or a 2xx (confirmed); and a NOTIFY that arrives before the 2xx of
its SUBSCRIBE (RFC 6665 §4.1.2.4).  MESSAGE, REGISTER and PUBLISH never do
(RFC 3428 §3 "MESSAGE requests do not establish dialogs", RFC 3261 §10.2).

What ends one: a BYE (§15); a non-2xx final response to the creating
request for its early dialogs (§12.3 "any early dialogs created through
provisional responses to that request are terminated"); a CANCEL that the
INVITE never answered with a final response; and a 481 or 408 to a request
inside it (§12.2.1.2: "If the response for a request within a dialog is a
481 (Call/Transaction Does Not Exist) or a 408 (Request Timeout), the UAC
SHOULD terminate the dialog.").  Subscription dialogs end with their last
subscription (see :mod:`.subscriptions`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING

from ..errors import SipParseError
from ..net.flow import Endpoint
from ..sip.message import SipMessage, SipRequest
from ..sip.values import parse_name_addr
from .transactions import (
    MessageLookup,
    TxnDraft,
    record_constructor,
    sorted_frames,
    unique_sorted,
)

#: Methods whose out-of-dialog requests create dialogs.
CREATING_METHODS = frozenset(("INVITE", "SUBSCRIBE", "REFER"))
#: Requests that never belong to a dialog they would have to create: a To tag
#: on them that matches no dialog does not make the capture "mid-dialog".
NO_DIALOG_METHODS = frozenset(("MESSAGE", "REGISTER", "PUBLISH"))
#: Methods that exist only inside a dialog, so that a response to one with
#: both tags shows a dialog even when its request was not captured.
IN_DIALOG_ONLY = frozenset(("BYE", "PRACK", "UPDATE", "INFO", "NOTIFY"))
#: Responses to a request inside a dialog that end the dialog (§12.2.1.2).
DIALOG_ENDING_STATUS = frozenset((481, 408))


class DialogState(enum.Enum):
    """Dialog states of RFC 3261 §12."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class DialogStateChange:
    """The dialog entered ``state`` at ``ts_ns`` because of ``cause``.

    ``cause`` is the status code of the response ("180", "200", "487"), the
    method of the request ("BYE", "NOTIFY", "CANCEL"), or "mid-dialog" when
    the capture starts inside the dialog.  ``message``/``frame`` point at the
    message that caused the change.
    """

    ts_ns: int
    state: DialogState
    message: int
    frame: int
    cause: str


@dataclass(frozen=True, slots=True)
class Dialog:
    """One dialog: its id, state history and the transactions inside it.

    ``id`` is the message index of the message that created it (the first
    response carrying its To tag, the NOTIFY, or the first in-dialog message
    when the capture starts mid-dialog).  ``local_tag`` is the From tag of
    the creating request (the caller's / subscriber's side) and
    ``remote_tag`` the To tag of its response; in a mid-dialog capture they
    are the From and To tags of the first message seen.

    ``method`` is the creating method (INVITE, SUBSCRIBE, REFER) or, when the
    capture starts mid-dialog, the method of the first message.
    ``creating_transactions`` are the ids of the creating request's
    transactions (several when it was seen at several hops).
    ``state_changes`` are in time order; the ``state`` property is the last.
    ``transactions`` are all transactions of the dialog in id order,
    including the creating ones, CANCELs of them, and in-dialog requests from
    either side; ``messages`` are the messages of those transactions that
    belong to this dialog (responses carrying another fork's To tag are
    left out).  ``mid_dialog`` is set when the creating request was not
    captured (catalogue G-1: no CSeq baseline, no dialog state).
    """

    id: int
    call_id: str
    local_tag: str | None
    remote_tag: str | None
    method: str
    creating_transactions: tuple[int, ...]
    state_changes: tuple[DialogStateChange, ...]
    transactions: tuple[int, ...]
    mid_dialog: bool
    messages: tuple[int, ...]
    frames: tuple[int, ...]

    @property
    def state(self) -> DialogState:
        """The state the dialog was last seen in."""
        return self.state_changes[-1].state

    @property
    def created_ts_ns(self) -> int:
        """When the dialog came into existence (early or confirmed)."""
        return self.state_changes[0].ts_ns

    @property
    def confirmed_ts_ns(self) -> int | None:
        """When the dialog was confirmed, if it was."""
        for c in self.state_changes:
            if c.state is DialogState.CONFIRMED:
                return c.ts_ns
        return None

    @property
    def terminated_ts_ns(self) -> int | None:
        """When the dialog ended, if it did in the capture."""
        last = self.state_changes[-1]
        return last.ts_ns if last.state is DialogState.TERMINATED else None


class CallOutcome(enum.Enum):
    """How an INVITE call attempt ended, as far as the capture shows.

    * ``ANSWERED``: a 2xx, and the dialog was later terminated (BYE, 481, 408).
    * ``UNFINISHED``: a 2xx but no end of the dialog in the capture.
    * ``CANCELLED``: 487 Request Terminated, or a CANCEL and no final response.
    * ``BUSY``: 486 Busy Here or 600 Busy Everywhere.
    * ``REJECTED``: any other 3xx-6xx final response except the ``FAILED`` ones
      (the caller's ``final_status`` says which); an unanswered 401/407
      challenge is a rejection too.
    * ``FAILED``: 5xx or 408: the network or a server failed to handle the
      call, as opposed to the callee declining it.
    * ``NO_FINAL``: no final response before the capture ends (still ringing,
      lost responses, or a timeout the capture does not show).
    """

    ANSWERED = "answered"
    UNFINISHED = "unfinished"
    CANCELLED = "cancelled"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"
    NO_FINAL = "no_final"


class Party(enum.Enum):
    """One side of a call."""

    CALLER = "caller"
    CALLEE = "callee"


@dataclass(frozen=True, slots=True)
class Call:
    """An INVITE call attempt: the initial INVITE transactions of one caller.

    ``id`` is the id of the first attempt's transaction.  ``attempts`` are
    the ids of all out-of-dialog INVITE transactions with this Call-ID and
    From tag (a retry after a 401/407 challenge with a higher CSeq, the same
    INVITE at other hops), in order; ``transaction`` is the one that decides
    the outcome (highest CSeq, first seen).  ``dialogs`` are all dialogs they
    created (forks); ``answered_dialog`` the one confirmed by the first 2xx.

    Times: ``invite_ts_ns`` is the first attempt's INVITE (or its first
    response when the INVITE was not captured), so a challenge counts in the
    setup time; ``ringing_ts_ns`` the first 18x, ``answer_ts_ns`` the first
    2xx, ``end_ts_ns`` the end of the answered dialog (BYE) or the final
    response of an unanswered call.  Properties: ``ringing_delay_ns``
    (INVITE -> first 18x, post-dial delay), ``answer_delay_ns`` (INVITE ->
    2xx), ``duration_ns`` (2xx -> BYE).  ``hangup_by`` is the side that sent
    the BYE, judged by its From tag against the dialog's local tag.

    ``caller_uri`` / ``callee_uri`` are the From / To URIs of the INVITE;
    ``caller`` / ``callee`` the source / destination of the INVITE at the
    capture point (which may be a proxy hop, not the user agent).
    """

    id: int
    call_id: str
    attempts: tuple[int, ...]
    transaction: int
    dialogs: tuple[int, ...]
    answered_dialog: int | None
    outcome: CallOutcome
    final_status: int | None
    caller_uri: str | None
    callee_uri: str | None
    request_uri: str | None
    caller: Endpoint | None
    callee: Endpoint | None
    invite_ts_ns: int
    ringing_ts_ns: int | None
    answer_ts_ns: int | None
    end_ts_ns: int | None
    hangup_by: Party | None
    bye: int | None
    messages: tuple[int, ...]
    frames: tuple[int, ...]

    @property
    def ringing_delay_ns(self) -> int | None:
        """INVITE -> first 18x (post-dial delay)."""
        r = self.ringing_ts_ns
        return None if r is None else r - self.invite_ts_ns

    @property
    def answer_delay_ns(self) -> int | None:
        """INVITE -> first 2xx."""
        a = self.answer_ts_ns
        return None if a is None else a - self.invite_ts_ns

    @property
    def duration_ns(self) -> int | None:
        """First 2xx -> end of the answered dialog (BYE)."""
        a, e = self.answer_ts_ns, self.end_ts_ns
        return None if a is None or e is None else e - a


@dataclass(frozen=True, slots=True)
class Exchange:
    """Out-of-dialog transactions of one Call-ID that create no dialog.

    MESSAGE in pager mode (RFC 3428), OPTIONS, PUBLISH, INFO outside a dialog
    and other methods that neither create nor belong to a dialog, grouped by
    Call-ID.  ``id`` is the id of its first transaction.  REGISTER is not
    here (see :mod:`.registrations`), nor are INVITE, SUBSCRIBE, NOTIFY,
    REFER, ACK, CANCEL, BYE, PRACK and UPDATE, which belong to calls,
    subscriptions and dialogs even when those failed.
    """

    id: int
    call_id: str | None
    methods: tuple[str, ...]
    transactions: tuple[int, ...]
    messages: tuple[int, ...]
    frames: tuple[int, ...]


#: Methods that never form an :class:`Exchange`.
_NOT_EXCHANGE = frozenset(
    (
        "INVITE",
        "ACK",
        "CANCEL",
        "BYE",
        "SUBSCRIBE",
        "NOTIFY",
        "REFER",
        "REGISTER",
        "PRACK",
        "UPDATE",
    )
)


if TYPE_CHECKING:
    _new_dialog_state_change = DialogStateChange
    _new_dialog = Dialog
    _new_call = Call
    _new_exchange = Exchange
else:
    _new_dialog_state_change = record_constructor(DialogStateChange)
    _new_dialog = record_constructor(Dialog)
    _new_call = record_constructor(Call)
    _new_exchange = record_constructor(Exchange)


class DialogDraft:
    """A dialog while the messages of its Call-ID are being read."""

    __slots__ = (
        "id",
        "local_tag",
        "remote_tag",
        "method",
        "creating",
        "state",
        "changes",
        "txns",
        "mid_dialog",
    )

    def __init__(
        self, first: int, local: str | None, remote: str | None, method: str, mid: bool
    ) -> None:
        self.id = first
        self.local_tag = local
        self.remote_tag = remote
        self.method = method
        self.creating: list[TxnDraft] = []
        self.state: DialogState | None = None
        self.changes: list[DialogStateChange] = []
        self.txns: list[TxnDraft] = []
        self.mid_dialog = mid

    def enter(self, state: DialogState, msg: SipMessage, i: int, cause: str) -> None:
        """Record a state change (terminated is final; confirmed never goes back to early)."""
        current = self.state
        if current is state or current is _TERMINATED:
            return
        if current is _CONFIRMED and state is _EARLY:
            return
        self.state = state
        o = msg.origin
        self.changes.append(_new_dialog_state_change(o.ts_ns, state, i, o.frame, cause))

    def attach(self, t: TxnDraft) -> None:
        txns = self.txns
        if not txns or txns[-1] is not t and t not in txns:
            txns.append(t)


# Enum members as module constants: a global load is cheaper than an
# attribute of the enum class, and the states are compared for every message.
_EARLY = DialogState.EARLY
_CONFIRMED = DialogState.CONFIRMED
_TERMINATED = DialogState.TERMINATED
_ANSWERED = CallOutcome.ANSWERED
_UNFINISHED = CallOutcome.UNFINISHED
_CALLER = Party.CALLER
_CALLEE = Party.CALLEE


class DialogTable:
    """The dialogs of one Call-ID group, built by :func:`build_dialogs`.

    ``by_tags`` maps (From tag, To tag) of a message, in either order, to its
    dialog; ``of_transaction`` maps a creating transaction's id to the
    dialogs its responses created; ``mid_dialog`` lists the message indices
    at which a mid-dialog capture was detected.
    """

    __slots__ = ("dialogs", "by_tags", "of_transaction", "initial", "mid_dialog", "cancelled")

    def __init__(self) -> None:
        self.dialogs: list[DialogDraft] = []
        self.by_tags: dict[tuple[str | None, str | None], DialogDraft] = {}
        self.of_transaction: dict[int, list[DialogDraft]] = {}
        # Creating transactions, by id: whether the transaction is an
        # initial (out-of-dialog) request.  Decided once per transaction.
        self.initial: dict[int, bool] = {}
        self.mid_dialog: list[int] = []
        # Ids of INVITE transactions a CANCEL was seen for.
        self.cancelled: set[int] = set()

    def new(
        self, i: int, local: str | None, remote: str | None, method: str, mid: bool
    ) -> DialogDraft:
        d = DialogDraft(i, local, remote, method, mid)
        self.dialogs.append(d)
        self.by_tags[(local, remote)] = d
        self.by_tags[(remote, local)] = d
        return d

    def lookup(self, msg: SipMessage) -> DialogDraft | None:
        return self.by_tags.get((msg.from_tag, msg.to_tag))


def _is_initial(table: DialogTable, t: TxnDraft, msg: SipMessage) -> bool:
    """Whether the creating-method transaction ``t`` is an out-of-dialog request."""
    if t.request is not None:
        initial = t.req_to_tag is None
    else:
        # Only responses were captured: a To tag that names a known dialog
        # shows a re-INVITE / refresh, anything else a new dialog.
        if msg.to_tag is None:
            return False
        initial = table.lookup(msg) is None
    table.initial[t.id] = initial
    return initial


def build_dialogs(
    messages: MessageLookup, indices: Sequence[int], per_message: Sequence[TxnDraft]
) -> DialogTable:
    """Build the dialogs of one Call-ID group from its matched transactions."""
    table = DialogTable()
    subscribers: dict[str, TxnDraft] = {}
    cancels: list[TxnDraft] = []
    by_tags = table.by_tags
    of_transaction = table.of_transaction
    initial_of = table.initial
    early, confirmed, terminated = _EARLY, _CONFIRMED, _TERMINATED
    # DialogDraft.attach is written out below: it runs for most messages.
    # The To tag is read in each branch, so that each read sees one class
    # (see match_transactions).
    for i, t in zip(indices, per_message, strict=True):
        msg = messages[i]
        if isinstance(msg, SipRequest):
            ttag = msg.to_tag
            if ttag is None:
                # Out of any dialog: a creating request waits for its
                # responses; a CANCEL is applied at the end.
                if t.request == i:
                    method = msg.method
                    if method == "SUBSCRIBE" or method == "REFER":
                        if msg.from_tag is not None:
                            subscribers[msg.from_tag] = t
                    elif method == "CANCEL" and t.cancels is not None:
                        cancels.append(t)
                continue
            method = msg.method
            ftag = msg.from_tag
            d = by_tags.get((ftag, ttag))
            if d is None:
                if method == "NOTIFY":
                    sub = subscribers.get(ttag)
                    if sub is not None:
                        # RFC 6665 §4.1.2.4: "the subscriber MUST be prepared
                        # to receive NOTIFY requests before the SUBSCRIBE
                        # transaction has completed".
                        d = table.new(i, ttag, ftag, sub.method, False)
                        d.creating.append(sub)
                        d.attach(sub)
                        of_transaction.setdefault(sub.id, []).append(d)
                        d.enter(confirmed, msg, i, "NOTIFY")
                if d is None:
                    if method in NO_DIALOG_METHODS or ftag is None:
                        continue
                    if method == "ACK" and t.method == "INVITE":
                        # The ACK of a non-2xx final response.
                        continue
                    d = table.new(i, ftag, ttag, method, True)
                    table.mid_dialog.append(i)
                    d.enter(confirmed, msg, i, "mid-dialog")
            txns = d.txns
            if not txns or txns[-1] is not t and t not in txns:
                txns.append(t)
            if method == "BYE":
                d.enter(terminated, msg, i, "BYE")
            continue
        ttag = msg.to_tag
        status = msg.status
        tmethod = t.method
        if tmethod in CREATING_METHODS:
            initial = initial_of.get(t.id)
            if initial is None:
                initial = _is_initial(table, t, msg)
            if initial:
                if status >= 300:
                    for d in of_transaction.get(t.id, ()):
                        if d.state is early:
                            d.enter(terminated, msg, i, str(status))
                    continue
                ftag = msg.from_tag
                if ttag is None or status <= 100 or ftag is None:
                    continue
                d = by_tags.get((ftag, ttag))
                if d is None:
                    d = table.new(i, ftag, ttag, tmethod, t.request is None)
                    if t.request is None:
                        table.mid_dialog.append(i)
                if t not in d.creating:
                    d.creating.append(t)
                    d.attach(t)
                    of_transaction.setdefault(t.id, []).append(d)
                d.enter(early if status < 200 else confirmed, msg, i, str(status))
                continue
        if ttag is None:
            continue
        ftag = msg.from_tag
        d = by_tags.get((ftag, ttag))
        if d is None:
            if tmethod not in IN_DIALOG_ONLY or t.request is not None or ftag is None:
                continue
            d = table.new(i, ftag, ttag, tmethod, True)
            table.mid_dialog.append(i)
            d.enter(confirmed, msg, i, "mid-dialog")
        txns = d.txns
        if not txns or txns[-1] is not t and t not in txns:
            txns.append(t)
        if status in DIALOG_ENDING_STATUS:
            d.enter(terminated, msg, i, str(status))
        elif tmethod == "BYE" and 200 <= status < 300:
            # The BYE itself was not captured (or this is its answer after a
            # capture gap): the 2xx still shows the dialog is over.
            d.enter(terminated, msg, i, "BYE")
    for c in cancels:
        _apply_cancel(table, c, messages)
    return table


def _apply_cancel(table: DialogTable, c: TxnDraft, messages: MessageLookup) -> None:
    """Attach a CANCEL to the dialogs of the INVITE it cancels; end them if unanswered."""
    inv = c.cancels
    if inv is None:
        return
    table.cancelled.add(inv.id)
    dialogs = table.of_transaction.get(inv.id, ())
    for d in dialogs:
        d.attach(c)
    if inv.final is not None or c.request is None:
        return
    # The INVITE never got a final response in the capture: the CANCEL (its
    # 2xx when seen) is the last word on its early dialogs.
    at = c.request
    for r in c.responses:
        if 200 <= r.status < 300:
            at = r.message
            break
    msg = messages[at]
    for d in dialogs:
        if d.state is DialogState.EARLY:
            d.enter(DialogState.TERMINATED, msg, at, "CANCEL")


def frames_of(msg_ids: Iterable[int], messages: MessageLookup) -> tuple[int, ...]:
    """All capture frames of the given messages, ascending, without repeats."""
    return sorted_frames(messages[i].origin.frames for i in msg_ids)


def freeze_dialog(d: DialogDraft, call_id: str, messages: MessageLookup) -> Dialog:
    """The frozen :class:`Dialog` for a finished draft.

    Its messages are those of its transactions whose To tag is absent or one
    of the dialog's tags: a forked INVITE's responses from other branches
    belong to their own dialogs.  The transactions must have been frozen
    (their ``frame_tuple`` is reused).
    """
    local, remote = d.local_tag, d.remote_tag
    txns = d.txns
    several = len(txns) > 1
    if several:
        txns.sort(key=_BY_ID)
    msg_ids: list[int] = []
    frames: list[int] = []
    whole = True
    for t in txns:
        tags = t.tags
        # Whether every message of the transaction belongs, counted in C:
        # the tags are None, the local tag or the remote tag, three disjoint
        # cases when the dialog's tags are distinct and not None.
        n = tags.count(None)
        if n != len(tags):
            if local is not None:
                n += tags.count(local)
            if remote is not None and remote != local:
                n += tags.count(remote)
        if n == len(tags):
            msg_ids += t.messages
            frames += t.frame_tuple
        else:
            whole = False
            pair = (local, remote)
            for i, tag in zip(t.messages, tags, strict=True):
                if tag is None or tag in pair:
                    msg_ids.append(i)
                    frames += messages[i].origin.frames
    if several:
        msg_ids.sort()
        frame_tuple = unique_sorted(frames)
    elif whole:
        frame_tuple = txns[0].frame_tuple
    else:
        frame_tuple = unique_sorted(frames)
    creating = d.creating
    return _new_dialog(
        d.id,
        call_id,
        local,
        remote,
        d.method,
        (creating[0].id,) if len(creating) == 1 else tuple(sorted(t.id for t in creating)),
        tuple(d.changes),
        tuple([t.id for t in txns]),
        d.mid_dialog,
        tuple(msg_ids),
        frame_tuple,
    )


_BY_ID = attrgetter("id")


def _uri(value: str | None) -> str | None:
    """The URI of a From/To value, None when unreadable."""
    if value is None:
        return None
    # name-addr = [ display-name ] LAQUOT addr-spec RAQUOT: with the display
    # name skipped (a quoted-string without escapes, or plain text), the URI
    # is what lies between "<" and ">", which a URI cannot contain.  Anything
    # else goes to the full parser.
    rest = value
    if value.startswith('"'):
        end = value.find('"', 1)
        if end > 0 and "\\" not in value[:end]:
            rest = value[end + 1 :]
    if '"' not in rest:
        lt = rest.find("<")
        if lt >= 0:
            gt = rest.find(">", lt)
            if gt > lt:
                return rest[lt + 1 : gt]
    try:
        return parse_name_addr(value).uri
    except SipParseError:
        return None


def build_calls(
    call_id: str,
    drafts: Sequence[TxnDraft],
    table: DialogTable,
    dialogs: dict[int, Dialog],
    messages: MessageLookup,
) -> list[Call]:
    """The calls of one Call-ID group: its initial INVITE transactions, by From tag."""
    by_caller: dict[str | None, list[TxnDraft]] = {}
    for t in drafts:
        if t.method == "INVITE" and table.initial.get(
            t.id, t.req_to_tag is None and t.request is not None
        ):
            by_caller.setdefault(t.from_tag, []).append(t)
    calls: list[Call] = []
    for attempts in by_caller.values():
        calls.append(_call(call_id, attempts, table, dialogs, messages))
    return calls


def _call(
    call_id: str,
    attempts: list[TxnDraft],
    table: DialogTable,
    dialogs: dict[int, Dialog],
    messages: MessageLookup,
) -> Call:
    first = attempts[0]
    deciding = first
    if len(attempts) > 1:
        for t in attempts[1:]:
            if (t.cseq or 0) > (deciding.cseq or 0):
                deciding = t
    # The INVITE as the caller sent it, or its first response.
    head = messages[first.request if first.request is not None else first.id]
    o = head.origin
    invite_ts = o.ts_ns
    if first.request is not None:
        caller, callee = o.src, o.dst
        request_uri = head.uri if isinstance(head, SipRequest) else None
    else:
        caller, callee = o.dst, o.src
        request_uri = None
    caller_uri = _uri(head.headers.get("from"))
    callee_uri = _uri(head.headers.get("to"))

    ringing_ts: int | None = None
    answer_ts: int | None = None
    answer_tag: str | None = None
    answer_status: int | None = None
    dialog_ids: list[int] = []
    for t in attempts:
        for r in t.responses:
            if 180 <= r.status <= 189 and (ringing_ts is None or r.ts_ns < ringing_ts):
                ringing_ts = r.ts_ns
            elif 200 <= r.status < 300 and (answer_ts is None or r.ts_ns < answer_ts):
                answer_ts = r.ts_ns
                answer_tag = r.to_tag
                answer_status = r.status
        for d in table.of_transaction.get(t.id, ()):
            if d.id not in dialog_ids:
                dialog_ids.append(d.id)
    dialog_ids.sort()

    answered: Dialog | None = None
    if answer_ts is not None:
        for did in dialog_ids:
            dlg = dialogs[did]
            if dlg.remote_tag == answer_tag:
                answered = dlg
                break
    final_status = deciding.final_status
    bye: int | None = None
    hangup: Party | None = None
    end_ts: int | None = None
    if answer_ts is not None:
        final_status = answer_status
        ended = answered is not None and answered.state_changes[-1].state is _TERMINATED
        outcome = _ANSWERED if ended else _UNFINISHED
        if answered is not None and ended:
            change = answered.state_changes[-1]
            end_ts = change.ts_ns
            if change.cause == "BYE":
                bye = change.message
                bye_msg = messages[bye]
                hangup = _CALLER if bye_msg.from_tag == answered.local_tag else _CALLEE
    else:
        outcome = _unanswered_outcome(deciding, deciding.id in table.cancelled)
        end_ts = deciding.final_ts

    msg_ids, frames = _union(attempts, [dialogs[did] for did in dialog_ids])
    return _new_call(
        first.id,
        call_id,
        (first.id,) if len(attempts) == 1 else tuple([t.id for t in attempts]),
        deciding.id,
        tuple(dialog_ids),
        None if answered is None else answered.id,
        outcome,
        final_status,
        caller_uri,
        callee_uri,
        request_uri,
        caller,
        callee,
        invite_ts,
        ringing_ts,
        answer_ts,
        end_ts,
        hangup,
        bye,
        msg_ids,
        frames,
    )


def _union(
    attempts: list[TxnDraft], dialogs: list[Dialog]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Messages and frames of a call: its INVITE transactions and its dialogs."""
    if len(attempts) == 1 and len(dialogs) == 1:
        # The usual call: the INVITE transaction's messages are the
        # dialog's, unless responses from other forks were dropped from it.
        dlg = dialogs[0]
        if len(set(attempts[0].messages).difference(dlg.messages)) == 0:
            return dlg.messages, dlg.frames
    msg_set: set[int] = set()
    frame_set: set[int] = set()
    for t in attempts:
        msg_set.update(t.messages)
        frame_set.update(t.frames)
    for dlg in dialogs:
        msg_set.update(dlg.messages)
        frame_set.update(dlg.frames)
    return tuple(sorted(msg_set)), tuple(sorted(frame_set))


def _unanswered_outcome(t: TxnDraft, cancelled: bool) -> CallOutcome:
    status = t.final_status
    if status is None:
        # A CANCEL and no final response (the 487 may be absorbed by a proxy
        # or missing from the capture) still says how the call ended.
        return CallOutcome.CANCELLED if cancelled else CallOutcome.NO_FINAL
    if status == 487:
        return CallOutcome.CANCELLED
    if status in (486, 600):
        return CallOutcome.BUSY
    if status == 408 or 500 <= status < 600:
        return CallOutcome.FAILED
    return CallOutcome.REJECTED


def build_exchange(
    call_id: str | None, drafts: Sequence[TxnDraft], in_dialog: set[int]
) -> Exchange | None:
    """The :class:`Exchange` of a Call-ID group, or None when it has no such transaction."""
    txns = [t for t in drafts if t.method not in _NOT_EXCHANGE and t.id not in in_dialog]
    if not txns:
        return None
    methods: list[str] = []
    msg_ids: list[int] = []
    frames: list[int] = []
    for t in txns:
        if t.method not in methods:
            methods.append(t.method)
        msg_ids += t.messages
        frames += t.frames
    if len(txns) > 1:
        msg_ids.sort()
    return _new_exchange(
        txns[0].id,
        call_id,
        tuple(methods),
        tuple(t.id for t in txns),
        tuple(msg_ids),
        unique_sorted(frames),
    )
