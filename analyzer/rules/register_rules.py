"""REGISTER rules (catalogue §9, REG): RFC 3261 §10.

The message rules judge each REGISTER and its responses on their own; the
registration rules read the correlation's
:class:`~analyzer.correlation.Registration` records (the REGISTER attempts
for one address-of-record, with the bindings each asked for and the ones
the registrar granted).  The CSeq sequence of REGISTERs per Call-ID is
CSEQ-8's, and the mandatory headers of every request HDR-1's and HDR-8's.

False-positive guards: the same REGISTER seen at two hops (G-4) keeps its
Call-ID and CSeq and is counted once; a REGISTER whose final response was
not captured proves nothing about overlap (G-2); Contact URIs are compared
by scheme, user, host and port, since registrars re-serialise parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..correlation import RegisterAttempt, Registration, Transaction
from ..correlation.subscriptions import delta_seconds
from ..errors import SipParseError
from ..net.flow import Endpoint
from ..sip.message import SipMessage, SipRequest, SipResponse
from ..sip.values import parse_name_addr
from . import rule
from .base import (
    Context,
    Issue,
    Scope,
    Severity,
    addr_uri,
    quote,
    request_index,
    sent_before_final,
    uri_key,
)

_REGISTER = ("REGISTER",)

# RFC 3261 §10.3 step 7: a 423 is allowed "If and only if the requested
# expiration interval is greater than zero AND smaller than one hour".
_ONE_HOUR = 3600


# -- REGISTER requests ---------------------------------------------------------


@rule(
    "REG-1",
    severity=Severity.ERROR,
    rfc="RFC 3261 §10.2",
    scope=Scope.MESSAGE,
    methods=_REGISTER,
    responses=False,
)
def register_uris(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """REGISTER whose Request-URI has a user part, or whose To is not a SIP or SIPS URI.

    RFC 3261 §10.2: the Request-URI "names the domain of the location
    service for which the registration is meant"; "The "userinfo" and "@"
    components of the SIP URI MUST NOT be present."  The To header field
    "contains the address of record whose registration is to be created,
    queried, or modified"; it must be a SIP or SIPS URI (§10.2: "The To
    header field and the Request-URI field typically differ"; §10.3 step 4
    rejects other schemes with 404).  The mandatory headers ("The following
    header fields, except Contact, MUST be included in a REGISTER request")
    are HDR-1's and HDR-8's.
    """
    assert isinstance(msg, SipRequest)
    uri = msg.uri
    scheme, _, rest = uri.partition(":")
    if scheme.lower() in ("sip", "sips") and "@" in rest.split(";", 1)[0].split("?", 1)[0]:
        yield Issue(f"REGISTER Request-URI {quote(uri)} has a user part", (i,))
    to = addr_uri(msg.headers.get("to"))
    if to is not None and to.partition(":")[0].lower() not in ("sip", "sips"):
        yield Issue(f"REGISTER To {quote(to)} is not a SIP or SIPS URI", (i,))


@rule(
    "REG-3",
    severity=Severity.ERROR,
    rfc="RFC 3261 §10.2.2, §10.3",
    scope=Scope.MESSAGE,
    methods=_REGISTER,
    responses=False,
)
def wildcard_contact(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Contact: * without Expires: 0, or with other Contact values, or accepted.

    RFC 3261 §10.2.2: "The REGISTER-specific Contact header field value of
    "*" applies to all registrations, but it MUST NOT be used unless the
    Expires header field is present with a value of "0"."  §10.3 step 6:
    if the request has other Contacts or an Expires other than 0, "the
    registrar MUST return a 400 (Invalid Request)": a 2xx to such a request
    is reported too.
    """
    headers = msg.headers
    if "contact" not in headers:
        return
    values = headers.values("contact")
    stars = [v for v in values if v.split(";", 1)[0].strip() == "*"]
    if not stars:
        return
    problems: list[str] = []
    if len(values) > len(stars):
        problems.append(f"other Contact values too ({len(values) - len(stars)})")
    if len(stars) > 1:
        problems.append(f"{len(stars)} wildcards")
    expires = headers.get("expires")
    if expires is None:
        problems.append("no Expires header")
    elif delta_seconds(expires) != 0:
        problems.append(f"Expires {quote(expires)}, not 0")
    if not problems:
        return
    refs: tuple[int, ...] = (i,)
    accepted = ""
    txn = ctx.transaction_of(i)
    status = None if txn is None else txn.final_status
    if txn is not None and txn.final is not None and status is not None and 200 <= status < 300:
        accepted = f"; the registrar accepted it ({status}) instead of a 400"
        refs = (i, txn.final)
    yield Issue("REGISTER with Contact: * has " + "; ".join(problems) + accepted, refs)


@rule(
    "REG-8",
    severity=Severity.WARNING,
    rfc="RFC 3261 §10.2",
    scope=Scope.MESSAGE,
    methods=_REGISTER,
)
def register_in_dialog(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """REGISTER with a To tag, as if it belonged to a dialog.

    RFC 3261 §10.2: "A REGISTER request does not establish a dialog."  Its
    To carries no tag, and a REGISTER is never sent inside a dialog.  Also
    noted (info): Record-Route in a response to REGISTER, which the UAC
    ignores (no dialog, so no route set to record: the catalogue's "MUST be
    ignored if present").
    """
    if isinstance(msg, SipRequest):
        if msg.to_tag is not None:
            yield Issue(
                f"REGISTER (CSeq {msg.cseq_num}) has To tag {quote(msg.to_tag)}; REGISTER does "
                "not belong to a dialog",
                (i,),
            )
        return
    assert isinstance(msg, SipResponse)
    if "record-route" in msg.headers:
        yield Issue(
            f"{msg.status} response to REGISTER carries Record-Route, which the UAC ignores",
            (i,),
            Severity.INFO,
        )


# -- registrations -------------------------------------------------------------


def _source(ctx: Context, a: RegisterAttempt) -> Endpoint | None:
    return None if a.request is None else ctx.messages[a.request].origin.src


@rule("REG-2", severity=Severity.WARNING, rfc="RFC 3261 §10.2, §10.2.4", scope=Scope.REGISTRATION)
def new_call_id_per_register(ctx: Context, reg: Registration) -> Iterator[Issue]:
    """REGISTERs from one UA for one AoR under several Call-IDs.

    RFC 3261 §10.2.4: "A UA SHOULD use the same Call-ID for all
    registrations during a single boot cycle."  Noted (info) when
    REGISTERs from one address and for one Contact, in time order, change
    Call-ID, unless the earlier one removed every binding (the end of a
    boot cycle, or a new one after it): a reboot looks the same in a
    capture.  The step of the CSeq within one Call-ID ("A UA MUST
    increment the CSeq value by one for each REGISTER request with the same
    Call-ID") is CSEQ-8's.
    """
    if len(reg.call_ids) < 2:
        return
    by_ua: dict[tuple[Endpoint | None, str | None], list[RegisterAttempt]] = {}
    for a in reg.attempts:
        if a.request is None or not a.requested or a.wildcard:
            continue
        by_ua.setdefault((_source(ctx, a), a.requested[0].contact.lower()), []).append(a)
    for (src, contact), attempts in by_ua.items():
        changes: list[RegisterAttempt] = []
        prev: RegisterAttempt | None = None
        for a in attempts:
            if (
                prev is not None
                and a.call_id != prev.call_id
                and not all(b.expires == 0 for b in prev.requested)
            ):
                changes.append(a)
            prev = a
        if changes:
            first = changes[0]
            assert first.request is not None
            ids = {a.call_id for a in attempts}
            yield Issue(
                f"{len(attempts)} REGISTERs from {src} for {quote(reg.aor)} (Contact "
                f"{quote(contact)}) use {len(ids)} Call-IDs; one per boot cycle is expected",
                tuple(a.request for a in changes[:5] if a.request is not None),
                Severity.INFO,
            )


def _granted_contacts(msg: SipMessage) -> list[tuple[str, str | None, str]]:
    """(URI, expires parameter, value as written) of each Contact of a 2xx to REGISTER."""
    out: list[tuple[str, str | None, str]] = []
    for value in msg.headers.values("contact"):
        try:
            na = parse_name_addr(value)
        except SipParseError:
            continue
        out.append((na.uri, na.param("expires"), value))
    return out


@rule("REG-5", severity=Severity.ERROR, rfc="RFC 3261 §10.3", scope=Scope.REGISTRATION)
def ok_bindings(ctx: Context, reg: Registration) -> Iterator[Issue]:
    """2xx to REGISTER whose Contacts lack expires or leave out a binding just made.

    RFC 3261 §10.3 step 8: "The registrar returns a 200 (OK) response. The
    response MUST contain Contact header field values enumerating all
    current bindings. Each Contact value MUST feature an "expires" parameter
    indicating its expiration interval chosen by the registrar."  Reported
    per 2xx: Contacts without ``expires``, and Contacts the REGISTER added
    or refreshed (a non-zero or unstated expiry) that the 2xx does not
    list.  Noted (info): a 2xx without Date ("The response SHOULD include a
    Date header field").
    """
    messages = ctx.messages
    for a in reg.attempts:
        if a.final is None or a.final_status is None or not 200 <= a.final_status < 300:
            continue
        ok = messages[a.final]
        granted = _granted_contacts(ok)
        refs = (a.final,) if a.request is None else (a.final, a.request)
        bare = [value for _, expires, value in granted if expires is None]
        if bare:
            shown = ", ".join(quote(v) for v in bare[:3])
            more = f" (and {len(bare) - 3} more)" if len(bare) > 3 else ""
            yield Issue(
                f"{a.final_status} response to REGISTER lists Contact {shown}{more} without "
                "an expires parameter",
                refs,
            )
        listed = {uri_key(uri) for uri, _, _ in granted}
        missing = [
            b.contact
            for b in a.requested
            if b.contact != "*" and b.expires != 0 and uri_key(b.contact) not in listed
        ]
        if missing and not a.wildcard:
            shown = ", ".join(quote(c) for c in missing[:3])
            yield Issue(
                f"{a.final_status} response to REGISTER does not list the binding {shown} the "
                "REGISTER made",
                refs,
            )
        if "date" not in ok.headers:
            yield Issue(
                f"{a.final_status} response to REGISTER has no Date header", refs, Severity.INFO
            )


def _requested(a: RegisterAttempt) -> dict[tuple[str, str, str, str], int]:
    """The expiry the REGISTER asked for, per Contact, where it stated one."""
    out: dict[tuple[str, str, str, str], int] = {}
    for b in a.requested:
        if b.contact != "*" and b.source != "none" and b.expires is not None:
            out[uri_key(b.contact)] = b.expires
    return out


@rule("REG-6", severity=Severity.WARNING, rfc="RFC 3261 §10.3", scope=Scope.REGISTRATION)
def granted_expiry(ctx: Context, reg: Registration) -> Iterator[Issue]:
    """Registrar grants a longer expiry than asked, or sends a 423 it may not send.

    RFC 3261 §10.3 step 7: "The registrar MAY choose an expiration less
    than the requested expiration interval."  A longer one is a warning.
    Also (errors): a 423 (Interval Too Brief) without Min-Expires ("This
    response MUST contain a Min-Expires header field"), and a 423 to a
    REGISTER whose every stated expiry is 0 or an hour or more ("If and
    only if the requested expiration interval is greater than zero AND
    smaller than one hour AND less than a registrar-configured minimum, the
    registrar MAY reject the registration with a response of 423").
    """
    messages = ctx.messages
    for a in reg.attempts:
        status = a.final_status
        if a.final is None or status is None:
            continue
        refs = (a.final,) if a.request is None else (a.final, a.request)
        if status == 423:
            if "min-expires" not in messages[a.final].headers:
                yield Issue(
                    "423 response to REGISTER has no Min-Expires header", refs, Severity.ERROR
                )
            asked = [b.expires for b in a.requested if b.contact != "*" and b.source != "none"]
            if asked and all(e is not None and (e == 0 or e >= _ONE_HOUR) for e in asked):
                shown = ", ".join(str(e) for e in asked[:3])
                yield Issue(
                    f"423 response to a REGISTER asking for {shown} s: only expiries above 0 "
                    "and under one hour may be refused as too brief",
                    refs,
                    Severity.ERROR,
                )
            continue
        if not 200 <= status < 300:
            continue
        wanted = _requested(a)
        if not wanted:
            continue
        for g in a.granted:
            expires = g.expires if g.expires is not None else a.granted_expires_header
            want = wanted.get(uri_key(g.contact))
            if expires is not None and want is not None and expires > want:
                yield Issue(
                    f"{status} response to REGISTER grants Contact {quote(g.contact)} "
                    f"{expires} s; the REGISTER asked for {want} s",
                    refs,
                )


# -- REGISTER transactions ------------------------------------------------------


def _aor_of(ctx: Context) -> dict[int, str | None]:
    """The AoR of every REGISTER transaction, by transaction id."""
    out: dict[int, str | None] = {}
    for reg in ctx.correlation.registrations:
        for a in reg.attempts:
            out[a.transaction] = reg.aor
    return out


@rule("REG-7", severity=Severity.WARNING, rfc="RFC 3261 §10.2", scope=Scope.ANALYSIS)
def overlapping_registers(ctx: Context) -> Iterator[Issue]:
    """New REGISTER sent before the final response to the previous one.

    RFC 3261 §10.2: "UAs MUST NOT send a new registration (that is,
    containing new Contact header field values, as opposed to a
    retransmission) until they have received a final response from the
    registrar for the previous one or the previous REGISTER request has
    timed out."  Per UA (source address and Call-ID) and AoR, in time
    order: a REGISTER with another CSeq sent before the final response to
    the previous one was captured.  Only when that final response is in
    the capture (a lost one proves nothing, G-2); the same REGISTER seen at
    another hop is not counted (G-4).
    """
    groups: dict[tuple[Endpoint, str | None], list[tuple[Transaction, SipMessage]]] = {}
    messages = ctx.messages
    for t in ctx.correlation.transactions:
        if t.method != "REGISTER" or t.request is None:
            continue
        req = messages[t.request]
        groups.setdefault((req.origin.src, t.call_id), []).append((t, req))
    aors: dict[int, str | None] | None = None
    for pairs in groups.values():
        if len(pairs) < 2:
            continue
        if aors is None:
            aors = _aor_of(ctx)
        by_aor: dict[str | None, list[tuple[Transaction, SipMessage]]] = {}
        for t, req in pairs:
            by_aor.setdefault(aors.get(t.id), []).append((t, req))
        for same in by_aor.values():
            yield from _overlaps(ctx, same)


def _overlaps(ctx: Context, pairs: Sequence[tuple[Transaction, SipMessage]]) -> Iterator[Issue]:
    for prev, prev_req, cur, _ in sent_before_final(pairs):
        if cur.cseq != prev.cseq:
            assert prev.final is not None
            yield Issue(
                f"REGISTER (CSeq {cur.cseq}) sent before the final response to the REGISTER "
                f"(CSeq {prev.cseq}) at frame {prev_req.origin.frame}, answered at frame "
                f"{ctx.frame(prev.final)}",
                (request_index(cur), request_index(prev), prev.final),
            )
