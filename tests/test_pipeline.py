"""Whole-pipeline cases built from bytes: frames in, SIP messages and diagnostics out."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analyzer
from analyzer import SipRequest, SipResponse, Transport, pipeline, read_messages
from analyzer.net.flow import Origin, endpoint
from analyzer.net.transport import ACK, FIN, PSH, SYN
from analyzer.pipeline import (
    MessageExtractor,
    Share,
    _is_sip_start,
    flow_share,
    make_origin,
    order_key,
)
from analyzer.sip.message import match_start_line
from tests.builders import pcap_bytes
from tests.packets import ether, fragment_ipv4, hep3, ipv4, ipv6, sctp, sctp_data, tcp, udp

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
A, B = "10.0.0.1", "10.0.0.2"


def sip_request(call_id: str = "c1@h", body: bytes = b"", cseq: int = 1) -> bytes:
    head = (
        f"MESSAGE sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {A};branch=z9hG4bK-{cseq}\r\n"
        f"From: <sip:alice@example.com>;tag=a1\r\n"
        f"To: <sip:bob@example.com>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} MESSAGE\r\n"
        f"Max-Forwards: 70\r\n"
        f"Content-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def eth(ip_packet: bytes) -> bytes:
    return ether("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, ip_packet)


def write(tmp_path: Path, frames: list[bytes] | list[tuple[int, bytes, int]]) -> Path:
    path = tmp_path / "t.pcap"
    packets = [
        (1_000_000_000 + i * 1_000_000, f) if isinstance(f, bytes) else f
        for i, f in enumerate(frames)
    ]
    path.write_bytes(pcap_bytes(packets))
    return path


def test_sip_on_any_port_and_junk_on_5060(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            eth(ipv4(A, B, 17, udp(40000, 7777, sip_request()))),
            eth(ipv4(A, B, 17, udp(5060, 5060, b"Zzzz not a start line\r\n\r\n"))),
            eth(ipv4(A, B, 17, udp(5060, 5060, b"\x00\x01binary junk"))),
        ],
    )
    reader = read_messages(path)
    msgs = list(reader)
    assert [(m.origin.frame, m.origin.dst.port) for m in msgs] == [(1, 7777)]
    assert reader.stats.udp_not_sip == 1  # the letter-first one reached the SIP check


def test_ip_fragmented_udp_message(tmp_path: Path) -> None:
    payload = sip_request(body=b"x" * 3000)
    frags = fragment_ipv4(A, B, 17, udp(5060, 5060, payload), 1480)
    path = write(tmp_path, [eth(f) for f in reversed(frags)])
    (msg,) = read_messages(path)
    assert msg.origin.frames == (1, 2, 3) and msg.origin.frame == 3
    assert msg.body == b"x" * 3000 and not msg.defects


def test_snaplen_cut_udp_message_is_marked_truncated(tmp_path: Path) -> None:
    whole = eth(ipv4(A, B, 17, udp(5060, 5060, sip_request(body=b"y" * 500))))
    path = write(tmp_path, [(1_000_000_000, whole[:400], len(whole))])
    (msg,) = read_messages(path)
    assert msg.origin.truncated is True
    assert len(msg.body) < 500


def test_hep3_is_attributed_to_inner_endpoints_and_time(tmp_path: Path) -> None:
    inner = hep3(
        "192.0.2.10", "192.0.2.20", 5080, 5090, sip_request(), ts_sec=1_600_000_000, ts_usec=250_000
    )
    path = write(tmp_path, [eth(ipv4(A, B, 17, udp(40000, 9060, inner)))])
    (msg,) = read_messages(path)
    assert str(msg.origin.src) == "192.0.2.10:5080" and str(msg.origin.dst) == "192.0.2.20:5090"
    assert msg.origin.ts_ns == 1_600_000_000_250_000_000
    assert msg.origin.transport is Transport.HEP_UDP and msg.origin.frame == 1


def test_sctp_data_and_fragmented_user_message(tmp_path: Path) -> None:
    whole = sip_request(call_id="s1")
    split = sip_request(call_id="s2", body=b"z" * 100)
    path = write(
        tmp_path,
        [
            eth(ipv4(A, B, 132, sctp(5060, 5060, sctp_data(1, 0, 0, whole)))),
            eth(ipv4(A, B, 132, sctp(5060, 5060, sctp_data(2, 0, 0, split[:60], flags=0x02)))),
            eth(ipv4(A, B, 132, sctp(5060, 5060, sctp_data(3, 0, 0, split[60:], flags=0x01)))),
        ],
    )
    msgs = list(read_messages(path))
    assert [(m.call_id, m.origin.frames, m.origin.transport) for m in msgs] == [
        ("s1", (1,), Transport.SCTP),
        ("s2", (2, 3), Transport.SCTP),
    ]


def tcp_frames(payloads: list[bytes], sport: int = 40000, dport: int = 5060) -> list[bytes]:
    seq = 1000
    out = [eth(ipv4(A, B, 6, tcp(sport, dport, seq, 0, SYN)))]
    seq += 1
    for p in payloads:
        out.append(eth(ipv4(A, B, 6, tcp(sport, dport, seq, 1, ACK | PSH, p))))
        seq += len(p)
    out.append(eth(ipv4(A, B, 6, tcp(sport, dport, seq, 1, ACK | FIN))))
    return out


def test_tcp_two_messages_in_one_segment_and_one_over_three(tmp_path: Path) -> None:
    m1, m2, m3 = (sip_request(call_id=f"t{i}", body=b"b" * 40, cseq=i) for i in (1, 2, 3))
    path = write(tmp_path, tcp_frames([m1 + m2, m3[:30], m3[30:90], m3[90:]]))
    msgs = list(read_messages(path))
    assert [(m.call_id, m.origin.frame, m.origin.frames) for m in msgs] == [
        ("t1", 2, (2,)),
        ("t2", 2, (2,)),
        ("t3", 5, (3, 4, 5)),
    ]
    assert all(m.origin.transport is Transport.TCP for m in msgs)


def test_tls_flow_is_reported_not_decoded(tmp_path: Path) -> None:
    hello = b"\x16\x03\x01\x00\x40" + bytes(64)
    path = write(tmp_path, tcp_frames([hello], dport=5061))
    reader = read_messages(path)
    assert list(reader) == []
    assert any(d.layer == "tls" and "encrypted" in d.reason for d in reader.diagnostics)
    assert reader.stats.tls_flows == 1


def test_dataframe_columns_and_dtypes() -> None:
    df = analyzer.messages_dataframe(SAMPLES / "basic-call.pcap")
    assert len(df) == 7
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert str(df["frame"].dtype) == "int64" and str(df["status"].dtype) == "Int64"
    assert df["method"].tolist() == ["INVITE", "INVITE", "INVITE", "INVITE", "ACK", "BYE", "BYE"]
    assert df["status"].tolist()[1:4] == [100, 180, 200]
    assert df["status"].isna().tolist() == [True, False, False, False, True, True, False]


@pytest.mark.parametrize(
    ("name", "count"),
    [("basic-call.pcap", 7), ("tcp-mixed.pcap", 12), ("welcome-notice-corrected.pcap", 10)],
)
def test_samples(name: str, count: int) -> None:
    msgs = list(read_messages(SAMPLES / name))
    assert len(msgs) == count
    assert all(isinstance(m, SipRequest | SipResponse) for m in msgs)


def test_tcp_port_reuse_after_fin_is_a_new_connection(tmp_path: Path) -> None:
    first = tcp_frames([sip_request(call_id="r1")])
    second = tcp_frames([sip_request(call_id="r2")])  # same ports, new SYN, same ISN
    reader = read_messages(write(tmp_path, first + second))
    assert [m.call_id for m in reader] == ["r1", "r2"]
    assert not [d for d in reader.diagnostics if "after the end" in d.reason]


def test_hep1_without_time_takes_the_frame_time(tmp_path: Path) -> None:
    from tests.packets import hep2

    inner = hep2("192.0.2.10", "192.0.2.20", 5080, 5090, sip_request(), version=1)
    path = write(tmp_path, [eth(ipv4(A, B, 17, udp(40000, 9060, inner)))])
    (msg,) = read_messages(path)
    assert msg.origin.ts_ns == 1_000_000_000 and str(msg.origin.src) == "192.0.2.10:5080"


# -- shares: several extractors, each message exactly once, merged by key --------

C, D, E6, F6 = "10.0.0.3", "10.0.0.4", "2001:db8::5", "2001:db8::6"
VLAN_ETHER = 0x8100


def vlan_eth(ip_packet: bytes, vid: int = 7) -> bytes:
    return ether(
        "02:00:00:00:00:02",
        "02:00:00:00:00:01",
        VLAN_ETHER,
        struct.pack(">HH", vid, 0x0800) + ip_packet,
    )


def eth6(ip_packet: bytes) -> bytes:
    return ether("02:00:00:00:00:02", "02:00:00:00:00:01", 0x86DD, ip_packet)


def sip_response(call_id: str, cseq: int = 1, status: str = "200 OK") -> bytes:
    return (
        f"SIP/2.0 {status}\r\n"
        f"Via: SIP/2.0/UDP {A};branch=z9hG4bK-{cseq}\r\n"
        f"From: <sip:alice@example.com>;tag=a1\r\n"
        f"To: <sip:bob@example.com>;tag=b{cseq}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} MESSAGE\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


class _Tcp:
    """One TCP connection's segments, with sequence numbers kept."""

    def __init__(self, client: str, server: str, cport: int, sport: int = 5060) -> None:
        self.client, self.server, self.cport, self.sport = client, server, cport, sport
        self.seq = {True: 1000, False: 9000}

    def seg(self, flags: int, payload: bytes = b"", *, forward: bool = True, at: int = 0) -> bytes:
        src, dst = (self.client, self.server) if forward else (self.server, self.client)
        sp, dp = (self.cport, self.sport) if forward else (self.sport, self.cport)
        seq = self.seq[forward] + at
        if not at:
            self.seq[forward] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return eth(ipv4(src, dst, 6, tcp(sp, dp, seq, 1, flags, payload)))


