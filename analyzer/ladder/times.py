"""Time bounds as users type them: ISO 8601, seconds since the epoch, or an offset."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

__all__ = ["parse_time"]

_EPOCH_RE = re.compile(r"\d+(?:\.\d+)?")
_OFFSET_RE = re.compile(r"\+\d+(?:\.\d+)?")
# The fraction of the seconds: datetime keeps microseconds, captures have
# nanoseconds, and the times the messages table prints have nine digits.
_FRACTION_RE = re.compile(r"(\d{2}:\d{2}:\d{2})[.,](\d+)")

_NS = Decimal(1_000_000_000)


def _seconds_ns(text: str) -> int:
    try:
        return int(Decimal(text) * _NS)
    except InvalidOperation:  # pragma: no cover - the regular expressions admit only numbers
        raise ValueError(f"cannot read time {text!r}") from None


def parse_time(text: str, *, capture_start_ns: int | None = None) -> int:
    """A time as integer nanoseconds since the epoch (UTC).

    Accepted: ISO 8601 (``2024-03-01T09:00:14.2Z``, ``2024-03-01 09:00:14+01:00``,
    up to nanoseconds; without a UTC offset the time is taken as UTC, as the
    analyzer prints every time in UTC), seconds since the epoch
    (``1709283614.2``), and ``+SECONDS`` after ``capture_start_ns`` (the
    first message of the capture).

    Raises:
        ValueError: anything else, with a message naming the text.
    """
    s = text.strip()
    if _EPOCH_RE.fullmatch(s):
        return _seconds_ns(s)
    if _OFFSET_RE.fullmatch(s):
        if capture_start_ns is None:
            raise ValueError(f"time {text!r} is relative, but the capture has no messages")
        return capture_start_ns + _seconds_ns(s[1:])
    fraction_ns = 0
    m = _FRACTION_RE.search(s)
    if m:
        digits = m.group(2)
        if len(digits) > 9:
            raise ValueError(f"time {text!r}: more than nine digits after the seconds")
        fraction_ns = int(digits.ljust(9, "0"))
        s = s[: m.start()] + m.group(1) + s[m.end() :]
    try:
        when = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(
            f"cannot read time {text!r}: expected ISO 8601 (2024-03-01T09:00:14.2Z), "
            "seconds since the epoch, or +SECONDS from the start of the capture"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if m is None:
        fraction_ns = when.microsecond * 1000
    whole = when.replace(microsecond=0)
    delta = whole - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + fraction_ns
