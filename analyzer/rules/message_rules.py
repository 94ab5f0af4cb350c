"""RFC 3428 MESSAGE rules (catalogue §6, MSG).

MESSAGE is pager-mode instant messaging: each request stands alone, creates
no dialog (RFC 3428 §3 "MESSAGE requests do not establish dialogs"), and is
meant to be small, because it is usually sent over UDP without congestion
control.  A MESSAGE *inside* an INVITE dialog is legal (§4 "A UAC MAY
associate a MESSAGE request with an existing dialog") and is then part of a
media session, which the size rule exempts.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..correlation import Transaction
from ..errors import SipParseError
from ..sip.message import SipMessage, SipRequest, SipResponse
from ..sip.values import parse_name_addr
from . import rule
from .base import (
    T1_NS,
    TIMER_64_T1_NS,
    Context,
    Issue,
    Scope,
    Severity,
    quote,
    request_index,
    sent_before_final,
)

_MESSAGE = ("MESSAGE",)

# RFC 3428 §8: "The size of MESSAGE requests outside of a media session MUST
# NOT exceed 1300 bytes, unless the UAC has positive knowledge that the
# message will not traverse a congestion-unsafe link at any hop, or that the
# message size is at least 200 bytes less than the lowest MTU value found en
# route to the UAS."
MESSAGE_SIZE_LIMIT = 1300


def _in_media_session(ctx: Context, index: int) -> bool:
    """Whether message ``index`` belongs to a dialog created by an INVITE."""
    did = ctx.correlation.message_dialog[index]
    if did is None:
        return False
    dialog = ctx.correlation.dialog(did)
    return dialog is not None and dialog.method == "INVITE"


@rule(
    "MSG-14",
    severity=Severity.ERROR,
    rfc="RFC 3428 §8",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    responses=False,
)
def body_over_limit(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """MESSAGE body larger than the configured limit (1300 bytes by default).

    A product rule derived from RFC 3428 §8, which caps the whole MESSAGE
    request at 1300 bytes outside a media session: a body over the limit
    leaves no room for the headers.  The limit is
    ``Options.message_body_limit`` (``--message-body-limit``).
    """
    limit = ctx.options.message_body_limit
    size = len(msg.body)
    if size > limit:
        yield Issue(f"MESSAGE body is {size} bytes, over the limit of {limit} bytes", (i,))


@rule(
    "MSG-1",
    severity=Severity.WARNING,
    rfc="RFC 3428 §8",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    responses=False,
)
def request_over_1300_bytes(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """MESSAGE request larger than 1300 bytes outside a media session.

    RFC 3428 §8: "The size of MESSAGE requests outside of a media session
    MUST NOT exceed 1300 bytes, unless the UAC has positive knowledge that
    the message will not traverse a congestion-unsafe link at any hop".  The
    size is that of the whole SIP message (after IP reassembly).  A warning,
    because the exception cannot be seen in a trace; an error when the
    request was sent over UDP, which is congestion-unsafe.  A MESSAGE inside
    an INVITE dialog is exempt.
    """
    size = len(msg.raw)
    if size <= MESSAGE_SIZE_LIMIT or _in_media_session(ctx, i):
        return
    udp = ctx.over_datagrams(msg)
    how = " over UDP" if udp else ""
    yield Issue(
        f"MESSAGE request is {size} bytes{how}, over the {MESSAGE_SIZE_LIMIT}-byte limit "
        "for MESSAGE outside a media session",
        (i,),
        Severity.ERROR if udp else None,
    )


@rule(
    "MSG-1b",
    severity=Severity.INFO,
    rfc="RFC 3428 §8",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    responses=False,
)
def message_over_udp(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """MESSAGE sent over UDP, a transport without congestion control.

    RFC 3428 §8: "Whenever possible, MESSAGE requests SHOULD be sent over
    transports that implement end-to-end congestion control, such as TCP or
    SCTP."  Common practice, so only noted.
    """
    if ctx.over_datagrams(msg):
        yield Issue("MESSAGE sent over UDP (no end-to-end congestion control)", (i,))


@rule(
    "MSG-2",
    severity=Severity.ERROR,
    rfc="RFC 3428 §4",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    responses=False,
)
def contact_in_request(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Contact header in a MESSAGE request.

    RFC 3428 §4: "User Agents MUST NOT insert Contact header fields into
    MESSAGE requests."  (IMS clients often add one anyway; ignore the rule
    for such networks.)
    """
    contact = msg.headers.get("contact")
    if contact is not None:
        yield Issue(f"MESSAGE request carries Contact {quote(contact)}", (i,))


