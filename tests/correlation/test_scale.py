"""Synthetic traffic at scale: split invariance, and the generator the benchmark uses.

:func:`synthetic_messages` builds parsed messages in the shape of the shared
benchmark capture (``../shared/bench/gen_pcap.py``): INVITE/100/180/200/ACK/
BYE/200 calls (BYE from either side), SUBSCRIBE/200/NOTIFY/200 with a reginfo
body, and MESSAGE/200, interleaved in time.  The timing figure quoted for
:func:`analyzer.correlation.correlate` comes from::

    python -m tests.correlation.test_scale 36000
"""

from __future__ import annotations

import heapq
import random
import sys
import time

from analyzer.correlation import (
    CallOutcome,
    SubState,
    correlate,
    correlate_groups,
    group_by_call_id,
    merge,
)
from analyzer.net.flow import Origin, Transport, endpoint
from analyzer.sip.message import SipMessage, parse_message

PROXY = b"\x0a\x00\x00\x01"


def _reginfo(rng: random.Random, user: str, n: int, version: int) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="{version}" state="full">',
        f'  <registration aor="sip:{user}@example.com" id="r{rng.getrandbits(24):06x}"'
        ' state="active">',
    ]
    for _ in range(n):
        out += [
            f'    <contact id="c{rng.getrandbits(32):08x}" state="active" event="registered"'
            f' expires="{rng.randint(60, 3600)}" q="1.0">',
            f"      <uri>sip:{user}@10.{rng.randint(1, 9)}.{rng.randint(0, 255)}."
            f"{rng.randint(1, 254)}:5060;transport=udp</uri>",
            "      <display-name>Alice</display-name>",
            "    </contact>",
        ]
    out += ["  </registration>", "</reginfo>", ""]
    return "\r\n".join(out)


def _wire(start: str, headers: list[tuple[str, str]], body: str = "") -> bytes:
    lines = [start, *(f"{n}: {v}" for n, v in headers)]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def _response(
    code: int,
    reason: str,
    req: list[tuple[str, str]],
    to_tag: str | None,
    extra: tuple[tuple[str, str], ...] = (),
    body: str = "",
) -> bytes:
    hdrs: list[tuple[str, str]] = []
    for n, v in req:
        if n in ("Via", "From", "Call-ID", "CSeq"):
            hdrs.append((n, v))
        elif n == "To":
            hdrs.append((n, v + (f";tag={to_tag}" if to_tag else "")))
    return _wire(f"SIP/2.0 {code} {reason}", hdrs + list(extra), body)


def _dialog(rng: random.Random, k: int) -> list[tuple[float, bool, bytes]]:
    """One dialog as (delay s, from UA?, bytes)."""
    ua_ip = f"10.1.{1 + k % 200}.{1 + k % 250}"
    user = f"1{k % 10000:04d}"
    cid = f"{rng.getrandbits(96):024x}@{ua_ip}"
    ftag, ttag = f"{rng.getrandbits(40):010x}", f"{rng.getrandbits(40):010x}"
    via = f"SIP/2.0/UDP {ua_ip}:5060;branch=z9hG4bK{rng.getrandbits(64):016x};rport"
    kind = rng.choices(("call", "subscribe", "message"), (0.6, 0.25, 0.15))[0]
    if kind == "call":
        cseq = rng.randint(1, 200)
        frm = f'"Alice" <sip:{user}@example.com>;tag={ftag}'
        to = f"<sip:2{k % 10000:04d}@example.com>"
        inv = [
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", to),
            ("Call-ID", cid),
            ("CSeq", f"{cseq} INVITE"),
            ("Contact", f"<sip:{user}@{ua_ip}:5060>"),
            ("Content-Type", "application/sdp"),
        ]
        sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
        to_t = f"{to};tag={ttag}"
        ack = [
            ("Via", via.replace("branch=z9hG4bK", "branch=z9hG4bKa")),
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", to_t),
            ("Call-ID", cid),
            ("CSeq", f"{cseq} ACK"),
        ]
        caller_hangs = rng.random() < 0.6
        if caller_hangs:
            bye = [
                ("Via", via.replace("branch=z9hG4bK", "branch=z9hG4bKb")),
                ("Max-Forwards", "70"),
                ("From", frm),
                ("To", to_t),
                ("Call-ID", cid),
                ("CSeq", f"{cseq + 1} BYE"),
            ]
        else:
            bye = [
                ("Via", f"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{rng.getrandbits(64):x}"),
                ("Max-Forwards", "69"),
                ("From", to_t),
                ("To", frm),
                ("Call-ID", cid),
                ("CSeq", f"{rng.randint(1, 100)} BYE"),
            ]
        return [
            (0.0, True, _wire(f"INVITE sip:2{k % 10000:04d}@example.com SIP/2.0", inv, sdp)),
            (0.002, False, _response(100, "Trying", inv, None)),
            (rng.uniform(0.1, 3), False, _response(180, "Ringing", inv, ttag)),
            (
                rng.uniform(0.5, 8),
                False,
                _response(200, "OK", inv, ttag, (("Contact", "<sip:10.0.0.1>"),), sdp),
            ),
            (0.02, True, _wire(f"ACK sip:2{k % 10000:04d}@10.0.0.1 SIP/2.0", ack)),
            (
                rng.expovariate(1 / 60),
                caller_hangs,
                _wire(f"BYE sip:x@{'10.0.0.1' if caller_hangs else ua_ip} SIP/2.0", bye),
            ),
            (0.01, not caller_hangs, _response(200, "OK", bye, None)),
        ]
    if kind == "subscribe":
        aor = f"<sip:{user}@example.com>"
        frm = f'"Alice" {aor};tag={ftag}'
        sub = [
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", aor),
            ("Call-ID", cid),
            ("CSeq", f"{rng.randint(1, 500)} SUBSCRIBE"),
            ("Contact", f"<sip:{user}@{ua_ip}:5060>"),
            ("Event", "reg"),
            ("Accept", "application/reginfo+xml"),
            ("Expires", "3600"),
        ]
        ntf = [
            ("Via", f"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{rng.getrandbits(64):x}"),
            ("Max-Forwards", "70"),
            ("From", f"{aor};tag={ttag}"),
            ("To", frm),
            ("Call-ID", cid),
            ("CSeq", f"{rng.randint(1, 50)} NOTIFY"),
            ("Contact", "<sip:10.0.0.1:5060>"),
            ("Event", "reg"),
            ("Subscription-State", "active;expires=3600"),
            ("Content-Type", "application/reginfo+xml"),
        ]
        body = _reginfo(rng, user, rng.randint(1, 3), rng.randint(0, 20))
        return [
            (0.0, True, _wire(f"SUBSCRIBE sip:{user}@example.com SIP/2.0", sub)),
            (0.004, False, _response(200, "OK", sub, ttag, (("Expires", "3600"),))),
            (0.005, False, _wire(f"NOTIFY sip:{user}@{ua_ip}:5060 SIP/2.0", ntf, body)),
            (0.01, True, _response(200, "OK", ntf, None)),
        ]
    h = [
        ("Via", via),
        ("Max-Forwards", "70"),
        ("From", f"<sip:{user}@example.com>;tag={ftag}"),
        ("To", "<sip:19999@example.com>"),
        ("Call-ID", cid),
        ("CSeq", f"{rng.randint(1, 999)} MESSAGE"),
        ("Content-Type", "text/plain"),
    ]
    return [
        (0.0, True, _wire("MESSAGE sip:19999@example.com SIP/2.0", h, "Hi, are you there?")),
        (0.02, False, _response(200, "OK", h, ttag)),
    ]