def mixed_frames() -> list[bytes]:
    """A capture with every kind of transport unit, interleaved, and some damage.

    UDP (plain, VLAN-tagged, IPv6, fragmented, HEP3), TCP (messages split
    and coalesced, a segment out of order, a connection left open, a TLS
    flow ended by FIN with data after the end and then reopened), SCTP
    (whole, fragmented, never completed, without its beginning), RTP
    between them, and frames that only produce diagnostics.
    """
    rtp = b"\x80\x00" + bytes(170)
    frames: list[bytes] = []

    def rtp_pair() -> None:
        frames.append(eth(ipv4(C, D, 17, udp(4000, 4002, rtp))))
        frames.append(vlan_eth(ipv4(D, C, 17, udp(4002, 4000, rtp))))

    t1 = _Tcp(C, D, 40001)
    t2 = _Tcp(C, D, 40002)
    tls = _Tcp(C, D, 40003, 5061)
    m = [sip_request(call_id=f"tcp{i}", body=b"b" * 50, cseq=i) for i in range(6)]
    frames += [t1.seg(SYN), t1.seg(SYN | ACK, forward=False), t2.seg(SYN)]
    for i in range(40):
        frames.append(eth(ipv4(A, B, 17, udp(5060, 5060, sip_request(call_id=f"u{i}", cseq=i)))))
        rtp_pair()
        if i % 3 == 0:
            frames.append(eth(ipv4(B, A, 17, udp(5060, 5060, sip_response(f"u{i}", i)))))
        if i % 7 == 0:
            frames.append(vlan_eth(ipv4(B, A, 17, udp(5060, 5060, sip_response(f"v{i}", i)))))
        if i == 3:
            frames.append(t1.seg(ACK | PSH, m[0] + m[1]))
            frames.append(t1.seg(ACK | PSH, m[2][:40]))
        if i == 4:
            frames.append(t1.seg(ACK | PSH, m[2][40:]))
            frames.append(t2.seg(ACK | PSH, m[3][:70]))  # never completed: flushed at the end
        if i == 5:
            # Out of order: the second half arrives first.
            late = t1.seq[True]
            frames.append(t1.seg(ACK | PSH, m[4][60:], at=60))
            frames.append(t1.seg(ACK | PSH, m[4][:60]))
            t1.seq[True] = late + len(m[4])
            frames.append(t1.seg(ACK | PSH, sip_response("tcp4", 4), forward=False))
        if i == 6:
            frames += [tls.seg(SYN), tls.seg(ACK | PSH, b"\x16\x03\x01\x00\x40" + bytes(64))]
            frames.append(tls.seg(ACK | FIN))
            frames.append(tls.seg(ACK | PSH, b"late data after the end"))
        if i == 8:
            tls.seq[True] = 5000
            frames += [tls.seg(SYN), tls.seg(ACK | PSH, m[5])]
        if i == 9:
            payload = udp(5060, 5060, sip_request(call_id="frag", body=b"f" * 3000))
            frames += [eth(f) for f in reversed(fragment_ipv4(A, B, 17, payload, 1480, ident=9))]
        if i == 10:
            frames.append(eth6(ipv6(E6, F6, 17, udp(5060, 5060, sip_request(call_id="six")))))
            inner = hep3("192.0.2.1", "192.0.2.2", 5060, 5060, sip_request(call_id="hep"))
            frames.append(eth(ipv4(A, B, 17, udp(9060, 9060, inner))))
        if i == 11:
            whole = sip_request(call_id="sctp-whole")
            split = sip_request(call_id="sctp-split", body=b"z" * 100)
            frames.append(eth(ipv4(A, B, 132, sctp(5060, 5060, sctp_data(1, 0, 0, whole)))))
            frames.append(
                eth(ipv4(A, B, 132, sctp(5060, 5060, sctp_data(2, 1, 0, split[:60], flags=2))))
            )
        if i == 12:
            frames.append(
                eth(ipv4(A, B, 132, sctp(5060, 5060, sctp_data(3, 1, 0, split[60:], flags=1))))
            )
            frames.append(
                eth(ipv4(C, D, 132, sctp(5061, 5061, sctp_data(7, 2, 0, b"INVITE", flags=2))))
            )
            frames.append(
                eth(ipv4(B, A, 132, sctp(5062, 5062, sctp_data(9, 0, 0, b"tail", flags=1))))
            )
        if i == 13:
            frames.append(eth(ipv4(A, B, 17, udp(5060, 5060, b"Hello, not SIP\r\n\r\n"))))
            frames.append(eth(ipv4(A, B, 17, b"\x13\xc4")))  # a cut UDP header
            frames.append(eth(b"\x45\x00\x00"))  # a cut IPv4 header
        if i == 14:
            frames.append(eth(ipv4(A, B, 17, udp(5060, 5060, b"INVITE sip:x SIP/2.0\r\n\x00\x01"))))
    frames.append(t1.seg(ACK | FIN))
    frames.append(t2.seg(ACK | PSH, sip_response("open", 9), forward=False))  # open at the end
    return frames


