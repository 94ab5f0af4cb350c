"""The entry point: grouping by Call-ID, merging, lookups, split invariance."""

from __future__ import annotations

import gc
import itertools
import pickle
from dataclasses import replace

from analyzer.correlation import (
    Correlation,
    correlate,
    correlate_group,
    correlate_groups,
    group_by_call_id,
    merge,
)
from analyzer.sip.message import SipMessage, parse_message
from tests.correlation.test_dialogs import basic_call
from tests.correlation.test_reginfo import contact, doc, registration
from tests.correlation.test_registrations import register, reply
from tests.correlation.test_subscriptions import lifecycle, notify, sub_ok, subscribe
from tests.sipmsg import Trace, req, resp


def mixed_capture() -> list[SipMessage]:
    """Several conversations interleaved in time, with every kind of record."""
    parts: list[list[tuple[float, SipMessage]]] = []

    def shifted(t: Trace, offset: float, call: str) -> list[tuple[float, SipMessage]]:
        out = []
        for m in t.messages:
            data = m.raw.replace(b"call-1", call.encode()).replace(b"reg-1", call.encode())
            at = m.origin.ts_ns / 1e9 + offset
            origin = replace(m.origin, ts_ns=round(at * 1e9))
            out.append((at, parse_message(data, origin)))
        return out

    parts.append(shifted(basic_call(), 0.0, "call-a"))
    parts.append(shifted(basic_call(bye_from_callee=True), 0.5, "call-b"))
    parts.append(shifted(lifecycle(), 1.0, "sub-a"))
    short = Trace()
    short.add(subscribe("z9hG4bK-s1", 1, 30), 0.0)
    short.add(sub_ok("z9hG4bK-s1", 1, 30), 0.1, reverse=True)
    body = doc(
        3,
        "full",
        registration(
            "sip:joe@example.com",
            "r1",
            "active",
            contact("c1", "active", "registered", "sip:joe@pc1"),
        ),
    )
    short.add(
        notify("z9hG4bK-n1", 1, "active;expires=30", body=body, ctype="application/reginfo+xml"),
        0.2,
        reverse=True,
    )
    parts.append(shifted(short, 2.0, "sub-b"))
    regs = Trace()
    regs.add(register("z9hG4bK-1", 1, expires=60), 0.0)
    regs.add(reply(200, "z9hG4bK-1", 1, "<sip:alice@10.0.0.1:5060>;expires=60"), 0.1, reverse=True)
    parts.append(shifted(regs, 3.0, "reg-a"))
    regs2 = Trace()
    regs2.add(register("z9hG4bK-2", 1, expires=0), 0.0)
    regs2.add(reply(200, "z9hG4bK-2", 1), 0.1, reverse=True)
    parts.append(shifted(regs2, 40.0, "reg-b"))
    other = Trace()
    other.add(req("MESSAGE", branch="z9hG4bK-m", body="hi"), 0.0)
    other.add(resp(200, "MESSAGE", branch="z9hG4bK-m", ttag="x"), 0.1, reverse=True)
    other.add(resp(200, "BYE", branch="z9hG4bK-q", ttag="y", cseq=9), 0.2, reverse=True)
    parts.append(shifted(other, 4.0, "msg-a"))
    merged = sorted(itertools.chain.from_iterable(parts), key=lambda p: p[0])
    return [m for _, m in merged]


def test_split_by_call_id_gives_identical_results() -> None:
    msgs = mixed_capture()
    whole = correlate(msgs)
    assert whole.calls and whole.subscriptions and whole.registrations and whole.exchanges
    groups = list(group_by_call_id(msgs).values())
    first, second = groups[::2], groups[1::2]
    # As a worker process would hold them: only its own messages, by index.
    part_a = correlate_groups({i: msgs[i] for g in first for i in g}, first)
    part_b = correlate_groups({i: msgs[i] for g in second for i in g}, second)
    assert merge(part_b + part_a, len(msgs)) == whole
    assert merge(part_a + part_b, len(msgs)) == whole
    # Group results cross process boundaries by pickling.
    shipped = pickle.loads(pickle.dumps(part_a + part_b))
    assert merge(shipped, len(msgs)) == whole


def test_registration_spans_groups_and_subscription_expires_at_merge() -> None:
    corr = correlate(mixed_capture())
    (reg,) = corr.registrations
    assert len(reg.call_ids) == 2
    assert [e.event for e in reg.events] == ["registered", "deregistered"]
    short = next(s for s in corr.subscriptions if s.call_id == "sub-b")
    assert short.timeline[-1].cause == "expired"


def test_lookups_cover_every_message() -> None:
    msgs = mixed_capture()
    corr = correlate(msgs)
    assert len(corr.message_transaction) == len(corr.message_dialog) == len(msgs)
    for t in corr.transactions:
        assert corr.transaction(t.id) is t
        for i in t.messages:
            assert corr.message_transaction[i] == t.id
    for d in corr.dialogs:
        assert corr.dialog(d.id) is d
        assert all(corr.message_dialog[i] is not None for i in d.messages)
    assert all(t is not None for t in corr.message_transaction)
    for s in corr.subscriptions:
        assert corr.subscription(s.id) is s
    for c in corr.calls:
        assert corr.call(c.id) is c
    for r in corr.registrations:
        assert corr.registration(r.id) is r
    for doc_ in corr.reginfo:
        assert corr.document(doc_.id) is doc_
    assert corr.transaction(10**9) is None
    ids = [t.id for t in corr.transactions]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert corr.capture_start_ns == msgs[0].origin.ts_ns
    assert corr.capture_end_ns == max(m.origin.ts_ns for m in msgs)
    assert [n.messages[0] for n in corr.notes] == sorted(n.messages[0] for n in corr.notes)


def test_empty_input() -> None:
    corr = correlate([])
    assert corr == Correlation((), (), (), (), (), (), (), (), (), (), (), None, None)


def test_messages_without_call_id() -> None:
    t = Trace()
    text = req("OPTIONS", branch="z9hG4bK-o").replace("Call-ID: call-1\n", "")
    t.add(text, 0.0)
    corr = correlate(t.messages)
    assert t.messages[0].call_id is None
    assert len(corr.transactions) == 1 and corr.dialogs == ()
    assert [n.code for n in corr.notes] == ["no-call-id"]


def test_correlate_group_alone() -> None:
    msgs = basic_call().messages
    g = correlate_group(msgs, range(len(msgs)))
    assert g.call_id == "call-1" and g.messages == tuple(range(7))
    assert (g.first_ts_ns, g.last_ts_ns) == (0, 64_100_000_000)
    assert len(g.transactions) == 3 and len(g.dialogs) == 1 and len(g.calls) == 1


def test_garbage_collector_state_is_restored() -> None:
    msgs = basic_call().messages
    assert gc.isenabled()
    correlate(msgs)
    assert gc.isenabled()
    gc.disable()
    try:
        correlate(msgs)
        assert not gc.isenabled()
    finally:
        gc.enable()
