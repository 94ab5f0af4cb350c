"""Dialogs (RFC 3261 §12), calls and exchanges without dialogs."""

from __future__ import annotations

from typing import Any

import pytest

from analyzer.correlation import CallOutcome, Dialog, DialogState, Party, correlate
from tests.sipmsg import Trace, ep, req, resp

E, C, T = DialogState.EARLY, DialogState.CONFIRMED, DialogState.TERMINATED
UAC, PROXY, UA1, UA2 = "10.0.0.1:5060", "10.0.0.9:5060", "10.0.0.2:5060", "10.0.0.3:5060"


def _changes(d: Dialog) -> list[tuple[DialogState, int, str]]:
    return [(c.state, c.message, c.cause) for c in d.state_changes]


def basic_call(bye_from_callee: bool = False) -> Trace:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-i"), 0.0)  # 0
    t.add(resp(100, branch="z9hG4bK-i"), 0.01, reverse=True)  # 1
    t.add(resp(180, branch="z9hG4bK-i", ttag="bob"), 1.0, reverse=True)  # 2
    t.add(resp(200, branch="z9hG4bK-i", ttag="bob"), 4.0, reverse=True)  # 3
    t.add(req("ACK", branch="z9hG4bK-a", ttag="bob"), 4.1)  # 4
    if bye_from_callee:
        bye = req("BYE", branch="z9hG4bK-b", via=UA1, ftag="bob", ttag="caller", cseq=7)
        t.add(bye, 64.0, reverse=True)  # 5
        ok = resp(200, "BYE", branch="z9hG4bK-b", via=UA1, ftag="bob", ttag="caller", cseq=7)
        t.add(ok, 64.1)  # 6
    else:
        t.add(req("BYE", branch="z9hG4bK-b", ttag="bob", cseq=2), 64.0)  # 5
        t.add(resp(200, "BYE", branch="z9hG4bK-b", ttag="bob", cseq=2), 64.1, reverse=True)  # 6
    return t


def test_dialog_early_confirmed_terminated() -> None:
    corr = correlate(basic_call().messages)
    (d,) = corr.dialogs
    assert d.id == 2 and d.call_id == "call-1"
    assert (d.local_tag, d.remote_tag, d.method) == ("caller", "bob", "INVITE")
    assert _changes(d) == [(E, 2, "180"), (C, 3, "200"), (T, 5, "BYE")]
    assert [c.ts_ns for c in d.state_changes] == [1_000_000_000, 4_000_000_000, 64_000_000_000]
    assert d.state is T and d.terminated_ts_ns == 64_000_000_000
    assert d.creating_transactions == (0,) and d.transactions == (0, 4, 5)
    assert d.messages == (0, 1, 2, 3, 4, 5, 6) and d.frames == (1, 2, 3, 4, 5, 6, 7)
    assert not d.mid_dialog
    assert corr.message_dialog == (2,) * 7


def test_in_dialog_request_from_the_callee_matches_the_dialog() -> None:
    corr = correlate(basic_call(bye_from_callee=True).messages)
    (d,) = corr.dialogs
    assert d.transactions == (0, 4, 5) and _changes(d)[-1] == (T, 5, "BYE")