def _extract(frames: list[bytes], share: Share | None) -> tuple[list[Any], list[Any], list[Any]]:
    """(messages, their keys, diagnostics with keys) of one extractor over ``frames``."""
    ex = MessageExtractor(share)
    msgs: list[Any] = []
    for number, data in enumerate(frames, start=1):
        msgs += ex.feed((number, 1_000_000_000 + number, 1, data, 0, len(data), len(data)))
    msgs += ex.flush()
    if share is None:
        return msgs, [], [(0, d) for d in ex.diagnostics]
    assert ex.message_keys is not None
    diags = list(zip(ex.diagnostic_keys, ex.diagnostics, strict=True))
    if share.index == 0:
        diags += [(1 << 64, d) for d in ex.decoder.diagnostics]
    return msgs, ex.message_keys, diags


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("max_flows", [20_000, 2, 1])
def test_shares_merged_by_key_give_the_single_extractor_output(
    count: int, max_flows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "MAX_TCP_FLOWS", max_flows)
    frames = mixed_frames()
    single, _keys, single_diags = _extract(frames, None)
    assert len(single) >= 70 and len(single_diags) >= 7
    merged: list[tuple[int, Any]] = []
    merged_diags: list[tuple[int, Any]] = []
    owner: dict[int, int] = {}
    for index in range(count):
        msgs, keys, diags = _extract(frames, Share(index, count))
        assert len(keys) == len(msgs) and keys == sorted(keys)
        for key, _item in [*zip(keys, msgs, strict=True), *diags]:
            # A key is used by one share only: the merge needs no tie-break.
            assert owner.setdefault(key, index) == index
        merged += zip(keys, msgs, strict=True)
        merged_diags += diags
    merged.sort(key=lambda item: item[0])
    merged_diags.sort(key=lambda item: item[0])
    assert [m for _k, m in merged] == single
    assert [d for _k, d in merged_diags] == [d for _k, d in single_diags]
    if max_flows == 1:
        assert any("flushing the oldest" in d.reason for _k, d in single_diags)


