"""build_report(): the document's structure, its numbers, and the limits it states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.errors import Diagnostic, Level
from analyzer.report import model
from analyzer.report.model import SCHEMA_VERSION, build_report, diagnostic_kind, render_json

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

TOP_KEYS = [
    "schema_version",
    "captures",
    "summary",
    "findings",
    "calls",
    "dialogs",
    "subscriptions",
    "registrations",
    "limits",
    "cuts",
]
SUMMARY_KEYS = {
    "first_time",
    "last_time",
    "duration_s",
    "packets",
    "sip_messages",
    "requests",
    "responses",
    "unparsed",
    "truncated_messages",
    "methods",
    "status_codes",
    "transports",
    "flows",
    "records",
    "call_outcomes",
    "findings",
    "diagnostics",
}
GROUP_KEYS = {"rule", "severity", "rfc", "summary", "count", "occurrences", "occurrences_omitted"}
OCCURRENCE_KEYS = {"frames", "messages", "message", "severity", "dialog", "call_id"}


def report_of(name: str) -> dict[str, object]:
    return build_report(analyze(SAMPLES / name))


def test_schema_version_and_key_structure() -> None:
    r = build_report(analyze(SAMPLES / "welcome-notice.pcap"))
    assert list(r) == TOP_KEYS
    assert r["schema_version"] == SCHEMA_VERSION == 1
    assert set(r["summary"]) == SUMMARY_KEYS
    for group in r["findings"]:
        assert set(group) == GROUP_KEYS
        for occ in group["occurrences"]:
            assert set(occ) == OCCURRENCE_KEYS
    for table in ("calls", "dialogs", "subscriptions", "registrations"):
        assert set(r[table]) == {"total", "shown", "rows"}
    # JSON-ready: plain types only, and it round-trips.
    assert json.loads(render_json(r)) == r


def test_basic_call_numbers() -> None:
    r = build_report(analyze(SAMPLES / "basic-call.pcap"))
    s = r["summary"]
    assert r["captures"] == [
        {
            "name": "basic-call.pcap",
            "packets": 7,
            "sip_messages": 7,
            "first_time": "2024-03-01T09:00:00.000000000Z",
            "last_time": "2024-03-01T09:00:31.902000000Z",
        }
    ]
    assert (s["packets"], s["sip_messages"], s["requests"], s["responses"]) == (7, 7, 3, 4)
    assert s["methods"] == {"ACK": 1, "BYE": 1, "INVITE": 1}
    assert s["status_codes"] == {"100": 1, "180": 1, "200": 2}
    assert s["duration_s"] == 31.902
    assert s["call_outcomes"] == {"answered": 1}
    assert s["findings"]["total"] == 0 and r["findings"] == []
    (call,) = r["calls"]["rows"]
    assert call["outcome"] == "answered"
    assert (call["ringing_delay_s"], call["setup_time_s"], call["duration_s"]) == (
        0.064,
        4.21,
        27.66,
    )
    assert call["hangup_by"] == "callee"
    (dialog,) = r["dialogs"]["rows"]
    assert [st["state"] for st in dialog["states"]] == ["early", "confirmed", "terminated"]
    assert dialog["end_cause"] == "BYE"


def test_welcome_notice_findings_grouped_by_rule() -> None:
    r = build_report(analyze(SAMPLES / "welcome-notice.pcap"))
    groups = {g["rule"]: g for g in r["findings"]}
    assert groups["HDR-4"]["count"] == 3
    assert [o["frames"] for o in groups["HDR-4"]["occurrences"]] == [[3], [7], [9]]
    # Errors first, then warnings, then info.
    ranks = [{"error": 0, "warning": 1, "info": 2}[g["severity"]] for g in r["findings"]]
    assert ranks == sorted(ranks)
    assert sum(g["count"] for g in r["findings"]) == r["summary"]["findings"]["total"]
    # Occurrences know their dialog (the subscription's) or have none (MESSAGE).
    dialogs = {o["dialog"] for o in groups["HDR-4"]["occurrences"]}
    assert dialogs == {r["dialogs"]["rows"][0]["dialog"], None}
    (sub,) = r["subscriptions"]["rows"]
    assert sub["event"] == "reg" and sub["notifies"] == 2
    (reg,) = r["registrations"]["rows"]
    assert reg["aor"] == "sip:joe@example.com"
    assert [e["event"] for e in reg["events"]] == ["registered"]


def test_options_select_rules() -> None:
    from analyzer.options import Options

    a = analyze(SAMPLES / "welcome-notice.pcap")
    r = build_report(a, Options(select=("HDR-*",)))
    assert {g["rule"] for g in r["findings"]} <= {"HDR-3b", "HDR-4", "HDR-7", "HDR-8"}
    assert (
        r["summary"]["findings"]["rules_run"] < build_report(a)["summary"]["findings"]["rules_run"]
    )


def test_occurrence_limit_is_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MAX_OCCURRENCES_PER_RULE", 1)
    r = build_report(analyze(SAMPLES / "welcome-notice.pcap"))
    hdr4 = next(g for g in r["findings"] if g["rule"] == "HDR-4")
    assert hdr4["count"] == 3 and len(hdr4["occurrences"]) == 1
    assert hdr4["occurrences_omitted"] == 2
    assert any("HDR-4" in c and "1 of 3" in c for c in r["cuts"])


def test_row_and_timeline_limits_are_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MAX_ROWS", 1)
    monkeypatch.setattr(model, "MAX_TIMELINE", 1)
    r = build_report(analyze(SAMPLES / "tcp-mixed.pcap"))
    assert r["dialogs"]["total"] == 2 and r["dialogs"]["shown"] == 1
    assert len(r["dialogs"]["rows"]) == 1
    assert any(c.startswith("dialogs: 1 of 2") for c in r["cuts"])
    assert any(c.startswith("subscriptions: 1 of 2") for c in r["cuts"])
    w = build_report(analyze(SAMPLES / "welcome-notice.pcap"))
    (sub,) = w["subscriptions"]["rows"]
    assert len(sub["notifications"]) == 1 and sub["notifications_omitted"] == 1
    assert any("notifications: 1 of 2" in c for c in w["cuts"])


def test_nothing_cut_says_so() -> None:
    assert report_of("basic-call.pcap")["cuts"] == []


@pytest.mark.parametrize(
    ("layer", "reason", "kind"),
    [
        ("tls", "TLS flow 10.0.0.1:5061 -> 10.0.0.2:443: encrypted, not decoded", "TLS flow"),
        (
            "sip-framing",
            "a -> b: dropped 10 bytes of an incomplete line, then 100 bytes missing (x)",
            "TCP gap",
        ),
        ("sip-framing", "a -> b: stream ended 3 bytes short of Content-Length (9)", "incomplete"),
        ("ip", "IPv4 datagram id 7 (a -> b) not reassembled, timeout: 10 bytes", "IP fragments"),
        (
            "capture",
            "capture ends mid-record at byte offset 900 after frame 9 (record needs 60 bytes, "
            "12 present)",
            "cut short",
        ),
        ("capture", "skipped 2 block(s) of unknown pcapng block type 0x00000bad", "damage"),
        (
            "sip-framing",
            "a -> b: dropped 10 bytes of an incomplete line, then 100 bytes missing (cut by the "
            "snapshot length)",
            "snapshot length",
        ),
        ("link", "something new", "other"),
    ],
)
def test_diagnostic_kinds(layer: str, reason: str, kind: str) -> None:
    assert kind in diagnostic_kind(Diagnostic(layer, (1,), reason))


def test_diagnostics_are_counted_by_layer_and_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MAX_DIAGNOSTIC_FRAMES", 2)
    diags = [
        Diagnostic("sip-framing", (4, 5), "a -> b: 10 bytes missing (not in the capture)"),
        Diagnostic("sip-framing", (9,), "c -> d: 3 bytes missing (not in the capture)"),
        Diagnostic("tls", (12,), "TLS flow x: encrypted, not decoded", Level.INFO),
    ]
    rows = model._diagnostics(diags)
    gap = next(d for d in rows if d["kind"] == "TCP gap")
    assert (gap["count"], gap["frames"], gap["frames_total"]) == (2, [4, 5], 3)
    assert gap["level"] == "warning"
    tls = next(d for d in rows if d["layer"] == "tls")
    assert (tls["count"], tls["level"]) == (1, "info")


def test_several_captures_name_the_capture_of_each_occurrence(tmp_path: Path) -> None:
    a = analyze([SAMPLES / "welcome-notice.pcap", SAMPLES / "basic-call.pcap"])
    r = build_report(a)
    assert [c["name"] for c in r["captures"]] == ["welcome-notice.pcap", "basic-call.pcap"]
    assert r["summary"]["packets"] == 17
    occs = [o for g in r["findings"] for o in g["occurrences"]]
    assert occs and all(o["capture"] == "welcome-notice.pcap" for o in occs)
