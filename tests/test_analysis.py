"""analyze(): the sample flows give the structures their documents describe."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analyzer.analysis import analyze
from analyzer.cli import main
from tests.builders import pcap_bytes
from tests.packets import read_capture

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_basic_call() -> None:
    a = analyze(SAMPLES / "basic-call.pcap")
    (call,) = a.correlation.calls
    assert call.outcome.value == "answered" and call.hangup_by is not None
    assert call.hangup_by.value == "callee"
    row = a.calls.iloc[0]
    assert row["duration"] == pd.Timedelta(milliseconds=27660)
    assert row["ringing_delay"] == pd.Timedelta(milliseconds=64)
    assert row["answer_delay"] == pd.Timedelta(milliseconds=4210)
    assert a.dialogs.iloc[0]["state"] == "terminated"


def test_welcome_notice_subscription_reginfo_and_registration() -> None:
    """RFC 3680 §6 as corrected: the application server subscribes to Joe's
    registrations, gets a full document (version 0, no contacts), Joe
    registers, a partial document (version 1) adds his contact, and the
    server sends a MESSAGE outside any dialog."""
    a = analyze(SAMPLES / "welcome-notice-corrected.pcap")
    (sub,) = a.correlation.subscriptions
    assert sub.event_package == "reg" and sub.state is not None and sub.state.value == "active"
    assert (sub.requests[0].expires, sub.requests[0].granted_expires) == (3761, 3600)
    assert [n.expires for n in sub.notifications] == [3600, 3585]
    assert a.reginfo[["version", "state"]].values.tolist() == [[0, "full"], [1, "partial"]]
    (aor,) = a.correlation.reginfo_aors
    assert aor.aor == "sip:joe@example.com"
    assert [
        (h.version, h.state, [(c.id, c.state, c.event) for c in h.contacts]) for h in aor.history
    ] == [
        (0, "init", []),
        (1, "active", [("76", "active", "registered")]),
    ]
    (reg,) = a.correlation.registrations
    assert reg.aor == "sip:joe@example.com"
    assert a.registrations.iloc[0]["last_outcome"] == "registered"
    (exchange,) = a.correlation.exchanges
    assert exchange.methods == ("MESSAGE",)
    # Every message joins onto its transaction; only the subscription's are in a dialog.
    m = a.messages
    assert m["transaction_id"].notna().all()
    assert m.loc[m["method"] == "MESSAGE", "dialog_id"].isna().all()
    assert set(m.loc[m["subscription_id"].notna(), "method"]) == {"SUBSCRIBE", "NOTIFY"}


def test_message_text() -> None:
    a = analyze(SAMPLES / "basic-call.pcap")
    assert a.message(0).startswith("INVITE sip:bob@biloxi.com SIP/2.0\r\n")


def test_split_captures_give_the_same_correlation(tmp_path: Path) -> None:
    """Rotated captures merged in time order correlate exactly like the whole."""
    records = list(read_capture(SAMPLES / "welcome-notice-corrected.pcap"))
    halves = [records[:4], records[4:]]
    paths = []
    for i, half in enumerate(halves):
        p = tmp_path / f"part{i}.pcap"
        p.write_bytes(pcap_bytes([(ts, data) for _, ts, _, data, _ in half]))
        paths.append(p)
    whole = analyze(SAMPLES / "welcome-notice-corrected.pcap")
    # Given in the wrong order on purpose: merging is by time.
    split = analyze([paths[1], paths[0]])
    assert split.message_sources == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert [m.raw for m in split.sip_messages] == [m.raw for m in whole.sip_messages]
    strip = ("frames", "capture")
    for name in ("transactions", "dialogs", "subscriptions", "registrations", "reginfo"):
        a, b = getattr(whole, name), getattr(split, name)
        keep = [c for c in a.columns if c not in strip]
        pd.testing.assert_frame_equal(a[keep], b[keep], check_dtype=True)


@pytest.mark.parametrize(
    ("command", "rows"),
    [("transactions", 5), ("dialogs", 1), ("subscriptions", 1), ("registrations", 1), ("calls", 0)],
)
def test_cli_tables(command: str, rows: int) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        [command, "--format", "jsonl", str(SAMPLES / "welcome-notice-corrected.pcap")],
        out=out,
        err=err,
    )
    assert status == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert len(lines) == rows
    for line in lines:
        assert isinstance(json.loads(line), dict)
    out = io.StringIO()
    assert main([command, str(SAMPLES / "basic-call.pcap")], out=out, err=err) == 0
    assert out.getvalue().strip()


@pytest.mark.parametrize("enabled", [True, False])
def test_frames_and_rules_run_with_the_collector_paused(
    monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """The DataFrames and the rules build records that form no cycles: the cyclic
    collector is paused while they are built, then left as it was."""
    import gc

    import analyzer.render.tables as tables
    import analyzer.rules as rules

    seen: dict[str, bool] = {}

    def spy(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen[name] = gc.isenabled()
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(
        tables, "transactions_frame", spy("transactions", tables.transactions_frame)
    )
    # Called by run_rules once it runs: what the rules see.
    monkeypatch.setattr(rules, "select_rules", spy("rules", rules.select_rules))
    a = analyze(SAMPLES / "basic-call.pcap")
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        else:
            gc.enable()
        assert len(a.transactions) == 3
        a.check()
        a.check(select=("CSEQ-*",))
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()
    assert seen == {"transactions": False, "rules": False}


def test_cli_commands_run_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import analyzer.render.tables as tables

    seen: list[bool] = []
    real = tables.transactions_frame

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(tables, "transactions_frame", spy)
    was = gc.isenabled()
    gc.enable()
    try:
        out, err = io.StringIO(), io.StringIO()
        status = main(["transactions", str(SAMPLES / "basic-call.pcap")], out=out, err=err)
        assert status == 0, err.getvalue()
        assert gc.isenabled()
        # Also when the command fails: the collector is given back.
        assert main(["transactions", str(SAMPLES / "no-such.pcap")], out=out, err=err) == 2
        assert gc.isenabled()
    finally:
        if not was:
            gc.disable()
    assert seen == [False]