def test_make_origin_is_the_record_the_constructor_makes() -> None:
    src, dst = endpoint(b"\x0a\x00\x00\x01", 5060), endpoint(b"\x0a\x00\x00\x02", 5070)
    args = (7, (5, 7), 123, src, dst, Transport.TCP, True)
    made = make_origin(*args)
    assert type(made) is Origin and made == Origin(*args) and hash(made) == hash(Origin(*args))
    with pytest.raises(AttributeError):
        made.frame = 8  # type: ignore[misc]


START_LINES = [
    b"INVITE sip:bob@example.com SIP/2.0\r\nVia: x\r\n\r\n",
    b"SIP/2.0 200 OK\r\n\r\n",
    b"SIP/2.0 200\r\n",
    b"SIP/2.0 200",
    b"SIP/2.0 2000 OK\r\n",
    b"SIP/2.0 20x OK\r\n",
    b"sip/2.0 180 Ringing\r\n",
    b"NOTIFY  sip:x SIP/2.0\r\n",
    b"NOTIFY sip:x\tSIP/2.0\r\n",
    b"NOTIFY sip:x SIP/2.0 \r\n",
    b"NOTIFY sip:x\xc2\xa0SIP/2.0\r\n",
    b"NOTIFY sip:\x01x SIP/2.0\r\n",
    b"NOTIFY sip:\x80x SIP/2.0\r\n",
    b"NOTIFY sip:x SIP/3.1\r\n",
    b"NOTIFY sip:x HTTP/1.1\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"X-1 sip:x SIP/2.0\r\n",
    b"INVITE  SIP/2.0\r\n",
    b"INVITE sip:x SIP/2.0",
    b"INVITE sip:x SIP/2.0\n",
    b"INVITE " + b"u" * 4090 + b" SIP/2.0\r\n",
    b"INVITE " + b"u" * 4075 + b" SIP/2.0\r\n",
    b"HEP3\x00\x10",
    b"",
]


