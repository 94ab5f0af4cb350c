"""Subscriptions (RFC 6665): lifecycle, timeline, forks, tolerant NOTIFY matching."""

from __future__ import annotations

from analyzer.correlation import DialogState, SubscribeKind, SubState, correlate
from tests.sipmsg import Trace, req, resp

A, P, TERM = SubState.ACTIVE, SubState.PENDING, SubState.TERMINATED
NOTIFIER = "10.0.0.2:5060"


def subscribe(
    branch: str, cseq: int, expires: int | None, ttag: str | None = None, event: str = "reg"
) -> str:
    headers = [f"Event: {event}", "Contact: <sip:app@10.0.0.1>"]
    if expires is not None:
        headers.append(f"Expires: {expires}")
    return req("SUBSCRIBE", branch=branch, cseq=cseq, ttag=ttag, headers=headers)


def sub_ok(branch: str, cseq: int, expires: int, status: int = 200, ttag: str = "ntf") -> str:
    return resp(
        status, "SUBSCRIBE", branch=branch, cseq=cseq, ttag=ttag, headers=[f"Expires: {expires}"]
    )


def notify(
    branch: str,
    cseq: int,
    state: str,
    ftag: str = "ntf",
    event: str | None = "reg",
    body: str = "",
    ctype: str | None = None,
) -> str:
    headers = [f"Subscription-State: {state}"]
    if event is not None:
        headers.append(f"Event: {event}")
    if ctype is not None:
        headers.append(f"Content-Type: {ctype}")
    return req(
        "NOTIFY",
        branch=branch,
        cseq=cseq,
        ftag=ftag,
        ttag="caller",
        via=NOTIFIER,
        uri="sip:app@10.0.0.1",
        body=body,
        headers=headers,
    )


def notify_ok(branch: str, cseq: int, ftag: str = "ntf", status: int = 200) -> str:
    return resp(status, "NOTIFY", branch=branch, cseq=cseq, ftag=ftag, ttag="caller", via=NOTIFIER)


def lifecycle() -> Trace:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 600), 0.0)  # 0
    t.add(sub_ok("z9hG4bK-s1", 1, 600), 0.1, reverse=True)  # 1
    t.add(notify("z9hG4bK-n1", 10, "active;expires=599"), 0.2, reverse=True)  # 2
    t.add(notify_ok("z9hG4bK-n1", 10), 0.3)  # 3
    t.add(subscribe("z9hG4bK-s2", 2, 600, ttag="ntf"), 300.0)  # 4  refresh
    t.add(sub_ok("z9hG4bK-s2", 2, 600), 300.1, reverse=True)  # 5
    t.add(notify("z9hG4bK-n2", 11, "active;expires=600"), 300.2, reverse=True)  # 6
    t.add(notify_ok("z9hG4bK-n2", 11), 300.3)  # 7
    t.add(subscribe("z9hG4bK-s3", 3, 0, ttag="ntf"), 500.0)  # 8  unsubscribe
    t.add(sub_ok("z9hG4bK-s3", 3, 0), 500.1, reverse=True)  # 9
    t.add(notify("z9hG4bK-n3", 12, "terminated;reason=timeout"), 500.2, reverse=True)  # 10
    t.add(notify_ok("z9hG4bK-n3", 12), 500.3)  # 11
    return t


def test_full_lifecycle_with_timeline() -> None:
    corr = correlate(lifecycle().messages)
    (s,) = corr.subscriptions
    (d,) = corr.dialogs
    assert s.id == 0 and s.dialog == d.id == 1
    assert (s.event_package, s.event_id, s.subscriber_tag, s.notifier_tag) == (
        "reg",
        None,
        "caller",
        "ntf",
    )
    assert [
        (r.kind, r.message, r.expires, r.final_status, r.granted_expires) for r in s.requests
    ] == [
        (SubscribeKind.INITIAL, 0, 600, 200, 600),
        (SubscribeKind.REFRESH, 4, 600, 200, 600),
        (SubscribeKind.UNSUBSCRIBE, 8, 0, 200, 0),
    ]
    assert [(n.message, n.state, n.expires, n.reason, n.final_status) for n in s.notifications] == [
        (2, "active", 599, None, 200),
        (6, "active", 600, None, 200),
        (10, "terminated", None, "timeout", 200),
    ]
    assert s.notifications[0].event == "reg"
    assert s.notifications[0].subscription_state == "active;expires=599"
    assert [(e.ts_ns, e.state, e.message, e.cause) for e in s.timeline] == [
        (200_000_000, A, 2, "NOTIFY"),
        (500_200_000_000, TERM, 10, "NOTIFY"),
    ]
    assert s.state is TERM and s.expires_at_ns is None and not s.mid_dialog
    assert s.transactions == (0, 2, 4, 6, 8, 10) and s.messages == tuple(range(12))
    # The dialog ends with its only subscription.
    assert [(c.state, c.message, c.cause) for c in d.state_changes] == [
        (DialogState.CONFIRMED, 1, "200"),
        (DialogState.TERMINATED, 10, "subscription terminated"),
    ]