def test_forked_invite_two_early_dialogs_one_answered_one_cancelled() -> None:
    # Seen at a forking proxy: the caller's INVITE (hop 1) and the two
    # forwarded INVITEs (hops 2 and 3, one per callee).
    t = Trace()
    up: dict[str, Any] = {"branch": "z9hG4bK-up"}
    d1: dict[str, Any] = {"branch": "z9hG4bK-d1", "via": PROXY}
    d2: dict[str, Any] = {"branch": "z9hG4bK-d2", "via": PROXY}
    t.add(req("INVITE", **up), 0.0, src=UAC, dst=PROXY)  # 0
    t.add(req("INVITE", **d1), 0.01, src=PROXY, dst=UA1)  # 1
    t.add(req("INVITE", **d2), 0.01, src=PROXY, dst=UA2)  # 2
    t.add(resp(180, ttag="one", **d1), 0.5, src=UA1, dst=PROXY)  # 3
    t.add(resp(180, ttag="one", **up), 0.51, src=PROXY, dst=UAC)  # 4
    t.add(resp(180, ttag="two", **d2), 0.6, src=UA2, dst=PROXY)  # 5
    t.add(resp(180, ttag="two", **up), 0.61, src=PROXY, dst=UAC)  # 6
    t.add(resp(200, ttag="one", **d1), 3.0, src=UA1, dst=PROXY)  # 7
    t.add(resp(200, ttag="one", **up), 3.01, src=PROXY, dst=UAC)  # 8
    t.add(req("CANCEL", **d2), 3.02, src=PROXY, dst=UA2)  # 9
    t.add(resp(200, "CANCEL", ttag="two", **d2), 3.1, src=UA2, dst=PROXY)  # 10
    t.add(resp(487, ttag="two", **d2), 3.11, src=UA2, dst=PROXY)  # 11
    t.add(req("ACK", ttag="two", **d2), 3.12, src=PROXY, dst=UA2)  # 12
    t.add(req("ACK", ttag="one", branch="z9hG4bK-a"), 3.2, src=UAC, dst=PROXY)  # 13
    corr = correlate(t.messages)
    one, two = corr.dialogs
    assert (one.id, one.remote_tag, two.id, two.remote_tag) == (3, "one", 5, "two")
    assert _changes(one) == [(E, 3, "180"), (C, 7, "200")]
    assert _changes(two) == [(E, 5, "180"), (T, 11, "487")]
    assert one.creating_transactions == (0, 1) and two.creating_transactions == (0, 2)
    # The fork's responses stay out of the other dialog.
    assert 5 not in one.messages and 6 not in one.messages and 4 not in two.messages
    assert 9 in two.messages and 13 in one.messages
    cancel = corr.transaction(9)
    assert cancel is not None and cancel.cancels == 2
    invites = [corr.transaction(i) for i in (0, 1, 2)]
    assert [x.linked for x in invites if x is not None] == [(1, 2), (0, 2), (0, 1)]
    # The caller's INVITE belongs to both dialogs; the lookup names the answered one.
    assert corr.message_dialog[0] == 3
    (call,) = corr.calls
    assert call.attempts == (0, 1, 2) and call.transaction == 0
    assert call.dialogs == (3, 5) and call.answered_dialog == 3
    assert call.outcome is CallOutcome.UNFINISHED


def test_uac_cancel_ends_all_early_dialogs() -> None:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-i"), 0.0)
    t.add(resp(180, branch="z9hG4bK-i", ttag="a"), 0.5, reverse=True)
    t.add(resp(180, branch="z9hG4bK-i", ttag="b"), 0.6, reverse=True)
    t.add(req("CANCEL", branch="z9hG4bK-i"), 5.0)
    t.add(resp(200, "CANCEL", branch="z9hG4bK-i", ttag="a"), 5.1, reverse=True)
    t.add(resp(487, branch="z9hG4bK-i", ttag="a"), 5.2, reverse=True)
    t.add(req("ACK", branch="z9hG4bK-i", ttag="a"), 5.3)
    corr = correlate(t.messages)
    a, b = corr.dialogs
    assert _changes(a) == [(E, 1, "180"), (T, 5, "487")]
    assert _changes(b) == [(E, 2, "180"), (T, 5, "487")]
    (call,) = corr.calls
    assert call.outcome is CallOutcome.CANCELLED and call.final_status == 487
    assert call.dialogs == (1, 2) and call.answered_dialog is None


def test_cancel_without_final_response_ends_early_dialog_at_its_2xx() -> None:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-i"), 0.0)
    t.add(resp(180, branch="z9hG4bK-i", ttag="a"), 0.5, reverse=True)
    t.add(req("CANCEL", branch="z9hG4bK-i"), 5.0)
    t.add(resp(200, "CANCEL", branch="z9hG4bK-i", ttag="a"), 5.1, reverse=True)
    corr = correlate(t.messages)
    (d,) = corr.dialogs
    assert _changes(d) == [(E, 1, "180"), (T, 3, "CANCEL")]
    assert d.transactions == (0, 2)
    assert corr.calls[0].outcome is CallOutcome.CANCELLED


def test_capture_starting_mid_dialog() -> None:
    t = Trace()
    t.add(req("BYE", branch="z9hG4bK-b", ttag="bob", cseq=2), 0.0)
    t.add(resp(200, "BYE", branch="z9hG4bK-b", ttag="bob", cseq=2), 0.1, reverse=True)
    corr = correlate(t.messages)
    (d,) = corr.dialogs
    assert d.mid_dialog and d.id == 0 and d.method == "BYE"
    assert _changes(d) == [(C, 0, "mid-dialog"), (T, 0, "BYE")]
    assert [n.code for n in corr.notes] == ["mid-dialog"]
    assert corr.calls == ()


