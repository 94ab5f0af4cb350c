"""The three kinds of bad input and how each travels.

* Unusable input (not a capture, an unreadable file): :class:`CaptureError`.
  Fatal; the CLI prints one line and exits with status 2.
* An undecodable unit (a truncated IP header, bytes that cannot be a SIP
  message): a :class:`DecodeError` subclass raised by a strict decoder.  The
  stage that called the decoder catches that type only, turns it into a
  :class:`Diagnostic` carrying the frames and the reason, and goes on.
* Well-formed but non-compliant traffic is not an error at all: it is parsed
  faithfully and judged later by the validation rules.

Any other exception escaping a stage is a bug and surfaces as one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CaptureError(Exception):
    """The input cannot be used as a capture at all (missing, empty, not a capture)."""


class DecodeError(Exception):
    """A unit (frame, datagram, stream chunk, message) could not be decoded.

    ``layer`` names the decoder (``link``, ``ip``, ``udp``, ``tcp``, ``sip``, ...)
    and ``reason`` says what was wrong, naming the offending bytes where useful.
    """

    layer = "decode"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LinkError(DecodeError):
    layer = "link"


class IPError(DecodeError):
    layer = "ip"


class TransportError(DecodeError):
    layer = "transport"


class TunnelError(DecodeError):
    layer = "tunnel"


class SipParseError(DecodeError):
    """Bytes that cannot be a SIP message (see :func:`analyzer.sip.message.parse_message`)."""

    layer = "sip"


class Level(enum.Enum):
    """How much a diagnostic matters to someone reading the results."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something the pipeline could not decode, had to cut, or chose not to read.

    Every diagnostic keeps the frame numbers it is about (1-based, as in
    Wireshark) so a user can go and look at the packets.
    """

    layer: str
    frames: tuple[int, ...]
    reason: str
    level: Level = Level.WARNING

    def __str__(self) -> str:
        where = _frames_text(self.frames)
        return f"{self.level.value}: {self.layer}: {where}{self.reason}"


def _frames_text(frames: tuple[int, ...]) -> str:
    if not frames:
        return ""
    if len(frames) == 1:
        return f"frame {frames[0]}: "
    if len(frames) <= 4:
        return "frames " + ",".join(map(str, frames)) + ": "
    return f"frames {frames[0]}..{frames[-1]} ({len(frames)}): "