@rule(
    "MSG-3",
    severity=Severity.ERROR,
    rfc="RFC 3428 §7",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    requests=False,
)
def contact_in_response(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Contact header in a response to MESSAGE.

    RFC 3428 §7: "A UAS MUST NOT insert a Contact header field into a 2xx
    response."  An error for a 2xx; a warning for a 1xx (Contact is "-" for
    provisional responses in the §9 table, without a MUST NOT sentence).
    """
    assert isinstance(msg, SipResponse)
    if msg.status >= 300:
        return
    contact = msg.headers.get("contact")
    if contact is not None:
        yield Issue(
            f"{msg.status} response to MESSAGE carries Contact {quote(contact)}",
            (i,),
            Severity.WARNING if msg.status < 200 else None,
        )


@rule(
    "MSG-4",
    severity=Severity.ERROR,
    rfc="RFC 3428 §7",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    requests=False,
)
def body_in_2xx(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Body in a 2xx response to MESSAGE.

    RFC 3428 §7: "A 2xx response to a MESSAGE request MUST NOT contain a
    body."  A non-zero Content-Length counts even when the bytes are missing.
    """
    assert isinstance(msg, SipResponse)
    if not 200 <= msg.status < 300:
        return
    size = max(len(msg.body), msg.content_length or 0)
    if size:
        ctype = msg.headers.get("content-type")
        kind = f" of type {quote(ctype)}" if ctype else ""
        yield Issue(f"{msg.status} response to MESSAGE has a {size}-byte body{kind}", (i,))


