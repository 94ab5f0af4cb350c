"""Message syntax and header rules (catalogue §2, HDR), and the transaction
rules about what a request's top Via and a response's Via and To must carry
(TXN-1, TXN-3, TXN-6, TXN-7, TXN-10).

Most of these read the parser's :class:`~analyzer.sip.message.Defect`
records: the parser is faithful (it keeps a start line with two spaces, a
header line it cannot read, a body shorter than Content-Length) and leaves
judging to these rules.  Compact header forms are understood everywhere
(RFC 3261 §7.3.3: "Implementations MUST accept both the long and short
forms of each header name"), so ``i:`` is a Call-ID and ``m:`` a Contact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from ..correlation import MAGIC_COOKIE, Transaction
from ..errors import SipParseError
from ..sip.abnf import QUOTED_STRING_RE
from ..sip.headers import COMPACT_FORMS, KNOWN_HEADER_KEYS, KNOWN_HEADERS, split_values
from ..sip.message import IANA_METHOD_SET, IANA_METHODS, SipMessage, SipRequest, SipResponse
from ..sip.values import Via, parse_params
from . import rule
from .base import Context, Issue, Scope, Severity, answers_along_path, quote, request_index
from .triggers import UDP_REQUEST_LIMIT, Trigger

# -- shared helpers -----------------------------------------------------------


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (edits, with adjacent swaps as one), capped.

    Returns ``limit + 1`` as soon as the distance is known to exceed
    ``limit``; the strings are short header names and methods.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _nearest(word: str, candidates: Sequence[str], limit: int) -> str | None:
    """The candidate closest to ``word`` within ``limit`` edits (ties: first listed)."""
    best: str | None = None
    best_d = limit + 1
    for c in candidates:
        d = _distance(word, c, limit)
        if d < best_d:
            best, best_d = c, d
    return best


def _defects(msg: SipMessage, code: str) -> list[str]:
    return [d.detail for d in msg.defects if d.code == code]


def _kind(msg: SipMessage) -> str:
    if isinstance(msg, SipRequest):
        return msg.method
    return f"{msg.status} response"


# -- mandatory headers ----------------------------------------------------------


def _missing(msg: SipMessage) -> list[str]:
    """The headers of To, From, CSeq, Call-ID and Via that ``msg`` lacks.

    The eager fields settle most of it without reading the headers: a
    parsed tag, CSeq, Call-ID or branch means the header is there.  A
    Call-ID header with an empty value counts as missing.
    """
    candidates: list[tuple[str, str]] = []
    if msg.to_tag is None:
        candidates.append(("to", "To"))
    if msg.from_tag is None:
        candidates.append(("from", "From"))
    if msg.cseq_num is None:
        candidates.append(("cseq", "CSeq"))
    if msg.call_id is None:
        candidates.append(("call-id", "Call-ID"))
    if msg.branch is None:
        candidates.append(("via", "Via"))
    if not candidates:
        return []
    headers = msg.headers
    out: list[str] = []
    for key, shown in candidates:
        if key not in headers:
            out.append(shown)
        elif key == "call-id":
            out.append("Call-ID (it is empty)")
    return out


def _headers_named(names: Sequence[str]) -> str:
    return f"{names[0]} header" if len(names) == 1 else f"{', '.join(names)} headers"


@rule(
    "HDR-1",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.EAGER_GAP,
)
def request_mandatory_headers(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Request lacks a mandatory header (To, From, CSeq, Call-ID or Via).

    RFC 3261 §8.1.1: "A valid SIP request formulated by a UAC MUST, at a
    minimum, contain the following header fields: To, From, CSeq, Call-ID,
    Max-Forwards, and Via".  Compact forms count (``t f i v``); a misspelt
    name does not (see HDR-11b).  A missing Max-Forwards is reported by
    HDR-8, which owns everything about that header.
    """
    missing = _missing(msg)
    if missing:
        yield Issue(f"{_kind(msg)} request has no {_headers_named(missing)}", (i,))


