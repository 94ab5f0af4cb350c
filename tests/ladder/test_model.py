"""The ladder model: labels, participants, selections, marks and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.ladder import (
    EmptySelectionError,
    Ladder,
    build_ladder,
    message_label,
    parse_alias,
    parse_aliases,
    parse_time,
)
from analyzer.ladder.layout import row_note
from analyzer.ladder.model import MAX_LABEL_CHARS, MAX_LADDER_PARTICIPANTS
from analyzer.ladder.related import RELATED_WINDOW_NS, leg_graph
from analyzer.rules import Finding, Severity
from tests.ladder.flows import ALICE, BOB, PROXY, analysis_of, proxy_calls
from tests.sipmsg import Trace, msg, req, resp

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _labels(ladder: Ladder) -> list[str]:
    return [a.label for a in ladder.arrows]


# -- labels --------------------------------------------------------------------


def test_labels_of_basic_call() -> None:
    ladder = build_ladder(analyze(SAMPLES / "basic-call.pcap"))
    assert _labels(ladder) == [
        "INVITE (CSeq 314159)",
        "100 Trying",
        "180 Ringing",
        "200 OK",
        "ACK (CSeq 314159)",
        "BYE (CSeq 231)",
        "200 OK",
    ]
    assert [a.kind for a in ladder.arrows] == ["request"] + ["response"] * 3 + [
        "request",
        "request",
        "response",
    ]
    assert [a.frame for a in ladder.arrows] == [1, 2, 3, 4, 5, 6, 7]
    assert [a.index for a in ladder.arrows] == list(range(7))
    assert {a.transport for a in ladder.arrows} == {"udp"}
    assert {a.call_id for a in ladder.arrows} == {"a84b4c76e66710@pc33.atlanta.com"}
    assert ladder.title == "basic-call.pcap: all messages"
    assert ladder.findings == () and ladder.notes == ()


def test_label_names_a_cseq_method_that_differs() -> None:
    a = analyze(SAMPLES / "subscribe-tcp.pcap")
    assert message_label(a.sip_messages[2]) == "NOFITY (CSeq 1288 NOTIFY)"


def test_label_of_request_without_cseq_and_odd_reason() -> None:
    no_cseq = msg("OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\n")
    assert message_label(no_cseq) == "OPTIONS"
    odd = msg("SIP/2.0 499 Bad\x01Reason " + "x" * 80 + "\nCSeq: 1 INVITE\n\n")
    label = message_label(odd)
    assert label.startswith("499 Bad\\x01Reason") and label.endswith("\u2026")
    assert len(label) == MAX_LABEL_CHARS


# -- participants ----------------------------------------------------------------


def test_participants_in_order_of_first_appearance() -> None:
    ladder = build_ladder(proxy_calls(1))
    assert [p.key for p in ladder.participants] == [ALICE, PROXY, BOB]
    assert [p.label for p in ladder.participants] == [ALICE, PROXY, BOB]
    assert [p.hosts for p in ladder.participants] == [(ALICE,), (PROXY,), (BOB,)]
    first = ladder.arrows[0]
    assert (first.src, first.dst) == (0, 1)


def _two_port_trace() -> Trace:
    """10.0.0.1:5060 and 10.0.0.1:5080 (one host, two ports) and [2001:db8::1]:5060."""
    t = Trace()
    t.add(req("OPTIONS", branch="z9hG4bK-o1"), 0.0, src="10.0.0.1:5060", dst="10.0.0.2:5060")
    t.add(resp(200, "OPTIONS", branch="z9hG4bK-o1"), 0.1, src="10.0.0.2:5060", dst="10.0.0.1:5060")
    t.add(req("OPTIONS", branch="z9hG4bK-o2"), 0.2, src="10.0.0.1:5080", dst="10.0.0.2:5060")
    t.add(req("OPTIONS", branch="z9hG4bK-o3"), 0.3, src="[2001:db8::1]:5060", dst="10.0.0.1:5080")
    return t


def test_ipv6_endpoint_keys_and_per_host() -> None:
    a = analysis_of(_two_port_trace().messages)
    ladder = build_ladder(a)
    assert [p.key for p in ladder.participants] == [
        "10.0.0.1:5060",
        "10.0.0.2:5060",
        "10.0.0.1:5080",
        "[2001:db8::1]:5060",
    ]
    per_host = build_ladder(a, per_host=True)
    assert [p.key for p in per_host.participants] == ["10.0.0.1", "10.0.0.2", "2001:db8::1"]
    assert per_host.participants[0].hosts == ("10.0.0.1:5060", "10.0.0.1:5080")
    assert [(x.src, x.dst) for x in per_host.arrows] == [(0, 1), (1, 0), (0, 1), (2, 0)]


def test_aliases_host_port_and_shared_names() -> None:
    a = analysis_of(_two_port_trace().messages)
    ladder = build_ladder(a, aliases={"10.0.0.1": "proxy"})
    assert [p.label for p in ladder.participants] == [
        "proxy",
        "10.0.0.2:5060",
        "[2001:db8::1]:5060",
    ]
    assert ladder.participants[0].hosts == ("10.0.0.1:5060", "10.0.0.1:5080")
    # An endpoint alias wins over its host's; equal names share one column.
    ladder = build_ladder(
        a,
        aliases={
            "10.0.0.1": "proxy",
            "10.0.0.1:5080": "pcscf",
            "[2001:DB8::1]:5060": "pcscf",
        },
    )
    assert [p.label for p in ladder.participants] == ["proxy", "10.0.0.2:5060", "pcscf"]
    assert ladder.participants[2].hosts == ("10.0.0.1:5080", "[2001:db8::1]:5060")
    assert (ladder.arrows[3].src, ladder.arrows[3].dst) == (2, 2)  # now a loop


def test_parse_alias_forms() -> None:
    assert parse_alias("10.0.0.1") == (parse_alias("10.0.0.1:1")[0], None)
    assert parse_alias("[2001:db8::1]:5060")[1] == 5060
    assert parse_alias("2001:db8::1")[1] is None
    assert parse_alias("[2001:db8::1]")[1] is None
    assert parse_aliases(["10.0.0.1=proxy", " 10.0.0.2:5060 = pcscf "]) == {
        "10.0.0.1": "proxy",
        "10.0.0.2:5060": "pcscf",
    }
    for bad in (
        "host.example=x",
        "10.0.0.1:99999=x",
        "10.0.0.1",
        "10.0.0.1=",
        "[::1=x",
        "[::1]x=y",
    ):
        with pytest.raises(ValueError, match="alias"):
            parse_aliases([bad])


def test_too_many_participants_are_merged_and_reported() -> None:
    t = Trace()
    n = MAX_LADDER_PARTICIPANTS + 5
    for k in range(n):
        t.add(req("OPTIONS", call=f"c{k}", branch=f"z9hG4bK-{k}"), k, src=f"10.1.0.{k + 1}:5060")
    ladder = build_ladder(analysis_of(t.messages))
    assert len(ladder.participants) == MAX_LADDER_PARTICIPANTS
    others = ladder.participants[-1]
    assert others.key == "others" and others.label == f"{len(others.hosts)} others"
    assert len(others.hosts) == n - (MAX_LADDER_PARTICIPANTS - 2)
    assert any("merged into the column 'others'" in note for note in ladder.notes)


# -- selections ------------------------------------------------------------------


def test_select_by_call_id() -> None:
    a = proxy_calls(3)
    ladder = build_ladder(a, call_ids=["call-1@alice"])
    assert len(ladder.arrows) == 14
    assert {x.call_id for x in ladder.arrows} == {"call-1@alice"}
    assert ladder.title == "test.pcap: Call-ID call-1@alice"
    both = build_ladder(a, call_ids=["call-1@alice", "call-2@alice", "nope"])
    assert len(both.arrows) == 28
    assert both.notes == ("no message has Call-ID 'nope'",)


def test_select_by_dialog() -> None:
    a = proxy_calls(2)
    dialog = a.correlation.dialogs[0]
    ladder = build_ladder(a, dialog=dialog.id)
    assert [x.index for x in ladder.arrows] == sorted(dialog.messages)
    assert {x.dialog for x in ladder.arrows} <= {dialog.id}


def test_select_by_time_window_and_filters() -> None:
    a = proxy_calls(3)
    t0 = a.sip_messages[0].origin.ts_ns
    ladder = build_ladder(a, start_ns=t0 + 10 * 10**9, end_ns=t0 + 19 * 10**9)
    assert {x.call_id for x in ladder.arrows} == {"call-1@alice"}
    ladder = build_ladder(a, filters=["method=BYE", "kind=request"])
    assert _labels(ladder) == ["BYE (CSeq 1)"] * 6
    ladder = build_ladder(a, call_ids=["call-2@alice"], filters=["status>=180"])
    assert _labels(ladder) == ["180 Ringing", "180 Ringing", "200 OK", "200 OK", "200 OK", "200 OK"]
    assert "filter status>=180" in ladder.title


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"call_ids": ["nope"]}, "no message has Call-ID 'nope'"),
        ({"dialog": 12345}, "no dialog 12345 (dialog ids: "),
        ({"filters": ["method=FOO"]}, "no message matches the selection (all messages, filter"),
        ({"start_ns": 10**20}, "no message matches the selection (all messages, from"),
        ({"start_ns": 10, "end_ns": 5}, "end of the time window is before its start"),
    ],
)
def test_empty_selection_is_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(EmptySelectionError) as info:
        build_ladder(proxy_calls(1), **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_filter_and_limit_are_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown filter field"):
        build_ladder(proxy_calls(1), filters=["colour=red"])
    with pytest.raises(ValueError, match="max_arrows"):
        build_ladder(proxy_calls(1), max_arrows=0)


def test_empty_capture() -> None:
    with pytest.raises(EmptySelectionError, match="no SIP messages"):
        build_ladder(analysis_of([]))


def test_arrow_limit_is_reported() -> None:
    a = proxy_calls(2)
    ladder = build_ladder(a, max_arrows=10)
    assert len(ladder.arrows) == 10
    assert [x.index for x in ladder.arrows] == list(range(10))
    assert ladder.notes[0] == "first 10 of 29 messages"
    assert ladder.title.endswith("(first 10 of 29 messages)")


# -- marks -----------------------------------------------------------------------


def test_retransmissions_are_marked_from_the_correlation() -> None:
    a = proxy_calls(2)  # call 0 has its INVITE retransmitted
    ladder = build_ladder(a, call_ids=["call-0@alice"])
    flags = [x.retransmission for x in ladder.arrows]
    assert flags[:3] == [False, True, False] and sum(flags) == 1
    txn = a.correlation.transaction(0)
    assert txn is not None and txn.request_retransmissions == (ladder.arrows[1].index,)
    assert row_note(ladder.arrows[1]) == "retransmission"


def test_findings_are_attached_to_the_messages_they_name() -> None:
    a = proxy_calls(1)  # call 0's BYE lacks Max-Forwards (HDR-8)
    ladder = build_ladder(a)
    marked = [x for x in ladder.arrows if x.marks]
    assert [x.label for x in marked] == ["BYE (CSeq 1)"]
    (mark,) = marked[0].marks
    assert (mark.rule, mark.severity) == ("HDR-8", "error")
    assert "Max-Forwards" in mark.text
    assert [f.rule for f in ladder.findings] == ["HDR-8"]


def test_given_findings_ordered_by_severity_and_filtered_to_shown_messages() -> None:
    a = proxy_calls(1)
    info = Finding("MSG-1b", Severity.INFO, "RFC", "s", "info text", (0,), (1,))
    error = Finding("HDR-8", Severity.ERROR, "RFC", "s", "error text", (0, 3), (1, 4))
    other = Finding("HDR-4", Severity.WARNING, "RFC", "s", "elsewhere", (9,), (10,))
    ladder = build_ladder(a, findings=[info, error, other], filters=["frame<=4"])
    assert [m.rule for m in ladder.arrows[0].marks] == ["HDR-8", "MSG-1b"]
    assert ladder.arrows[0].worst == "error"
    assert [m.rule for m in ladder.arrows[3].marks] == ["HDR-8"]
    assert ladder.findings == (info, error)


def test_finding_on_two_messages_marks_both() -> None:
    ladder = build_ladder(analyze(SAMPLES / "welcome-notice.pcap"))
    cseq = [x.frame for x in ladder.arrows if any(m.rule == "CSEQ-1" for m in x.marks)]
    assert cseq == [1, 2]


# -- related legs ------------------------------------------------------------------


def _b2bua_trace(*, same_tag: bool = True, session_id: bool = False, xcid: bool = False) -> Trace:
    """A-leg alice -> B2BUA (call-a), B-leg B2BUA -> bob (call-b), and an unrelated call-c."""
    t = Trace()
    a_headers: list[str] = []
    b_headers: list[str] = []
    if session_id:
        a_headers.append("Session-ID: ab30317f1a784dc48ff824d0d3715d86")
        b_headers.append(
            "Session-ID: 47755a9de7794ba387653f2099600ef2;remote=ab30317f1a784dc48ff824d0d3715d86"
        )
    if xcid:
        b_headers.append("X-Call-ID: call-a")
    t.add(req("INVITE", call="call-a", ftag="t1", headers=a_headers), 0.0, src=ALICE, dst=PROXY)
    t.add(resp(100, call="call-a", ftag="t1"), 0.01, src=PROXY, dst=ALICE)
    btag = "t1" if same_tag else "t2"
    t.add(
        req("INVITE", call="call-b", ftag=btag, headers=b_headers, via=PROXY, branch="z9hG4bK-b"),
        0.02,
        src=PROXY,
        dst=BOB,
    )
    t.add(req("INVITE", call="call-c", ftag="t9", branch="z9hG4bK-c"), 0.03, src=ALICE, dst=BOB)
    return t


@pytest.mark.parametrize(
    "kwargs",
    [
        {"same_tag": True},
        {"same_tag": False, "session_id": True},
        {"same_tag": False, "xcid": True},
    ],
)
def test_related_b2bua_legs(kwargs: dict[str, bool]) -> None:
    a = analysis_of(_b2bua_trace(**kwargs).messages)
    plain = build_ladder(a, call_ids=["call-a"])
    assert {x.call_id for x in plain.arrows} == {"call-a"}
    related = build_ladder(a, call_ids=["call-a"], related=True)
    assert {x.call_id for x in related.arrows} == {"call-a", "call-b"}
    assert related.notes == ("related legs added: Call-ID call-b",)
    assert "with related legs" in related.title


def test_unrelated_legs_stay_out() -> None:
    a = analysis_of(_b2bua_trace(same_tag=False).messages)
    related = build_ladder(a, call_ids=["call-a"], related=True)
    assert {x.call_id for x in related.arrows} == {"call-a"}
    assert related.notes == ()


def test_same_from_tag_beyond_timer_b_is_not_related() -> None:
    t = Trace()
    t.add(req("INVITE", call="x1", ftag="same", cseq=1), 0.0)
    t.add(req("INVITE", call="x2", ftag="same", cseq=1, branch="z9hG4bK-2"), 40.0)
    assert RELATED_WINDOW_NS < 40 * 10**9
    assert leg_graph(t.messages) == {}


def test_related_with_a_dialog_selection_adds_other_legs() -> None:
    t = _b2bua_trace()
    t.add(
        resp(200, call="call-a", ftag="t1", ttag="x", headers=["Contact: <sip:b2bua@10.0.0.2>"]),
        0.1,
        src=PROXY,
        dst=ALICE,
    )
    a = analysis_of(t.messages)
    (dialog,) = [d for d in a.correlation.dialogs if d.call_id == "call-a"]
    ladder = build_ladder(a, dialog=dialog.id, related=True)
    assert {x.call_id for x in ladder.arrows} == {"call-a", "call-b"}


# -- times -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-03-01T09:00:00.123456789Z", 1709283600123456789),
        ("2024-03-01T09:00:00Z", 1709283600000000000),
        ("2024-03-01 09:00:00", 1709283600000000000),
        ("2024-03-01T10:00:00.5+01:00", 1709283600500000000),
        ("1709283600.25", 1709283600250000000),
        ("1709283600", 1709283600000000000),
        ("+1.5", 1_500_000_010),
    ],
)
def test_parse_time(text: str, ns: int) -> None:
    assert parse_time(text, capture_start_ns=10) == ns


@pytest.mark.parametrize(
    "text", ["yesterday", "2024-13-01", "1.2.3", "2024-03-01T09:00:00.1234567891Z"]
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time(text)


def test_relative_time_needs_a_start() -> None:
    with pytest.raises(ValueError, match="relative"):
        parse_time("+3")


def test_arrows_in_time_order_not_completion_order() -> None:
    # message.pcap: the MESSAGE's body is shorter than its Content-Length, so
    # over TCP it is completed only when the stream ends, after its 200 OK.
    a = analyze(SAMPLES / "message.pcap")
    completion = [m.origin.ts_ns for m in a.sip_messages]
    assert completion != sorted(completion)
    ladder = build_ladder(a)
    times = [arrow.ts_ns for arrow in ladder.arrows]
    assert times == sorted(times)
    assert ladder.start_ns == min(completion)
    assert [arrow.label.split()[0] for arrow in ladder.arrows] == ["MESSAGE", "200"]


def test_frames_of_several_captures_name_their_file() -> None:
    from analyzer.ladder import render_text

    files = [SAMPLES / "welcome-notice.pcap", SAMPLES / "message.pcap"]
    a = analyze(files)
    ladder = build_ladder(a)
    assert {arrow.capture for arrow in ladder.arrows} == {1, 2}
    for arrow in ladder.arrows:
        assert a.sources[arrow.capture - 1] == str(files[arrow.capture - 1])
        assert arrow.frame_text == f"{arrow.capture}:{arrow.frame}"
    assert any("1 = welcome-notice.pcap, 2 = message.pcap" in n for n in ladder.notes)
    text = render_text(ladder)
    assert " 2:5 " in text and " 1:1 " in text
    single = build_ladder(analyze(files[1]))
    assert {arrow.capture for arrow in single.arrows} == {0}
    assert [arrow.frame_text for arrow in single.arrows] == ["4", "5"]