def test_2xx_without_invite_creates_a_mid_capture_dialog() -> None:
    t = Trace()
    t.add(resp(200, branch="z9hG4bK-i", ttag="bob"), 0.0, reverse=True)
    t.add(req("ACK", branch="z9hG4bK-a", ttag="bob"), 0.1)
    corr = correlate(t.messages)
    (d,) = corr.dialogs
    assert d.mid_dialog and _changes(d) == [(C, 0, "200")]
    assert d.transactions == (0, 1)
    (call,) = corr.calls
    assert call.outcome is CallOutcome.UNFINISHED
    assert call.caller == ep(UAC) and call.callee == ep(UA1) and call.request_uri is None


def test_non_2xx_final_ends_early_dialog() -> None:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-i"), 0.0)
    t.add(resp(180, branch="z9hG4bK-i", ttag="bob"), 0.5, reverse=True)
    t.add(resp(486, branch="z9hG4bK-i", ttag="bob"), 2.0, reverse=True)
    t.add(req("ACK", branch="z9hG4bK-i", ttag="bob"), 2.1)
    corr = correlate(t.messages)
    (d,) = corr.dialogs
    assert _changes(d) == [(E, 1, "180"), (T, 2, "486")]
    assert 3 in d.messages


def test_481_ends_the_dialog() -> None:
    t = basic_call()
    msgs = t.messages[:5]
    t2 = Trace(start_frame=6)
    t2.add(req("INFO", branch="z9hG4bK-n", ttag="bob", cseq=2), 10.0)
    t2.add(resp(481, "INFO", branch="z9hG4bK-n", ttag="bob", cseq=2), 10.1, reverse=True)
    corr = correlate(msgs + t2.messages)
    (d,) = corr.dialogs
    assert _changes(d)[-1] == (T, 6, "481")


def test_reinvite_stays_in_the_dialog() -> None:
    t = basic_call()
    msgs = t.messages[:5]
    t2 = Trace(start_frame=6)
    t2.add(req("INVITE", branch="z9hG4bK-re", ttag="bob", cseq=2), 10.0)
    t2.add(resp(200, branch="z9hG4bK-re", ttag="bob", cseq=2), 10.1, reverse=True)
    corr = correlate(msgs + t2.messages)
    (d,) = corr.dialogs
    assert d.transactions == (0, 4, 5) and d.state is C
    assert len(corr.calls) == 1


def test_message_creates_no_dialog() -> None:
    t = Trace()
    t.add(req("MESSAGE", branch="z9hG4bK-m", body="hello"), 0.0)
    t.add(resp(200, "MESSAGE", branch="z9hG4bK-m", ttag="bob"), 0.1, reverse=True)
    t.add(req("MESSAGE", branch="z9hG4bK-m2", cseq=2, body="again"), 1.0)
    t.add(resp(202, "MESSAGE", branch="z9hG4bK-m2", ttag="bob", cseq=2), 1.1, reverse=True)
    corr = correlate(t.messages)
    assert corr.dialogs == () and corr.calls == () and corr.subscriptions == ()
    assert corr.message_dialog == (None,) * 4
    (ex,) = corr.exchanges
    assert ex.id == 0 and ex.methods == ("MESSAGE",) and ex.transactions == (0, 2)
    assert ex.messages == (0, 1, 2, 3) and ex.frames == (1, 2, 3, 4)


def test_message_with_a_to_tag_outside_any_dialog_creates_none() -> None:
    t = Trace()
    t.add(req("MESSAGE", branch="z9hG4bK-m", ttag="bob"), 0.0)
    corr = correlate(t.messages)
    assert corr.dialogs == () and len(corr.exchanges) == 1


def test_message_inside_an_invite_dialog_belongs_to_it() -> None:
    t = basic_call()
    msgs = t.messages[:5]
    t2 = Trace(start_frame=6)
    t2.add(req("MESSAGE", branch="z9hG4bK-m", ttag="bob", cseq=2), 10.0)
    corr = correlate(msgs + t2.messages)
    (d,) = corr.dialogs
    assert 5 in d.transactions and corr.exchanges == ()