def test_expiry_by_time_between_notifications() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 60), 0.0)
    t.add(sub_ok("z9hG4bK-s1", 1, 60), 0.1, reverse=True)
    t.add(notify("z9hG4bK-n1", 1, "active;expires=60"), 0.2, reverse=True)
    t.add(notify("z9hG4bK-n2", 2, "active;expires=60"), 200.0, reverse=True)
    (s,) = correlate(t.messages).subscriptions
    assert [(e.ts_ns, e.state, e.message, e.cause) for e in s.timeline] == [
        (200_000_000, A, 2, "NOTIFY"),
        (60_200_000_000, TERM, None, "expired"),
        (200_000_000_000, A, 3, "NOTIFY"),
    ]
    assert s.state is A and s.expires_at_ns == 260_000_000_000


def test_expiry_by_time_before_the_capture_ends() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 60), 0.0)
    t.add(sub_ok("z9hG4bK-s1", 1, 60), 0.1, reverse=True)
    t.add(notify("z9hG4bK-n1", 1, "pending;expires=60"), 0.2, reverse=True)
    # Another conversation keeps the capture going past the expiry.
    t.add(req("OPTIONS", call="other", branch="z9hG4bK-o"), 100.0)
    (s,) = correlate(t.messages).subscriptions
    assert [(e.state, e.cause) for e in s.timeline] == [(P, "NOTIFY"), (TERM, "expired")]
    assert s.timeline[-1].ts_ns == 60_200_000_000 and s.timeline[-1].message is None
    assert s.state is TERM and s.expires_at_ns is None
    # ...but not when the capture ends first.
    (s,) = correlate(t.messages[:3]).subscriptions
    assert s.state is P and s.expires_at_ns == 60_200_000_000


def test_notify_before_the_2xx_creates_the_dialog() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 600), 0.0)
    t.add(notify("z9hG4bK-n1", 1, "active;expires=600"), 0.1, reverse=True)
    t.add(sub_ok("z9hG4bK-s1", 1, 600), 0.2, reverse=True)
    corr = correlate(t.messages)
    (d,) = corr.dialogs
    (s,) = corr.subscriptions
    assert d.id == 1 and d.method == "SUBSCRIBE" and not d.mid_dialog
    assert [(c.state, c.cause) for c in d.state_changes] == [(DialogState.CONFIRMED, "NOTIFY")]
    assert d.creating_transactions == (0,)
    assert s.dialog == 1 and s.requests[0].granted_expires == 600
    assert corr.message_dialog == (1, 1, 1)


def test_forked_subscription() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 600), 0.0)
    t.add(sub_ok("z9hG4bK-s1", 1, 600, ttag="n1"), 0.1, reverse=True)
    t.add(notify("z9hG4bK-a", 1, "active;expires=600", ftag="n1"), 0.2, reverse=True)
    t.add(
        notify("z9hG4bK-b", 1, "active;expires=600", ftag="n2"),
        0.3,
        reverse=True,
        src="10.0.0.3:5060",
    )
    corr = correlate(t.messages)
    first, fork = corr.subscriptions
    assert first.id == 0 and first.notifier_tag == "n1" and first.forked_from is None
    assert fork.id == 3 and fork.notifier_tag == "n2" and fork.forked_from == 0
    assert fork.requests == first.requests[:1]
    assert first.dialog != fork.dialog and len(corr.dialogs) == 2


def test_rejected_subscribe() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 600, event="nosuch"), 0.0)
    t.add(resp(489, "SUBSCRIBE", branch="z9hG4bK-s1", ttag="x"), 0.1, reverse=True)
    (s,) = correlate(t.messages).subscriptions
    assert s.dialog is None and s.event_package == "nosuch"
    assert [(e.state, e.message, e.cause) for e in s.timeline] == [(TERM, 1, "rejected 489")]
    assert s.requests[0].final_status == 489 and s.requests[0].granted_expires is None


