"""DataFrame builders over correlation records: columns, dtypes, joins."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from analyzer.correlation import Correlation, correlate
from analyzer.render import tables
from analyzer.render.frames import messages_frame
from analyzer.sip.message import SipMessage
from tests.correlation.test_correlate import mixed_capture


@pytest.fixture(scope="module")
def capture() -> tuple[list[SipMessage], Correlation]:
    msgs = mixed_capture()
    return msgs, correlate(msgs)


BUILDERS: list[tuple[str, Callable[..., pd.DataFrame], dict[str, str], str | None]] = [
    ("transactions", tables.transactions_frame, tables.TRANSACTION_DTYPES, "transaction_id"),
    ("dialogs", tables.dialogs_frame, tables.DIALOG_DTYPES, "dialog_id"),
    ("calls", tables.calls_frame, tables.CALL_DTYPES, "call"),
    ("subscriptions", tables.subscriptions_frame, tables.SUBSCRIPTION_DTYPES, "subscription_id"),
    (
        "subscription events",
        tables.subscription_events_frame,
        tables.SUBSCRIPTION_EVENT_DTYPES,
        None,
    ),
    ("notifications", tables.notifications_frame, tables.NOTIFICATION_DTYPES, "message"),
    ("reginfo", tables.reginfo_frame, tables.REGINFO_DTYPES, "document"),
    ("reginfo contacts", tables.reginfo_contacts_frame, tables.REGINFO_CONTACT_DTYPES, None),
    ("registrations", tables.registrations_frame, tables.REGISTRATION_DTYPES, "registration"),
    (
        "register attempts",
        tables.register_attempts_frame,
        tables.REGISTER_ATTEMPT_DTYPES,
        "transaction_id",
    ),
    ("binding events", tables.binding_events_frame, tables.BINDING_EVENT_DTYPES, None),
]


@pytest.mark.parametrize(
    ("name", "build", "dtypes", "index"), BUILDERS, ids=[b[0] for b in BUILDERS]
)
def test_columns_and_dtypes(
    capture: tuple[list[SipMessage], Correlation],
    name: str,
    build: Callable[..., pd.DataFrame],
    dtypes: dict[str, str],
    index: str | None,
) -> None:
    _, corr = capture
    df = build(corr)
    assert len(df) > 0, name
    assert list(df.columns) == list(dtypes)
    for column, dtype in dtypes.items():
        got = str(df[column].dtype)
        if dtype == "string":
            assert got.startswith("str"), (column, got)
        else:
            assert got == dtype, (column, got)
    assert df.index.name == index
    assert str(df.index.dtype) == "int64"


@pytest.mark.parametrize(
    ("name", "build", "dtypes", "index"), BUILDERS, ids=[b[0] for b in BUILDERS]
)
def test_empty_correlation(
    name: str, build: Callable[..., pd.DataFrame], dtypes: dict[str, str], index: str | None
) -> None:
    df = build(correlate([]))
    assert len(df) == 0 and list(df.columns) == list(dtypes)


def test_transaction_rows(capture: tuple[list[SipMessage], Correlation]) -> None:
    msgs, corr = capture
    df = tables.transactions_frame(corr, msgs)
    assert list(df.index) == [t.id for t in corr.transactions]
    invite = df.loc[corr.calls[0].transaction]
    assert invite["method"] == "INVITE" and invite["final_status"] == 200
    assert invite["statuses"] == [100, 180, 200]
    assert invite["client"] == "10.0.0.1:5060" and invite["transport"] == "udp"
    request = corr.transaction(corr.calls[0].transaction)
    assert request is not None and request.request is not None
    assert invite["request"] == request.request
    assert invite["request_time"] == pd.Timestamp(
        msgs[request.request].origin.ts_ns, unit="ns", tz="UTC"
    )
    assert invite["response_time"] == pd.Timedelta(4, unit="s")
    orphan = df[df["orphan_response"]]
    assert len(orphan) == 1 and pd.isna(orphan["request"].iloc[0])
    assert pd.isna(orphan["request_time"].iloc[0])
    # Without the messages the endpoint columns are empty.
    assert tables.transactions_frame(corr)["client"].isna().all()


def test_call_and_dialog_rows(capture: tuple[list[SipMessage], Correlation]) -> None:
    _, corr = capture
    calls = tables.calls_frame(corr)
    assert set(calls["outcome"]) == {"answered"}
    assert set(calls["hangup_by"]) == {"caller", "callee"}
    assert (calls["duration"] == pd.Timedelta(60, unit="s")).all()
    dialogs = tables.dialogs_frame(corr)
    joined = dialogs.join(calls[["outcome"]], on="call")
    invite_dialogs = joined[joined["method"] == "INVITE"]
    assert (invite_dialogs["outcome"] == "answered").all()
    assert set(dialogs["state"]) <= {"early", "confirmed", "terminated"}


def test_message_links_join_onto_messages(capture: tuple[list[SipMessage], Correlation]) -> None:
    msgs, corr = capture
    links = tables.message_links_frame(corr)
    assert list(links.columns) == list(tables.MESSAGE_LINK_DTYPES)
    assert all(str(links[c].dtype) == "Int64" for c in links.columns)
    assert links.index.name == "message" and len(links) == len(msgs)
    joined = messages_frame(msgs).join(links)
    assert len(joined) == len(msgs)
    assert joined["transaction_id"].notna().all()
    tx = tables.transactions_frame(corr, msgs)
    per_msg = joined.join(
        tx[["method"]].rename(columns={"method": "txn_method"}), on="transaction_id"
    )
    requests = per_msg[per_msg["kind"] == "request"]
    # A request belongs to a transaction of its method, except a non-2xx ACK.
    assert ((requests["method"] == requests["txn_method"]) | (requests["method"] == "ACK")).all()
    subs = joined[joined["subscription_id"].notna()]
    assert set(subs["method"]) <= {"SUBSCRIBE", "NOTIFY"}
