"""Parsers for header field values, used on demand after a message is parsed.

Each ``parse_*`` function takes one value as stored in
:class:`~analyzer.sip.headers.Headers` (one element of a comma-separated list
where the header is a list: see :meth:`Headers.values`) and returns a frozen
record, or raises :class:`~analyzer.errors.SipParseError` when the value does
not follow its grammar.  Parameter names keep the spelling of the wire;
lookups through ``param()`` are case-insensitive (RFC 3261 §7.3.1: "field
values, parameter names, and parameter values are case-insensitive" unless
stated otherwise).  Quoted parameter values are returned unquoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.errors import SipParseError
from analyzer.sip import abnf
from analyzer.sip.headers import Headers

__all__ = [
    "ContentType",
    "Event",
    "NameAddr",
    "Params",
    "SubscriptionState",
    "Via",
    "parse_content_type",
    "parse_cseq",
    "parse_event",
    "parse_name_addr",
    "parse_params",
    "parse_subscription_state",
    "parse_via",
    "parse_vias",
]

Params = tuple[tuple[str, str | None], ...]

_WSP = abnf.WSP_CHARS


def _shown(text: str) -> str:
    # Error messages quote the value, cut so that a huge one stays readable.
    return repr(text) if len(text) <= 120 else f"{text[:120]!r}..."


def _unquote(text: str) -> str:
    # quoted-string without its DQUOTEs, quoted-pairs resolved.
    return abnf.QUOTED_PAIR_RE.sub(r"\1", text[1:-1])


def _find_param(params: Params, name: str) -> str | None:
    # The value of the first parameter called ``name`` (any case); "" for a
    # parameter without a value ("lr", "rport"), None when absent.
    wanted = name.lower()
    for key, value in params:
        if key.lower() == wanted:
            return "" if value is None else value
    return None


def parse_params(text: str) -> Params:
    """Parse a parameter section: ``;a=b;c`` (``SEMI`` and ``EQUAL`` allow SWS).

    Returns ``(name, value)`` pairs in order, duplicates kept; ``value`` is
    None for a parameter without "=", and quoted values are unquoted.  An
    empty section (or only blanks) gives ``()``.  An empty parameter, as in
    ``;;branch=...`` (RFC 3428 §10), is kept as ``("", None)``.

    Raises:
        SipParseError: ``text`` does not consist of parameters.
    """
    out: list[tuple[str, str | None]] = []
    pos = 0
    end = len(text.rstrip(_WSP))
    while pos < end:
        m = abnf.PARAM_RE.match(text, pos)
        if m is None:
            raise SipParseError(f"not a parameter at offset {pos}: {_shown(text)}")
        name = m["name"] or ""
        value = m["value"]
        if not name and value is not None:
            raise SipParseError(f"parameter value without a name at offset {pos}: {_shown(text)}")
        if value is not None and value.startswith('"'):
            value = _unquote(value)
        out.append((name, value))
        pos = m.end()
    return tuple(out)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From, To, Contact, Route, Refer-To... value.

    ``display`` is the display name (unquoted) or None; ``uri`` the URI as
    written (without the angle brackets); ``params`` the header parameters
    after the URI (``tag``, ``expires``, ...).  A Contact of ``*`` has
    ``uri == "*"``.
    """

    display: str | None
    uri: str
    params: Params

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (any case): "" if it has none, None if absent."""
        return _find_param(self.params, name)


def parse_name_addr(value: str) -> NameAddr:
    """Parse ``name-addr`` or ``addr-spec`` followed by header parameters.

    RFC 3261 §20.10: in the addr-spec form (no angle brackets) "all
    semicolon-separated parameters are header-parameters, not URI
    parameters", so the URI ends at the first ";".

    Raises:
        SipParseError: empty value, unbalanced quotes or angle brackets,
            text between ">" and the parameters, or an addr-spec containing
            blanks (a display name without angle brackets).
    """
    text = value.strip(_WSP)
    if not text:
        raise SipParseError("empty name-addr")
    if text == "*":
        return NameAddr(None, "*", ())
    display: str | None = None
    rest = text
    if text.startswith('"'):
        m = abnf.QUOTED_STRING_RE.match(text)
        if m is None:
            raise SipParseError(f"unterminated quoted display name: {_shown(value)}")
        display = _unquote(m.group())
        rest = text[m.end() :].lstrip(_WSP)
        if not rest.startswith("<"):
            raise SipParseError(f"quoted display name not followed by '<': {_shown(value)}")
    lt = rest.find("<")
    if lt >= 0:
        if display is None:
            before = rest[:lt].strip(_WSP)
            if '"' in before:
                raise SipParseError(f"stray quote in display name: {_shown(value)}")
            display = before or None
        gt = rest.find(">", lt)
        if gt < 0:
            raise SipParseError(f"'<' without '>': {_shown(value)}")
        uri = rest[lt + 1 : gt].strip(_WSP)
        if not uri:
            raise SipParseError(f"empty URI in angle brackets: {_shown(value)}")
        return NameAddr(display, uri, parse_params(rest[gt + 1 :]))
    semi = rest.find(";")
    uri = (rest if semi < 0 else rest[:semi]).strip(_WSP)
    if not uri or any(ch in uri for ch in _WSP) or ">" in uri:
        raise SipParseError(f"not an addr-spec: {_shown(value)}")
    return NameAddr(None, uri, parse_params(rest[semi:]) if semi >= 0 else ())


@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm: ``SIP/2.0/UDP host:port;params``.

    ``host`` is as written (an IPv6 reference keeps its brackets); ``port``
    is None when the sent-by has none.
    """

    protocol: str
    version: str
    transport: str
    host: str
    port: int | None
    params: Params

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (any case): "" if it has none, None if absent."""
        return _find_param(self.params, name)

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (RFC 3261 §8.1.1.7)."""
        return _find_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (RFC 3261 §18.2.1)."""
        return _find_param(self.params, "received")

    @property
    def rport(self) -> str | None:
        """The ``rport`` parameter (RFC 3581): "" when present without a value."""
        return _find_param(self.params, "rport")

    @property
    def sent_by(self) -> str:
        """``host`` or ``host:port`` as a transaction key component (RFC 3261 §17.2.3)."""
        return self.host if self.port is None else f"{self.host}:{self.port}"


def parse_via(value: str) -> Via:
    """Parse one via-parm (one element of a Via list).

    Raises:
        SipParseError: no ``protocol/version/transport``, no sent-by, or
            trailing text that is not parameters.
    """
    m = abnf.VIA_RE.match(value)
    if m is None:
        raise SipParseError(f"not a via-parm: {_shown(value)}")
    port = m["port"]
    return Via(
        m["protocol"],
        m["version"],
        m["transport"],
        m["host"],
        int(port) if port is not None else None,
        parse_params(value[m.end() :]),
    )


def parse_vias(headers: Headers) -> list[Via]:
    """Every via-parm of every Via header line, top first.

    Raises:
        SipParseError: one of them does not parse.
    """
    return [parse_via(value) for value in headers.values("via")]


def parse_cseq(value: str) -> tuple[int, str]:
    """Parse ``1*DIGIT LWS Method`` into (number, method).

    The method is returned as written.  The number has ASCII digits only and
    at most :data:`~analyzer.sip.abnf.MAX_NUMBER_DIGITS` of them; its range
    (RFC 3261 §8.1.1.5: "MUST be less than 2**31") is for the rules to check.

    Raises:
        SipParseError: not exactly a number and a method.
    """
    parts = value.split()
    if len(parts) == 2:
        number = parts[0]
        if number.isdigit() and number.isascii() and len(number) <= abnf.MAX_NUMBER_DIGITS:
            return int(number), parts[1]
    raise SipParseError(f"not a CSeq (number and method): {_shown(value)}")


@dataclass(frozen=True, slots=True)
class Event:
    """An Event value (RFC 6665 §8.4): package (with templates) and ``id``."""

    package: str
    id: str | None
    params: Params

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (any case): "" if it has none, None if absent."""
        return _find_param(self.params, name)


