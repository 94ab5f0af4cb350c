"""pandas DataFrames of the correlation records (pandas is imported on demand).

One row per record; the index is the record id (named ``transaction_id``,
``dialog_id``, ``call``, ``subscription_id``, ``document``, ``registration``),
so frames join on it, and on the id columns they share:

* :func:`message_links_frame` maps every message index to its
  ``transaction_id``, ``dialog_id``, ``call`` and ``subscription_id``; it
  joins onto :func:`analyzer.render.frames.messages_frame` by index
  (``messages.join(links)``).
* ``call_id`` is always the SIP Call-ID header; ``call`` is the id of a
  :class:`~analyzer.correlation.Call` record.

Column types: times are ``datetime64[ns, UTC]`` and durations
``timedelta64[ns]`` (NaT when unknown); ids, message indices, status codes
and counts that may be absent are nullable ``Int64``; text is ``string``;
closed sets (states, outcomes, methods) are ``category``; columns holding
several message indices or frame numbers hold Python lists of ``int``.
The ``*_DTYPES`` dictionaries below list every column and its type, in
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..net.flow import TRANSPORT_NAMES, Endpoint

if TYPE_CHECKING:
    import pandas as pd

    from ..correlation import Correlation
    from ..sip.message import SipMessage

Row = dict[str, Any]

TRANSACTION_DTYPES: dict[str, str] = {
    "call_id": "string",
    "method": "category",
    "cseq": "Int64",
    "from_tag": "string",
    "branch": "string",
    "rfc2543": "bool",
    "request": "Int64",
    "request_time": "datetime64[ns, UTC]",
    "request_retransmissions": "object",
    "responses": "object",
    "statuses": "object",
    "response_retransmissions": "object",
    "first_provisional_time": "datetime64[ns, UTC]",
    "final_status": "Int64",
    "final": "Int64",
    "final_time": "datetime64[ns, UTC]",
    "response_time": "timedelta64[ns]",
    "ack": "Int64",
    "ack_retransmissions": "object",
    "cancels": "Int64",
    "linked": "object",
    "orphan_response": "bool",
    "no_final": "bool",
    "client": "string",
    "server": "string",
    "transport": "category",
    "dialog_id": "Int64",
    "messages": "object",
    "frames": "object",
}
"""Columns of :func:`transactions_frame` (index ``transaction_id``).

``responses`` / ``statuses`` are the message indices and status codes of
the first copy of each response; ``client`` / ``server`` (``ip:port``) and
``transport`` come from the first message and need the message list.
``dialog_id`` is the dialog of the transaction's first message.
"""

DIALOG_DTYPES: dict[str, str] = {
    "call_id": "string",
    "local_tag": "string",
    "remote_tag": "string",
    "method": "category",
    "state": "category",
    "created_time": "datetime64[ns, UTC]",
    "confirmed_time": "datetime64[ns, UTC]",
    "terminated_time": "datetime64[ns, UTC]",
    "end_cause": "string",
    "mid_dialog": "bool",
    "call": "Int64",
    "creating_transactions": "object",
    "transactions": "object",
    "states": "object",
    "messages": "object",
    "frames": "object",
}
"""Columns of :func:`dialogs_frame` (index ``dialog_id``).

``states`` lists the states entered, in order; ``end_cause`` is the cause
of the termination (``BYE``, ``487``, ...).  ``call`` is the call the dialog
belongs to, if any.
"""

CALL_DTYPES: dict[str, str] = {
    "call_id": "string",
    "outcome": "category",
    "final_status": "Int64",
    "caller_uri": "string",
    "callee_uri": "string",
    "request_uri": "string",
    "caller": "string",
    "callee": "string",
    "invite_time": "datetime64[ns, UTC]",
    "ringing_time": "datetime64[ns, UTC]",
    "answer_time": "datetime64[ns, UTC]",
    "end_time": "datetime64[ns, UTC]",
    "ringing_delay": "timedelta64[ns]",
    "answer_delay": "timedelta64[ns]",
    "duration": "timedelta64[ns]",
    "hangup_by": "category",
    "bye": "Int64",
    "transaction_id": "Int64",
    "attempts": "object",
    "dialogs": "object",
    "answered_dialog": "Int64",
    "messages": "object",
    "frames": "object",
}
"""Columns of :func:`calls_frame` (index ``call``).  ``transaction_id`` is the
INVITE transaction that decided the outcome; ``attempts`` all of them."""

SUBSCRIPTION_DTYPES: dict[str, str] = {
    "call_id": "string",
    "dialog_id": "Int64",
    "event_package": "string",
    "event_id": "string",
    "subscriber_tag": "string",
    "notifier_tag": "string",
    "state": "category",
    "start_time": "datetime64[ns, UTC]",
    "end_time": "datetime64[ns, UTC]",
    "end_cause": "string",
    "expires_at": "datetime64[ns, UTC]",
    "requested_expires": "Int64",
    "granted_expires": "Int64",
    "subscribes": "Int64",
    "notifies": "Int64",
    "last_notify_state": "string",
    "forked_from": "Int64",
    "mid_dialog": "bool",
    "timeline": "object",
    "transactions": "object",
    "messages": "object",
    "frames": "object",
}
"""Columns of :func:`subscriptions_frame` (index ``subscription_id``).

