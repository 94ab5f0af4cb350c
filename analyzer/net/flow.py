"""Addresses, transports and the provenance every SIP message carries."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Transport(enum.Enum):
    """How a SIP message reached the capture point.

    ``TLS_UNKNOWN`` is a TLS flow whose content cannot be read without keys: it
    only ever appears on diagnostics, never on a decoded message.
    """

    UDP = "udp"
    TCP = "tcp"
    SCTP = "sctp"
    WS = "ws"
    TLS_UNKNOWN = "tls-unknown"
    HEP_UDP = "hep/udp"
    HEP_TCP = "hep/tcp"
    HEP_SCTP = "hep/sctp"
    HEP_OTHER = "hep/other"


#: Each transport's value by member, for loops over many messages
#: (``Enum.value`` is a descriptor written in Python).
TRANSPORT_NAMES: dict[Transport, str] = {t: t.value for t in Transport}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An IP address and port; ``str()`` gives ``10.0.0.1:5060`` or ``[2001:db8::1]:5060``."""

    ip: IPAddress
    port: int
    # The text form is asked for once per message in every output; computing
    # it from the address object each time costs more than the rest of a row.
    text: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = f"[{self.ip}]:{self.port}" if self.ip.version == 6 else f"{self.ip}:{self.port}"
        object.__setattr__(self, "text", text)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Flow:
    """One direction of a conversation between two endpoints."""

    src: Endpoint
    dst: Endpoint
    transport: Transport

    def reversed(self) -> Flow:
        return Flow(self.dst, self.src, self.transport)

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst} ({self.transport.value})"


@dataclass(frozen=True, slots=True)
class Origin:
    """Provenance of one SIP message.

    ``frames`` are all the capture frames that carried the message's bytes, in
    frame order; ``frame`` is the one that completed it (for TCP this is the
    segment that supplied the last missing byte, which with reordering need not
    be the highest frame number).  ``ts_ns`` is that frame's time.
    ``truncated`` is set when a frame was cut by the snapshot length, so the
    message is known to be incomplete.
    """

    frame: int
    frames: tuple[int, ...]
    ts_ns: int
    src: Endpoint
    dst: Endpoint
    transport: Transport
    truncated: bool = False


_ENDPOINTS: dict[tuple[bytes, int], Endpoint] = {}
# Captures have few distinct endpoints; caching the objects avoids building an
# ip_address per message.  Bounded so that a scan of a huge address space
# cannot grow it without limit.
MAX_CACHED_ENDPOINTS = 65536


def endpoint(raw_ip: bytes, port: int) -> Endpoint:
    """The :class:`Endpoint` for a packed IPv4/IPv6 address and a port."""
    key = (raw_ip, port)
    ep = _ENDPOINTS.get(key)
    if ep is None:
        ep = Endpoint(ipaddress.ip_address(raw_ip), port)
        if len(_ENDPOINTS) >= MAX_CACHED_ENDPOINTS:
            _ENDPOINTS.clear()
        _ENDPOINTS[key] = ep
    return ep
