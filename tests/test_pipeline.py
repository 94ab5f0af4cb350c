"""Whole-pipeline cases built from bytes: frames in, SIP messages and diagnostics out."""

from __future__ import annotations

from pathlib import Path

import pytest

import analyzer
from analyzer import SipRequest, SipResponse, Transport, read_messages
from analyzer.net.transport import ACK, FIN, PSH, SYN
from tests.builders import pcap_bytes
from tests.packets import ether, fragment_ipv4, hep3, ipv4, sctp, sctp_data, tcp, udp

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