def test_481_to_notify_ends_the_subscription() -> None:
    t = Trace()
    t.add(notify("z9hG4bK-n1", 1, "active;expires=600"), 0.0, reverse=True)
    t.add(notify_ok("z9hG4bK-n1", 1, status=481), 0.1)
    corr = correlate(t.messages)
    (s,) = corr.subscriptions
    assert s.mid_dialog and s.requests == ()
    assert [(e.state, e.cause) for e in s.timeline] == [(A, "NOTIFY"), (TERM, "NOTIFY 481")]
    (d,) = corr.dialogs
    assert d.state is DialogState.TERMINATED


def test_notify_with_other_event_joins_the_dialogs_subscription() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 600), 0.0)
    t.add(sub_ok("z9hG4bK-s1", 1, 600), 0.1, reverse=True)
    t.add(notify("z9hG4bK-n1", 1, "active;expires=600", event="presence"), 0.2, reverse=True)
    t.add(notify("z9hG4bK-n2", 2, "active;expires=600", event=None), 0.3, reverse=True)
    (s,) = correlate(t.messages).subscriptions
    assert [n.event for n in s.notifications] == ["presence", None]
    assert s.event_package == "reg"


def test_subscription_state_values_are_kept_as_seen() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, None), 0.0)
    t.add(notify("z9hG4bK-n1", 1, "Active;expires=abc"), 0.1, reverse=True)
    corr = correlate(t.messages)
    (s,) = corr.subscriptions
    (n,) = s.notifications
    assert n.subscription_state == "Active;expires=abc" and n.state is None
    assert s.requests[0].expires is None and s.requests[0].expires_raw is None
    assert [x.code for x in corr.notes] == ["unreadable-value"]


def test_repeated_values_read_the_same_every_time() -> None:
    # Event and Subscription-State parses are remembered by value: a value
    # seen again, readable or not, gives the same fields and the same note.
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 600, event="dialog;id=9"), 0.0)
    t.add(sub_ok("z9hG4bK-s1", 1, 600), 0.1, reverse=True)
    for k in range(2):
        t.add(notify(f"z9hG4bK-a{k}", 1 + k, "Active;expires=abc"), 0.2 + k, reverse=True)
    for k in range(2):
        t.add(notify(f"z9hG4bK-b{k}", 3 + k, "pending;expires=60"), 2.2 + k, reverse=True)
    for _ in range(2):
        corr = correlate(t.messages)
        (s,) = corr.subscriptions
        assert (s.event_package, s.event_id) == ("dialog", "9")
        assert [(n.state, n.expires) for n in s.notifications] == [
            (None, None),
            (None, None),
            ("pending", 60),
            ("pending", 60),
        ]
        assert [(x.code, x.messages) for x in corr.notes] == [
            ("unreadable-value", (2,)),
            ("unreadable-value", (3,)),
        ]


def test_refresh_with_another_event_id_is_a_new_subscription() -> None:
    t = Trace()
    t.add(subscribe("z9hG4bK-s1", 1, 600, event="dialog;id=1"), 0.0)
    t.add(sub_ok("z9hG4bK-s1", 1, 600), 0.1, reverse=True)
    t.add(subscribe("z9hG4bK-s2", 2, 600, ttag="ntf", event="dialog;id=2"), 1.0)
    first, second = correlate(t.messages).subscriptions
    assert (first.event_id, second.event_id) == ("1", "2")
    assert second.dialog == first.dialog and second.requests[0].kind is SubscribeKind.INITIAL


def test_refer_creates_an_implicit_subscription() -> None:
    t = Trace()
    t.add(req("REFER", branch="z9hG4bK-r", cseq=5, headers=["Refer-To: <sip:carol@x>"]), 0.0)
    t.add(resp(202, "REFER", branch="z9hG4bK-r", cseq=5, ttag="ntf"), 0.1, reverse=True)
    t.add(notify("z9hG4bK-n1", 1, "active;expires=60", event="refer"), 0.2, reverse=True)
    corr = correlate(t.messages)
    (s,) = corr.subscriptions
    assert (s.event_package, s.event_id) == ("refer", "5")
    assert s.requests[0].kind is SubscribeKind.REFER and len(s.notifications) == 1
    assert corr.dialogs[0].method == "REFER"
