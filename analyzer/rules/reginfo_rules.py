"""Registration event package rules (catalogue §8, RI): RFC 3680 ``reg`` and reginfo.

The documents are those the correlation read from NOTIFY bodies of type
``application/reginfo+xml`` (:class:`~analyzer.correlation.ReginfoDocument`):
one per NOTIFY transaction (a retransmission is not a second document,
G-3), each with the subscription it belongs to, its version, state,
registrations and contacts, and the per-AoR history a subscriber builds
from them (:class:`~analyzer.correlation.ReginfoAor`, RFC 3680 §5.2).
Document rules read one document; history rules compare a document with
the ones before it in its subscription (versions and registration ids are
"scoped within a subscription", §5.1).

RI-1 also reads the XML of a NOTIFY that has no body because its XML was
glued to the headers without the empty line (HDR-6), and of a request
whose CSeq says NOTIFY under another method, so that a document a reader
would see is judged even when the message framing hides it.

False-positive guards: a subscription seen from its middle (G-1) takes its
first document as the baseline; a version gap is a warning (G-2); NOTIFYs
are ordered by CSeq and the same CSeq is one NOTIFY (G-3, G-4).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from ..correlation import (
    MAX_REGINFO_BYTES,
    AorSnapshot,
    ReginfoContact,
    ReginfoDocument,
    ReginfoError,
    ReginfoRegistration,
    SubscribeKind,
    Subscription,
    canonical_aor,
    parse_reginfo,
)
from ..correlation.reginfo import REGINFO_CONTENT_TYPE
from ..correlation.subscriptions import media_type
from ..sip.message import SipMessage, SipRequest
from . import rule
from .base import Context, Issue, Scope, Severity, quote
from .subscription_rules import (
    NOTIFY_WAIT_NS,
    PACKAGE_DEFAULT_EXPIRES,
    accepts,
    is_notify_like,
)
from .triggers import Trigger

__all__ = ["NOTIFY_INTERVAL_NS", "glued_xml"]

_NS = 1_000_000_000

# RFC 3680 §4.10: "it is RECOMMENDED that the server not generate
# notifications for a single subscriber at a rate faster than once every 5
# seconds."
NOTIFY_INTERVAL_NS = 5 * _NS

# RFC 3680 §5.1: "Versions MUST be representable using a 32 bit integer."
VERSION_LIMIT = 2**32 - 1

_REG_STATES = frozenset(("init", "active", "terminated"))
_CONTACT_STATES = frozenset(("active", "terminated"))

# RFC 3680 §4.7.1, Figure 2: the events that lead into each contact state.
_ACTIVE_EVENTS = frozenset(("registered", "created", "refreshed", "shortened"))
_TERMINATED_EVENTS = frozenset(("expired", "deactivated", "probation", "unregistered", "rejected"))
_EVENTS = _ACTIVE_EVENTS | _TERMINATED_EVENTS
_NEW_BINDING = frozenset(("registered", "created"))
_UPDATE = frozenset(("refreshed", "shortened"))

# Where a NOTIFY's XML was glued to its header section (no empty line): the
# first header-section line that starts an XML declaration or a reginfo
# element, possibly indented.  Anchored to those two so that a folded header
# line starting with "<sip:..." is never taken for XML.
_GLUED_RE = re.compile(rb"\n[ \t]*(<\?xml|<(?:[A-Za-z_][\w.-]*:)?reginfo\b)")

# RFC 3680 §5.1: "MUST be based on XML 1.0 and MUST be encoded using UTF-8."
_XML_DECL_RE = re.compile(
    rb"""\A\s*<\?xml\s+version\s*=\s*(["'])([^"']*)\1"""
    rb"""(?:\s+encoding\s*=\s*(["'])([^"']*)\3)?"""
)

# Opening tags of <uri> elements (any prefix), for documents that could not
# be parsed; the content runs to the next "<".
_URI_OPEN_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?uri(?:\s[^>]*)?>")

# XML white space (XML 1.0 §2.3 S) is what xs:anyURI collapses.
_XML_WS = " \t\r\n"


# -- helpers -------------------------------------------------------------------


def glued_xml(msg: SipMessage) -> bytes | None:
    """The XML a message carries in its header section when the empty line is missing.

    Only for a message whose body is empty and whose parser found header
    lines it could not read (the XML lines) or no empty line at all.
    """
    if msg.body.strip(b" \t\r\n") or not any(
        d.code in ("malformed-header", "missing-empty-line") for d in msg.defects
    ):
        return None
    raw = msg.raw
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = len(raw)
    m = _GLUED_RE.search(raw, 0, end)
    return None if m is None else raw[m.start(1) : end]


def _documents(ctx: Context) -> Iterator[ReginfoDocument]:
    """The readable documents of the capture."""
    for doc in ctx.correlation.reginfo:
        if doc.error is None:
            yield doc


def _contact_name(c: ReginfoContact) -> str:
    return f"contact {quote(c.id)}" if c.id is not None else f"contact {quote(c.uri)}"


def _reg_name(r: ReginfoRegistration) -> str:
    return f"registration {quote(r.aor)}"


def _subscription_documents(
    ctx: Context, s: Subscription
) -> list[tuple[int, int, ReginfoDocument]]:
    """(CSeq, time, document) of a subscription's readable documents, in CSeq order.

    The same CSeq twice is one NOTIFY seen at two hops or re-sent (G-3,
    G-4): only the first is kept.
    """
    out: list[tuple[int, int, ReginfoDocument]] = []
    seen: set[int] = set()
    for n in s.notifications:
        if n.document is None or n.cseq is None or n.cseq in seen:
            continue
        doc = ctx.correlation.document(n.document)
        if doc is None or doc.error is not None:
            continue
        seen.add(n.cseq)
        out.append((n.cseq, n.ts_ns, doc))
    out.sort(key=lambda d: (d[0], d[1]))
    return out


# -- document rules ------------------------------------------------------------


def _hint(body: bytes) -> str:
    """What in a body that is not well-formed most likely broke it."""
    hints: list[str] = []
    stripped = body.lstrip(b" \t\r\n")
    if len(stripped) != len(body) and stripped.startswith(b"<?xml"):
        hints.append(
            f"{len(body) - len(stripped)} bytes of white space come before the XML declaration"
        )
    if b"\xc2\xa0" in body:
        hints.append("it contains U+00A0 NO-BREAK SPACE, which is not XML white space")
    return f" ({'; '.join(hints)})" if hints else ""


@rule(
    "RI-1",
    severity=Severity.ERROR,
    rfc="RFC 3680 §5.1",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.EVENTS_METHOD,
)
def not_a_reginfo_document(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """reginfo body not well-formed, not a reginfo root, or not schema-valid

    RFC 3680 §5.1: "Registration information is an XML document [4] that
    MUST be well-formed and SHOULD be valid."  The root element must be
    ``reginfo`` in the namespace ``urn:ietf:params:xml:ns:reginfo`` (a typo
    such as ``um:`` makes it another document).  Not well-formed or another
    root is an error; schema deviations (a number attribute that is not a
    number, markup inside ``<uri>``, a DOCTYPE) are warnings (SHOULD).  XML
    glued to the headers without an empty line is read the way a reader
    taking it for the body would; a NOTIFY with an empty body carries no
    document and is not judged.
    """
    if not is_notify_like(msg):
        return
    if media_type(msg.headers.get("content-type")) != REGINFO_CONTENT_TYPE:
        return
    assert isinstance(msg, SipRequest)
    what = "NOTIFY" if msg.method == "NOTIFY" else f"{msg.method} (CSeq {msg.cseq_num} NOTIFY)"
    body = msg.body
    if not body.strip(b" \t\r\n"):
        glued = glued_xml(msg)
        if glued is None:
            return
        try:
            parse_reginfo(glued)
        except ReginfoError as exc:
            yield Issue(
                f"{what}: the XML that follows the headers without an empty line is not a "
                f"reginfo document: {exc.reason}",
                (i,),
            )
        return
    doc = ctx.correlation.document(i) if msg.method == "NOTIFY" else None
    if doc is not None:
        error, problems = doc.error, doc.problems
    else:
        try:
            parsed = parse_reginfo(body)
        except ReginfoError as exc:
            error, problems = exc.reason, ()
        else:
            error, problems = None, parsed.problems
    if error is not None:
        yield Issue(f"{what} body: {error}{_hint(body)}", (i,))
        return
    # Root attribute problems are RI-3's.
    schema = [p for p in problems if not p.startswith("reginfo ")]
    if schema:
        yield Issue(
            f"{what} body is not valid against the RFC 3680 schema: " + "; ".join(schema[:3]),
            (i,),
            Severity.WARNING,
        )


@rule("RI-2", severity=Severity.ERROR, rfc="RFC 3680 §5.1", scope=Scope.ANALYSIS)
def not_xml_1_0_utf8(ctx: Context) -> Iterator[Issue]:
    """reginfo document not XML 1.0 or not UTF-8

    RFC 3680 §5.1: "Registration information documents MUST be based on
    XML 1.0 and MUST be encoded using UTF-8."  Reported: an XML declaration
    with another version or encoding, and bytes that are not UTF-8.
    """
    for doc in ctx.correlation.reginfo:
        body = ctx.messages[doc.message].body
        if not body:
            continue
        m = _XML_DECL_RE.match(body)
        if m is not None:
            version = m[2].decode("ascii", "backslashreplace")
            if version != "1.0":
                yield Issue(f"reginfo XML declaration says version {quote(version)}", (doc.id,))
            if m[4] is not None:
                encoding = m[4].decode("ascii", "backslashreplace")
                if encoding.lower() != "utf-8":
                    yield Issue(
                        f"reginfo XML declaration says encoding {quote(encoding)}", (doc.id,)
                    )
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = body[exc.start : exc.start + 1]
            yield Issue(f"reginfo body is not UTF-8: byte {exc.start} is {bad!r}", (doc.id,))


@rule("RI-3", severity=Severity.ERROR, rfc="RFC 3680 §5.1", scope=Scope.ANALYSIS)
def reginfo_attributes(ctx: Context) -> Iterator[Issue]:
    """reginfo element without a valid version or state

    RFC 3680 §5.1: "There are two attributes associated with the "reginfo"
    element, both of which MUST be present:" ``version`` (a non-negative
    integer; "Versions MUST be representable using a 32 bit integer") and
    ``state`` (``full`` or ``partial``).
    """
    for doc in _documents(ctx):
        if doc.version is None:
            detail = next((p for p in doc.problems if p.startswith("reginfo ")), None)
            yield Issue(detail or "reginfo has no usable version attribute", (doc.id,))
        elif doc.version > VERSION_LIMIT:
            yield Issue(f"reginfo version {doc.version} does not fit in 32 bits", (doc.id,))
        if doc.state is None:
            yield Issue("reginfo has no state attribute", (doc.id,))
        elif doc.state not in ("full", "partial"):
            yield Issue(f"reginfo state {quote(doc.state)} is neither full nor partial", (doc.id,))


@rule("RI-6", severity=Severity.ERROR, rfc="RFC 3680 §5.1", scope=Scope.ANALYSIS)
def registration_attributes(ctx: Context) -> Iterator[Issue]:
    """registration element without aor, id or a valid state, or with an inconsistent id

    RFC 3680 §5.1: "There are three attributes associated with the
    "registration" element, all of which MUST be present:" ``aor``, ``id``
    and ``state`` (init, active or terminated).  Also reported: one AoR in
    two ``registration`` elements of a document (it "MUST be contained
    within a single "registration" element"), two AoRs sharing an id, and
    the id of an AoR changing within a subscription (it "MUST be the same
    across all notifications sent within the subscription").  AoRs are
    compared in canonical form (RFC 3261 §10.3 step 5).
    """
    for doc in _documents(ctx):
        by_aor: dict[str, str | None] = {}
        by_id: dict[str, str] = {}
        for reg in doc.registrations:
            missing = [
                name
                for name, value in (("aor", reg.aor), ("id", reg.id), ("state", reg.state))
                if value is None
            ]
            if missing:
                yield Issue(f"{_reg_name(reg)} has no {', '.join(missing)} attribute", (doc.id,))
            if reg.state is not None and reg.state not in _REG_STATES:
                yield Issue(
                    f"{_reg_name(reg)} state {quote(reg.state)} is none of init, active, "
                    "terminated",
                    (doc.id,),
                )
            if reg.aor is None:
                continue
            aor = canonical_aor(reg.aor)
            if aor in by_aor:
                yield Issue(f"AoR {quote(reg.aor)} appears in two registration elements", (doc.id,))
            by_aor[aor] = reg.id
            if reg.id is not None:
                other = by_id.get(reg.id)
                if other is not None and other != aor:
                    yield Issue(
                        f"registration id {quote(reg.id)} is used by AoRs {quote(other)} and "
                        f"{quote(aor)}",
                        (doc.id,),
                    )
                by_id[reg.id] = aor
    for history in ctx.correlation.reginfo_aors:
        previous: str | None = None
        last_doc = -1
        for snap in history.history:
            rid = snap.registration_id
            # Two registration elements for one AoR in one document (reported
            # above) give two snapshots of that document: not a change.
            if rid is None or snap.document == last_doc:
                continue
            last_doc = snap.document
            if previous is not None and rid != previous:
                yield Issue(
                    f"registration id of AoR {quote(history.aor)} changed from "
                    f"{quote(previous)} to {quote(rid)} within the subscription",
                    (snap.document,),
                )
            previous = rid


@rule("RI-7", severity=Severity.ERROR, rfc="RFC 3680 §4.7.1", scope=Scope.ANALYSIS)
def invisible_transition_reported(ctx: Context) -> Iterator[Issue]:
    """Partial document reports a registration going back to init

    RFC 3680 §4.7.1: the registration state machine goes init -> active ->
    terminated -> init, and the last step "is invisible, in that it MUST NOT
    ever be reported to a subscriber in a NOTIFY request."  A partial
    document reporting ``init`` for an AoR last reported active or
    terminated is an error.  A full-state document may show ``init`` (it
    describes the current state).
    """
    for history in ctx.correlation.reginfo_aors:
        previous: str | None = None
        for snap in history.history:
            if not snap.full and snap.state == "init" and previous in ("active", "terminated"):
                yield Issue(
                    f"partial document (version {snap.version}) reports AoR "
                    f"{quote(history.aor)} {previous} -> init, a transition never reported",
                    (snap.document,),
                )
            previous = snap.state


@rule("RI-8", severity=Severity.WARNING, rfc="RFC 3680 §4.7.1", scope=Scope.ANALYSIS)
def registration_state_contradicts_contacts(ctx: Context) -> Iterator[Issue]:
    """Registration state contradicts the states of its contacts

    RFC 3680 §4.7.1: "As long as there is at least one contact bound to the
    address-of-record, the state machine remains in the active state."  In
    a full document: ``active`` with no active contact, ``init`` or
    ``terminated`` with an active contact.  A partial document lists only
    changed contacts, so only ``init`` with an active contact is judged.
    """
    for doc in _documents(ctx):
        full = doc.state == "full"
        for reg in doc.registrations:
            live = sum(1 for c in reg.contacts if c.state == "active")
            if reg.state in ("init", "terminated") and live and (full or reg.state == "init"):
                yield Issue(
                    f"{_reg_name(reg)} is {reg.state} but lists {live} active contact(s)",
                    (doc.id,),
                )
            elif full and reg.state == "active" and not live:
                yield Issue(
                    f"{_reg_name(reg)} is active in a full document but lists no active contact",
                    (doc.id,),
                )


@rule("RI-9", severity=Severity.ERROR, rfc="RFC 3680 §5.1", scope=Scope.ANALYSIS)
def contact_attributes(ctx: Context) -> Iterator[Issue]:
    """contact element without id, state, event or uri, or with values outside the schema

    RFC 3680 §5.1: "There are several attributes associated with the
    "contact" element which MUST be present:" ``id``, ``state`` (active or
    terminated) and ``event`` (registered, created, refreshed, shortened,
    expired, deactivated, probation, unregistered, rejected); the schema
    requires the ``<uri>`` child.
    """
    for doc in _documents(ctx):
        for reg in doc.registrations:
            for c in reg.contacts:
                missing = [
                    name
                    for name, value in (
                        ("id", c.id),
                        ("state", c.state),
                        ("event", c.event),
                        ("<uri>", c.uri),
                    )
                    if value is None
                ]
                if missing:
                    yield Issue(
                        f"{_contact_name(c)} of {_reg_name(reg)} has no {', '.join(missing)}",
                        (doc.id,),
                    )
                if c.state is not None and c.state not in _CONTACT_STATES:
                    yield Issue(
                        f"{_contact_name(c)} state {quote(c.state)} is neither active nor "
                        "terminated",
                        (doc.id,),
                    )
                if c.event is not None and c.event not in _EVENTS:
                    yield Issue(f"{_contact_name(c)} event {quote(c.event)} is unknown", (doc.id,))


def _contacts_of(doc: ReginfoDocument, aor: str) -> Sequence[ReginfoContact]:
    for reg in doc.registrations:
        if (reg.aor or "") == aor:
            return reg.contacts
    return ()


_ContactStep = tuple[AorSnapshot, ReginfoDocument, ReginfoContact, ReginfoContact | None]


def _contact_steps(ctx: Context, *, partial_only: bool) -> Iterator[_ContactStep]:
    """Each contact of a document read one version after the previous one of its AoR.

    Yields the AoR's previous snapshot, the document, the contact, and the
    contact as that snapshot had it (None when it was not there, or has no
    id).  A version gap leaves the step out: what happened in between is
    unknown.  ``partial_only`` leaves out documents with full state.
    """
    correlation = ctx.correlation
    for history in correlation.reginfo_aors:
        snaps = history.history
        for prev, snap in zip(snaps, snaps[1:], strict=False):
            if partial_only and snap.full:
                continue
            current = correlation.document(snap.document)
            if current is None or current.version_delta != 1:
                continue
            known = {c.id: c for c in prev.contacts if c.id is not None}
            for c in _contacts_of(current, history.aor):
                yield prev, current, c, known.get(c.id) if c.id is not None else None


@rule("RI-10", severity=Severity.ERROR, rfc="RFC 3680 §4.7.1", scope=Scope.ANALYSIS)
def contact_state_event_mismatch(ctx: Context) -> Iterator[Issue]:
    """Contact state and event that do not go together, or an event out of sequence

    RFC 3680 §4.7.1 (Figure 2): a contact becomes ``active`` by
    registered, created, refreshed or shortened, and ``terminated`` by
    expired, deactivated, probation, unregistered or rejected.  Another
    pairing (``state="active" event="expired"``) is an error.  Across the
    partial documents of a subscription, without a version gap between
    them (warnings): refreshed or shortened for a contact not known active,
    registered or created for a contact already active, and any event but
    registered or created after a contact terminated.  The first document
    of a subscription has no history to compare with (G-1).
    """
    for doc in _documents(ctx):
        for reg in doc.registrations:
            for c in reg.contacts:
                allowed = _ACTIVE_EVENTS if c.state == "active" else _TERMINATED_EVENTS
                if c.state in _CONTACT_STATES and c.event in _EVENTS and c.event not in allowed:
                    yield Issue(
                        f"{_contact_name(c)} has state {quote(c.state)} with event "
                        f"{quote(c.event)}",
                        (doc.id,),
                    )
    for prev, current, c, before in _contact_steps(ctx, partial_only=True):
        event = c.event
        if event in _UPDATE and (before is None or before.state != "active"):
            why = "not known" if before is None else f"{before.state}"
            yield Issue(
                f"{_contact_name(c)} reports {event} but was {why} before (version {prev.version})",
                (current.id,),
                Severity.WARNING,
            )
        elif before is not None and before.event == event and before.state == c.state:
            # Notifiers often list every contact of a changed AoR in a
            # partial document: an unchanged contact restated.
            continue
        elif event in _NEW_BINDING and before is not None and before.state == "active":
            yield Issue(
                f"{_contact_name(c)} reports {event} but was already active "
                f"(version {prev.version})",
                (current.id,),
                Severity.WARNING,
            )
        elif (
            before is not None
            and before.state == "terminated"
            and event is not None
            and event not in _NEW_BINDING
        ):
            yield Issue(
                f"{_contact_name(c)} reports {event} after it terminated (version {prev.version})",
                (current.id,),
                Severity.WARNING,
            )


@rule("RI-12", severity=Severity.INFO, rfc="RFC 3680 §5.1", scope=Scope.ANALYSIS)
def contact_history_inconsistent(ctx: Context) -> Iterator[Issue]:
    """duration-registered going down, or a contact cseq older than a REGISTER seen

    RFC 3680 §5.1: "The optional "duration-registered" attribute conveys
    the amount of time that the contact has been bound to the
    address-of-record, in seconds."  Noted, per contact id within a
    subscription and without a version gap: a duration-registered lower
    than in the previous document, unless the contact was bound anew
    (event registered or created).  Also noted: a contact whose ``callid``
    names a Call-ID of REGISTERs in the capture and whose ``cseq`` is lower
    than that of one of them accepted (2xx) before the NOTIFY: the document
    describes an older registration.  Clock granularity and registrar
    restarts explain some of these, hence info.
    """
    for prev, current, c, before in _contact_steps(ctx, partial_only=False):
        if (
            before is None
            or c.duration_registered is None
            or before.duration_registered is None
            or c.event in _NEW_BINDING
            or c.duration_registered >= before.duration_registered
        ):
            continue
        yield Issue(
            f"{_contact_name(c)} duration-registered goes down from "
            f"{before.duration_registered} (version {prev.version}) to "
            f"{c.duration_registered} without being registered anew",
            (current.id,),
        )
    for doc in _documents(ctx):
        for reg in doc.registrations:
            for c in reg.contacts:
                if c.callid is None or c.cseq is None:
                    continue
                newer = _accepted_register(ctx, c.callid, c.cseq, doc.ts_ns)
                if newer is not None:
                    yield Issue(
                        f"{_contact_name(c)} has cseq {c.cseq}, but the REGISTER with its "
                        f"Call-ID {quote(c.callid)} and CSeq {ctx.messages[newer].cseq_num} was "
                        f"accepted before this NOTIFY (frame {ctx.frame(newer)})",
                        (doc.id, newer),
                    )


def _accepted_register(ctx: Context, call_id: str, cseq: int, before: int) -> int | None:
    """A REGISTER of ``call_id`` with a CSeq above ``cseq`` accepted before ``before``."""
    times, best = _accepted_registers(ctx).get(call_id, ((), ()))
    k = bisect_left(times, before)
    if k == 0:
        return None
    top_cseq, request = best[k - 1]
    return request if top_cseq > cseq else None


# Per Call-ID: the times of the 2xx responses to REGISTER, ascending, and for
# each the highest (CSeq, request index) accepted up to then.
_Accepted = tuple[list[int], list[tuple[int, int]]]


def _accepted_registers(ctx: Context) -> dict[str | None, _Accepted]:
    key = "accepted-registers"
    cached = ctx.memo.get(key)
    if isinstance(cached, dict):
        return cached
    found: dict[str | None, list[tuple[int, int, int]]] = {}
    for t in ctx.correlation.transactions:
        if t.method != "REGISTER" or t.request is None or t.cseq is None:
            continue
        done, status = t.final_ts_ns, t.final_status
        if done is not None and status is not None and 200 <= status < 300:
            found.setdefault(t.call_id, []).append((done, t.cseq, t.request))
    out: dict[str | None, _Accepted] = {}
    for call_id, items in found.items():
        items.sort()
        times: list[int] = []
        best: list[tuple[int, int]] = []
        for done, number, request in items:
            times.append(done)
            if not best or number > best[-1][0]:
                best.append((number, request))
            else:
                best.append(best[-1])
        out[call_id] = (times, best)
    ctx.memo[key] = out
    return out


@rule("RI-11", severity=Severity.ERROR, rfc="RFC 3680 §5.1", scope=Scope.ANALYSIS)
def event_attributes_missing(ctx: Context) -> Iterator[Issue]:
    """shortened without expires, probation without retry-after

    RFC 3680 §5.1: "If the event attribute has a value of shortened, the
    "expires" attribute MUST be present." and "If the event attribute has
    a value of probation, the "retry-after" attribute MUST be present."
    Also (warning): ``expires`` on a terminated contact ("This attribute MAY
    be included with any event attribute value for which the state of the
    contact is active.").
    """
    for doc in _documents(ctx):
        for reg in doc.registrations:
            for c in reg.contacts:
                if c.event == "shortened" and c.expires is None:
                    yield Issue(
                        f"{_contact_name(c)} event shortened has no expires attribute", (doc.id,)
                    )
                if c.event == "probation" and c.retry_after is None:
                    yield Issue(
                        f"{_contact_name(c)} event probation has no retry-after attribute",
                        (doc.id,),
                    )
                if c.state == "terminated" and c.expires is not None:
                    yield Issue(
                        f"{_contact_name(c)} is terminated but has expires={c.expires}",
                        (doc.id,),
                        Severity.WARNING,
                    )


_SPACE_RE = re.compile(r"\s")


def _uri_problem(uri: str) -> tuple[str, Severity] | None:
    """What is wrong with the white space of a contact URI, and how bad it is."""
    if "\xa0" in uri:
        return "contains U+00A0 NO-BREAK SPACE, which xs:anyURI does not collapse", Severity.ERROR
    core = uri.strip(_XML_WS)
    # str.isspace(), by regular expression: "\s" matches the same characters.
    if _SPACE_RE.search(core) is not None:
        return "contains white space inside the URI", Severity.ERROR
    if core != uri:
        return "has leading or trailing white space", Severity.INFO
    return None


@rule("RI-17", severity=Severity.INFO, rfc="RFC 3680 §5.1", scope=Scope.ANALYSIS)
def contact_uri_whitespace(ctx: Context) -> Iterator[Issue]:
    """White space around or inside a contact URI

    ``<uri>`` is an ``xs:anyURI``: XML white space around it is collapsed
    by a schema-aware reader, but a plain string comparison with the
    REGISTER's Contact fails (info).  U+00A0 is not XML white space and is
    not collapsed: the URI is invalid (error), as is white space inside it.
    Documents that could not be parsed (RI-1) are searched for ``<uri>``
    elements too (text copied from web pages, G-9).
    """
    for doc in ctx.correlation.reginfo:
        if doc.error is None:
            uris = [c.uri for reg in doc.registrations for c in reg.contacts if c.uri]
        else:
            body = ctx.messages[doc.message].body
            uris = []
            if len(body) > MAX_REGINFO_BYTES:
                # Not parsed for its size (RI-1 says so); not searched either.
                continue
            for m in _URI_OPEN_RE.finditer(body):
                end = body.find(b"<", m.end())
                text = body[m.end() : end if end >= 0 else len(body)]
                uris.append(text.decode("utf-8", "backslashreplace"))
        for uri in uris:
            found = _uri_problem(uri)
            if found is not None:
                problem, severity = found
                yield Issue(f"contact <uri> {quote(uri)} {problem}", (doc.id,), severity)


# -- subscription rules --------------------------------------------------------


@rule(
    "RI-4",
    severity=Severity.ERROR,
    rfc="RFC 3680 §5.1, §5.2; RFC 6665 §5.3.2",
    scope=Scope.SUBSCRIPTION,
)
def version_sequence(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """reginfo version does not increase by one per NOTIFY of the subscription

    RFC 3680 §5.1: "Versions start at 0, and increment by one for each new
    document sent to a subscriber."  In the order of the notifier's CSeq:
    a version not above the previous one is an error (the subscriber
    discards it, §5.2: "If the value in the document is less than the local
    version, the document is discarded without processing."); a version
    more than one above is a warning (a lost NOTIFY, G-2; the subscriber
    "SHOULD generate a refresh request"); a first version other than 0
    after a captured initial SUBSCRIBE is noted (info).  A subscription
    seen from its middle (G-1) takes its first version as the baseline.
    """
    docs = _subscription_documents(ctx, s)
    if not docs:
        return
    cseq, _, first = docs[0]
    initial = any(
        r.message is not None and r.kind in (SubscribeKind.INITIAL, SubscribeKind.FETCH)
        for r in s.requests
    )
    if initial and not s.mid_dialog and first.version not in (None, 0):
        yield Issue(
            f"first reginfo document of the subscription (CSeq {cseq}) has version "
            f"{first.version}, not 0 (earlier NOTIFYs lost?)",
            (first.id,),
            Severity.INFO,
        )
    prev = first
    for cseq, _, doc in docs[1:]:
        if doc.version is None:
            continue
        if prev.version is None:
            prev = doc
            continue
        delta = doc.version - prev.version
        if delta == 1:
            pass
        elif delta > 1:
            yield Issue(
                f"reginfo version jumps from {prev.version} to {doc.version} (CSeq {cseq}): "
                f"{delta - 1} document(s) missing",
                (doc.id, prev.id),
                Severity.WARNING,
            )
        else:
            yield Issue(
                f"reginfo version {doc.version} (CSeq {cseq}) does not increase on the "
                f"previous {prev.version}: the subscriber discards it",
                (doc.id, prev.id),
            )
        prev = doc


@rule(
    "RI-5",
    severity=Severity.WARNING,
    rfc="RFC 3680 §4.3, §4.7.2; RFC 6665 §5.3.2",
    scope=Scope.SUBSCRIPTION,
)
def partial_where_full_expected(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """Partial reginfo document where full state is expected

    RFC 3680 §4.3: "Notifications triggered from a SUBSCRIBE contain full
    state (the list of all contacts bound to the address-of-record)."
    Reported: the first document of a subscription (version 0) with
    ``state="partial"`` (the subscriber cannot build its tables from it),
    and a refresh or unsubscribe answered with a 2xx after which no NOTIFY
    within :data:`NOTIFY_WAIT_NS` carries full state (§4.7.2 asks the same
    of a fetch).  A document that is clearly not the first (G-1), or a
    window with a version gap, is not judged.  A warning: the notifier's
    policy may differ.
    """
    docs = _subscription_documents(ctx, s)
    if not docs:
        return
    cseq, _, first = docs[0]
    if first.version == 0 and first.state == "partial":
        yield Issue(
            f"first reginfo document of the subscription (CSeq {cseq}, version 0) is partial",
            (first.id,),
        )
    for r in s.requests:
        if r.kind not in (SubscribeKind.REFRESH, SubscribeKind.UNSUBSCRIBE):
            continue
        if r.message is None or r.final_ts_ns is None or r.final_status is None:
            continue
        if not 200 <= r.final_status < 300:
            continue
        until = r.final_ts_ns + NOTIFY_WAIT_NS
        window = [d for _, ts, d in docs if r.ts_ns <= ts <= until]
        if not window or any(d.state == "full" for d in window):
            continue
        if any(d.version_delta is not None and d.version_delta > 1 for d in window):
            continue
        partial = next((d for d in window if d.state == "partial"), None)
        if partial is not None:
            what = "refresh" if r.kind is SubscribeKind.REFRESH else "unsubscribe"
            yield Issue(
                f"no full-state reginfo document after the {r.final_status} to the {what} "
                f"SUBSCRIBE at frame {ctx.frame(r.message)}; the first NOTIFY after it is "
                "partial",
                (partial.id, r.message),
            )


@rule("RI-15", severity=Severity.INFO, rfc="RFC 3680 §4.10", scope=Scope.SUBSCRIPTION)
def notify_rate(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """reg NOTIFYs more often than once every 5 seconds

    RFC 3680 §4.10: "it is RECOMMENDED that the server not generate
    notifications for a single subscriber at a rate faster than once every
    5 seconds."  The NOTIFY that answers a SUBSCRIBE is not counted (it is
    required immediately, RFC 6665 §4.2.1.2), nor are retransmissions.
    Reported once per subscription.
    """
    if s.event_package != "reg" or len(s.notifications) < 2:
        return
    notes = sorted(s.notifications, key=lambda n: n.ts_ns)
    triggered: set[int] = set()
    for r in s.requests:
        if r.message is None:
            continue
        after = next((n for n in notes if n.ts_ns >= r.ts_ns), None)
        if after is not None:
            triggered.add(after.message)
    fast: list[int] = []
    seen_cseq: set[int | None] = {notes[0].cseq}
    for prev, n in zip(notes, notes[1:], strict=False):
        if n.cseq in seen_cseq:
            continue
        seen_cseq.add(n.cseq)
        if n.message not in triggered and n.ts_ns - prev.ts_ns < NOTIFY_INTERVAL_NS:
            fast.append(n.message)
    if fast:
        frames = ", ".join(str(ctx.frame(m)) for m in fast[:5])
        more = "..." if len(fast) > 5 else ""
        yield Issue(
            f"{len(fast)} reg NOTIFY(s) sent less than 5 s after the previous one "
            f"(frames {frames}{more})",
            tuple(fast[:5]),
        )


@rule("RI-16", severity=Severity.ERROR, rfc="RFC 3680 §4.9", scope=Scope.SUBSCRIPTION)
def reg_fork_accepted(ctx: Context, s: Subscription) -> Iterator[Issue]:
    """Subscriber accepted NOTIFYs from two notifiers for one reg SUBSCRIBE

    RFC 3680 §4.9: "a subscriber MUST NOT create multiple dialogs as a
    result of a single subscription request."  A forked ``reg``
    subscription whose NOTIFYs were answered with a 2xx while NOTIFYs of
    the original dialog were too: the subscriber should have answered the
    second dialog with 481 (RFC 6665 §5.4.9).
    """
    if s.forked_from is None or s.event_package != "reg" or s.notifier_tag is None:
        return
    accepted = next((n for n in s.notifications if n.final_status and n.final_status < 300), None)
    if accepted is None or accepted.final is None:
        return
    origin = ctx.correlation.subscription(s.forked_from)
    if origin is None:
        return
    first = next((n for n in origin.notifications if n.final_status and n.final_status < 300), None)
    if first is None:
        return
    yield Issue(
        f"NOTIFY from a second notifier (tag {quote(s.notifier_tag)}) for the reg SUBSCRIBE "
        f"at frame {ctx.frame(s.forked_from)} was answered {accepted.final_status}: a second "
        "dialog for one subscription",
        (accepted.final, accepted.message, first.message),
    )


# -- SUBSCRIBE rules -----------------------------------------------------------


def _reg_subscribe(msg: SipMessage) -> bool:
    value = msg.headers.get("event")
    if value is None:
        return False
    return value.split(";", 1)[0].strip() == "reg"


@rule(
    "RI-13",
    severity=Severity.ERROR,
    rfc="RFC 3680 §4.5",
    scope=Scope.MESSAGE,
    methods=("SUBSCRIBE",),
    responses=False,
)
def accept_without_reginfo(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """reg SUBSCRIBE whose Accept does not include application/reginfo+xml

    RFC 3680 §4.5: "If the header field is present, it MUST include
    "application/reginfo+xml", and MAY include any other types capable of
    representing registration information."  A media range covering it
    (``application/*``) counts.  Without Accept the default is
    application/reginfo+xml.
    """
    if not _reg_subscribe(msg) or "accept" not in msg.headers:
        return
    ranges = msg.headers.values("accept")
    if not accepts(ranges, REGINFO_CONTENT_TYPE):
        shown = quote(", ".join(ranges)) if ranges else "empty"
        yield Issue(f"reg SUBSCRIBE Accept {shown} lacks {REGINFO_CONTENT_TYPE}", (i,))


@rule(
    "RI-14",
    severity=Severity.INFO,
    rfc="RFC 3680 §4.4",
    scope=Scope.MESSAGE,
    methods=("SUBSCRIBE",),
    responses=False,
)
def reg_default_duration(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """reg SUBSCRIBE without Expires: the 3761-second default applies

    RFC 3680 §4.4: "Since the default expiration for registrations is 3600
    seconds, the default duration of subscriptions to registration state is
    slightly longer, 3761 seconds."  Noted so that the duration the
    notifier grants can be compared with it (SUB-5).
    """
    if _reg_subscribe(msg) and "expires" not in msg.headers:
        yield Issue(
            f"reg SUBSCRIBE without Expires asks for the default of "
            f"{PACKAGE_DEFAULT_EXPIRES['reg']} s",
            (i,),
        )
