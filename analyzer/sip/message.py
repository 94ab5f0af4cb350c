"""One SIP message from bytes: start line, header fields, body (RFC 3261 §7).

:func:`parse_message` is strict where the bytes cannot be SIP and faithful
where they are SIP with defects:

* It raises :class:`~analyzer.errors.SipParseError` when the input is
  empty, when there is no request or status line at the start (binary data,
  HTTP, prose), and when a message without an empty line has no header
  section at all or continues into binary data (see "Missing empty line"
  below).
* Everything else is parsed and reported as :class:`Defect` records on the
  message: a start line with extra or odd blanks, bare LF line ends, NBSP,
  malformed header lines (including lines with control characters or NUL,
  as in fuzzed captures), bad Content-Length, a body shorter or longer than
  Content-Length.  Judging them is left to the validation rules.

Missing empty line.  RFC 3261 §7: "the empty line MUST be present even if
the message-body is not".  Traces copied from documents lose it, and a
message cut by the capture ends inside its headers, yet both are SIP and
worth reading (catalogue HDR-6 reports the former).  When no empty line
exists, the header section is the run of lines after the start line that
look like header lines (a name and a colon, or a continuation), and the body
starts at the first line of another shape; a "missing-empty-line" defect
records it.  Such a message is rejected only when the line right after the
start line is not header-like (there is no header section to speak of), or
when the bytes that would form the body contain control characters (binary
data after text headers is a framing accident, not a message).  With an
empty line present, every line before it belongs to the header section.

Speed.  The function runs once per message of a capture (the budget is a
few microseconds), so it has a fast path for the overwhelmingly common shape
(CRLF line ends, printable ASCII, no folding, "Name: value" lines with known
token names) that partitions each line once and leaves splitting the header
lines into triples to the first access to ``headers``.  Anything unusual
raises inside the fast path and the careful line-by-line parser takes the
message from the start; both produce the same record for the common shape
(tests/sip/test_fuzz.py checks it).  Only the fields every later stage needs
(Call-ID, CSeq, tags, top Via branch, Content-Length) are extracted here;
other values are parsed on demand with :mod:`analyzer.sip.values`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.errors import SipParseError
from analyzer.net.flow import Origin
from analyzer.sip import abnf
from analyzer.sip.headers import NAME_KEYS, Headers, lazy_headers, remember_name, split_values

__all__ = [
    "Defect",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "match_start_line",
    "parse_header_lines",
    "parse_message",
]


@dataclass(frozen=True, slots=True)
class Defect:
    """A deviation from the SIP grammar that the parser tolerated.

    ``code`` is a short stable identifier (``"bare-lf"``, ``"malformed-header"``,
    ...) and ``detail`` says where and what, e.g. ``"line 7: 'Content=Length: 10'"``.
    """

    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class SipRequest:
    """A parsed SIP request.

    ``headers`` keeps every header line in order; ``body`` is the message
    body as framed by Content-Length (see :func:`parse_message`) and ``raw``
    the bytes the message was parsed from.  The eager fields (``call_id`` to
    ``content_length``) are None when the header is absent or could not be
    read, the latter with a defect.  ``branch`` is the branch parameter of
    the top Via.
    """

    origin: Origin
    method: str
    uri: str
    version: str
    headers: Headers
    body: bytes
    raw: bytes
    call_id: str | None
    cseq_num: int | None
    cseq_method: str | None
    from_tag: str | None
    to_tag: str | None
    branch: str | None
    content_length: int | None
    defects: tuple[Defect, ...]


@dataclass(frozen=True, slots=True)
class SipResponse:
    """A parsed SIP response; fields as in :class:`SipRequest`."""

    origin: Origin
    status: int
    reason: str
    version: str
    headers: Headers
    body: bytes
    raw: bytes
    call_id: str | None
    cseq_num: int | None
    cseq_method: str | None
    from_tag: str | None
    to_tag: str | None
    branch: str | None
    content_length: int | None
    defects: tuple[Defect, ...]


SipMessage = SipRequest | SipResponse

# How far into a payload match_start_line looks.  A start line is a method,
# a Request-URI and a version; RFC 3261 sets no limit on the URI, but 4096
# bytes is well beyond any seen in practice (long ones come from GRUUs and
# Tel URIs with parameters, a few hundred bytes) and keeps the check O(1)
# on large binary payloads.
MAX_START_LINE = 4096

# The IANA "Methods and Response Codes" registry (RFC 3261, 3262, 3265/6665,
# 3311, 3428, 3515, 3903, 6086).
IANA_METHODS = (
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
)

#: IANA_METHODS as a set, for membership tests.
IANA_METHOD_SET = frozenset(IANA_METHODS)
# Each registered method name to one shared string: a capture's messages
# then share their method and CSeq method strings instead of each holding
# copies, and comparing them mostly takes an identity test.  The parser's
# fast start-line check takes only these names: any other token still
# parses, through the regular expression.
_METHOD_NAMES = {m: m for m in IANA_METHODS}

_WSP = abnf.WSP_CHARS
_NO_DEFECTS: tuple[Defect, ...] = ()

# Bytes that may appear in a header section of the fast path's shape:
# printable ASCII.  Deleting them leaves only CR, LF, HTAB, control
# characters and non-ASCII bytes; for a message with n CRLF line breaks and
# nothing unusual that is exactly 2n bytes.  (HTAB is legal but rare; leaving
# it to the careful parser spares the fast path a check on the Request-URI.)
_PLAIN_BYTES = bytes(range(0x20, 0x7F))

_LINE_END_RE = abnf.LINE_END_BYTES_RE


def match_start_line(data: bytes) -> bool:
    """Whether ``data`` begins with a SIP request line or status line.

    A cheap recognition for payloads on any port: one anchored regular
    expression over at most :data:`MAX_START_LINE` bytes.  It accepts the
    same tolerated spellings as :func:`parse_message` (several blanks, TAB,
    NBSP, lower-case "sip/2.0"); binary data and HTTP do not match.
    """
    return _start_line_match(data, 0, MAX_START_LINE) is not None


class _NotPlain(Exception):
    """Raised inside the fast path to hand a message to the careful parser."""


def parse_message(data: bytes, origin: Origin) -> SipMessage:
    """Parse the bytes of one SIP message.

    Args:
        data: exactly one message as framed by the transport (a UDP payload,
            or a message cut from a stream by Content-Length).
        origin: where the bytes came from; stored on the record.

    Returns:
        A :class:`SipRequest` or :class:`SipResponse`.  Tolerated deviations
        are listed in its ``defects``.

    Raises:
        SipParseError: the bytes cannot be a SIP message (see the module
            docstring for the exact cases).
    """
    # Fast path.  Every check that fails raises (UnicodeDecodeError,
    # KeyError from a header name not in the cache, ValueError from a start
    # line without two SPs, _NotPlain otherwise) and the careful parser takes
    # the message from the start.  Nothing else in the block can raise.
    defects: list[Defect] | None = None
    try:
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            raise _NotPlain
        lines = head.decode().split("\r\n")
        if len(head.translate(None, _PLAIN_BYTES)) != 2 * len(lines) - 2:
            # Bare LF or CR, HTAB, control characters, NBSP or other non-ASCII.
            raise _NotPlain
        # Request-Line = Method SP Request-URI SP SIP-Version, or
        # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase, with
        # single SPs, a registered method and an upper-case version.
        first_part, second_part, third_part = lines[0].split(" ", 2)
        if first_part == "SIP/2.0":
            request = False
            if len(second_part) != 3 or not second_part.isdigit():
                raise _NotPlain
            first_part = second_part
            second_part = third_part
        else:
            request = True
            if third_part != "SIP/2.0" or not second_part:
                raise _NotPlain
            first_part = _METHOD_NAMES[first_part]  # KeyError: not registered
        version = "SIP/2.0"
        del lines[0]
        # "Name: value" lines with a name in the cache.  Walked bottom-up so
        # that the first occurrence of a name is stored last and wins; values
        # keep their blanks (the eager fields strip what they read, and
        # Headers splits the lines again on first access).  A name the cache
        # does not know goes to the careful parser, which validates and
        # remembers it, so the next message with it stays on this path.
        keys = NAME_KEYS
        first: dict[str, str] = {}
        for line in reversed(lines):
            name, colon, field = line.partition(":")
            if not colon:
                raise _NotPlain
            first[keys[name]] = field
        headers = lazy_headers(data, len(lines), first)
    except (_NotPlain, UnicodeDecodeError, KeyError, ValueError):
        request, first_part, second_part, version, headers, first, body, defects = _parse_careful(
            data
        )

    # The eager fields.  ``first`` maps canonical names to their first value,
    # possibly with surrounding blanks; ``body`` is everything after the
    # empty line.
    get = first.get
    decimals = _DECIMALS

    call_id = get("call-id")
    if call_id is not None:
        call_id = call_id.strip()
        if not call_id:
            call_id = None
            defects = _add(defects, "bad-call-id", "empty Call-ID")
        else:
            # The headers keep the stripped value, not a second copy.
            first["call-id"] = call_id

    # CSeq = "CSeq" HCOLON 1*DIGIT LWS Method.  The method is kept as
    # written; comparing it with the request method is a rule (CSEQ-2).
    cseq_num: int | None = None
    cseq_method: str | None = None
    value = get("cseq")
    if value is not None:
        parts = value.split()
        if len(parts) == 2:
            cseq_num = decimals.get(parts[0])
            if cseq_num is None:
                cseq_num = _decimal(parts[0])
            if cseq_num is not None:
                cseq_method = _METHOD_NAMES.get(parts[1], parts[1])
        if cseq_num is None:
            defects = _add(
                defects, "bad-cseq", f"CSeq {_shown(value.strip())} is not a number and a method"
            )

    # Tags: the parameter section of a From/To value starts after the ">" of
    # a name-addr (a tag inside the angle brackets belongs to the URI), or
    # after the URI of an addr-spec, where RFC 3261 §20.10 says "all
    # semicolon-separated parameters are header-parameters, not URI
    # parameters".  The common shapes are settled with a few string
    # operations: a ";tag=" whose value runs alphanumeric to the end (so no
    # ">" follows it), or no ";" at all.  Everything else goes to _slow_tag.
    from_tag: str | None = None
    value = get("from")
    if value is not None:
        before, mark, tag = value.partition(";tag=")
        if mark and tag.isalnum() and (">" in before or "<" not in before):
            from_tag = tag
        elif mark or ";" in value or (">" not in value and "<" in value):
            from_tag = _slow_tag(value)
            if from_tag is _BROKEN:
                from_tag = None
                defects = _add(
                    defects, "bad-from", f"From {_shown(value.strip())} has '<' without '>'"
                )
    to_tag: str | None = None
    value = get("to")
    if value is not None:
        before, mark, tag = value.partition(";tag=")
        if mark and tag.isalnum() and (">" in before or "<" not in before):
            to_tag = tag
        elif mark or ";" in value or (">" not in value and "<" in value):
            to_tag = _slow_tag(value)
            if to_tag is _BROKEN:
                to_tag = None
                defects = _add(defects, "bad-to", f"To {_shown(value.strip())} has '<' without '>'")

    # The branch of the top Via: the first value of the first Via line.
    # Common shape: ";branch=" in the first value, alphanumeric up to the
    # next ";" or the end.
    branch: str | None = None
    value = get("via")
    if value is not None:
        before, mark, tag = value.partition(";branch=")
        if mark and "," not in before and (tag := tag.partition(";")[0]).isalnum():
            branch = tag
        else:
            branch = _slow_branch(value)

    # Body framing, RFC 3261 §18.3: "If the transport packet ends before the
    # end of the message body, this is considered an error" and "If there are
    # additional bytes in the transport packet beyond the end of the body,
    # they MUST be discarded."  Without Content-Length the body is the rest.
    length: int | None = None
    value = get("content-length")
    if value is not None:
        value = value.strip()
        length = decimals.get(value)
        if length is None:
            length = _decimal(value)
        if length is None:
            defects = _add(
                defects, "bad-content-length", f"Content-Length {_shown(value)} is not 1*DIGIT"
            )
        elif length != len(body):
            available = len(body)
            if length > available:
                cut = " (frame cut by the capture's snapshot length)" if origin.truncated else ""
                defects = _add(defects, "short-body", f"{available} of {length} bytes{cut}")
            else:
                defects = _add(
                    defects,
                    "extra-bytes",
                    f"{available - length} bytes after Content-Length {length}",
                )
                body = body[:length]

    # The record, filled as a mutable twin (see _RequestSlots).  Two copies
    # of the stores, so that each attribute store always sees one type and
    # stays specialised.
    found = _NO_DEFECTS if defects is None else tuple(defects)
    rec: Any
    if request:
        rec = _RequestSlots()
        rec.origin = origin
        rec.method = first_part
        rec.uri = second_part
        rec.version = version
        rec.headers = headers
        rec.body = body
        rec.raw = data
        rec.call_id = call_id
        rec.cseq_num = cseq_num
        rec.cseq_method = cseq_method
        rec.from_tag = from_tag
        rec.to_tag = to_tag
        rec.branch = branch
        rec.content_length = length
        rec.defects = found
        rec.__class__ = SipRequest
    else:
        status = decimals.get(first_part)
        rec = _ResponseSlots()
        rec.origin = origin
        rec.status = int(first_part) if status is None else status
        rec.reason = second_part
        rec.version = version
        rec.headers = headers
        rec.body = body
        rec.raw = data
        rec.call_id = call_id
        rec.cseq_num = cseq_num
        rec.cseq_method = cseq_method
        rec.from_tag = from_tag
        rec.to_tag = to_tag
        rec.branch = branch
        rec.content_length = length
        rec.defects = found
        rec.__class__ = SipResponse
    return rec  # type: ignore[no-any-return]


# Decimal strings "0" to "9999" and their values.  CSeq numbers and
# Content-Length values are read for every message; a dictionary hit costs a
# quarter of validating the digits and calling int(), and this range covers
# every Content-Length of a message under 10 KB and the CSeq numbers most
# user agents use.  About 1 MB.
_DECIMALS = {str(number): number for number in range(10_000)}


def _decimal(text: str) -> int | None:
    # 1*DIGIT as an int, for numbers outside _DECIMALS: ASCII digits only
    # ("²".isdigit() is true), at most MAX_NUMBER_DIGITS of them.
    if text.isdigit() and text.isascii() and len(text) <= MAX_NUMBER_DIGITS:
        return int(text)
    return None


_start_line_match = abnf.START_LINE_BYTES_RE.match
_tag_search = abnf.TAG_PARAM_RE.search
_branch_search = abnf.BRANCH_PARAM_RE.search
MAX_NUMBER_DIGITS = abnf.MAX_NUMBER_DIGITS


# Returned by _slow_tag for a From/To value with "<" and no ">" after it.
_BROKEN = "<broken>"


def _slow_tag(value: str) -> str | None:
    # The first tag parameter after the last ">" (or anywhere in an
    # addr-spec), any case, blanks allowed around ";" and "=" (RFC 3261
    # §7.3.1: parameter names are case-insensitive; SEMI and EQUAL allow
    # SWS).  ";tab=" is not a tag.
    gt = value.rfind(">")
    if gt < 0 and "<" in value:
        return _BROKEN
    m = _tag_search(value, gt + 1)
    return m[1] if m is not None else None


def _slow_branch(via: str) -> str | None:
    # The branch parameter of the first value of a Via line, any case,
    # blanks allowed; the first value is cut with split_values so that a
    # comma inside a quoted parameter does not end it.
    if "," in via:
        values = split_values(via)
        if not values:
            return None
        via = values[0]
    m = _branch_search(via)
    return m[1] if m is not None else None


# Record construction.  A frozen dataclass's generated __init__ sets every
# field through object.__setattr__: for the 15 fields of a message that is
# about 22,000 machine instructions (CPython 3.11, measured with cachegrind),
# 1.6 us and more than a quarter of the time budget for parsing one.  The
# parser fills a mutable twin with the same slots instead (plain slot stores,
# about 2,500 instructions with the class change) and then gives the object
# its real class; CPython allows the change because the two layouts are
# identical.  The result is indistinguishable from a record built by the
# dataclass constructor (tests/sip/test_message.py checks type, equality,
# hashing and immutability).
class _RequestSlots:
    __slots__ = SipRequest.__slots__


class _ResponseSlots:
    __slots__ = SipResponse.__slots__


def _add(defects: list[Defect] | None, code: str, detail: str) -> list[Defect]:
    if defects is None:
        defects = []
    defects.append(Defect(code, detail))
    return defects


# Defect details quote the offending text, cut to this many characters so
# that a 60 KB garbage line does not become a 60 KB report entry.
MAX_QUOTED_CHARS = 120


def _shown(text: str | bytes) -> str:
    if len(text) > MAX_QUOTED_CHARS:
        return f"{text[:MAX_QUOTED_CHARS]!r}..."
    return repr(text)


_Prepared = tuple[bool, str, str, str, Headers, dict[str, str], bytes, list[Defect] | None]


def _parse_careful(data: bytes) -> _Prepared:
    # The general parser: line by line, every deviation handled and recorded.
    # Returns what the eager part of parse_message needs: is_request, method
    # or status, Request-URI or reason, version, headers, the first value of
    # each name, the bytes after the empty line, and the defects so far.
    if not data:
        raise SipParseError("empty message")
    defects: list[Defect] = []
    stripped = data.lstrip(b"\r\n")
    start = len(data) - len(stripped)
    if not stripped:
        raise SipParseError(f"no start line: {len(data)} bytes of CR/LF only")
    if start:
        # RFC 3261 §7.5 makes stream receivers ignore CRLF before a start
        # line; framing removes keep-alives, so any left here are reported.
        defects.append(Defect("leading-crlf", f"{start} bytes of CR/LF before the start line"))

    lines, offsets, bare_lf, body_start = _split_lines(data, start)
    if body_start < 0:
        body_start = _body_without_empty_line(data, lines, offsets, bare_lf, defects)
    if bare_lf:
        # RFC 3261 §7: "The start-line, each message-header line, and the empty
        # line MUST be terminated by a carriage-return line-feed sequence".
        defects.append(
            Defect("bare-lf", f"{len(bare_lf)} line(s) end with LF alone, first line {bare_lf[0]}")
        )

    texts = _decode_lines(lines, 1, defects)
    request, first_part, second_part, version = _start_line(texts[0], defects)
    items = _header_items(texts[1:], 2, defects)
    # Reversed so that the earliest occurrence is written last and wins.
    first = {key: value for _, key, value in reversed(items)}
    return (
        request,
        first_part,
        second_part,
        version,
        Headers(items),
        first,
        data[body_start:],
        defects or None,
    )


def _split_lines(data: bytes, start: int) -> tuple[list[bytes], list[int], list[int], int]:
    # The lines from ``start`` up to the first empty line, their offsets, the
    # numbers of those ending in a bare LF, and the offset after the empty
    # line (-1 when there is none: then every line of the input is returned).
    lines: list[bytes] = []
    offsets: list[int] = []
    bare_lf: list[int] = []
    pos = start
    for m in _LINE_END_RE.finditer(data, start):
        line = data[pos : m.start()]
        if m.end() - m.start() == 1:
            bare_lf.append(len(lines) + 1)
        if not line:
            return lines, offsets, bare_lf, m.end()
        lines.append(line)
        offsets.append(pos)
        pos = m.end()
    if pos < len(data):
        lines.append(data[pos:])
        offsets.append(pos)
    return lines, offsets, bare_lf, -1


def _body_without_empty_line(
    data: bytes, lines: list[bytes], offsets: list[int], bare_lf: list[int], defects: list[Defect]
) -> int:
    # No empty line anywhere: the header section is the run of header-like
    # lines after the start line (see the module docstring).  Trims ``lines``
    # and ``bare_lf`` to the header section and returns where the body starts.
    for index in range(1, len(lines)):
        line = lines[index]
        if index > 1 and line[:1] in (b" ", b"\t"):
            continue
        if abnf.HEADER_LIKE_BYTES_RE.match(line) is not None:
            continue
        if index == 1:
            raise SipParseError(
                f"line 2 is neither a header field nor an empty line: {_shown(line)}"
            )
        body_start = offsets[index]
        if abnf.BINARY_BYTES_RE.search(data, body_start) is not None:
            raise SipParseError(
                f"no empty line after the header section, and line {index + 1} "
                f"starts binary data: {_shown(line)}"
            )
        defects.append(
            Defect(
                "missing-empty-line",
                f"line {index + 1}: the body begins with no empty line before it",
            )
        )
        del lines[index:]
        bare_lf[:] = [number for number in bare_lf if number <= index]
        return body_start
    defects.append(Defect("missing-empty-line", "the header section is not ended by an empty line"))
    return len(data)


def _decode_lines(lines: list[bytes], first_number: int, defects: list[Defect]) -> list[str]:
    texts: list[str] = []
    for number, line in enumerate(lines, first_number):
        try:
            text = line.decode()
        except UnicodeDecodeError:
            # Lossless: surrogateescape keeps the undecodable bytes, so the
            # value round-trips with .encode("utf-8", "surrogateescape").
            text = line.decode("utf-8", "surrogateescape")
            defects.append(Defect("non-utf8-header", f"line {number}: {_shown(line)}"))
        texts.append(text)
    return texts


def _start_line(line: str, defects: list[Defect]) -> tuple[bool, str, str, str]:
    # (is_request, method or status, Request-URI or reason, SIP-Version)
    m = abnf.REQUEST_LINE_RE.fullmatch(line)
    if m is not None:
        return True, m[1], m[2], m[3]
    m = abnf.STATUS_LINE_RE.fullmatch(line)
    if m is not None:
        return False, m[2], m[3], m[1]
    m = abnf.LOOSE_REQUEST_LINE_RE.fullmatch(line)
    if m is not None:
        method, uri, version = m["method"], m["uri"], m["version"]
        _start_line_defects(line, f"{method} {uri} {version}", version, defects)
        return True, method, uri, version
    m = abnf.LOOSE_STATUS_LINE_RE.fullmatch(line)
    if m is not None:
        version, status, reason = m["version"], m["status"], m["reason"]
        if reason is None:
            # "SIP/2.0 200" with no SP: Status-Line requires the SP even
            # before an empty Reason-Phrase.
            canonical = f"{version} {status} "
            reason = ""
        else:
            reason = reason.lstrip(_WSP)
            canonical = f"{version} {status} {reason}"
        _start_line_defects(line, canonical, version, defects)
        if abnf.CONTROL_RE.search(reason) is not None:
            defects.append(
                Defect("start-line-control", f"line 1: control character in {_shown(reason)}")
            )
        return False, status, reason, version
    raise SipParseError(f"not a SIP request or status line: {_shown(line)}")


def _start_line_defects(line: str, canonical: str, version: str, defects: list[Defect]) -> None:
    # RFC 3261 §7.1: "A Request-Line contains a method name, a Request-URI,
    # and the protocol version separated by a single space (SP) character."
    if "\xa0" in line:
        defects.append(Defect("nbsp", f"line 1: {_shown(line)} contains U+00A0 NO-BREAK SPACE"))
    if line != canonical:
        defects.append(
            Defect("start-line-spacing", f"line 1: {_shown(line)} is not separated by single SPs")
        )
    if version != version.upper():
        # §7.1: "implementations MUST send upper-case".
        defects.append(Defect("version-case", f"line 1: SIP-Version {version!r} is not upper-case"))


def _header_items(
    texts: list[str], first_number: int, defects: list[Defect]
) -> list[tuple[str, str, str]]:
    # Header lines to (raw name, canonical name, value) triples.  Folded
    # lines are joined with one SP (RFC 3261 §7.3.1: a continuation line
    # starts with whitespace and the folding "is equivalent to a single SP");
    # lines that are not header lines become "malformed-header" defects.
    items: list[tuple[str, str, str]] = []
    pending: list[str] | None = None
    name = key = ""
    for number, text in enumerate(texts, first_number):
        if "\xa0" in text:
            defects.append(
                Defect("nbsp", f"line {number}: {_shown(text)} contains U+00A0 NO-BREAK SPACE")
            )
        bad = abnf.CONTROL_RE.search(text) is not None
        if text[:1] in (" ", "\t"):
            if pending is not None and not bad:
                pending.append(text.strip(_WSP))
                continue
            if pending is None:
                defects.append(
                    Defect(
                        "malformed-header",
                        f"line {number}: {_shown(text)} continues no header field",
                    )
                )
                continue
        if pending is not None:
            items.append((name, key, " ".join(part for part in pending if part)))
            pending = None
        m = None if bad else abnf.HEADER_LINE_RE.fullmatch(text)
        if m is None:
            defects.append(Defect("malformed-header", f"line {number}: {_shown(text)}"))
            continue
        name = m["name"]
        key = NAME_KEYS.get(name) or remember_name(name)
        pending = [m["value"].strip(_WSP)]
    if pending is not None:
        items.append((name, key, " ".join(part for part in pending if part)))
    return items


def parse_header_lines(block: bytes) -> tuple[Headers, tuple[Defect, ...]]:
    """Parse a block of header lines (no start line, no empty line).

    Used for the headers of MIME body parts (RFC 2046 §5.1), which follow
    the same syntax as message headers.  Line numbers in defects count from
    1 at the first line of ``block``.
    """
    defects: list[Defect] = []
    lines = _LINE_END_RE.split(block)
    if lines and not lines[-1]:
        lines.pop()
    if b"\n" in block.replace(b"\r\n", b""):
        defects.append(Defect("bare-lf", "header lines end with LF alone"))
    texts = _decode_lines(lines, 1, defects)
    items = _header_items(texts, 1, defects)
    return Headers(items), tuple(defects)
