"""Header fields of one SIP message: names, compact forms and the Headers record.

Facts this design rests on (RFC 3261 §7.3):

* Field names are case-insensitive ("When comparing header fields, field
  names are always case-insensitive", §7.3.1), and every name with a compact
  form may be sent either way ("Implementations MUST accept both the long and
  short forms of each header name", §7.3.3).  Each field is therefore stored
  under one canonical key, its lowercase long name, next to the spelling seen
  on the wire.
* Order matters and duplicates are legal: several Via lines form one list,
  top first (§7.3.1: "the relative order of header field rows with the same
  field name is important").  Nothing is merged or reordered.
* A field value may be a comma-separated list; commas inside quoted strings
  and inside "<...>" (URIs) do not separate values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, KeysView, Mapping

from analyzer.sip.abnf import WSP_CHARS as _WSP

# Compact forms, RFC 3261 §7.3.3 and the extensions that define one.  The
# letters beyond RFC 3261 and RFC 6665 come from Wireshark's packet-sip.c
# table (RFC 3515 r, RFC 3892 b, RFC 4028 x, RFC 3841 a/j/d, RFC 4474 y/n).
# Note that "m" is Contact ("moved"), not Max-Forwards, and that
# Subscription-State has no compact form.
COMPACT_FORMS: dict[str, str] = {
    "i": "call-id",  # RFC 3261 §20.8
    "m": "contact",  # RFC 3261 §20.10
    "e": "content-encoding",  # RFC 3261 §20.12
    "l": "content-length",  # RFC 3261 §20.14
    "c": "content-type",  # RFC 3261 §20.15
    "f": "from",  # RFC 3261 §20.20
    "s": "subject",  # RFC 3261 §20.36
    "k": "supported",  # RFC 3261 §20.37
    "t": "to",  # RFC 3261 §20.39
    "v": "via",  # RFC 3261 §20.42
    "o": "event",  # RFC 6665 §8.4
    "u": "allow-events",  # RFC 6665 §8.4
    "r": "refer-to",  # RFC 3515
    "b": "referred-by",  # RFC 3892
    "x": "session-expires",  # RFC 4028
    "a": "accept-contact",  # RFC 3841
    "j": "reject-contact",  # RFC 3841
    "d": "request-disposition",  # RFC 3841
    "y": "identity",  # RFC 4474 / RFC 8224
    "n": "identity-info",  # RFC 4474
}


# Header names as spelled on the wire, mapped to canonical keys: the
# registered long names in their RFC spelling, lower and upper case, and the
# compact letters in both cases.  The message parser's fast path reads it
# directly and adds other token names on first sight (see remember_name).
_REGISTERED = (
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Id",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Cseq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "Identity",
    "Identity-Info",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "Min-SE",
    "MIME-Version",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Path",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Service-Route",
    "Session-Expires",
    "SIP-ETag",
    "SIP-If-Match",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
)
NAME_KEYS: dict[str, str] = {}
for _name in _REGISTERED:
    for _spelling in (_name, _name.lower(), _name.upper()):
        NAME_KEYS[_spelling] = _name.lower()
for _letter, _long in COMPACT_FORMS.items():
    NAME_KEYS[_letter] = NAME_KEYS[_letter.upper()] = _long
del _name, _spelling, _letter, _long

# Distinct spellings NAME_KEYS may hold.  Real traffic uses a few dozen; the
# bound keeps a capture full of random names from growing it without limit
# (beyond it names are still canonicalised, just not remembered).
MAX_NAME_KEYS = 2048


def canonical_name(name: str) -> str:
    """The canonical key for a header name: lowercase, compact form expanded.

    ``name`` is taken as given (no validation): ``"V"`` -> ``"via"``,
    ``"Call-Id"`` -> ``"call-id"``.
    """
    key = NAME_KEYS.get(name)
    if key is None:
        low = name.lower()
        key = COMPACT_FORMS.get(low, low)
    return key


def remember_name(name: str) -> str:
    """Canonicalise a name the caller has validated as a token, caching it."""
    low = name.lower()
    key = COMPACT_FORMS.get(low, low)
    if len(NAME_KEYS) < MAX_NAME_KEYS:
        NAME_KEYS[name] = key
    return key


def split_values(value: str) -> list[str]:
    """Split one header value on the commas that separate list elements.

    Commas inside a quoted string (with backslash escapes) or between "<" and
    ">" do not split.  Elements are stripped of surrounding whitespace (SP,
    HTAB and the tolerated NBSP) and empty elements (",," or a trailing
    comma) are dropped.
    """
    if '"' not in value and "<" not in value:
        # The common case (Allow, Supported, Via without quoted params): a
        # plain split in C.
        if "," not in value:
            stripped = value.strip(_WSP)
            return [stripped] if stripped else []
        return [part for part in (p.strip(_WSP) for p in value.split(",")) if part]
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    i = 0
    n = len(value)
    # A per-character walk, but only for values that contain quotes or angle
    # brackets, and only when a caller asks for the list.
    while i < n:
        ch = value[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif in_angle:
            if ch == ">":
                in_angle = False
        elif ch == "<":
            in_angle = True
        elif ch == ",":
            parts.append(value[start:i])
            start = i + 1
        i += 1
    parts.append(value[start:])
    return [part for part in (p.strip(_WSP) for p in parts) if part]


# Header names registered with IANA (SIP Parameters, "Header Fields") and a
# few unregistered ones in wide use (Diversion, Remote-Party-ID), lower case.
# A name that is not here, and is not an X- or P- extension or on the user's
# allow-list, is checked for being a near miss of one of these.
KNOWN_HEADERS: dict[str, str] = {
    name.lower(): name
    for name in (
        "Accept",
        "Accept-Contact",
        "Accept-Encoding",
        "Accept-Language",
        "Accept-Resource-Priority",
        "Additional-Identity",
        "Alert-Info",
        "AlertMsg-Error",
        "Allow",
        "Allow-Events",
        "Answer-Mode",
        "Attestation-Info",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Cellular-Network-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-ID",
        "Content-Language",
        "Content-Length",
        "Content-Transfer-Encoding",
        "Content-Type",
        "CSeq",
        "Date",
        "Diversion",
        "Encryption",
        "Error-Info",
        "Event",
        "Expires",
        "Feature-Caps",
        "Flow-Timer",
        "From",
        "Geolocation",
        "Geolocation-Error",
        "Geolocation-Routing",
        "Hide",
        "History-Info",
        "Identity",
        "Identity-Info",
        "Info-Package",
        "In-Reply-To",
        "Join",
        "Max-Breadth",
        "Max-Forwards",
        "MIME-Version",
        "Min-Expires",
        "Min-SE",
        "Organization",
        "Origination-Id",
        "Path",
        "Permission-Missing",
        "Policy-Contact",
        "Policy-ID",
        "Priority",
        "Priority-Share",
        "Priority-Verstat",
        "Priv-Answer-Mode",
        "Privacy",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "Reason",
        "Reason-Phrase",
        "Record-Route",
        "Recv-Info",
        "Refer-Events-At",
        "Refer-Sub",
        "Refer-To",
        "Referred-By",
        "Reject-Contact",
        "Relayed-Charge",
        "Remote-Party-ID",
        "Replaces",
        "Reply-To",
        "Request-Disposition",
        "Require",
        "Resource-Priority",
        "Resource-Share",
        "Response-Key",
        "Response-Source",
        "Restoration-Info",
        "Retry-After",
        "Route",
        "RSeq",
        "Security-Client",
        "Security-Server",
        "Security-Verify",
        "Server",
        "Service-Interact-Info",
        "Service-Route",
        "Session-Expires",
        "Session-ID",
        "SIP-ETag",
        "SIP-If-Match",
        "Subject",
        "Subscription-State",
        "Supported",
        "Suppress-If-Match",
        "Target-Dialog",
        "Timestamp",
        "To",
        "Trigger-Consent",
        "Unsupported",
        "User-Agent",
        "User-to-User",
        "Via",
        "Warning",
        "WWW-Authenticate",
    )
}

#: Canonical keys of the known names: KNOWN_HEADERS and the long forms of
#: the compact names (canonical keys are long forms).
KNOWN_HEADER_KEYS = frozenset(KNOWN_HEADERS) | frozenset(COMPACT_FORMS.values())


class Headers:
    """The header fields of a message, in wire order, duplicates kept.

    ``items`` holds ``(raw_name, name, value)`` triples: the name as written
    on the wire, the canonical lowercase long name, and the value with
    surrounding whitespace removed and folded lines joined by one SP.
    Lookups accept any case and either the long or the compact name.
    Instances are immutable: ``items`` is read-only, and the private slots
    only cache what is derived from it.
    """

    __slots__ = ("_data", "_first", "_unique")

    # The triples, or (see lazy_headers) the message they are still to be
    # split from.
    _data: tuple[tuple[str, str, str], ...] | bytes
    # The first value of each name (possibly with surrounding blanks), given
    # by the parser or built on the first lookup.
    _first: dict[str, str] | None
    # True when no name occurs twice and ``_first`` is set: then ``_first``
    # holds every value, and get_all needs no split either.
    _unique: bool

    def __init__(self, items: Iterable[tuple[str, str, str]] = ()) -> None:
        self._data = tuple(items)
        self._first = None
        self._unique = False

    @property
    def items(self) -> tuple[tuple[str, str, str], ...]:
        """The ``(raw_name, name, value)`` triples, in wire order."""
        data = self._data
        if isinstance(data, bytes):
            return self._split(data)
        return data

    def _split(self, message: bytes) -> tuple[tuple[str, str, str], ...]:
        # The header lines of the message (see lazy_headers): the head up to
        # the empty line, without the start line.
        lines = message.partition(b"\r\n\r\n")[0].decode().split("\r\n")
        del lines[0]
        keys = NAME_KEYS
        triples = []
        for line in lines:
            name, _, value = line.partition(":")
            key = keys.get(name)
            if key is None:
                # A name validated by the parser but not cached (the cache
                # was full): canonicalise it again.
                key = canonical_name(name)
            triples.append((name, key, value.strip()))
        items = tuple(triples)
        self._data = items
        return items

    def _index(self) -> dict[str, str]:
        first = self._first
        if first is None:
            # Reversed so that the earliest occurrence is written last and wins.
            first = {name: value for _, name, value in reversed(self.items)}
            self._first = first
        return first

    def get(self, name: str) -> str | None:
        """The value of the first field called ``name``, or None."""
        # Written out (no _index() or canonical_name() call) for the common
        # case: rules and correlation look up a few names of every message.
        first = self._first
        if first is None:
            first = self._index()
        key = NAME_KEYS.get(name)
        value = first.get(canonical_name(name) if key is None else key)
        # Values from the parser's fast path may keep their blanks.
        return None if value is None else value.strip()

    def get_all(self, name: str) -> list[str]:
        """The values of every field called ``name`` (one per header line), in order."""
        key = canonical_name(name)
        if self._unique:
            assert self._first is not None
            value = self._first.get(key)
            return [] if value is None else [value.strip()]
        return [value for _, n, value in self.items if n == key]

    def first_values(self) -> Mapping[str, str]:
        """Each canonical name present and its first value, surrounding blanks possibly kept.

        For loops that test many names of every message (the rule engine's
        triggers): one call, then plain dictionary lookups.  Read only; use
        :meth:`get` for a value with its blanks removed.
        """
        first = self._first
        return first if first is not None else self._index()

    @property
    def repeats(self) -> bool:
        """False when no name occurs twice; True when one may (not yet known counts as True)."""
        return not self._unique

    def names(self) -> KeysView[str]:
        """The canonical (lowercase long) names present, each once."""
        return self._index().keys()

    def values(self, name: str) -> list[str]:
        """Every comma-separated value of every field called ``name``, in order.

        Only meaningful for list-valued fields (Via, Contact, Allow, Supported,
        Route, ...): a Date or an authentication challenge contains commas
        that are not list separators.
        """
        out: list[str] = []
        for value in self.get_all(name):
            out.extend(split_values(value))
        return out

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name) in self._index()

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self.items == other.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return f"Headers({list(self.items)!r})"


_new = object.__new__


def lazy_headers(message: bytes, count: int, first: dict[str, str]) -> Headers:
    """Headers of ``message``, split into triples on first access.

    For the message parser's fast path, which has already checked every one
    of the ``count`` header lines: each has a colon, a token name (cached in
    NAME_KEYS), no folding, no control characters and only ASCII text, and
    they end at the first CRLFCRLF.  ``first`` maps each canonical name to
    its first value (surrounding blanks allowed), so that lookups need no
    split at all; most messages of a capture are only ever read through it
    and their eager fields, and never pay for the split.  The lines are not
    kept: the message bytes, which the record keeps anyway, give them again
    (a capture's messages take a quarter less memory than with the lines
    kept, which every later stage reads faster).  ``first`` is owned by the
    new object afterwards.
    """
    headers: Headers = _new(Headers)
    headers._data = message
    headers._first = first
    headers._unique = len(first) == count
    return headers