def parse_event(value: str) -> Event:
    """Parse ``event-type *( SEMI event-param )``.

    ``package`` is the whole event-type as written, templates included
    (``presence.winfo``).

    Raises:
        SipParseError: no event-type, or trailing text that is not parameters.
    """
    m = abnf.EVENT_TYPE_RE.match(value)
    if m is None:
        raise SipParseError(f"not an Event value: {_shown(value)}")
    params = parse_params(value[m.end() :])
    return Event(m["type"], _find_param(params, "id"), params)


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A Subscription-State value (RFC 6665 §8.4).

    ``state`` is as written (``active``, ``pending``, ``terminated`` or an
    extension); ``expires`` and ``retry_after`` are delta-seconds.
    """

    state: str
    expires: int | None
    reason: str | None
    retry_after: int | None
    params: Params

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (any case): "" if it has none, None if absent."""
        return _find_param(self.params, name)


def _delta_seconds(params: Params, name: str, value: str) -> int | None:
    text = _find_param(params, name)
    if text is None:
        return None
    if abnf.DELTA_SECONDS_RE.fullmatch(text) is None:
        raise SipParseError(f"{name} is not delta-seconds: {_shown(value)}")
    return int(text)


def parse_subscription_state(value: str) -> SubscriptionState:
    """Parse ``substate-value *( SEMI subexp-params )``.

    Raises:
        SipParseError: no state token, trailing text that is not
            parameters, or an ``expires``/``retry-after`` that is not
            delta-seconds.
    """
    m = abnf.SUBSTATE_RE.match(value)
    if m is None:
        raise SipParseError(f"not a Subscription-State value: {_shown(value)}")
    params = parse_params(value[m.end() :])
    return SubscriptionState(
        m["state"],
        _delta_seconds(params, "expires", value),
        _find_param(params, "reason"),
        _delta_seconds(params, "retry-after", value),
        params,
    )


@dataclass(frozen=True, slots=True)
class ContentType:
    """A media-type (RFC 3261 §20.15); ``type`` and ``subtype`` in lower case."""

    type: str
    subtype: str
    params: Params

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (any case): "" if it has none, None if absent."""
        return _find_param(self.params, name)

    @property
    def mime(self) -> str:
        """``type/subtype``, e.g. ``application/sdp``."""
        return f"{self.type}/{self.subtype}"


def parse_content_type(value: str) -> ContentType:
    """Parse ``m-type SLASH m-subtype *(SEMI m-parameter)``.

    Raises:
        SipParseError: no type/subtype, or trailing text that is not
            parameters.
    """
    m = abnf.MEDIA_TYPE_RE.match(value)
    if m is None:
        raise SipParseError(f"not a media type: {_shown(value)}")
    return ContentType(m["type"].lower(), m["subtype"].lower(), parse_params(value[m.end() :]))