@pytest.mark.parametrize("payload", START_LINES)
def test_start_line_shortcut_agrees_with_match_start_line(payload: bytes) -> None:
    assert _is_sip_start(payload) is match_start_line(payload)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"INVITE", b"SIP/2.0", b"sip:x", b" ", b"\t", b"\r\n", b"\n", b"200", b"\xc2\xa0"]
        )
        | st.binary(max_size=3),
        max_size=8,
    )
)
def test_start_line_shortcut_agrees_on_generated_payloads(parts: list[bytes]) -> None:
    payload = b"".join(parts)
    assert _is_sip_start(payload) is match_start_line(payload)


def test_samples_agree_with_match_start_line() -> None:
    for path in sorted(SAMPLES.glob("*.pcap")):
        for msg in read_messages(path):
            assert _is_sip_start(msg.raw) is match_start_line(msg.raw) is True


def test_data_after_the_end_of_a_tls_flow_opens_no_new_flow(tmp_path: Path) -> None:
    flow = _Tcp(A, B, 40000, 5061)
    frames = [
        flow.seg(SYN),
        flow.seg(ACK | PSH, b"\x16\x03\x01\x00\x40" + bytes(64)),
        flow.seg(ACK | FIN),
        flow.seg(ACK | PSH, b"retransmitted tail"),
    ]
    reader = read_messages(write(tmp_path, frames))
    assert list(reader) == []
    assert reader.stats.tcp_flows == 1 and reader.stats.tls_flows == 1
    assert [d.layer for d in reader.diagnostics] == ["tls"]
    # A SYN on the same ports is a new connection again.
    frames += [flow.seg(SYN), flow.seg(ACK | PSH, sip_request(call_id="again"))]
    reader = read_messages(write(tmp_path, frames))
    assert [m.call_id for m in reader] == ["again"] and reader.stats.tcp_flows == 2