def synthetic_messages(dialogs: int, seed: int = 1, rate: float = 20.0) -> list[SipMessage]:
    """Parsed messages of ``dialogs`` interleaved dialogs, in time order."""
    rng = random.Random(seed)
    heap: list[tuple[int, int, int, bool, bytes]] = []
    seq = 0
    t0 = 1_700_000_000.0
    start = t0
    for k in range(dialogs):
        start += rng.expovariate(rate)
        at = start
        ua_ip = bytes([10, 1, 1 + k % 200, 1 + k % 250])
        for delay, from_ua, data in _dialog(rng, k):
            at += delay
            heapq.heappush(heap, (round(at * 1e9), seq, int.from_bytes(ua_ip), from_ua, data))
            seq += 1
    out: list[SipMessage] = []
    proxy = endpoint(PROXY, 5060)
    frame = 0
    while heap:
        ts, _, ua, from_ua, data = heapq.heappop(heap)
        frame += 1
        ua_ep = endpoint(ua.to_bytes(4), 5060)
        src, dst = (ua_ep, proxy) if from_ua else (proxy, ua_ep)
        origin = Origin(frame, (frame,), ts, src, dst, Transport.UDP)
        out.append(parse_message(data, origin))
    return out


def _split_by_call_id(messages: list[SipMessage]) -> tuple[list[list[int]], list[list[int]]]:
    groups = list(group_by_call_id(messages).values())
    return groups[::2], groups[1::2]


def test_split_invariance_at_scale() -> None:
    msgs = synthetic_messages(300, seed=7)
    whole = correlate(msgs)
    first, second = _split_by_call_id(msgs)
    # Each half as another process would see it: only its own messages.
    own_a = {i: msgs[i] for g in first for i in g}
    own_b = {i: msgs[i] for g in second for i in g}
    parts = correlate_groups(own_b, second) + correlate_groups(own_a, first)
    assert merge(parts, len(msgs)) == whole
    assert len(whole.message_transaction) == len(msgs)
    assert all(t is not None for t in whole.message_transaction)


def test_synthetic_shape() -> None:
    msgs = synthetic_messages(200, seed=3)
    corr = correlate(msgs)
    assert corr.calls and all(c.outcome is CallOutcome.ANSWERED for c in corr.calls)
    assert all(c.hangup_by is not None and c.duration_ns for c in corr.calls)
    assert corr.subscriptions and all(
        s.state is SubState.ACTIVE and s.dialog is not None for s in corr.subscriptions
    )
    assert len(corr.reginfo) == len(corr.subscriptions)
    assert all(d.applied and d.error is None for d in corr.reginfo)
    assert len(corr.exchanges) == len(group_by_call_id(msgs)) - len(corr.calls) - len(
        corr.subscriptions
    )
    assert not any(t.orphan_response or t.no_final for t in corr.transactions)
    assert corr.notes == ()


def main(argv: list[str]) -> None:
    dialogs = int(argv[1]) if len(argv) > 1 else 36000
    t0 = time.perf_counter()
    msgs = synthetic_messages(dialogs)
    t1 = time.perf_counter()
    groups = len(group_by_call_id(msgs))
    best = float("inf")
    for _ in range(3):
        t2 = time.perf_counter()
        corr = correlate(msgs)
        best = min(best, time.perf_counter() - t2)
    print(
        f"{len(msgs)} messages, {groups} Call-IDs (generated and parsed in {t1 - t0:.1f} s)\n"
        f"correlate: best of 3 {best:.3f} s -> {len(corr.transactions)} transactions, "
        f"{len(corr.dialogs)} dialogs, {len(corr.calls)} calls, "
        f"{len(corr.subscriptions)} subscriptions, {len(corr.reginfo)} reginfo documents, "
        f"{len(corr.exchanges)} exchanges"
    )


if __name__ == "__main__":
    main(sys.argv)
