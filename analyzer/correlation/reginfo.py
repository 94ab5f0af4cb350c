"""Registration state documents (``application/reginfo+xml``, RFC 3680).

:func:`parse_reginfo` reads one document strictly (it raises
:class:`ReginfoError` when the body is not a reginfo document at all) but
records, rather than rejects, attributes that are missing or malformed:
the validation rules judge those.  :class:`ReginfoTracker` replays the
documents of one subscription the way RFC 3680 §5.2 tells a subscriber to,
so that the state of every address-of-record can be followed over time.

Bodies come from captured traffic and are hostile.  The parser never
resolves entities, never loads a DTD, never touches the network and keeps
libxml2's limits on (no ``huge_tree``); libxml2 also refuses entity
amplification ("billion laughs").  Bodies above :data:`MAX_REGINFO_BYTES`
are not parsed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from lxml import etree

from ..errors import DecodeError
from .transactions import record_constructor

# RFC 3680 §5.1 gives no size limit.  A contact element is 200-400 bytes, so
# this holds well over a thousand contacts in one document, more than any
# registrar reports for one subscriber; it bounds what lxml is given to
# build a tree from.
MAX_REGINFO_BYTES = 512 * 1024

REGINFO_NS = "urn:ietf:params:xml:ns:reginfo"
REGINFO_CONTENT_TYPE = "application/reginfo+xml"

_REGINFO = f"{{{REGINFO_NS}}}reginfo"
_REGISTRATION = f"{{{REGINFO_NS}}}registration"
_CONTACT = f"{{{REGINFO_NS}}}contact"
_URI = f"{{{REGINFO_NS}}}uri"
_DISPLAY_NAME = f"{{{REGINFO_NS}}}display-name"
_UNKNOWN_PARAM = f"{{{REGINFO_NS}}}unknown-param"

# xs:unsignedLong has at most 20 digits; longer runs are not numbers the
# schema allows and would only make int() slow.
_MAX_DIGITS = 20


class ReginfoError(DecodeError):
    """The body is not a usable reginfo document (too large, not XML, wrong root)."""

    layer = "reginfo"


@dataclass(frozen=True, slots=True)
class ReginfoContact:
    """One ``contact`` element (RFC 3680 §5.1), attributes as written.

    Missing attributes are None; numeric ones that are not unsigned integers
    are None too, with a problem recorded on the document.
    """

    id: str | None
    state: str | None
    event: str | None
    uri: str | None
    display_name: str | None
    expires: int | None
    retry_after: int | None
    duration_registered: int | None
    q: str | None
    callid: str | None
    cseq: int | None
    unknown_params: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ReginfoRegistration:
    """One ``registration`` element: an address-of-record and its contacts."""

    aor: str | None
    id: str | None
    state: str | None
    contacts: tuple[ReginfoContact, ...]


@dataclass(frozen=True, slots=True)
class ParsedReginfo:
    """What :func:`parse_reginfo` read; ``problems`` are schema deviations, in order."""

    version: int | None
    state: str | None
    registrations: tuple[ReginfoRegistration, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReginfoDocument:
    """A reginfo document carried by one NOTIFY.

    ``id`` is the NOTIFY's message index.  ``error`` says why nothing could be
    read (too large, not well-formed, not a reginfo root element); then
    ``registrations`` is empty.  ``previous_version`` is the version of the
    subscription's previous readable document, and ``version_delta`` the
    difference (1 is the normal step; more is a gap, zero or less a repeat
    or a move backwards: catalogue RI-4).  ``applied`` is False when a
    subscriber would discard the document (RFC 3680 §5.2: "If the value in
    the document is less than the local version, the document is discarded
    without processing.") or when it could not be read.
    """

    id: int
    message: int
    ts_ns: int
    call_id: str | None
    subscription: int | None
    version: int | None
    state: str | None
    registrations: tuple[ReginfoRegistration, ...]
    problems: tuple[str, ...]
    error: str | None
    previous_version: int | None
    version_delta: int | None
    applied: bool
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AorSnapshot:
    """The state of one address-of-record after a document was applied.

    ``state`` is the registration state and ``contacts`` the whole contact
    table (RFC 3680 §5.2) after merging the document; a full-state document
    that no longer lists the AoR empties the table and leaves ``state``
    None.  ``registration_id`` is the ``id`` the document gave it.
    """

    ts_ns: int
    document: int
    version: int | None
    full: bool
    registration_id: str | None
    state: str | None
    contacts: tuple[ReginfoContact, ...]


@dataclass(frozen=True, slots=True)
class ReginfoAor:
    """The history of one address-of-record within one subscription.

    Keyed by (``subscription``, ``aor``): versions and registration ids are
    scoped to a subscription (RFC 3680 §5.1 "Versions are scoped within a
    subscription").  ``messages`` are the NOTIFYs whose documents mention
    the AoR (or, for a full document, dropped it).
    """

    subscription: int | None
    call_id: str | None
    aor: str
    history: tuple[AorSnapshot, ...]
    messages: tuple[int, ...]
    frames: tuple[int, ...]


if TYPE_CHECKING:
    _new_reginfo_contact = ReginfoContact
    _new_reginfo_registration = ReginfoRegistration
    _new_parsed_reginfo = ParsedReginfo
    _new_aor_snapshot = AorSnapshot
else:
    _new_reginfo_contact = record_constructor(ReginfoContact)
    _new_reginfo_registration = record_constructor(ReginfoRegistration)
    _new_parsed_reginfo = record_constructor(ParsedReginfo)
    _new_aor_snapshot = record_constructor(AorSnapshot)


@functools.lru_cache(maxsize=1)
def _parser() -> etree.XMLParser:
    # One parser, created on first use and reused: lxml parsers are meant to
    # be reused within a thread, and creating one per document costs more
    # than parsing a small document.  lxml itself is imported here, on first
    # use, so that importing the package stays cheap.
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        # xml:id attributes mean nothing in reginfo; no table of them.
        collect_ids=False,
    )


def _uint(value: str) -> int | None:
    """An xs:unsignedLong (surrounding blanks allowed by the schema's whitespace collapse)."""
    if value.isdigit() and value.isascii() and len(value) <= _MAX_DIGITS:
        return int(value)
    v = value.strip()
    if v.isdigit() and v.isascii() and len(v) <= _MAX_DIGITS:
        return int(v)
    return None


def _number(value: str | None, where: str, name: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    n = _uint(value)
    if n is None:
        problems.append(f"{where} {name} {value!r} is not an unsigned integer")
    return n


def _text(el: etree._Element, where: str, problems: list[str]) -> str | None:
    if len(el):
        # With entities left unresolved an entity reference is a child node;
        # its replacement text is never read.
        problems.append(f"{where} contains markup or an unexpanded entity reference")
    return el.text


def parse_reginfo(body: bytes) -> ParsedReginfo:
    """Read a reginfo document.  Raises :class:`ReginfoError` if it is not one."""
    if len(body) > MAX_REGINFO_BYTES:
        raise ReginfoError(
            f"reginfo body of {len(body)} bytes exceeds the {MAX_REGINFO_BYTES}-byte limit; "
            "not parsed"
        )
    from lxml import etree

    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise ReginfoError(f"reginfo body is not well-formed XML: {exc}") from None
    if root.tag != _REGINFO:
        raise ReginfoError(
            f"root element is {root.tag!r}, expected 'reginfo' in namespace {REGINFO_NS!r}"
        )
    problems: list[str] = []
    if b"<!DOCTYPE" in body:
        problems.append("document has a DOCTYPE declaration; its entities were not expanded")
    raw_version = root.get("version")
    if raw_version is None:
        version = None
        problems.append("reginfo has no version attribute")
    else:
        version = _number(raw_version, "reginfo", "version", problems)
    state = root.get("state")
    if state is None:
        problems.append("reginfo has no state attribute")
    registrations: list[ReginfoRegistration] = []
    for reg in root:
        if reg.tag != _REGISTRATION:
            continue
        contacts: list[ReginfoContact] = []
        for c in reg:
            if c.tag == _CONTACT:
                contacts.append(_contact(c, problems))
        registrations.append(
            _new_reginfo_registration(
                reg.get("aor"), reg.get("id"), reg.get("state"), tuple(contacts)
            )
        )
    return _new_parsed_reginfo(version, state, tuple(registrations), tuple(problems))


def parse_reginfo_bodies(bodies: Iterable[bytes]) -> dict[bytes, ParsedReginfo | str]:
    """:func:`parse_reginfo` over many bodies: each distinct body is read once.

    Returns the result for each body, or the reason (:class:`ReginfoError`)
    it is not a reginfo document.  Correlation reads all the reginfo bodies
    of a capture with this before it reads the Call-ID groups: libxml2
    builds a tree about three times faster when documents come one after
    the other than when each is parsed among the correlation of its group
    (measured on the 1M-packet benchmark capture: 24 us against 77 us per
    document), because its code and tables stay in the processor caches.
    A retransmitted NOTIFY carries the same bytes, so it is not read twice.
    """
    out: dict[bytes, ParsedReginfo | str] = {}
    for body in bodies:
        if body not in out:
            try:
                out[body] = parse_reginfo(body)
            except ReginfoError as exc:
                out[body] = exc.reason
    return out


def _contact(c: etree._Element, problems: list[str]) -> ReginfoContact:
    # Attribute names and values of a parsed document are str (lxml returns
    # bytes only for trees built from bytes by hand).
    a = cast("dict[str, str]", dict(c.items()))
    get = a.get
    cid = get("id")
    uri: str | None = None
    display: str | None = None
    unknown: list[tuple[str, str]] = []
    for e in c:
        tag = e.tag
        if tag == _URI:
            uri = e.text if not len(e) else _text(e, f"contact {cid!r} <uri>", problems)
        elif tag == _DISPLAY_NAME:
            display = (
                e.text if not len(e) else _text(e, f"contact {cid!r} <display-name>", problems)
            )
        elif tag == _UNKNOWN_PARAM:
            unknown.append((e.get("name") or "", e.text or ""))
    # The numeric attributes, written out: this runs for every contact of
    # every document, and the valid form is by far the common one.
    v = get("expires")
    expires = None
    if v is not None:
        expires = int(v) if v.isdigit() and v.isascii() and len(v) <= _MAX_DIGITS else None
        if expires is None:
            expires = _number(v, f"contact {cid!r}", "expires", problems)
    retry = duration = cseq = None
    if "retry-after" in a or "duration-registered" in a or "cseq" in a:
        retry = _number(get("retry-after"), f"contact {cid!r}", "retry-after", problems)
        duration = _number(
            get("duration-registered"), f"contact {cid!r}", "duration-registered", problems
        )
        cseq = _number(get("cseq"), f"contact {cid!r}", "cseq", problems)
    return _new_reginfo_contact(
        cid,
        get("state"),
        get("event"),
        uri,
        display,
        expires,
        retry,
        duration,
        get("q"),
        get("callid"),
        cseq,
        tuple(unknown),
    )


class _Table:
    __slots__ = ("registration_id", "state", "contacts", "history", "messages")

    def __init__(self) -> None:
        self.registration_id: str | None = None
        self.state: str | None = None
        self.contacts: dict[object, ReginfoContact] = {}
        self.history: list[AorSnapshot] = []
        self.messages: list[int] = []


class ReginfoTracker:
    """The registration tables of one subscription, as RFC 3680 §5.2 builds them.

    Tables are kept per AoR rather than per registration ``id``: a notifier
    that changes the id of an AoR (a violation, catalogue RI-6) would
    otherwise split its history in two.  A document whose version equals
    the local version is applied (§5.2 only discards lower ones).
    """

    __slots__ = ("version", "tables")

    def __init__(self) -> None:
        self.version: int | None = None
        self.tables: dict[str, _Table] = {}

    def apply(
        self, doc_id: int, ts_ns: int, doc: ParsedReginfo
    ) -> tuple[bool, int | None, int | None]:
        """Apply one readable document; returns (applied, previous version, delta)."""
        previous = self.version
        version = doc.version
        delta = None if previous is None or version is None else version - previous
        if delta is not None and delta < 0:
            return False, previous, delta
        # "The version number MUST be initialized with the value of the
        # "version" attribute from the "reginfo" element in the first
        # document received."
        if version is not None:
            self.version = version
        full = doc.state == "full"
        seen: set[str] = set()
        for reg in doc.registrations:
            aor = reg.aor if reg.aor is not None else ""
            table = self.tables.get(aor)
            if table is None:
                table = self.tables[aor] = _Table()
            if full and aor not in seen:
                # "If it contains full state [...] the contents of all tables
                # associated with this subscription are flushed."
                table.contacts = {}
            seen.add(aor)
            table.registration_id = reg.id
            table.state = reg.state
            contacts = table.contacts
            for c in reg.contacts:
                contacts[c.id if c.id is not None else ("uri", c.uri)] = c
            table.history.append(
                _new_aor_snapshot(
                    ts_ns, doc_id, version, full, reg.id, reg.state, tuple(contacts.values())
                )
            )
            table.messages.append(doc_id)
        if full:
            for aor, table in self.tables.items():
                if aor not in seen and (table.state is not None or table.contacts):
                    table.state = None
                    table.contacts = {}
                    table.history.append(
                        _new_aor_snapshot(
                            ts_ns, doc_id, version, True, table.registration_id, None, ()
                        )
                    )
                    table.messages.append(doc_id)
        return True, previous, delta