def test_prefiltered_rtp_is_counted_as_rejected(tmp_path: Path) -> None:
    rtp = b"\x80\x00" + bytes(170)
    frames = [eth(ipv4(A, B, 17, udp(4000, 4002, rtp))) for _ in range(5)]
    frames.insert(2, eth(ipv4(A, B, 17, udp(5060, 5060, sip_request()))))
    reader = read_messages(write(tmp_path, frames))
    (msg,) = reader
    assert msg.origin.frame == 3
    assert reader.capture.frames_skipped == 5 and reader.capture.frames_read == 6
    stats = reader.extractor.decoder.stats
    assert (stats.packets, stats.udp, stats.udp_rejected, stats.prefiltered) == (6, 6, 5, 5)


def test_share_must_exist() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Share(2, 2)
    assert Share(1, 2).count == 2


def test_flow_share_is_the_same_for_both_directions() -> None:
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    for count in (2, 3, 7):
        shares = {flow_share(a, p, b, 5060, count) for p in range(40000, 40050)}
        assert shares == set(range(count))  # spread over every share
        for p in range(40000, 40050):
            assert flow_share(a, p, b, 5060, count) == flow_share(b, 5060, a, p, count)


def test_order_key_orders_frames_then_units_then_phases() -> None:
    keys = [
        order_key(5, 0, 0),
        order_key(5, 0),
        order_key(5, 1, 0),
        order_key(5, 1),
        order_key(6, 0),
    ]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


# -- the cyclic collector while a MessageReader works ---------------------------


@pytest.fixture
def collector() -> Any:
    """Put the collector back as it was, whatever a test leaves."""
    import gc

    was = gc.isenabled()
    yield gc
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_reader_pauses_the_collector_only_while_it_works(
    collector: Any, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    gc = collector
    in_feed: list[bool] = []
    real_feed = MessageExtractor.feed

    def feed(self: MessageExtractor, frame: Any) -> Any:
        in_feed.append(gc.isenabled())
        return real_feed(self, frame)

    monkeypatch.setattr(MessageExtractor, "feed", feed)
    if enabled:
        gc.enable()
    else:
        gc.disable()
    at_yield = [gc.isenabled() for _ in read_messages(SAMPLES / "basic-call.pcap")]
    assert len(at_yield) == 7
    assert at_yield == [enabled] * 7  # the consumer always sees its own setting
    assert in_feed and not any(in_feed)
    assert gc.isenabled() is enabled


def test_reader_gives_the_collector_back_when_left_early_or_failing(
    collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc = collector
    gc.enable()
    messages = iter(read_messages(SAMPLES / "basic-call.pcap"))
    next(messages)
    assert gc.isenabled()
    messages.close()  # a consumer that stops early
    assert gc.isenabled()

    def broken(self: MessageExtractor, frame: Any) -> Any:
        assert not gc.isenabled()
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(MessageExtractor, "feed", broken)
    with pytest.raises(RuntimeError, match="decoder bug"):
        list(read_messages(SAMPLES / "basic-call.pcap"))
    assert gc.isenabled()


def test_reader_follows_the_consumer_switching_the_collector(collector: Any) -> None:
    gc = collector
    gc.enable()
    seen = []
    for n, _msg in enumerate(read_messages(SAMPLES / "basic-call.pcap")):
        seen.append(gc.isenabled())
        # The consumer changes its mind halfway: the reader keeps to it.
        if n == 2:
            gc.disable()
    assert seen == [True, True, True, False, False, False, False]
    assert not gc.isenabled()