def test_register_creates_no_dialog() -> None:
    t = Trace()
    t.add(req("REGISTER", branch="z9hG4bK-r", to_uri="sip:alice@example.com"), 0.0)
    t.add(resp(200, "REGISTER", branch="z9hG4bK-r", ttag="reg"), 0.1, reverse=True)
    corr = correlate(t.messages)
    assert corr.dialogs == () and corr.exchanges == () and len(corr.registrations) == 1


# -- calls -------------------------------------------------------------------


@pytest.mark.parametrize(("bye_from_callee", "who"), [(False, Party.CALLER), (True, Party.CALLEE)])
def test_answered_call_duration_and_who_hung_up(bye_from_callee: bool, who: Party) -> None:
    corr = correlate(basic_call(bye_from_callee).messages)
    (call,) = corr.calls
    assert call.id == 0 and call.outcome is CallOutcome.ANSWERED and call.final_status == 200
    assert call.hangup_by is who and call.bye == 5
    assert call.ringing_delay_ns == 1_000_000_000
    assert call.answer_delay_ns == 4_000_000_000 and call.answer_ts_ns == 4_000_000_000
    assert call.duration_ns == 60_000_000_000 and call.end_ts_ns == 64_000_000_000
    assert call.caller_uri == "sip:alice@example.com" and call.callee_uri == "sip:bob@example.com"
    assert call.request_uri == "sip:bob@example.com"
    assert call.caller == ep("10.0.0.1:5060") and call.callee == ep("10.0.0.2:5060")
    assert call.answered_dialog == 2 and call.dialogs == (2,)
    assert call.messages == tuple(range(7)) and call.frames == tuple(range(1, 8))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (486, CallOutcome.BUSY),
        (600, CallOutcome.BUSY),
        (487, CallOutcome.CANCELLED),
        (603, CallOutcome.REJECTED),
        (404, CallOutcome.REJECTED),
        (302, CallOutcome.REJECTED),
        (503, CallOutcome.FAILED),
        (408, CallOutcome.FAILED),
    ],
)
def test_unanswered_call_outcomes(status: int, outcome: CallOutcome) -> None:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-i"), 0.0)
    t.add(resp(status, branch="z9hG4bK-i", ttag="bob"), 2.0, reverse=True)
    t.add(req("ACK", branch="z9hG4bK-i", ttag="bob"), 2.1)
    (call,) = correlate(t.messages).calls
    assert call.outcome is outcome and call.final_status == status
    assert call.end_ts_ns == 2_000_000_000 and call.duration_ns is None
    assert call.hangup_by is None and call.answered_dialog is None


def test_unfinished_and_no_final_calls() -> None:
    t = basic_call()
    (call,) = correlate(t.messages[:5]).calls
    assert call.outcome is CallOutcome.UNFINISHED and call.duration_ns is None
    assert call.end_ts_ns is None and call.answer_delay_ns == 4_000_000_000
    (call,) = correlate(t.messages[:3]).calls
    assert call.outcome is CallOutcome.NO_FINAL and call.final_status is None


def test_call_challenged_then_answered_is_one_call() -> None:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-1"), 0.0)
    t.add(resp(407, branch="z9hG4bK-1", ttag="p"), 0.1, reverse=True)
    t.add(req("ACK", branch="z9hG4bK-1", ttag="p"), 0.2)
    t.add(req("INVITE", branch="z9hG4bK-2", cseq=2), 0.3)
    t.add(resp(180, branch="z9hG4bK-2", cseq=2, ttag="bob"), 1.0, reverse=True)
    t.add(resp(200, branch="z9hG4bK-2", cseq=2, ttag="bob"), 2.0, reverse=True)
    corr = correlate(t.messages)
    (call,) = corr.calls
    assert call.attempts == (0, 3) and call.transaction == 3
    assert call.outcome is CallOutcome.UNFINISHED and call.final_status == 200
    # Setup time counts from the first INVITE, challenge included.
    assert call.invite_ts_ns == 0 and call.answer_delay_ns == 2_000_000_000
    assert call.ringing_delay_ns == 1_000_000_000


def test_challenged_call_never_retried_is_rejected() -> None:
    t = Trace()
    t.add(req("INVITE", branch="z9hG4bK-1"), 0.0)
    t.add(resp(401, branch="z9hG4bK-1", ttag="p"), 0.1, reverse=True)
    (call,) = correlate(t.messages).calls
    assert call.outcome is CallOutcome.REJECTED and call.final_status == 401