@rule(
    "MSG-6",
    severity=Severity.ERROR,
    rfc="RFC 3261 §20.15; RFC 3428 §9",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    responses=False,
)
def body_without_content_type(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """MESSAGE with a body but no Content-Type.

    RFC 3261 §20.15: "The Content-Type header field MUST be present if the
    body is not empty."  The receiver cannot render the message.  (Other
    messages are checked by HDR-5.)
    """
    if msg.body.strip(b"\r\n") and "content-type" not in msg.headers:
        yield Issue(f"MESSAGE has a {len(msg.body)}-byte body but no Content-Type", (i,))


@rule(
    "MSG-7",
    severity=Severity.WARNING,
    rfc="RFC 3428 §4",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    responses=False,
)
def expires_without_date(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """MESSAGE with a non-zero Expires but no Date.

    RFC 3428 §4: "If the UAC adds an Expires header field with a non-zero
    value, it SHOULD also add a Date header field containing the time the
    message is sent."  Without it the recipient cannot tell when the
    message expires.
    """
    expires = msg.headers.get("expires")
    if expires is None or "date" in msg.headers:
        return
    value = expires.strip()
    # Non-zero without int(): a hostile value may be thousands of digits long.
    if value.isdigit() and value.isascii() and value.strip("0"):
        yield Issue(f"MESSAGE has Expires {quote(value)} but no Date header", (i,))


@rule(
    "MSG-11",
    severity=Severity.ERROR,
    rfc="RFC 3428 §5",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    responses=False,
)
def im_uri_in_route(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """IM URI in the Route or Record-Route of a MESSAGE.

    RFC 3428 §5: "Record-Route and Route header fields MUST NOT contain IM
    URIs."  (An ``im:`` URI must be resolved to a SIP URI before routing.)
    """
    for name, shown in (("route", "Route"), ("record-route", "Record-Route")):
        for value in msg.headers.values(name):
            if "im:" not in value.lower():
                continue
            try:
                uri = parse_name_addr(value).uri
            except SipParseError:
                continue
            if uri.lower().startswith("im:"):
                yield Issue(f"MESSAGE {shown} contains the IM URI {quote(uri)}", (i,))


@rule(
    "MSG-13",
    severity=Severity.ERROR,
    rfc="RFC 3428 §9; RFC 3261 §8.2.1",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
    requests=False,
)
def method_not_allowed_without_allow(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """405 response to MESSAGE without an Allow header.

    RFC 3261 §8.2.1: "The UAS MUST also add an Allow header field to the 405
    (Method Not Allowed) response."  (RFC 3428 §9 table: Allow is mandatory
    in a 405.)  Missing mandatory headers of MESSAGE requests and responses
    are reported by HDR-1, HDR-2 and HDR-8.
    """
    assert isinstance(msg, SipResponse)
    if msg.status == 405 and "allow" not in msg.headers:
        yield Issue("405 response to MESSAGE has no Allow header", (i,))


def _message_transactions(ctx: Context) -> Iterator[tuple[Transaction, SipRequest]]:
    """Out-of-dialog MESSAGE transactions whose request was captured."""
    for ex in ctx.correlation.exchanges:
        if "MESSAGE" not in ex.methods:
            continue
        for tid in ex.transactions:
            t = ctx.transaction(tid)
            if t is None or t.method != "MESSAGE":
                continue
            req = ctx.request(t)
            if req is not None:
                yield t, req


# Status codes after which a request is re-sent with the next CSeq in the
# same Call-ID (RFC 3261 §22.2, §22.3): such a retry is not a second message.
_CHALLENGES = frozenset((401, 407))


@rule("MSG-5", severity=Severity.ERROR, rfc="RFC 3428 §3, §4, §9", scope=Scope.ANALYSIS)
def message_as_dialog(ctx: Context) -> Iterator[Issue]:
    """MESSAGE treated as if it created a dialog.

    RFC 3428 §3: "MESSAGE requests do not establish dialogs."  Reported:

    * error: a later request in the same Call-ID carries the From tag of an
      out-of-dialog MESSAGE and the To tag of its 2xx, as if the two tags
      identified a dialog;
    * warning: Record-Route in an out-of-dialog MESSAGE (the §9 table marks
      it not applicable: there is no dialog to record a route for);
    * info: several out-of-dialog MESSAGEs from one sender share a Call-ID
      with increasing CSeq, a pseudo-session (§2: "implementations SHOULD
      NOT create dialogs for the primary purpose of associating MESSAGE
      requests with one another").  Retries after a 401/407 are not counted.
    """
    messages = ctx.messages
    by_call: dict[str | None, list[tuple[Transaction, SipRequest]]] = {}
    for t, req in _message_transactions(ctx):
        by_call.setdefault(t.call_id, []).append((t, req))
        if req.to_tag is None and "record-route" in req.headers:
            yield Issue(
                f"out-of-dialog MESSAGE carries Record-Route "
                f"{quote(req.headers.get('record-route'))}",
                (request_index(t),),
                Severity.WARNING,
            )
    for call_id, pairs in by_call.items():
        # (a) tags of a MESSAGE and its 2xx reused by a later request.
        reported: set[int] = set()
        for t, req in pairs:
            if req.to_tag is not None or req.from_tag is None:
                continue
            ok = next((r for r in t.responses if 200 <= r.status < 300 and r.to_tag), None)
            if ok is None:
                continue
            tags = {req.from_tag, ok.to_tag}
            for other in ctx.transactions_with_call_id(call_id):
                if other.id in reported or other.request is None or other.id <= ok.message:
                    continue
                later = messages[other.request]
                if (
                    isinstance(later, SipRequest)
                    and later.to_tag is not None
                    and {later.from_tag, later.to_tag} == tags
                    and later.origin.ts_ns >= ok.ts_ns
                ):
                    reported.add(other.id)
                    yield Issue(
                        f"{later.method} (CSeq {later.cseq_num}) uses From tag "
                        f"{quote(later.from_tag)} and To tag {quote(later.to_tag)}, the tags "
                        f"of the MESSAGE at frame {req.origin.frame} and its {ok.status} "
                        "response, as if they formed a dialog",
                        (other.request, ok.message),
                    )
                    break
        # (c) a pseudo-session: distinct CSeq numbers from one sender.
        senders: dict[str | None, list[tuple[Transaction, SipRequest]]] = {}
        for t, req in pairs:
            if req.to_tag is None:
                senders.setdefault(req.from_tag, []).append((t, req))
        for sent in senders.values():
            numbers: list[int] = []
            first: list[int] = []
            retry = False
            for t, req in sorted(sent, key=lambda p: p[1].origin.ts_ns):
                n = req.cseq_num
                if n is None or n in numbers:
                    continue
                numbers.append(n)
                if not retry:
                    first.append(request_index(t))
                # The next number after a 401/407 is the same message re-sent
                # with credentials (RFC 3261 §22.2).
                retry = t.final_status in _CHALLENGES
            if len(first) > 1:
                yield Issue(
                    f"{len(first)} out-of-dialog MESSAGE requests share Call-ID "
                    f"{quote(call_id)} with CSeq {', '.join(map(str, numbers))}: "
                    "associated like a session although MESSAGE creates no dialog",
                    tuple(first),
                    Severity.INFO,
                )


def _from_uri(msg: SipMessage) -> str | None:
    value = msg.headers.get("from")
    if value is None:
        return None
    try:
        return parse_name_addr(value).uri
    except SipParseError:
        return value


@rule("MSG-8", severity=Severity.WARNING, rfc="RFC 3428 §8", scope=Scope.ANALYSIS)
def overlapping_messages(ctx: Context) -> Iterator[Issue]:
    """New out-of-dialog MESSAGE to a URI while a previous one to it is pending.

    RFC 3428 §8: "A UAC MUST NOT initiate a new out-of-dialog MESSAGE
    transaction to a given URI if there is a previous out-of-dialog
    transaction pending for the same URI."  Per sender (source address and
    From URI) and Request-URI, a MESSAGE sent before the final response to
    the previous one was captured.  A warning: only when that final response
    is in the capture (a lost one proves nothing), and the same request seen
    at another hop is not counted.
    """
    groups: dict[tuple[object, str | None, str], list[tuple[Transaction, SipRequest]]] = {}
    for t, req in _message_transactions(ctx):
        if req.to_tag is None:
            key = (req.origin.src, _from_uri(req), req.uri)
            groups.setdefault(key, []).append((t, req))
    for pairs in groups.values():
        for prev, prev_req, cur, cur_req in sent_before_final(pairs):
            assert prev.final is not None
            yield Issue(
                f"MESSAGE to {quote(cur_req.uri)} (CSeq {cur_req.cseq_num}) sent before "
                f"the final response to the previous one (CSeq {prev_req.cseq_num}, "
                f"answered at frame {ctx.frame(prev.final)})",
                (request_index(cur), request_index(prev), prev.final),
            )


# RFC 3428 §7 asks for the final response "immediately"; the catalogue takes
# "about 2*T1" as the bound a capture can judge (G-10: with T1 of slack for
# transit and clocks).
PROMPT_RESPONSE_NS = 2 * T1_NS


@rule("MSG-9", severity=Severity.WARNING, rfc="RFC 3428 §7", scope=Scope.ANALYSIS)
def slow_final_response(ctx: Context) -> Iterator[Issue]:
    """Final response to MESSAGE not sent immediately.

    RFC 3428 §7: "A UAS receiving a MESSAGE request SHOULD respond with a
    final response immediately."  Noted (info): a final response more than
    2*T1 (1 s) after the request, or a provisional response sent first
    (§8 still allows one, and store-and-forward relays take time).  A
    warning when the final response comes after Timer F (64*T1 = 32 s): the
    client transaction has timed out by then, so the sender never learns
    the outcome.
    """
    for txn in ctx.correlation.transactions:
        if txn.method == "MESSAGE" and txn.request is not None:
            yield from _response_delay(txn)


def _response_delay(txn: Transaction) -> Iterator[Issue]:
    assert txn.request is not None
    if txn.request_ts_ns is None:
        return
    final = txn.final_response
    if final is None:
        return
    elapsed = final.ts_ns - txn.request_ts_ns
    provisional = next((r for r in txn.responses if r.status < 200), None)
    refs = (final.message, txn.request)
    if elapsed > TIMER_64_T1_NS:
        yield Issue(
            f"final response {final.status} to MESSAGE came {elapsed / 1e9:.1f} s after the "
            "request, after the client transaction timed out (Timer F, 32 s)",
            refs,
        )
    elif elapsed > PROMPT_RESPONSE_NS:
        yield Issue(
            f"final response {final.status} to MESSAGE came {elapsed / 1e9:.1f} s after the "
            "request, not immediately",
            refs,
            Severity.INFO,
        )
    elif provisional is not None and provisional.ts_ns < final.ts_ns:
        yield Issue(
            f"MESSAGE was answered {provisional.status} before its final response {final.status}",
            (provisional.message, txn.request),
            Severity.INFO,
        )


# Bodies that carry an S/MIME signature (RFC 3428 §11.4 refers to S/MIME,
# RFC 3261 §23): multipart/signed, and application/pkcs7-mime with
# smime-type signed-data (or without smime-type, which may be either).
_SIGNED_TYPES = frozenset(("multipart/signed", "application/pkcs7-signature"))


def _signed(content_type: str) -> bool:
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media in _SIGNED_TYPES:
        return True
    if media in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        low = params.lower().replace(" ", "")
        return "smime-type=" not in low or "smime-type=signed-data" in low
    return False


@rule(
    "MSG-12",
    severity=Severity.INFO,
    rfc="RFC 3428 §11.4",
    scope=Scope.MESSAGE,
    methods=_MESSAGE,
)
def signed_without_date(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """Signed MESSAGE request or response without a Date header.

    RFC 3428 §11.4: "To prevent the replay of old SIP requests, all signed
    MESSAGE requests and responses MUST contain a Date header field covered
    by the message signature."  Applies only to S/MIME-signed bodies
    (multipart/signed, application/pkcs7-signature, or pkcs7-mime signed
    data); when it applies, a missing Date is an error (the catalogue lists
    the rule as info because it seldom applies).  Whether the signature
    covers the Date cannot be seen without verifying it.
    """
    ctype = msg.headers.get("content-type")
    if ctype is None or not msg.body or not _signed(ctype):
        return
    if "date" not in msg.headers:
        what = (
            "MESSAGE request"
            if isinstance(msg, SipRequest)
            else f"{msg.status} response to MESSAGE"
        )
        yield Issue(
            f"signed {what} ({quote(ctype.split(';', 1)[0].strip())}) has no Date header",
            (i,),
            Severity.ERROR,
        )