``start_time`` is the first message of the subscription; ``end_time`` /
``end_cause`` its termination (NaT / NA while not terminated);
``requested_expires`` the first SUBSCRIBE's Expires and ``granted_expires``
the last 2xx's; ``timeline`` lists ``(time ns, state, message or None,
cause)`` tuples.
"""

SUBSCRIPTION_EVENT_DTYPES: dict[str, str] = {
    "subscription_id": "Int64",
    "time": "datetime64[ns, UTC]",
    "state": "category",
    "message": "Int64",
    "frame": "Int64",
    "cause": "string",
}
"""Columns of :func:`subscription_events_frame` (one row per timeline entry)."""

NOTIFICATION_DTYPES: dict[str, str] = {
    "subscription_id": "Int64",
    "transaction_id": "Int64",
    "time": "datetime64[ns, UTC]",
    "cseq": "Int64",
    "event": "string",
    "subscription_state": "string",
    "state": "string",
    "expires": "Int64",
    "reason": "string",
    "retry_after": "Int64",
    "content_type": "string",
    "final_status": "Int64",
    "final": "Int64",
    "document": "Int64",
}
"""Columns of :func:`notifications_frame` (index ``message``: the NOTIFY)."""

REGINFO_DTYPES: dict[str, str] = {
    "call_id": "string",
    "subscription_id": "Int64",
    "time": "datetime64[ns, UTC]",
    "version": "Int64",
    "state": "string",
    "previous_version": "Int64",
    "version_delta": "Int64",
    "applied": "bool",
    "error": "string",
    "problems": "object",
    "aors": "object",
    "registrations": "Int64",
    "contacts": "Int64",
    "frames": "object",
}
"""Columns of :func:`reginfo_frame` (index ``document``: the NOTIFY's message index)."""

REGINFO_CONTACT_DTYPES: dict[str, str] = {
    "document": "Int64",
    "subscription_id": "Int64",
    "time": "datetime64[ns, UTC]",
    "aor": "string",
    "registration_id": "string",
    "registration_state": "string",
    "contact_id": "string",
    "state": "string",
    "event": "string",
    "uri": "string",
    "expires": "Int64",
    "retry_after": "Int64",
    "duration_registered": "Int64",
    "q": "string",
    "callid": "string",
    "cseq": "Int64",
}
"""Columns of :func:`reginfo_contacts_frame`: one row per contact of each
document as sent (not merged)."""

REGISTRATION_DTYPES: dict[str, str] = {
    "aor": "string",
    "attempts": "Int64",
    "last_outcome": "category",
    "last_status": "Int64",
    "first_time": "datetime64[ns, UTC]",
    "last_time": "datetime64[ns, UTC]",
    "bindings": "object",
    "events": "Int64",
    "call_ids": "object",
    "transactions": "object",
    "messages": "object",
    "frames": "object",
}
"""Columns of :func:`registrations_frame` (index ``registration``);
``bindings`` lists the contacts still bound when the capture ends."""

REGISTER_ATTEMPT_DTYPES: dict[str, str] = {
    "registration": "Int64",
    "call_id": "string",
    "aor": "string",
    "time": "datetime64[ns, UTC]",
    "cseq": "Int64",
    "outcome": "category",
    "final_status": "Int64",
    "final": "Int64",
    "requested": "object",
    "wildcard": "bool",
    "expires_header": "Int64",
    "granted": "object",
    "retry_of": "Int64",
    "messages": "object",
    "frames": "object",
}
"""Columns of :func:`register_attempts_frame` (index ``transaction_id``);
``requested`` / ``granted`` list ``(contact, expires)`` pairs."""

BINDING_EVENT_DTYPES: dict[str, str] = {
    "registration": "Int64",
    "aor": "string",
    "time": "datetime64[ns, UTC]",
    "contact": "string",
    "event": "category",
    "expires": "Int64",
    "transaction_id": "Int64",
    "message": "Int64",
    "frame": "Int64",
}
"""Columns of :func:`binding_events_frame` (one row per binding change)."""

MESSAGE_LINK_DTYPES: dict[str, str] = {
    "transaction_id": "Int64",
    "dialog_id": "Int64",
    "call": "Int64",
    "subscription_id": "Int64",
}
"""Columns of :func:`message_links_frame` (index ``message``)."""


def _frame(rows: list[Row], dtypes: dict[str, str], index: str | None) -> pd.DataFrame:
    import pandas as pd

    columns = list(dtypes)
    if index is not None:
        columns = [index, *columns]
    df = pd.DataFrame.from_records(rows, columns=columns)
    plain: dict[str, str] = {}
    for name, dtype in dtypes.items():
        if dtype in _NULLABLE_DTYPES:
            # From the row values, not from the column: a column of ints with
            # a None in it was made float64, which rounds nanosecond times.
            df[name] = _nullable_column([row.get(name) for row in rows], dtype)
        elif dtype != "object":
            plain[name] = dtype
    df = df.astype(plain)
    if index is not None:
        df = df.set_index(index)
        df.index = df.index.astype("int64")
    return df


# Columns made from Python ints and None through a nullable Int64 array.
_NULLABLE_DTYPES = frozenset(("Int64", "datetime64[ns, UTC]", "timedelta64[ns]"))


def _nullable_column(values: list[Any], dtype: str) -> Any:
    """A column of ``dtype`` (one of _NULLABLE_DTYPES) from ints and None: nanoseconds exact."""
    import pandas as pd

    array = pd.array(values, dtype="Int64")
    if dtype == "datetime64[ns, UTC]":
        return pd.to_datetime(array, unit="ns", utc=True)
    if dtype == "timedelta64[ns]":
        return pd.to_timedelta(array, unit="ns")
    return array


def _tuple_frame(rows: list[tuple[Any, ...]], dtypes: dict[str, str], index: str) -> pd.DataFrame:
    """What :func:`_frame` makes, from one tuple per row: the index value, then ``dtypes``' columns.

    The rows are transposed into columns in one ``zip``; each column is then
    converted as :func:`_frame` converts it.
    """
    import pandas as pd

    width = len(dtypes) + 1
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
    if len(columns) != width:
        raise ValueError(f"rows of {len(columns)} values for {width} columns")
    data: dict[str, Any] = {}
    plain: dict[str, str] = {}
    for (name, dtype), values in zip(dtypes.items(), columns[1:], strict=True):
        if dtype in _NULLABLE_DTYPES:
            data[name] = _nullable_column(values, dtype)
        else:
            data[name] = pd.Series(values, dtype="object")
            if dtype != "object":
                plain[name] = dtype
    df = pd.DataFrame(data).astype(plain)
    df.index = pd.Index(columns[0], dtype="int64", name=index)
    return df


def endpoint_name(e: Endpoint, names: dict[int, str]) -> str:
    """``str(e)``, formatted once per endpoint object in ``names``.

    Keyed by identity: hashing an Endpoint hashes its address object, which
    costs more than the formatting.  The caller holds the records that keep
    every endpoint alive, so no id is reused meanwhile.
    """
    name = names.get(id(e))
    if name is None:
        name = names[id(e)] = str(e)
    return name


def transactions_frame(
    corr: Correlation, messages: Sequence[SipMessage] | None = None
) -> pd.DataFrame:
    """One row per transaction; columns in :data:`TRANSACTION_DTYPES`.

    Built from one tuple per transaction, transposed into columns (see
    :func:`_tuple_frame`): a capture can have a hundred thousand
    transactions, and a dictionary per row cost twice as much.  The
    response properties of :class:`~analyzer.correlation.Transaction`
    (final response, first provisional time, retransmissions) are worked
    out in one walk over its responses.
    """
    msg_dialog = corr.message_dialog
    dialogs_known = len(msg_dialog)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    # Endpoints are shared objects: each is formatted once (see endpoint_name).
    names: dict[int, str] = {}
    for t in corr.transactions:
        tid = t.id
        client = server = transport = None
        if messages is not None:
            o = messages[tid].origin
            src, dst = endpoint_name(o.src, names), endpoint_name(o.dst, names)
            client, server = (src, dst) if t.request == tid else (dst, src)
            transport = TRANSPORT_NAMES[o.transport]
        responses = t.responses
        final = None
        first_provisional = None
        retransmitted: list[int] = []
        for r in responses:
            if r.status >= 200:
                if final is None:
                    final = r
            elif first_provisional is None:
                first_provisional = r.ts_ns
            if r.retransmissions:
                retransmitted += r.retransmissions
        if len(retransmitted) > 1:
            retransmitted.sort()
        request_ts = t.request_ts_ns
        append(
            (
                tid,
                t.call_id,
                t.method,
                t.cseq,
                t.from_tag,
                t.branch,
                t.rfc2543,
                t.request,
                request_ts,
                list(t.request_retransmissions),
                [r.message for r in responses],
                [r.status for r in responses],
                retransmitted,
                first_provisional,
                None if final is None else final.status,
                None if final is None else final.message,
                None if final is None else final.ts_ns,
                None if final is None or request_ts is None else final.ts_ns - request_ts,
                t.ack,
                list(t.ack_retransmissions),
                t.cancels,
                list(t.linked),
                t.request is None,
                final is None and t.method != "ACK",
                client,
                server,
                transport,
                msg_dialog[tid] if tid < dialogs_known else None,
                list(t.messages),
                list(t.frames),
            )
        )
    return _tuple_frame(rows, TRANSACTION_DTYPES, "transaction_id")


def _dialog_calls(corr: Correlation) -> dict[int, int]:
    out: dict[int, int] = {}
    for c in corr.calls:
        for d in c.dialogs:
            out.setdefault(d, c.id)
    return out


def dialogs_frame(corr: Correlation) -> pd.DataFrame:
    """One row per dialog; columns in :data:`DIALOG_DTYPES`."""
    calls = _dialog_calls(corr)
    rows: list[Row] = []
    for d in corr.dialogs:
        last = d.state_changes[-1]
        rows.append(
            {
                "dialog_id": d.id,
                "call_id": d.call_id,
                "local_tag": d.local_tag,
                "remote_tag": d.remote_tag,
                "method": d.method,
                "state": d.state.value,
                "created_time": d.created_ts_ns,
                "confirmed_time": d.confirmed_ts_ns,
                "terminated_time": d.terminated_ts_ns,
                "end_cause": last.cause if d.terminated_ts_ns is not None else None,
                "mid_dialog": d.mid_dialog,
                "call": calls.get(d.id),
                "creating_transactions": list(d.creating_transactions),
                "transactions": list(d.transactions),
                "states": [c.state.value for c in d.state_changes],
                "messages": list(d.messages),
                "frames": list(d.frames),
            }
        )
    return _frame(rows, DIALOG_DTYPES, "dialog_id")


def calls_frame(corr: Correlation) -> pd.DataFrame:
    """One row per call; columns in :data:`CALL_DTYPES`."""
    rows: list[Row] = []
    for c in corr.calls:
        rows.append(
            {
                "call": c.id,
                "call_id": c.call_id,
                "outcome": c.outcome.value,
                "final_status": c.final_status,
                "caller_uri": c.caller_uri,
                "callee_uri": c.callee_uri,
                "request_uri": c.request_uri,
                "caller": None if c.caller is None else str(c.caller),
                "callee": None if c.callee is None else str(c.callee),
                "invite_time": c.invite_ts_ns,
                "ringing_time": c.ringing_ts_ns,
                "answer_time": c.answer_ts_ns,
                "end_time": c.end_ts_ns,
                "ringing_delay": c.ringing_delay_ns,
                "answer_delay": c.answer_delay_ns,
                "duration": c.duration_ns,
                "hangup_by": None if c.hangup_by is None else c.hangup_by.value,
                "bye": c.bye,
                "transaction_id": c.transaction,
                "attempts": list(c.attempts),
                "dialogs": list(c.dialogs),
                "answered_dialog": c.answered_dialog,
                "messages": list(c.messages),
                "frames": list(c.frames),
            }
        )
    return _frame(rows, CALL_DTYPES, "call")


def subscriptions_frame(corr: Correlation) -> pd.DataFrame:
    """One row per subscription; columns in :data:`SUBSCRIPTION_DTYPES`."""
    rows: list[Row] = []
    for s in corr.subscriptions:
        end = s.timeline[-1] if s.timeline and s.state is not None else None
        ended = end is not None and end.state.value == "terminated"
        granted = [r.granted_expires for r in s.requests if r.granted_expires is not None]
        start = min(
            [r.ts_ns for r in s.requests] + [n.ts_ns for n in s.notifications], default=None
        )
        rows.append(
            {
                "subscription_id": s.id,
                "call_id": s.call_id,
                "dialog_id": s.dialog,
                "event_package": s.event_package,
                "event_id": s.event_id,
                "subscriber_tag": s.subscriber_tag,
                "notifier_tag": s.notifier_tag,
                "state": None if s.state is None else s.state.value,
                "start_time": start,
                "end_time": end.ts_ns if ended and end is not None else None,
                "end_cause": end.cause if ended and end is not None else None,
                "expires_at": s.expires_at_ns,
                "requested_expires": s.requests[0].expires if s.requests else None,
                "granted_expires": granted[-1] if granted else None,
                "subscribes": len(s.requests),
                "notifies": len(s.notifications),
                "last_notify_state": s.notifications[-1].state if s.notifications else None,
                "forked_from": s.forked_from,
                "mid_dialog": s.mid_dialog,
                "timeline": [(e.ts_ns, e.state.value, e.message, e.cause) for e in s.timeline],
                "transactions": list(s.transactions),
                "messages": list(s.messages),
                "frames": list(s.frames),
            }
        )
    return _frame(rows, SUBSCRIPTION_DTYPES, "subscription_id")


def subscription_events_frame(corr: Correlation) -> pd.DataFrame:
    """One row per subscription state change; columns in :data:`SUBSCRIPTION_EVENT_DTYPES`."""
    rows: list[Row] = [
        {
            "subscription_id": s.id,
            "time": e.ts_ns,
            "state": e.state.value,
            "message": e.message,
            "frame": e.frame,
            "cause": e.cause,
        }
        for s in corr.subscriptions
        for e in s.timeline
    ]
    return _frame(rows, SUBSCRIPTION_EVENT_DTYPES, None)


def notifications_frame(corr: Correlation) -> pd.DataFrame:
    """One row per NOTIFY; columns in :data:`NOTIFICATION_DTYPES`."""
    rows: list[Row] = [
        {
            "message": n.message,
            "subscription_id": s.id,
            "transaction_id": n.transaction,
            "time": n.ts_ns,
            "cseq": n.cseq,
            "event": n.event,
            "subscription_state": n.subscription_state,
            "state": n.state,
            "expires": n.expires,
            "reason": n.reason,
            "retry_after": n.retry_after,
            "content_type": n.content_type,
            "final_status": n.final_status,
            "final": n.final,
            "document": n.document,
        }
        for s in corr.subscriptions
        for n in s.notifications
    ]
    rows.sort(key=lambda r: r["message"])
    return _frame(rows, NOTIFICATION_DTYPES, "message")


def reginfo_frame(corr: Correlation) -> pd.DataFrame:
    """One row per reginfo document; columns in :data:`REGINFO_DTYPES`."""
    rows: list[Row] = [
        {
            "document": d.id,
            "call_id": d.call_id,
            "subscription_id": d.subscription,
            "time": d.ts_ns,
            "version": d.version,
            "state": d.state,
            "previous_version": d.previous_version,
            "version_delta": d.version_delta,
            "applied": d.applied,
            "error": d.error,
            "problems": list(d.problems),
            "aors": [r.aor for r in d.registrations],
            "registrations": len(d.registrations),
            "contacts": sum(len(r.contacts) for r in d.registrations),
            "frames": list(d.frames),
        }
        for d in corr.reginfo
    ]
    return _frame(rows, REGINFO_DTYPES, "document")


def reginfo_contacts_frame(corr: Correlation) -> pd.DataFrame:
    """One row per contact element of each document; see :data:`REGINFO_CONTACT_DTYPES`."""
    rows: list[Row] = [
        {
            "document": d.id,
            "subscription_id": d.subscription,
            "time": d.ts_ns,
            "aor": r.aor,
            "registration_id": r.id,
            "registration_state": r.state,
            "contact_id": c.id,
            "state": c.state,
            "event": c.event,
            "uri": c.uri,
            "expires": c.expires,
            "retry_after": c.retry_after,
            "duration_registered": c.duration_registered,
            "q": c.q,
            "callid": c.callid,
            "cseq": c.cseq,
        }
        for d in corr.reginfo
        for r in d.registrations
        for c in r.contacts
    ]
    return _frame(rows, REGINFO_CONTACT_DTYPES, None)


def registrations_frame(corr: Correlation) -> pd.DataFrame:
    """One row per address-of-record; columns in :data:`REGISTRATION_DTYPES`."""
    rows: list[Row] = []
    for r in corr.registrations:
        last = r.attempts[-1]
        rows.append(
            {
                "registration": r.id,
                "aor": r.aor,
                "attempts": len(r.attempts),
                "last_outcome": last.outcome.value,
                "last_status": last.final_status,
                "first_time": r.attempts[0].ts_ns,
                "last_time": last.ts_ns,
                "bindings": [b.contact for b in r.bindings],
                "events": len(r.events),
                "call_ids": list(r.call_ids),
                "transactions": [a.transaction for a in r.attempts],
                "messages": list(r.messages),
                "frames": list(r.frames),
            }
        )
    return _frame(rows, REGISTRATION_DTYPES, "registration")


def register_attempts_frame(corr: Correlation) -> pd.DataFrame:
    """One row per REGISTER transaction; columns in :data:`REGISTER_ATTEMPT_DTYPES`."""
    rows: list[Row] = [
        {
            "transaction_id": a.transaction,
            "registration": r.id,
            "call_id": a.call_id,
            "aor": a.aor,
            "time": a.ts_ns,
            "cseq": a.cseq,
            "outcome": a.outcome.value,
            "final_status": a.final_status,
            "final": a.final,
            "requested": [(b.contact, b.expires) for b in a.requested],
            "wildcard": a.wildcard,
            "expires_header": a.expires_header,
            "granted": [(g.contact, g.expires) for g in a.granted],
            "retry_of": a.retry_of,
            "messages": list(a.messages),
            "frames": list(a.frames),
        }
        for r in corr.registrations
        for a in r.attempts
    ]
    rows.sort(key=lambda row: row["transaction_id"])
    return _frame(rows, REGISTER_ATTEMPT_DTYPES, "transaction_id")


def binding_events_frame(corr: Correlation) -> pd.DataFrame:
    """One row per binding change; columns in :data:`BINDING_EVENT_DTYPES`."""
    rows: list[Row] = [
        {
            "registration": r.id,
            "aor": r.aor,
            "time": e.ts_ns,
            "contact": e.contact,
            "event": e.event,
            "expires": e.expires,
            "transaction_id": e.attempt,
            "message": e.message,
            "frame": e.frame,
        }
        for r in corr.registrations
        for e in r.events
    ]
    return _frame(rows, BINDING_EVENT_DTYPES, None)


def message_links_frame(corr: Correlation) -> pd.DataFrame:
    """For every message index: its transaction, dialog, call and subscription ids.

    Columns in :data:`MESSAGE_LINK_DTYPES`; the index (``message``) matches
    the index of the messages DataFrame, so ``messages.join(links)`` works.
    """
    import pandas as pd

    n = len(corr.message_transaction)
    call_of: list[int | None] = [None] * n
    for c in corr.calls:
        for i in c.messages:
            if call_of[i] is None:
                call_of[i] = c.id
    sub_of: list[int | None] = [None] * n
    for s in corr.subscriptions:
        for i in s.messages:
            if sub_of[i] is None:
                sub_of[i] = s.id
    df = pd.DataFrame(
        {
            "transaction_id": pd.array(corr.message_transaction, dtype="Int64"),
            "dialog_id": pd.array(corr.message_dialog, dtype="Int64"),
            "call": pd.array(call_of, dtype="Int64"),
            "subscription_id": pd.array(sub_of, dtype="Int64"),
        }
    )
    df.index.name = "message"
    return df
