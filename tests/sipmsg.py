"""Write test SIP messages as text and parse them.

``msg(text)`` dedents the text, turns line ends into CRLF, puts the empty
line after the headers (the first blank line of the text, or the end) and
sets Content-Length to the body's length unless ``fix_length=False``.
``Trace`` numbers frames and keeps times for a whole message list::

    t = Trace()
    t.add(INVITE, at=0.0)                  # frame 1, 10.0.0.1 -> 10.0.0.2
    t.add(RINGING, at=0.5, reverse=True)   # frame 2, 10.0.0.2 -> 10.0.0.1
    corr = correlate(t.messages)
"""

from __future__ import annotations

import ipaddress
import re
import textwrap

from analyzer.net.flow import Endpoint, Origin, Transport, endpoint
from analyzer.sip.message import SipMessage, parse_message

A = "10.0.0.1:5060"
B = "10.0.0.2:5060"

_CONTENT_LENGTH_RE = re.compile(r"^(Content-Length|l)[ \t]*:.*$", re.IGNORECASE | re.MULTILINE)


def ep(text: str) -> Endpoint:
    """``"10.0.0.1:5060"`` or ``"[2001:db8::1]:5060"`` as an Endpoint."""
    host, _, port = text.rpartition(":")
    return endpoint(ipaddress.ip_address(host.strip("[]")).packed, int(port))


def sip_bytes(text: str, *, fix_length: bool = True) -> bytes:
    """The wire bytes for a message written as (indented, LF-ended) text."""
    text = textwrap.dedent(text).lstrip("\n")
    head, sep, body = text.partition("\n\n")
    head = head.rstrip("\n")
    if fix_length:
        length = len(body.replace("\n", "\r\n").encode())
        if _CONTENT_LENGTH_RE.search(head):
            head = _CONTENT_LENGTH_RE.sub(lambda m: f"{m.group(1)}: {length}", head)
        else:
            head += f"\nContent-Length: {length}"
    return (head + "\n\n" + body).replace("\n", "\r\n").encode()


def msg(
    text: str,
    *,
    frame: int = 1,
    ts: int = 0,
    src: str = A,
    dst: str = B,
    transport: Transport = Transport.UDP,
    fix_length: bool = True,
) -> SipMessage:
    """Parse one message written as text (see the module docstring)."""
    origin = Origin(
        frame=frame,
        frames=(frame,),
        ts_ns=ts,
        src=ep(src),
        dst=ep(dst),
        transport=transport,
    )
    return parse_message(sip_bytes(text, fix_length=fix_length), origin)


class Trace:
    """A message list under construction: frames numbered from 1, times in seconds."""

    def __init__(self, start_frame: int = 1, a: str = A, b: str = B) -> None:
        self.messages: list[SipMessage] = []
        self.next_frame = start_frame
        self.a = a
        self.b = b

    def add(
        self,
        text: str,
        at: float,
        *,
        reverse: bool = False,
        src: str | None = None,
        dst: str | None = None,
        transport: Transport = Transport.UDP,
    ) -> int:
        """Append a message sent at ``at`` seconds; returns its message index."""
        if src is None:
            src = self.b if reverse else self.a
        if dst is None:
            dst = self.a if reverse else self.b
        m = msg(
            text,
            frame=self.next_frame,
            ts=round(at * 1e9),
            src=src,
            dst=dst,
            transport=transport,
        )
        self.next_frame += 1
        self.messages.append(m)
        return len(self.messages) - 1


REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    401: "Unauthorized",
    407: "Proxy Authentication Required",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    489: "Bad Event",
    503: "Service Unavailable",
    603: "Decline",
}


def _head(
    first: str,
    *,
    call: str,
    ftag: str | None,
    ttag: str | None,
    cseq: int,
    cseq_method: str,
    branch: str | None,
    via: str,
    from_uri: str,
    to_uri: str,
    headers: tuple[str, ...] | list[str],
    body: str,
) -> str:
    via_value = f"SIP/2.0/UDP {via}" + (f";branch={branch}" if branch is not None else "")
    lines = [
        first,
        f"Via: {via_value}",
        f"From: <{from_uri}>" + (f";tag={ftag}" if ftag else ""),
        f"To: <{to_uri}>" + (f";tag={ttag}" if ttag else ""),
        f"Call-ID: {call}",
        f"CSeq: {cseq} {cseq_method}",
        *headers,
    ]
    return "\n".join(lines) + "\n\n" + body


def req(
    method: str,
    *,
    call: str = "call-1",
    ftag: str | None = "caller",
    ttag: str | None = None,
    cseq: int = 1,
    cseq_method: str | None = None,
    branch: str | None = "z9hG4bK-1",
    via: str = "10.0.0.1:5060",
    uri: str = "sip:bob@example.com",
    from_uri: str = "sip:alice@example.com",
    to_uri: str = "sip:bob@example.com",
    headers: tuple[str, ...] | list[str] = (),
    body: str = "",
) -> str:
    """The text of a request (see :func:`msg`)."""
    return _head(
        f"{method} {uri} SIP/2.0",
        call=call,
        ftag=ftag,
        ttag=ttag,
        cseq=cseq,
        cseq_method=cseq_method or method,
        branch=branch,
        via=via,
        from_uri=from_uri,
        to_uri=to_uri,
        headers=headers,
        body=body,
    )


def resp(
    status: int,
    method: str = "INVITE",
    *,
    call: str = "call-1",
    ftag: str | None = "caller",
    ttag: str | None = None,
    cseq: int = 1,
    branch: str | None = "z9hG4bK-1",
    via: str = "10.0.0.1:5060",
    from_uri: str = "sip:alice@example.com",
    to_uri: str = "sip:bob@example.com",
    headers: tuple[str, ...] | list[str] = (),
    body: str = "",
) -> str:
    """The text of a response to ``method`` (see :func:`msg`)."""
    return _head(
        f"SIP/2.0 {status} {REASONS.get(status, 'Reason')}",
        call=call,
        ftag=ftag,
        ttag=ttag,
        cseq=cseq,
        cseq_method=method,
        branch=branch,
        via=via,
        from_uri=from_uri,
        to_uri=to_uri,
        headers=headers,
        body=body,
    )
