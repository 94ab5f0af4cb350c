"""Transaction matching (RFC 3261 §17), one test per matching rule."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

import analyzer.correlation as correlation
from analyzer.correlation import Transaction, TxnResponse, correlate
from analyzer.correlation.transactions import record_constructor
from tests.sipmsg import Trace, req, resp

RECORDS = sorted(
    (
        cls
        for cls in vars(correlation).values()
        if isinstance(cls, type) and dataclasses.is_dataclass(cls)
    ),
    key=lambda cls: cls.__name__,
)

INVITE = req("INVITE", branch="z9hG4bK-inv")


def test_invite_transaction_with_provisional_and_final() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(100, branch="z9hG4bK-inv"), 0.01, reverse=True)
    t.add(resp(180, branch="z9hG4bK-inv", ttag="callee"), 0.5, reverse=True)
    t.add(resp(200, branch="z9hG4bK-inv", ttag="callee"), 2.0, reverse=True)
    corr = correlate(t.messages)
    (txn,) = corr.transactions
    assert txn.id == 0 and txn.method == "INVITE" and txn.request == 0 and txn.cseq == 1
    assert [(r.message, r.status, r.to_tag) for r in txn.responses] == [
        (1, 100, None),
        (2, 180, "callee"),
        (3, 200, "callee"),
    ]
    assert txn.final_status == 200 and txn.final == 3
    assert txn.first_provisional_ts_ns == 10_000_000
    assert txn.final_ts_ns == 2_000_000_000
    assert txn.response_time_ns == 2_000_000_000
    assert not txn.orphan_response and not txn.no_final and not txn.rfc2543
    assert txn.messages == (0, 1, 2, 3) and txn.frames == (1, 2, 3, 4)
    assert corr.message_transaction == (0, 0, 0, 0)


def test_ack_for_2xx_is_its_own_transaction() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(200, branch="z9hG4bK-inv", ttag="callee"), 1.0, reverse=True)
    t.add(req("ACK", ttag="callee", branch="z9hG4bK-ack"), 1.1)
    corr = correlate(t.messages)
    inv, ack = corr.transactions
    assert inv.ack is None
    assert ack.method == "ACK" and ack.request == 2 and ack.responses == ()
    # An ACK never has responses: that is not a missing final response.
    assert not ack.no_final
    assert corr.message_transaction == (0, 0, 2)


def test_ack_for_non_2xx_joins_the_invite_transaction() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(486, branch="z9hG4bK-inv", ttag="callee"), 1.0, reverse=True)
    t.add(req("ACK", ttag="callee", branch="z9hG4bK-inv"), 1.1)
    t.add(req("ACK", ttag="callee", branch="z9hG4bK-inv"), 1.6)
    corr = correlate(t.messages)
    (inv,) = corr.transactions
    assert inv.final_status == 486
    assert inv.ack == 2 and inv.ack_retransmissions == (3,)
    assert inv.retransmissions == (3,)
    assert corr.message_transaction == (0, 0, 0, 0)
    from analyzer.render.tables import transactions_frame

    row = transactions_frame(corr, t.messages).loc[0]
    assert row["ack"] == 2 and row["ack_retransmissions"] == [3]


def test_cancel_is_a_transaction_linked_to_the_invite() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(180, branch="z9hG4bK-inv", ttag="callee"), 0.5, reverse=True)
    t.add(req("CANCEL", branch="z9hG4bK-inv"), 3.0)
    t.add(resp(200, "CANCEL", branch="z9hG4bK-inv", ttag="callee"), 3.1, reverse=True)
    t.add(resp(487, branch="z9hG4bK-inv", ttag="callee"), 3.2, reverse=True)
    t.add(req("ACK", ttag="callee", branch="z9hG4bK-inv"), 3.3)
    corr = correlate(t.messages)
    inv, cancel = corr.transactions
    assert cancel.id == 2 and cancel.method == "CANCEL" and cancel.cancels == inv.id
    assert [r.status for r in cancel.responses] == [200]
    assert inv.final_status == 487 and inv.ack == 5
    assert corr.message_transaction == (0, 0, 2, 2, 0, 0)


def test_udp_retransmissions_of_request_and_response() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(INVITE, 0.5)
    t.add(INVITE, 1.5)
    t.add(resp(200, branch="z9hG4bK-inv", ttag="callee"), 2.0, reverse=True)
    t.add(resp(200, branch="z9hG4bK-inv", ttag="callee"), 2.5, reverse=True)
    t.add(resp(200, branch="z9hG4bK-inv", ttag="callee"), 3.5, reverse=True)
    corr = correlate(t.messages)
    (txn,) = corr.transactions
    assert txn.request == 0 and txn.request_retransmissions == (1, 2)
    (ok,) = txn.responses
    assert ok.message == 3 and ok.retransmissions == (4, 5)
    assert txn.response_retransmissions == (4, 5)
    assert txn.retransmissions == (1, 2, 4, 5)
    assert txn.final_ts_ns == 2_000_000_000 and txn.response_time_ns == 2_000_000_000


def test_forked_responses_are_distinct_and_their_copies_are_retransmissions() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(180, branch="z9hG4bK-inv", ttag="fork-a"), 0.5, reverse=True)
    t.add(resp(180, branch="z9hG4bK-inv", ttag="fork-b"), 0.6, reverse=True)
    t.add(resp(180, branch="z9hG4bK-inv", ttag="fork-a"), 1.0, reverse=True)
    (txn,) = correlate(t.messages).transactions
    assert [(r.to_tag, r.retransmissions) for r in txn.responses] == [
        ("fork-a", (3,)),
        ("fork-b", ()),
    ]


def test_reliable_provisionals_with_new_rseq_are_not_retransmissions() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(183, branch="z9hG4bK-inv", ttag="x", headers=["RSeq: 1"]), 0.5, reverse=True)
    t.add(resp(183, branch="z9hG4bK-inv", ttag="x", headers=["RSeq: 1"]), 1.0, reverse=True)
    t.add(resp(183, branch="z9hG4bK-inv", ttag="x", headers=["RSeq: 2"]), 1.2, reverse=True)
    (txn,) = correlate(t.messages).transactions
    assert [(r.message, r.retransmissions) for r in txn.responses] == [(1, (2,)), (3, ())]


def test_response_without_request() -> None:
    t = Trace()
    t.add(resp(200, "BYE", branch="z9hG4bK-bye", ttag="callee"), 5.0, reverse=True)
    corr = correlate(t.messages)
    (txn,) = corr.transactions
    assert txn.orphan_response and txn.request is None and txn.method == "BYE"
    assert txn.final_status == 200 and txn.response_time_ns is None
    # A BYE 2xx with both tags also shows a dialog begun before the capture.
    assert [(n.code, n.messages, n.frames) for n in corr.notes] == [
        ("mid-dialog", (0,), (1,)),
        ("orphan-response", (0,), (1,)),
    ]


def test_request_captured_after_its_response() -> None:
    # Merged captures with clock skew: the request may be listed last.
    t = Trace()
    t.add(resp(200, "OPTIONS", branch="z9hG4bK-o", ttag="x"), 1.0, reverse=True)
    t.add(req("OPTIONS", branch="z9hG4bK-o"), 1.0)
    (txn,) = correlate(t.messages).transactions
    assert txn.id == 0 and txn.request == 1 and not txn.orphan_response


def test_request_without_final_response() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(100, branch="z9hG4bK-inv"), 0.1, reverse=True)
    (txn,) = correlate(t.messages).transactions
    assert txn.no_final and txn.final is None and txn.first_provisional_ts_ns == 100_000_000


def test_same_request_at_two_hops_is_two_linked_transactions() -> None:
    t = Trace()
    t.add(INVITE, 0.0, src="10.0.0.1:5060", dst="10.0.0.9:5060")
    t.add(
        req("INVITE", branch="z9hG4bK-hop2", via="10.0.0.9:5060"),
        0.01,
        src="10.0.0.9:5060",
        dst="10.0.0.2:5060",
    )
    t.add(
        resp(200, branch="z9hG4bK-hop2", via="10.0.0.9:5060", ttag="callee"),
        1.0,
        src="10.0.0.2:5060",
        dst="10.0.0.9:5060",
    )
    t.add(
        resp(200, branch="z9hG4bK-inv", ttag="callee"),
        1.01,
        src="10.0.0.9:5060",
        dst="10.0.0.1:5060",
    )
    corr = correlate(t.messages)
    hop1, hop2 = corr.transactions
    assert (hop1.id, hop2.id) == (0, 1)
    assert hop1.linked == (1,) and hop2.linked == (0,)
    assert hop1.messages == (0, 3) and hop2.messages == (1, 2)


def test_same_branch_from_two_clients_is_two_transactions() -> None:
    # RFC 3261 §17.2.3 keys on sent-by too: a colliding branch from another
    # client is another transaction.
    t = Trace()
    t.add(req("OPTIONS", branch="z9hG4bK1", ftag="a"), 0.0, src="10.0.0.1:5060")
    t.add(
        req("OPTIONS", branch="z9hG4bK1", ftag="b", via="10.0.0.3:5060"),
        0.1,
        src="10.0.0.3:5060",
    )
    t.add(
        resp(200, "OPTIONS", branch="z9hG4bK1", ftag="b", via="10.0.0.3:5060", ttag="s"),
        0.2,
        src="10.0.0.2:5060",
        dst="10.0.0.3:5060",
    )
    t.add(
        resp(200, "OPTIONS", branch="z9hG4bK1", ftag="a", ttag="s"),
        0.3,
        src="10.0.0.2:5060",
        dst="10.0.0.1:5060",
    )
    corr = correlate(t.messages)
    a, b = corr.transactions
    assert a.messages == (0, 3) and b.messages == (1, 2)
    assert a.request_retransmissions == () and b.request_retransmissions == ()


def test_rfc2543_matching_without_magic_cookie() -> None:
    t = Trace()
    t.add(req("INVITE", branch="1234"), 0.0)
    t.add(req("INVITE", branch="1234"), 0.5)
    t.add(resp(180, branch="1234", ttag="callee"), 0.6, reverse=True)
    t.add(resp(486, branch="1234", ttag="callee"), 1.0, reverse=True)
    t.add(req("ACK", branch="1234", ttag="callee"), 1.1)
    t.add(req("BYE", branch=None, ttag="callee", cseq=2), 2.0)
    t.add(resp(200, "BYE", branch=None, ttag="callee", cseq=2), 2.1, reverse=True)
    corr = correlate(t.messages)
    inv, bye = corr.transactions
    assert inv.rfc2543 and bye.rfc2543
    assert inv.request_retransmissions == (1,)
    assert [r.status for r in inv.responses] == [180, 486]
    assert inv.ack == 4
    assert bye.messages == (5, 6) and bye.final_status == 200


def test_rfc2543_ack_after_2xx_is_its_own_transaction() -> None:
    t = Trace()
    t.add(req("INVITE", branch=None), 0.0)
    t.add(resp(200, branch=None, ttag="callee"), 1.0, reverse=True)
    t.add(req("ACK", branch=None, ttag="callee"), 1.1)
    inv, ack = correlate(t.messages).transactions
    assert inv.ack is None and ack.method == "ACK" and ack.rfc2543


def test_same_frame_numbers_from_two_captures_are_kept_apart() -> None:
    # Two captures merged by time: frame numbers repeat, message indices do not.
    a = Trace()
    a.add(req("OPTIONS", call="x", branch="z9hG4bK-x"), 0.0)
    a.add(resp(200, "OPTIONS", call="x", branch="z9hG4bK-x", ttag="s"), 0.1, reverse=True)
    b = Trace()
    b.add(req("OPTIONS", call="y", branch="z9hG4bK-y"), 0.05)
    b.add(resp(200, "OPTIONS", call="y", branch="z9hG4bK-y", ttag="s"), 0.15, reverse=True)
    merged = [a.messages[0], b.messages[0], a.messages[1], b.messages[1]]
    corr = correlate(merged)
    x, y = corr.transactions
    assert x.messages == (0, 2) and y.messages == (1, 3)
    assert x.frames == (1, 2) and y.frames == (1, 2)
    assert corr.message_transaction == (0, 1, 0, 1)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_record_constructor_builds_ordinary_records(cls: type[Any]) -> None:
    fields = [f.name for f in dataclasses.fields(cls)]
    values = [f"v{k}" for k in range(len(fields))]
    made = record_constructor(cls)(*values)
    plain = cls(*values)
    assert type(made) is cls
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert [getattr(made, f) for f in fields] == values
    assert not hasattr(made, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, fields[0], "other")
    assert pickle.loads(pickle.dumps(made)) == plain
    assert copy.deepcopy(made) == plain
    assert dataclasses.replace(made, **{fields[0]: "w"}) == dataclasses.replace(
        plain, **{fields[0]: "w"}
    )


def test_correlated_records_are_instances_of_their_classes() -> None:
    t = Trace()
    t.add(INVITE, 0.0)
    t.add(resp(200, branch="z9hG4bK-inv", ttag="callee"), 1.0, reverse=True)
    (txn,) = correlate(t.messages).transactions
    assert type(txn) is Transaction and type(txn.responses[0]) is TxnResponse
    assert txn == dataclasses.replace(txn) and hash(txn) == hash(dataclasses.replace(txn))
