"""Body parts of a ``multipart/*`` message body (RFC 2046 §5.1).

SIP carries multipart bodies for SDP with ISUP (SIP-I/SIP-T), SDP with
PIDF-LO location, and resource lists.  :func:`split_multipart` cuts a body
at its boundary delimiters and parses each part's headers with the message
header parser, so part headers get the same tolerance and the same defects.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.errors import SipParseError
from analyzer.sip import abnf
from analyzer.sip.headers import Headers
from analyzer.sip.message import Defect, parse_header_lines
from analyzer.sip.values import parse_content_type

__all__ = ["MAX_BODY_PARTS", "BodyPart", "split_multipart"]

# Most body parts accepted in one multipart body.  SIP uses two or three
# (SDP + ISUP, SDP + PIDF-LO); resource lists may hold a few dozen.  The
# bound keeps a body made of empty parts from producing thousands of
# records; beyond it the body is rejected as malformed.
MAX_BODY_PARTS = 256


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One part of a multipart body: its headers and its content.

    ``defects`` lists what the header parser tolerated in the part headers.
    """

    headers: Headers
    body: bytes
    defects: tuple[Defect, ...] = ()


# RFC 2046 §5.1.1 (the structure followed below):
#   dash-boundary := "--" boundary
#   multipart-body := [preamble CRLF]
#                     dash-boundary transport-padding CRLF
#                     body-part *encapsulation
#                     close-delimiter transport-padding
#                     [CRLF epilogue]
#   encapsulation := delimiter transport-padding
#                    CRLF body-part
#   delimiter := CRLF dash-boundary
#   close-delimiter := delimiter "--"
#   transport-padding := *LWSP-char
#   body-part := MIME-part-headers [CRLF *OCTET]


def split_multipart(content_type: str, body: bytes) -> list[BodyPart]:
    """Split a multipart body into its parts.

    Args:
        content_type: the message's Content-Type value; its type must be
            ``multipart`` and it must carry a ``boundary`` parameter
            (possibly quoted).
        body: the message body.

    Returns:
        The body parts in order; preamble and epilogue are ignored.

    Raises:
        SipParseError: not a multipart type, no or invalid boundary, no
            opening delimiter, no close delimiter, text after a delimiter,
            or more than :data:`MAX_BODY_PARTS` parts.

    Line ends are CRLF as RFC 2046 requires; a body with no CRLF at all is
    read with LF line ends (traces whose line ends were converted).
    """
    ctype = parse_content_type(content_type)
    if ctype.type != "multipart":
        raise SipParseError(f"not a multipart body: {ctype.mime}")
    boundary = ctype.param("boundary")
    if not boundary or abnf.BOUNDARY_RE.fullmatch(boundary) is None:
        raise SipParseError(f"missing or invalid multipart boundary: {boundary!r}")
    eol = b"\r\n" if b"\r\n" in body else b"\n"
    dash_boundary = b"--" + boundary.encode("ascii")

    # The opening delimiter starts the body (no preamble) or a line.
    if body.startswith(dash_boundary) and _ends_delimiter(body, len(dash_boundary)):
        pos = 0
    else:
        pos = _find_delimiter(body, eol, dash_boundary, 0)
        if pos < 0:
            raise SipParseError(f"no multipart delimiter --{boundary} in the body")
    parts: list[BodyPart] = []
    while True:
        after = pos + len(dash_boundary)
        if body.startswith(b"--", after):
            break  # close-delimiter; the rest is epilogue
        line_end = body.find(eol, after)
        if line_end < 0:
            raise SipParseError(f"multipart body has no close delimiter --{boundary}--")
        if body[after:line_end].strip(b" \t"):
            raise SipParseError(f"text after the multipart delimiter --{boundary}")
        start = line_end + len(eol)
        # Searching from the line end also finds a delimiter that follows
        # at once, i.e. an empty part.
        nxt = _find_delimiter(body, eol, dash_boundary, line_end)
        if nxt < 0:
            raise SipParseError(f"multipart body has no close delimiter --{boundary}--")
        if len(parts) == MAX_BODY_PARTS:
            raise SipParseError(f"multipart body has more than {MAX_BODY_PARTS} parts")
        parts.append(_body_part(body[start : max(start, nxt - len(eol))], eol))
        pos = nxt
    if not parts:
        raise SipParseError(f"multipart body has no parts before --{boundary}--")
    return parts


def _ends_delimiter(body: bytes, after: int) -> bool:
    # A boundary is a delimiter only when followed by "--" (close), padding
    # or a line end; a line that merely begins with the boundary is content.
    tail = body[after : after + 2]
    return not tail or tail == b"--" or tail[:1] in (b"\r", b"\n", b" ", b"\t")


def _find_delimiter(body: bytes, eol: bytes, dash_boundary: bytes, start: int) -> int:
    # Offset of the next "--boundary" at the start of a line, from ``start``
    # (the position of the line end before it); -1 when there is none.
    needle = eol + dash_boundary
    i = body.find(needle, start)
    while i >= 0:
        pos = i + len(eol)
        if _ends_delimiter(body, pos + len(dash_boundary)):
            return pos
        i = body.find(needle, i + 1)
    return -1


def _body_part(part: bytes, eol: bytes) -> BodyPart:
    # body-part := MIME-part-headers [CRLF *OCTET]: a part without headers
    # starts with the empty line.
    if part.startswith(eol):
        return BodyPart(Headers(), part[len(eol) :])
    head, sep, content = part.partition(eol + eol)
    headers, defects = parse_header_lines(head)
    return BodyPart(headers, content, defects)