@rule(
    "HDR-2",
    severity=Severity.ERROR,
    rfc="RFC 3261 §20",
    scope=Scope.MESSAGE,
    requests=False,
    triggers=Trigger.EAGER_GAP,
)
def response_mandatory_headers(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Response lacks a mandatory header (Via, From, To, Call-ID or CSeq).

    RFC 3261 §20: "A mandatory response header field MUST be present in the
    response"; Tables 2 and 3 make Call-ID, CSeq, From, To and Via
    mandatory in every response.  (Max-Forwards is for requests only.)
    """
    missing = _missing(msg)
    if missing:
        yield Issue(f"{_kind(msg)} has no {_headers_named(missing)}", (i,))


# -- Content-Length and framing -------------------------------------------------


def _no_content_length(msg: SipMessage) -> bool:
    return msg.content_length is None and not any(
        d.code == "bad-content-length" for d in msg.defects
    )


@rule(
    "HDR-3",
    severity=Severity.ERROR,
    rfc="RFC 3261 §18.3",
    scope=Scope.MESSAGE,
    triggers=Trigger.NO_CONTENT_LENGTH,
)
def content_length_missing_on_stream(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """No Content-Length in a message sent over TCP or SCTP.

    RFC 3261 §18.3: "The Content-Length header field MUST be used with
    stream oriented transports."  The transport is the one the capture saw
    (a proxy may change it, so the Via is not used).
    """
    if ctx.over_stream(msg) and _no_content_length(msg):
        yield Issue(
            f"{_kind(msg)} sent over {msg.origin.transport.value.upper()} "
            "has no Content-Length header",
            (i,),
        )


@rule(
    "HDR-3b",
    severity=Severity.WARNING,
    rfc="RFC 3261 §20.14",
    scope=Scope.MESSAGE,
    triggers=Trigger.NO_CONTENT_LENGTH,
)
def content_length_missing_on_udp(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """No Content-Length in a message sent over UDP.

    RFC 3261 §20.14: "Applications SHOULD use this field to indicate the
    size of the message-body to be transferred, regardless of the media
    type of the entity."  Legal to omit over UDP, where the datagram ends
    the body.
    """
    if ctx.over_datagrams(msg) and _no_content_length(msg):
        yield Issue(f"{_kind(msg)} sent over UDP has no Content-Length header", (i,))


# What the SIP framing diagnostics say when a stream lost bytes or the capture
# stopped, rather than the sender announcing more than it sent.
_CAPTURE_GAP_MARKERS = ("bytes missing", "(capture-end)")


@rule(
    "HDR-4",
    severity=Severity.ERROR,
    rfc="RFC 3261 §20.14",
    scope=Scope.MESSAGE,
    defects=("bad-content-length", "short-body", "extra-bytes"),
)
def content_length_mismatch(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Content-Length is not a number or does not match the body.

    RFC 3261 §20.14: "If no body is present in a message, then the
    Content-Length header field value MUST be set to zero."  The value must
    be 1*DIGIT (a ``...`` copied from a document is not), and over a stream
    transport the body must be as long as it says, counted in bytes.  Not
    the sender's fault, and reported as info: a frame cut by the capture's
    snapshot length, a stream whose bytes were lost, a capture that stopped
    mid-message; a stream the peer reset is a warning.  Over UDP a short or
    long datagram is HDR-4b / HDR-4c.
    """
    for detail in _defects(msg, "bad-content-length"):
        yield Issue(detail, (i,))
    if ctx.over_datagrams(msg):
        return
    for code in ("short-body", "extra-bytes"):
        for detail in _defects(msg, code):
            severity: Severity | None = None
            note = ""
            if msg.origin.truncated:
                severity, note = Severity.INFO, " (a frame was cut by the capture)"
            elif code == "short-body":
                reasons = ctx.framing_reasons(msg.origin.frames)
                if any(m in r for r in reasons for m in _CAPTURE_GAP_MARKERS):
                    severity, note = Severity.INFO, " (bytes missing from the capture)"
                elif any("(rst)" in r for r in reasons):
                    severity, note = Severity.WARNING, " (the connection was reset)"
            what = "body" if code == "short-body" else "extra bytes"
            yield Issue(
                f"Content-Length {msg.content_length} does not match the body: "
                f"{what} {detail}{note}",
                (i,),
                severity,
            )


@rule(
    "HDR-4b",
    severity=Severity.ERROR,
    rfc="RFC 3261 §18.3",
    scope=Scope.MESSAGE,
    defects=("short-body",),
)
def udp_shorter_than_content_length(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """UDP datagram shorter than its Content-Length.

    RFC 3261 §18.3: "If the transport packet ends before the end of the
    message body, this is considered an error."  A request should get a
    400; a response is discarded.  Info when a frame was cut by the
    capture's snapshot length.
    """
    if not ctx.over_datagrams(msg):
        return
    for detail in _defects(msg, "short-body"):
        cut = msg.origin.truncated
        yield Issue(
            f"Content-Length {msg.content_length}, but the datagram holds only {detail}",
            (i,),
            Severity.INFO if cut else None,
        )


@rule(
    "HDR-4c",
    severity=Severity.WARNING,
    rfc="RFC 3261 §18.3",
    scope=Scope.MESSAGE,
    defects=("extra-bytes",),
)
def udp_bytes_after_body(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Bytes after the body in a UDP datagram.

    RFC 3261 §18.3: "If there are additional bytes in the transport packet
    beyond the end of the body, they MUST be discarded."  The receiver
    ignores them, so a Content-Length that is too small cuts the body.
    """
    if not ctx.over_datagrams(msg):
        return
    for detail in _defects(msg, "extra-bytes"):
        yield Issue(f"{detail}: the receiver discards them", (i,))


@rule(
    "HDR-5",
    severity=Severity.ERROR,
    rfc="RFC 3261 §20.15",
    scope=Scope.MESSAGE,
    triggers=Trigger.UNTYPED_BODY,
)
def body_without_content_type(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Body without Content-Type.

    RFC 3261 §20.15: "The Content-Type header field MUST be present if the
    body is not empty."  A body of blank lines only is taken as empty.
    MESSAGE requests are checked by MSG-6.
    """
    if isinstance(msg, SipRequest) and msg.method == "MESSAGE":
        return
    if msg.body and msg.body.strip(b"\r\n") and "content-type" not in msg.headers:
        yield Issue(f"{_kind(msg)} has a {len(msg.body)}-byte body but no Content-Type", (i,))


# -- lines and start line ---------------------------------------------------------

_LINE_SPLIT_RE = re.compile(rb"\r?\n")
_LINE_NUMBER_RE = re.compile(r"line (\d+):")
# How a body's first line looks: XML, JSON, a MIME boundary, SDP "v=0".
_BODY_START_RE = re.compile(rb"[ \t]*(?:<|\{|\[|--|[a-z]=)")


def _glued_body(msg: SipMessage) -> tuple[int, int] | None:
    """Lines (first, last) of a body read as header lines, when the empty line is missing.

    The parser keeps every line before the first empty line in the header
    section; when the last lines there are malformed header lines and the
    first of them that is not header-like looks like the start of a body,
    the empty line before the body is missing (catalogue HDR-6).
    """
    numbers = []
    for detail in _defects(msg, "malformed-header"):
        m = _LINE_NUMBER_RE.match(detail)
        if m is not None:
            numbers.append(int(m[1]))
    if not numbers or any(d.code == "missing-empty-line" for d in msg.defects):
        return None
    lines = _LINE_SPLIT_RE.split(msg.raw.lstrip(b"\r\n"))
    try:
        last = lines.index(b"")
    except ValueError:
        last = len(lines)
    bad = set(numbers)
    if last not in bad:
        return None
    first = last
    while first - 1 in bad:
        first -= 1
    for n in range(first, last + 1):
        if _BODY_START_RE.match(lines[n - 1]) is not None:
            return n, last
    return None


@rule(
    "HDR-6",
    severity=Severity.ERROR,
    rfc="RFC 3261 §7",
    scope=Scope.MESSAGE,
    defects=("bare-lf", "missing-empty-line", "malformed-header"),
)
def line_endings(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Line not ended by CRLF, or no empty line between the headers and the body.

    RFC 3261 §7: "The start-line, each message-header line, and the empty
    line MUST be terminated by a carriage-return line-feed sequence (CRLF)"
    and "the empty line MUST be present even if the message-body is not".
    Reported: bare LF line ends, a message without an empty line, and body
    lines (XML, SDP...) glued to the headers.  Info when the message was cut
    by the capture.
    """
    for detail in _defects(msg, "bare-lf"):
        yield Issue(f"bare LF line ends: {detail}", (i,))
    for detail in _defects(msg, "missing-empty-line"):
        cut = msg.origin.truncated
        yield Issue(
            f"no empty line after the header section: {detail}",
            (i,),
            Severity.INFO if cut else None,
        )
    glued = _glued_body(msg)
    if glued is not None:
        first, last = glued
        yield Issue(
            f"lines {first}-{last} are a body read as header lines: the empty line "
            "before the body is missing, so the receiver sees no body",
            (i,),
        )


@rule(
    "HDR-7",
    severity=Severity.ERROR,
    rfc="RFC 3261 §7.1, §7.2",
    scope=Scope.MESSAGE,
    defects=("start-line-spacing", "version-case", "start-line-control"),
)
def start_line(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Start line not separated by single spaces, or version not upper-case SIP/2.0.

    RFC 3261 §7.1: "A Request-Line contains a method name, a Request-URI,
    and the protocol version separated by a single space (SP) character."
    (§7.2 says the same of the Status-Line.)  Doubled or trailing spaces,
    TAB, and U+00A0 NO-BREAK SPACE (from text copied out of web pages) make
    the line unparsable for strict receivers; the version must be
    upper-case ("implementations MUST send upper-case").
    """
    problems = _defects(msg, "start-line-spacing") + _defects(msg, "version-case")
    problems += _defects(msg, "start-line-control")
    if not problems:
        return
    if any(d.code == "nbsp" and d.detail.startswith("line 1:") for d in msg.defects):
        problems.append("it contains U+00A0 NO-BREAK SPACE")
    yield Issue("; ".join(problems), (i,))


# -- Max-Forwards, Via, From --------------------------------------------------------


@rule(
    "HDR-8",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.6, §20.22",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.ODD_MAX_FORWARDS,
)
def max_forwards(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Max-Forwards missing or not an integer from 0 to 255, or a request with 0 forwarded.

    RFC 3261 §8.1.1.6: "A UAC MUST insert a Max-Forwards header field into
    each request it originates"; §20.22: "The Max-Forwards value is an
    integer in the range 0-255".  (The recommended initial value 70 is not
    checked: behind a proxy the value has been decremented.)  Also: a
    request that arrived with Max-Forwards 0 and was sent on by the element
    that received it (the same request, by Call-ID, From tag, CSeq and
    method, leaving that element's address later with another Via branch):
    §16.3 "If the Max-Forwards value reaches 0, the proxy MUST NOT forward
    the request"; it should have answered 483 (Too Many Hops).
    """
    value = msg.headers.get("max-forwards")
    if value is None:
        yield Issue(f"{_kind(msg)} request has no Max-Forwards header", (i,))
        return
    v = value.strip()
    # At most three digits before int(): a hostile value may be thousands long.
    if not (v.isdigit() and v.isascii() and len(v) <= 3 and int(v) <= 255):
        yield Issue(f"Max-Forwards {quote(value)} is not an integer from 0 to 255", (i,))
        return
    if int(v) == 0:
        yield from _forwarded_at_zero(ctx, i, msg)


def _forwarded_at_zero(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """The copies of request ``i`` (Max-Forwards 0) that its receiver sent on."""
    txn = ctx.transaction_of(i)
    if txn is None or not txn.linked:
        return
    here = msg.origin
    for tid in txn.linked:
        other = ctx.transaction(tid)
        if other is None or other.request is None:
            continue
        out = ctx.messages[other.request]
        if (
            out.origin.ts_ns > here.ts_ns
            and out.origin.src.ip == here.dst.ip
            and out.branch != msg.branch
        ):
            yield Issue(
                f"{_kind(msg)} request arrived at {here.dst} with Max-Forwards 0 and was "
                f"forwarded (frame {out.origin.frame}); it should have been answered 483",
                (other.request, i),
            )
            return


@rule(
    "HDR-9",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.7",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.ODD_VIA,
)
def top_via(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Top Via unreadable, not SIP/2.0, or without a branch parameter.

    RFC 3261 §8.1.1.7: "The protocol name and protocol version in the
    header field MUST be SIP and 2.0, respectively." and "The Via header
    field value MUST contain a branch parameter."  Only the top Via (the
    sender's own) is checked.  A missing Via is HDR-1.
    """
    value = msg.headers.get("via")
    if value is None:
        return
    if msg.branch is not None and value[:8].upper() == "SIP/2.0/":
        return
    via = ctx.top_via(i)
    if via is None:
        yield Issue(f"top Via {quote(value)} is not a via-parm", (i,))
        return
    if via.protocol.upper() != "SIP" or via.version != "2.0":
        yield Issue(
            f"top Via sent-protocol is {quote(f'{via.protocol}/{via.version}')}, not SIP/2.0",
            (i,),
        )
    if via.branch is None:
        yield Issue(f"top Via {quote(value)} has no branch parameter", (i,))


def _param_names(section: str) -> list[str]:
    try:
        return [name.lower() for name, _ in parse_params(section) if name]
    except SipParseError:
        return []


def _header_params(value: str) -> str:
    """The header-parameter section of a From/To/Contact value (after the URI)."""
    text = QUOTED_STRING_RE.sub('""', value) if '"' in value else value
    gt = text.rfind(">")
    if gt >= 0:
        return text[gt + 1 :]
    semi = text.find(";")
    return "" if semi < 0 else text[semi:]


@rule(
    "HDR-10",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.3",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.EAGER_GAP,
)
def from_tag(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Request From header without a tag.

    RFC 3261 §8.1.1.3: "The From field MUST contain a new "tag" parameter,
    chosen by the UAC."  Without it no dialog or subscription can be
    matched (a NOTIFY without a From tag gets a 481).  A misspelt parameter
    (``;tab=``) is named.  A warning when the top Via has no branch at all,
    the mark of an RFC 2543 client (§12.1.1: "A UAS MUST be prepared to
    receive a request without a tag in the From field").
    """
    if msg.from_tag is not None:
        return
    value = msg.headers.get("from")
    if value is None:
        return
    hint = ""
    for name in _param_names(_header_params(value)):
        if name != "tag" and _distance(name, "tag", 1) <= 1:
            hint = f" (it has a {quote(name)} parameter: a misspelt tag)"
            break
    yield Issue(
        f"From {quote(value)} has no tag parameter{hint}",
        (i,),
        Severity.WARNING if msg.branch is None else None,
    )


# -- header names and methods -------------------------------------------------------

_KNOWN_NAMES = tuple(KNOWN_HEADERS)
# Canonical keys that are never reported: KNOWN_HEADER_KEYS.
_KNOWN_KEYS = KNOWN_HEADER_KEYS

# Near-miss verdicts by lower-case name (None: not a near miss).  Capped so
# that a capture full of random names cannot grow it without limit; past
# the cap verdicts are computed each time.
MAX_NAME_VERDICTS = 4096
_verdicts: dict[str, str | None] = {}


def _misspelling_of(name: str) -> str | None:
    """The known header ``name`` (lower case, unknown) is probably a misspelling of."""
    if name in _verdicts:
        return _verdicts[name]
    verdict: str | None = None
    # Short names are too close to everything.  Otherwise a misspelling is
    # the known name with its hyphens dropped or replaced ("CallID",
    # "Content_Length"), or the same hyphen-separated words with at most one
    # edit in each and two in all ("Contatct", "Exipres", "Conten-Lenght").
    # A vendor header that shares a word with a known one is not a near miss
    # ("Session-GUID" is not Session-ID: a whole word differs).
    if len(name) >= 4:
        squashed = _squash(name)
        parts = name.split("-")
        for known in _KNOWN_NAMES:
            if squashed == _squash(known):
                verdict = known
                break
        else:
            for known in _KNOWN_NAMES:
                known_parts = known.split("-")
                if len(known_parts) != len(parts) or abs(len(known) - len(name)) > 2:
                    continue
                edits = [_distance(p, k, 1) for p, k in zip(parts, known_parts, strict=True)]
                if max(edits) <= 1 and sum(edits) <= 2:
                    verdict = known
                    break
    if len(_verdicts) < MAX_NAME_VERDICTS:
        _verdicts[name] = verdict
    return verdict


def _squash(name: str) -> str:
    return name.replace("-", "").replace("_", "").replace(".", "")


@rule(
    "HDR-11a",
    severity=Severity.ERROR,
    rfc="RFC 3261 §7.3, §25.1",
    scope=Scope.MESSAGE,
    defects=("malformed-header",),
)
def malformed_header_line(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Header line that is not a valid header field.

    RFC 3261 §7.3 / §25: a header field is a token name, a colon and a
    value.  A name that is not a token (``Content=Length``: "=" is a
    separator), a line without a colon, or a continuation line that follows
    nothing cannot be read; the receiver should answer 400.  Body lines
    glued to the headers are reported by HDR-6 instead.
    """
    details = _defects(msg, "malformed-header")
    if not details:
        return
    glued = _glued_body(msg)
    if glued is not None:
        first, last = glued
        keep = []
        for detail in details:
            m = _LINE_NUMBER_RE.match(detail)
            if m is None or not first <= int(m[1]) <= last:
                keep.append(detail)
        details = keep
    if details:
        more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
        yield Issue("not a header field: " + "; ".join(details[:3]) + more, (i,))


@rule(
    "HDR-11b",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.2.2, §7.3",
    scope=Scope.MESSAGE,
    triggers=Trigger.UNKNOWN_HEADER,
)
def misspelled_header_name(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Header name that is probably a misspelling of a known header.

    RFC 3261 §8.2.2: "If a UAS does not understand a header field in a
    request (that is, the header field is not defined in this specification
    or in any supported extension), the server MUST ignore that header
    field".  A name within one or two edits of a registered header
    (``Contatct``, ``Exipres``, ``Requires``) is ignored by the receiver,
    so the header it was meant to be is effectively missing.  Extension
    headers (``X-``, ``P-``) and names in ``Options.extra_headers`` are
    never reported.
    """
    headers = msg.headers
    known = _KNOWN_KEYS
    if known.issuperset(headers.names()):  # the common case, without splitting lines
        return
    unknown = [(raw, key) for raw, key, _ in headers.items if key not in known]
    if not unknown:
        return
    allowed = ctx.options.extra_headers
    reported: set[str] = set()
    for raw, key in unknown:
        if key in reported or key.startswith(("x-", "p-")) or key in allowed:
            continue
        meant = _misspelling_of(key)
        if meant is None:
            continue
        reported.add(key)
        shown = KNOWN_HEADERS[meant]
        effect = (
            f"the message also has a {shown} header"
            if meant in headers
            else f"receivers ignore it, so {shown} is effectively missing"
        )
        yield Issue(f"header {quote(raw)} is probably a misspelling of {shown}: {effect}", (i,))


def _uri_host(uri: str) -> str | None:
    """The host of a sip:/sips: URI; None for other schemes and IPv6 references."""
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return None
    rest = rest.rpartition("@")[2]
    for sep in ";?":
        rest = rest.split(sep, 1)[0]
    if rest.startswith("["):
        return None
    return rest.split(":", 1)[0] or None


def _addr_uri(value: str) -> str:
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1 : gt if gt > lt else len(value)].strip()
    return value.split(";", 1)[0].strip()


@rule(
    "HDR-11c",
    severity=Severity.WARNING,
    rfc="RFC 3261 §25.1",
    scope=Scope.MESSAGE,
    triggers=Trigger.UNDERSCORE,
)
def underscore_in_hostname(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Underscore in a host name.

    RFC 3261 §25.1: ``domainlabel = alphanum / alphanum *( alphanum / "-"
    ) alphanum`` has no "_", so ``app_IM.atlanta.com`` is not a valid
    hostname.  Checked in the Request-URI, the top Via and the From, To and
    Contact URIs (user parts may contain "_").  A warning: many stacks
    accept it.
    """
    if b"_" not in msg.raw:
        return
    places: dict[str, list[str]] = {}
    headers = msg.headers
    if isinstance(msg, SipRequest) and "_" in msg.uri:
        host = _uri_host(msg.uri)
        if host is not None and "_" in host:
            places.setdefault(host, []).append("Request-URI")
    via = headers.get("via")
    if via is not None and "_" in via:
        top = ctx.top_via(i)
        if top is not None and "_" in top.host:
            places.setdefault(top.host, []).append("Via")
    for key, shown in (("from", "From"), ("to", "To")):
        value = headers.get(key)
        if value is not None and "_" in value:
            host = _uri_host(_addr_uri(value))
            if host is not None and "_" in host:
                places.setdefault(host, []).append(shown)
    for value in headers.values("contact"):
        if "_" in value:
            host = _uri_host(_addr_uri(value))
            if host is not None and "_" in host:
                places.setdefault(host, []).append("Contact")
    for host, where in places.items():
        yield Issue(
            f"host name {quote(host)} ({', '.join(where)}) contains '_', which "
            "RFC 3261 host names do not allow",
            (i,),
        )


@rule(
    "HDR-12",
    severity=Severity.ERROR,
    rfc="RFC 3261 §7.1, §8.2.1; RFC 3428 §9",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.UNKNOWN_METHOD,
)
def unknown_method(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Unknown request method.

    A method outside the IANA registry (INVITE, ACK, BYE, CANCEL, OPTIONS,
    REGISTER, PRACK, SUBSCRIBE, NOTIFY, PUBLISH, INFO, REFER, MESSAGE,
    UPDATE) gets a 405 or 501 (RFC 3261 §8.2.1).  Method names are
    case-sensitive (RFC 3428 §9: "As with all other methods, the MESSAGE
    method name is case sensitive."), so ``Invite`` is unknown too.  A near
    miss is named (``NOFITY``: NOTIFY).  Private methods can be allowed
    with ``Options.extra_methods``.
    """
    assert isinstance(msg, SipRequest)
    method = msg.method
    if method in IANA_METHOD_SET or method in ctx.options.extra_methods:
        return
    upper = method.upper()
    if upper in IANA_METHOD_SET:
        hint = f"; method names are case-sensitive: {upper}?"
    else:
        near = _nearest(upper, IANA_METHODS, 2)
        hint = f"; probably {near} misspelt" if near is not None else ""
    yield Issue(f"unknown method {quote(method)}{hint}", (i,))


_PARAM_NAME_RE = re.compile(r";[ \t]*([^ \t;=,]+)")


def _duplicates(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for n in names:
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    return dup


@rule(
    "HDR-14",
    severity=Severity.ERROR,
    rfc="RFC 3261 §7.3.1",
    scope=Scope.MESSAGE,
    triggers=Trigger.PARAMETERS,
)
def duplicate_parameter(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Duplicate parameter in a From, To or Via value.

    RFC 3261 §7.3.1: "any given parameter-name MUST NOT appear more than
    once."  A second ``tag`` or ``branch`` leaves the receiver to guess
    which one counts.  Checked where the sender wrote the value: the From,
    To and top Via of a request, and the To of a response (where the UAS
    adds its tag); the other values are copies.
    """
    headers = msg.headers
    request = isinstance(msg, SipRequest)
    for key, shown in (("from", "From"), ("to", "To")) if request else (("to", "To"),):
        value = headers.get(key)
        if value is None or value.count(";") < 2:
            continue
        names = [n.lower() for n in _PARAM_NAME_RE.findall(_header_params(value))]
        if len(names) != len(set(names)):
            dup = _duplicates(_param_names(_header_params(value)))
            if dup:
                yield Issue(f"{shown} {quote(value)} repeats {', '.join(dup)}", (i,))
    if not request:
        return
    line = headers.get("via")
    if line is None or line.count(";") < 2:
        return
    # The top via-parm: the line up to its first comma outside quotes.
    value = split_values(line)[0] if "," in line else line
    dup = _duplicates([n.lower() for n in _PARAM_NAME_RE.findall(value)])
    if dup:
        yield Issue(f"Via {quote(value)} repeats {', '.join(dup)}", (i,))


@rule(
    "HDR-15",
    severity=Severity.WARNING,
    rfc="RFC 3261 §18.1.1",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.LARGE,
)
def large_udp_request(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Request over UDP larger than 1300 bytes.

    RFC 3261 §18.1.1: "If a request is within 200 bytes of the path MTU, or
    if it is larger than 1300 bytes and the path MTU is unknown, the request
    MUST be sent using an RFC 2914 [43] congestion controlled transport
    protocol, such as TCP."  A warning: the path MTU may be known to be
    larger.  The size is that of the SIP message after IP reassembly.
    """
    size = len(msg.raw)
    if size > UDP_REQUEST_LIMIT and ctx.over_datagrams(msg):
        frags = (
            f", carried in {len(msg.origin.frames)} frames" if len(msg.origin.frames) > 1 else ""
        )
        yield Issue(
            f"{_kind(msg)} request of {size} bytes sent over UDP{frags}; over "
            f"{UDP_REQUEST_LIMIT} bytes it must use a congestion-controlled transport",
            (i,),
        )


def _via_address(v: Via) -> IPv4Address | IPv6Address | None:
    """The address a via-parm names: its ``received`` parameter, else its host if an IP."""
    text = (v.received or v.host).strip("[]")
    try:
        return ip_address(text)
    except ValueError:
        return None


@rule(
    "HDR-16",
    severity=Severity.INFO,
    rfc="RFC 3261 §8.1.3.3",
    scope=Scope.MESSAGE,
    requests=False,
    triggers=Trigger.SEVERAL_VIAS,
)
def several_vias_at_uac(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Response delivered to its originating UAC with more than one Via.

    RFC 3261 §8.1.3.3: "If more than one Via header field value is present
    in a response, the UAC SHOULD discard the message."  Each proxy removes
    its own Via from a response (§16.7), so the response that reaches the
    originating UAC (the address of the bottom Via: its ``received``
    parameter, or its host when that is an IP address) has one.  At a proxy
    several Vias are normal (catalogue G-4): only the last link, to the
    bottom Via's address, is judged.
    """
    lines = ctx.via_lines(i)
    if len(lines) < 2 and (not lines or "," not in lines[0]):
        return
    vias = ctx.vias(i)
    if not vias or len(vias) < 2:
        return
    bottom = vias[-1]
    dst = msg.origin.dst
    if _via_address(bottom) != dst.ip:
        return
    if any(_via_address(v) == dst.ip for v in vias[:-1]):
        # Another element on the UAC's own host (a local proxy): not the last link.
        return
    yield Issue(
        f"{_kind(msg)} sent to {dst}, the originating UAC (bottom Via "
        f"{quote(bottom.sent_by)}), carries {len(vias)} Via values; the UAC discards it",
        (i,),
    )


# Headers whose grammar has no free text outside quoted strings: a U+00A0 in
# them is part of a token (a tag, a branch, a host) or stray.  Free-text
# headers (Subject, User-Agent, Server, Warning...) may carry UTF-8.
_STRUCTURED = frozenset(
    (
        "via",
        "from",
        "to",
        "contact",
        "call-id",
        "cseq",
        "content-length",
        "content-type",
        "max-forwards",
        "route",
        "record-route",
        "event",
        "subscription-state",
        "expires",
        "min-expires",
        "allow",
        "supported",
        "require",
    )
)
_NBSP_BYTES = b"\xc2\xa0"


@rule(
    "HDR-17",
    severity=Severity.ERROR,
    rfc="RFC 3261 §25.1",
    scope=Scope.MESSAGE,
    defects=("nbsp",),
)
def nbsp_in_header(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """U+00A0 NO-BREAK SPACE in a structured header value.

    RFC 3261 §25.1 allows only SP and HTAB as white space (``LWS``) and no
    non-ASCII characters in tokens and host names, so a U+00A0 (typically
    from text copied out of a web page) becomes part of the tag, branch or
    URI next to it, or makes the value unparsable.  Checked in headers
    without free text (Via, From, To, Contact, Call-ID, CSeq, Event...);
    quoted display names may contain it.  (A product rule for catalogue
    G-9; U+00A0 in the start line is HDR-7.)
    """
    head = msg.raw.split(b"\r\n\r\n", 1)[0]
    found: list[str] = []
    for number, line in enumerate(_LINE_SPLIT_RE.split(head.lstrip(b"\r\n"))[1:], 2):
        if _NBSP_BYTES not in line:
            continue
        text = line.decode("utf-8", "backslashreplace")
        name, colon, value = text.partition(":")
        key = name.strip().lower()
        key = COMPACT_FORMS.get(key, key)
        if not colon or key not in _STRUCTURED:
            continue
        if "\xa0" in QUOTED_STRING_RE.sub('""', value):
            found.append(f"line {number} {quote(text)}")
    if found:
        yield Issue("U+00A0 NO-BREAK SPACE in " + "; ".join(found), (i,))


# -- transaction-level Via and To checks ----------------------------------------------


@rule(
    "TXN-1",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.7",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.ODD_VIA,
)
def branch_magic_cookie(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Via branch without the z9hG4bK magic cookie.

    RFC 3261 §8.1.1.7: "The branch ID inserted by an element compliant with
    this specification MUST always begin with the characters "z9hG4bK"."
    Without it, receivers fall back to RFC 2543 transaction matching.  A
    branch whose first characters are one or two edits from the cookie
    (``z9G4bK``) is named a misspelling.
    """
    branch = msg.branch
    if branch is None or branch.startswith(MAGIC_COOKIE):
        return
    hint = ""
    if _distance(branch[: len(MAGIC_COOKIE)], MAGIC_COOKIE, 2) <= 2:
        hint = " (a misspelt cookie)"
    yield Issue(f"Via branch {quote(branch)} does not begin with {MAGIC_COOKIE}{hint}", (i,))


@rule("TXN-3", severity=Severity.ERROR, rfc="RFC 3261 §17.1.3", scope=Scope.TRANSACTION)
def response_branch_mismatch(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """Response matches no transaction because its Via branch differs from its request's.

    RFC 3261 §17.1.3: a response matches a client transaction when it has
    "the same value as the branch parameter in the top Via header field of
    the request that created the transaction" and the same CSeq method.
    Reported for a response without a matching request when a request with
    the same Call-ID, From tag and CSeq went the opposite way between the
    same addresses: the UAS (or something on the path) changed the Via, and
    the client discards the response.  A response whose request was simply
    not captured is not reported (catalogue G-1, G-2).
    """
    if txn.request is not None or not txn.responses:
        return
    first = txn.responses[0].message
    resp = ctx.messages[first]
    for other in ctx.transactions_with_call_id(txn.call_id):
        req = ctx.request(other)
        if (
            req is None
            or other.method != txn.method
            or other.branch == txn.branch
            or req.from_tag != resp.from_tag
            or req.cseq_num != resp.cseq_num
            or not answers_along_path(resp, req)
        ):
            continue
        yield Issue(
            f"{txn.responses[0].status} response has Via branch {quote(txn.branch)}, but its "
            f"{req.method} request (frame {req.origin.frame}, CSeq {req.cseq_num}) has "
            f"{quote(req.branch)}: the response matches no transaction and is discarded",
            (first, request_index(other)),
        )
        return


def _via_key(v: Via) -> tuple[object, ...]:
    # Compared as RFC 3261 §20.42 / §7.3.1 compare values: names and
    # tokens case-insensitively, parameters in any order.  "received" and
    # "rport" are added or filled by the server (§18.2.1, RFC 3581).
    params = frozenset(
        (name.lower(), value) for name, value in v.params if name.lower() not in _SERVER_PARAMS
    )
    return (v.protocol.upper(), v.version, v.transport.upper(), v.host.lower(), v.port, params)


_SERVER_PARAMS = frozenset(("received", "rport"))


def _sent_by(v: Via) -> tuple[str, int | None]:
    return v.host.lower(), v.port


@rule("TXN-6", severity=Severity.ERROR, rfc="RFC 3261 §8.2.6.2", scope=Scope.TRANSACTION)
def response_via_differs(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """Response Via list differs from its request's.

    RFC 3261 §8.2.6.2: "The Via header field values in the response MUST
    equal the Via header field values in the request and MUST maintain the
    same ordering."  Compared within one transaction (one hop), ignoring the
    ``received`` and ``rport`` parameters the server adds.  A different top
    sent-by is TXN-10.
    """
    yield from _check_vias(ctx, txn, top=False)


@rule("TXN-10", severity=Severity.ERROR, rfc="RFC 3261 §18.1.2", scope=Scope.TRANSACTION)
def response_sent_by_differs(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """Response top-Via sent-by differs from its request's.

    RFC 3261 §18.1.2: "If the value of the "sent-by" parameter in that
    header field value does not correspond to a value that the client
    transport is configured to insert into requests, the response MUST be
    silently discarded."
    """
    yield from _check_vias(ctx, txn, top=True)


# (response index, its Via values, the request's) for each response whose
# Via list differs from its request's other than by received/rport.
_ViaDiff = tuple[int, int, tuple[Via, ...], tuple[Via, ...]]


def _via_differences(ctx: Context, txn: Transaction) -> list[_ViaDiff]:
    """The responses of ``txn`` whose Via list differs from the request's (shared, cached)."""
    key = ("via-differences", txn.id)
    cached = ctx.memo.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    out: list[_ViaDiff] = []
    ctx.memo[key] = out
    if txn.request is None or ctx.request(txn) is None:
        return out
    # The common case, without building lists: every response has the one
    # Via line of the request, as written (no name repeats in either).
    messages = ctx.messages
    req_headers = messages[txn.request].headers
    if not req_headers.repeats:
        line = req_headers.first_values().get("via")
        for r in txn.responses:
            headers = messages[r.message].headers
            if headers.repeats or headers.first_values().get("via") != line:
                break
        else:
            return out
    want_raw = ctx.via_lines(txn.request)
    want_plain: str | None = None
    want: tuple[Via, ...] | None = None
    for r in txn.responses:
        got_raw = ctx.via_lines(r.message)
        if got_raw == want_raw:
            continue
        # Usually the only difference is the received/rport the server
        # added: compare the text without them before parsing anything.
        if want_plain is None:
            want_plain = _plain_vias(want_raw)
        if _plain_vias(got_raw) == want_plain:
            continue
        if want is None:
            want = ctx.vias(txn.request)
            if not want:
                return out
        got = ctx.vias(r.message)
        if got:
            out.append((r.message, r.status, got, want))
    return out


def _check_vias(ctx: Context, txn: Transaction, *, top: bool) -> Iterator[Issue]:
    req = ctx.request(txn)
    if req is None or txn.request is None:
        return
    for index, status, got, want in _via_differences(ctx, txn):
        label = f"{status} response"
        top_differs = _sent_by(got[0]) != _sent_by(want[0])
        if top:
            if top_differs:
                yield Issue(
                    f"{label} top Via sent-by {quote(got[0].sent_by)} differs from the "
                    f"request's {quote(want[0].sent_by)} (frame {req.origin.frame})",
                    (index, txn.request),
                )
            continue
        if top_differs:
            continue
        if len(got) != len(want):
            yield Issue(
                f"{label} has {len(got)} Via values, its request (frame {req.origin.frame}) "
                f"has {len(want)}",
                (index, txn.request),
            )
            continue
        for n, (g, w) in enumerate(zip(got, want, strict=True), 1):
            if _via_key(g) != _via_key(w):
                yield Issue(
                    f"{label} Via #{n} {quote(_via_text(g))} differs from the request's "
                    f"{quote(_via_text(w))} (frame {req.origin.frame})",
                    (index, txn.request),
                )
                break


_SERVER_PARAMS_RE = re.compile(r"[ \t]*;[ \t]*(?:received|rport)(?:[ \t]*=[^;,]*)?", re.I)


def _plain_vias(lines: list[str]) -> str:
    """Via lines as one string without received/rport parameters and blanks around commas."""
    text = _SERVER_PARAMS_RE.sub("", ",".join(lines))
    return ",".join(part.strip() for part in text.split(","))


def _via_text(v: Via) -> str:
    params = "".join(f";{n}" if val is None else f";{n}={val}" for n, val in v.params)
    return f"{v.protocol}/{v.version}/{v.transport} {v.sent_by}{params}"


@rule("TXN-7", severity=Severity.ERROR, rfc="RFC 3261 §8.2.6.2", scope=Scope.TRANSACTION)
def response_tags(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """Response To tag missing, or To/From tag different from the request's.

    RFC 3261 §8.2.6.2: "the UAS MUST add a tag to the To header field in
    the response (with the exception of the 100 (Trying) response, in which
    a tag MAY be present)" and "The From field of the response MUST equal
    the From header field of the request."  A response to a request that
    had a To tag must keep it.  (Different To tags on responses to one
    request are legal when a proxy forked it.)
    """
    messages = ctx.messages
    req = ctx.request(txn)
    if req is not None and req.from_tag is not None:
        # The common case, settled on the tags alone: every response but a
        # 100 has a To tag, the request's when it had one, and its From tag.
        to_tag, from_tag = req.to_tag, req.from_tag
        for r in txn.responses:
            tag = r.to_tag
            if (
                (tag is None and r.status > 100)
                or (to_tag is not None and tag != to_tag)
                or messages[r.message].from_tag != from_tag
            ):
                break
        else:
            return
    for r in txn.responses:
        resp = messages[r.message]
        if not isinstance(resp, SipResponse) or "to" not in resp.headers:
            continue
        problems: list[str] = []
        if resp.to_tag is None and r.status > 100:
            problems.append(f"To {quote(resp.headers.get('to'))} has no tag")
        elif req is not None and req.to_tag is not None and resp.to_tag != req.to_tag:
            problems.append(f"To tag {quote(resp.to_tag)} instead of {quote(req.to_tag)}")
        if (
            req is not None
            and req.from_tag is not None
            and resp.from_tag is not None
            and resp.from_tag != req.from_tag
        ):
            problems.append(f"From tag {quote(resp.from_tag)} instead of {quote(req.from_tag)}")
        if problems:
            where = f" to the {req.method} at frame {req.origin.frame}" if req is not None else ""
            yield Issue(
                f"{r.status} response{where}: " + "; ".join(problems),
                (r.message,) if txn.request is None else (r.message, txn.request),
            )
