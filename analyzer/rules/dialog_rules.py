"""Dialog rules (catalogue §5, DLG): RFC 3261 §12 and §13.

A dialog is the correlation's :class:`~analyzer.correlation.Dialog`: the
Call-ID and the two tags, created by a 101-199 with a To tag or a 2xx to an
INVITE, SUBSCRIBE or REFER (or by a NOTIFY, RFC 6665 §4.4.1).  The rules
note forks (DLG-2), check the Contact that makes a remote target (DLG-6),
and compare the requests inside a dialog with the state the two user agents
built from its creating request and responses: the local and remote URIs
and tags (DLG-3), the remote target (DLG-8), a dialog nobody created
(DLG-4), and requests after a 481 or 408 (DLG-5) or after the non-2xx final
response that ended an early dialog (DLG-7).

False-positive guards: a dialog the capture joined in its middle (G-1) has
no state to compare with and is not judged; the creating request seen at
several hops (G-4) gives every URI it was seen with; a peer behind NAT may
be reached at its NAT address (G-6); a request in flight when the event
that ends a dialog was captured is allowed :data:`T1_NS`; nothing is said
of a response the capture may have lost (G-2).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..correlation import Dialog, DialogState, Transaction
from ..correlation.dialogs import CREATING_METHODS
from ..sip.message import SipMessage, SipRequest, SipResponse
from . import rule
from .base import (
    T1_NS,
    Context,
    Issue,
    Scope,
    Severity,
    addr_uri,
    quote,
    request_index,
    same_uri,
    uri_key,
)
from .subscription_rules import _NO_CONTACT, _contact_problem

# The methods of a subscription usage: SUB-14 judges what follows a response
# that ends one (RFC 5057: usages of one dialog end separately).
_SUBSCRIPTION_USAGE = frozenset(("SUBSCRIBE", "NOTIFY", "REFER"))
# Requests that never belong to a dialog (REG-8, MSG-5 report them when they
# carry dialog tags anyway).
_NOT_IN_DIALOG = frozenset(("REGISTER", "PUBLISH"))
# Responses to a request inside a dialog after which the UAC "SHOULD
# terminate the dialog" (RFC 3261 §12.2.1.2).
_DIALOG_ENDING = frozenset(("481", "408"))


@dataclass(frozen=True, slots=True)
class _DialogView:
    """What the dialog rules read from one dialog, built once per dialog.

    ``creating`` are the captured creating requests (one per hop);
    ``requests`` the other requests of the dialog in time order, with their
    transactions (CANCELs left out: a CANCEL belongs to the INVITE it
    cancels, not to the dialog's sequence).
    """

    creating: tuple[SipRequest, ...]
    requests: tuple[tuple[Transaction, SipRequest], ...]


def _view(ctx: Context, dialog: Dialog) -> _DialogView:
    key = ("dialog-view", dialog.id)
    cached = ctx.memo.get(key)
    if isinstance(cached, _DialogView):
        return cached
    creating: list[SipRequest] = []
    requests: list[tuple[Transaction, SipRequest]] = []
    made = dialog.creating_transactions
    for tid in dialog.transactions:
        t = ctx.transaction(tid)
        if t is None:
            continue
        req = ctx.request(t)
        if req is None:
            continue
        if tid in made:
            if req.to_tag is None:
                creating.append(req)
        elif t.method != "CANCEL":
            requests.append((t, req))
    requests.sort(key=lambda p: (p[1].origin.ts_ns, p[0].id))
    view = _DialogView(tuple(creating), tuple(requests))
    ctx.memo[key] = view
    return view


def _sent_by_local(dialog: Dialog, msg: SipMessage) -> bool:
    """Whether a request of the dialog was sent by the side that created it."""
    return msg.from_tag is not None and msg.from_tag == dialog.local_tag


def _label(req: SipRequest) -> str:
    if req.cseq_num is None:
        return f"{req.method} (no readable CSeq)"
    return f"{req.method} (CSeq {req.cseq_num})"


# -- DLG-2 ---------------------------------------------------------------------


@rule("DLG-2", severity=Severity.INFO, rfc="RFC 3261 §13.2.2.4", scope=Scope.ANALYSIS)
def forked_invite(ctx: Context) -> Iterator[Issue]:
    """INVITE answered with several To tags: forked into several dialogs.

    RFC 3261 §13.2.2.4: "Each response is distinguished by the tag
    parameter in the To header field, and each represents a distinct
    dialog, with a distinct dialog identifier."  Noted for an initial INVITE
    whose 101-299 responses carry two or more To tags; each 2xx among them
    needs its own ACK (CSEQ-5).  Responses with different tags but the same
    Contact come from one UAS that changed its tag, not from a fork, and
    are not noted here.
    """
    for txn in ctx.correlation.transactions:
        if txn.method == "INVITE" and len(txn.responses) > 1:
            yield from _forks(ctx, txn)


def _forks(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    tagged = [r for r in txn.responses if 100 < r.status < 300 and r.to_tag is not None]
    tags: dict[str, int] = {}
    for r in tagged:
        tags.setdefault(r.to_tag or "", r.message)
    if len(tags) < 2:
        return
    req = ctx.request(txn)
    if req is None or req.to_tag is not None:
        return
    contacts = [addr_uri(ctx.messages[m].headers.get("contact")) for m in tags.values()]
    if None not in contacts and len({uri_key(c) for c in contacts if c is not None}) == 1:
        return
    shown = ", ".join(quote(t) for t in tags)
    yield Issue(
        f"INVITE (CSeq {req.cseq_num}) was answered with {len(tags)} To tags ({shown}): "
        "a forked request, one dialog per tag",
        (request_index(txn), *tags.values()),
    )


# -- DLG-3 ---------------------------------------------------------------------


def _uri_keys(values: Sequence[str | None]) -> set[tuple[str, str, str, str]]:
    return {uri_key(v) for v in values if v is not None}


@rule("DLG-3", severity=Severity.ERROR, rfc="RFC 3261 §12.2.1.1", scope=Scope.DIALOG)
def request_outside_dialog_state(ctx: Context, dialog: Dialog) -> Iterator[Issue]:
    """In-dialog request whose From tag, From URI or To URI is not the dialog's.

    RFC 3261 §12.2.1.1: "The URI in the To field of the request MUST be set
    to the remote URI from the dialog state. The tag in the To header field
    of the request MUST be set to the remote tag of the dialog ID. The From
    URI of the request MUST be set to the local URI from the dialog state.
    The tag in the From header field of the request MUST be set to the local
    tag of the dialog ID."  The dialog state comes from the creating
    request: the creator's URI is its From URI, the other side's its To URI.
    Reported, per request inside the dialog:

    * error: no From tag (the request names the dialog by its To tag only,
      so no dialog matches it);
    * warning: a To URI that is neither the peer's URI from the creating
      request nor a From URI the peer used in the dialog;
    * info: a From URI that differs from the sender's earlier one (RFC 4916
      lets a user agent change its identity in a mid-dialog request).

    URIs are compared by scheme, user, host and port.  A dialog the capture
    joined in its middle is not judged (G-1).
    """
    if dialog.mid_dialog:
        return
    view = _view(ctx, dialog)
    if not view.creating:
        return
    # The URIs each side is known by: its URI in the creating request (at
    # every hop it was captured) and, for the other side, the To of its
    # responses that created the dialog; then every From URI it used (RFC
    # 4916).  A response that changed its To URI is TXN-7's concern.
    # Header values seen to carry each side's URI (True: the creator's), so
    # that a request repeating one byte for byte (the usual case) needs no
    # parsing: the creating From, and the To of the responses that created
    # the dialog.
    values: dict[bool, set[str | None]] = {
        True: {r.headers.get("from") for r in view.creating},
        False: set(),
    }
    answers: list[str | None] = []
    for tid in dialog.creating_transactions:
        t = ctx.transaction(tid)
        for r in () if t is None else t.responses:
            if r.to_tag is not None and r.to_tag == dialog.remote_tag:
                answers.append(ctx.messages[r.message].headers.get("to"))
    values[False].update(answers)
    # The URIs each side is known by, worked out on the first request that
    # does not repeat a known value: its URI in the creating request (at
    # every hop) and, for the other side, in the To of its creating
    # responses (a response that changed it is TXN-7's concern); then every
    # From URI it used (RFC 4916).
    known: dict[bool, set[tuple[str, str, str, str]]] = {}
    for t, req in view.requests:
        if req.method in _NOT_IN_DIALOG:
            continue
        by_local = _sent_by_local(dialog, req)
        frm_value = req.headers.get("from")
        to_value = req.headers.get("to")
        if (
            req.from_tag is not None
            and frm_value in values[by_local]
            and to_value in values[not by_local]
        ):
            continue
        if not known:
            known[True] = _uri_keys([addr_uri(r.headers.get("from")) for r in view.creating])
            known[False] = _uri_keys(
                [addr_uri(r.headers.get("to")) for r in view.creating]
                + [addr_uri(v) for v in answers]
            )
        mine, theirs = known[by_local], known[not by_local]
        frm = addr_uri(frm_value)
        to = addr_uri(to_value)
        problems: list[str] = []
        severity: Severity | None = None
        if req.from_tag is None:
            problems.append("no From tag, so it matches no dialog")
            if frm is not None and uri_key(frm) not in mine:
                problems.append(f"From URI {quote(frm)} is not the sender's {_shown(mine)}")
        else:
            if to is not None and uri_key(to) not in theirs:
                problems.append(f"To URI {quote(to)} is not the peer's {_shown(theirs)}")
                severity = Severity.WARNING
            elif to is not None:
                values[not by_local].add(to_value)
            if frm is not None and uri_key(frm) not in mine:
                if not problems:
                    severity = Severity.INFO
                problems.append(
                    f"From URI {quote(frm)} differs from the sender's {_shown(mine)} "
                    "(a change of identity, RFC 4916)"
                )
            values[by_local].add(frm_value)
        if frm is not None:
            mine.add(uri_key(frm))
        if problems:
            yield Issue(
                f"{_label(req)} in the dialog: " + "; ".join(problems),
                (request_index(t),),
                severity,
            )


def _shown(keys: set[tuple[str, str, str, str]]) -> str:
    uris = sorted(
        f"{s}:{u + '@' if u else ''}{h}{'' if p in ('', _DEFAULT_PORT.get(s)) else ':' + p}"
        for s, u, h, p in keys
    )
    return " or ".join(quote(u) for u in uris[:3]) if uris else "(unknown)"


_DEFAULT_PORT = {"sip": "5060", "sips": "5061"}


# -- DLG-4 ---------------------------------------------------------------------


@rule("DLG-4", severity=Severity.WARNING, rfc="RFC 3261 §12.2.2", scope=Scope.DIALOG)
def unknown_dialog_not_rejected(ctx: Context, dialog: Dialog) -> Iterator[Issue]:
    """Request for a dialog that does not exist, not answered with 481.

    RFC 3261 §12.2.2: "If the UAS wishes to reject the request because it
    does not wish to recreate the dialog, it MUST respond to the request
    with a 481 (Call/Transaction Does Not Exist) status code".  Judged for a
    request whose To tag matches no dialog in a Call-ID whose creating
    request (INVITE, SUBSCRIBE, REFER) was captured before it, so the
    capture did not merely start inside the dialog (G-1): a final response
    other than 481 (or a 401/407 challenge) is a warning; a 2xx is noted
    (info) as dialog recovery.  Without a final response nothing is said
    (G-2).  NOTIFYs are SUB-26's; an ACK has no response.
    """
    if not dialog.mid_dialog or dialog.creating_transactions:
        return
    first = ctx.messages[dialog.id]
    if not isinstance(first, SipRequest) or first.method in ("NOTIFY", "ACK"):
        return
    txn = ctx.transaction_of(dialog.id)
    if txn is None or txn.final_status is None or txn.final_status in (401, 407, 481):
        return
    created = _first_creating(ctx).get(dialog.call_id)
    if created is None or created >= dialog.id:
        return
    if ctx.messages[created].origin.ts_ns >= first.origin.ts_ns:
        return
    status = txn.final_status
    assert txn.final is not None
    refs = (dialog.id, txn.final, created)
    if 200 <= status < 300:
        yield Issue(
            f"{_label(first)} names To tag {quote(first.to_tag)}, a dialog the capture never "
            f"saw created (its Call-ID began at frame {ctx.frame(created)}), and was answered "
            f"{status}: the UAS recreated the dialog",
            refs,
            Severity.INFO,
        )
    elif status >= 300:
        yield Issue(
            f"{_label(first)} names To tag {quote(first.to_tag)}, a dialog the capture never "
            f"saw created (its Call-ID began at frame {ctx.frame(created)}), and was answered "
            f"{status} instead of 481",
            refs,
        )


def _first_creating(ctx: Context) -> dict[str | None, int]:
    """The first captured out-of-dialog INVITE, SUBSCRIBE or REFER of each Call-ID."""
    key = "first-creating-request"
    cached = ctx.memo.get(key)
    if isinstance(cached, dict):
        return cached
    out: dict[str | None, int] = {}
    messages = ctx.messages
    for t in ctx.correlation.transactions:
        if (
            t.method in CREATING_METHODS
            and t.request is not None
            and t.call_id not in out
            and messages[t.request].to_tag is None
        ):
            out[t.call_id] = t.request
    ctx.memo[key] = out
    return out


# -- DLG-5 ---------------------------------------------------------------------


@rule("DLG-5", severity=Severity.WARNING, rfc="RFC 3261 §12.2.1.2", scope=Scope.DIALOG)
def requests_after_481_or_408(ctx: Context, dialog: Dialog) -> Iterator[Issue]:
    """Requests in a dialog after a 481 or 408 to a request in it.

    RFC 3261 §12.2.1.2: "If the response for a request within a dialog is
    a 481 (Call/Transaction Does Not Exist) or a 408 (Request Timeout), the
    UAC SHOULD terminate the dialog."  Reported: a later request (other
    than BYE, ACK and CANCEL) from the same side of the dialog.  When the
    481 or 408 answered a SUBSCRIBE, NOTIFY or REFER, only that
    subscription usage ends (RFC 5057; SUB-14 judges it), so such dialogs,
    and requests of subscription usages, are not judged here.  Requests
    sent within T1 of the response may have crossed it.
    """
    end = next((c for c in dialog.state_changes if c.state is DialogState.TERMINATED), None)
    if end is None or end.cause not in _DIALOG_ENDING:
        return
    ending = ctx.transaction_of(end.message)
    if (
        ending is None
        or ending.method in _SUBSCRIPTION_USAGE
        or ending.id in dialog.creating_transactions
    ):
        return
    sender = ending.from_tag
    later = [
        (t, req)
        for t, req in _view(ctx, dialog).requests
        if req.origin.ts_ns > end.ts_ns + T1_NS
        and req.from_tag == sender
        and t.method not in ("BYE", "ACK", "CANCEL")
        and t.method not in _SUBSCRIPTION_USAGE
        and t.id != ending.id
    ]
    if not later:
        return
    t, req = later[0]
    more = f" (and {len(later) - 1} more)" if len(later) > 1 else ""
    yield Issue(
        f"{_label(req)} sent in the dialog after the {end.cause} to the {ending.method} at "
        f"frame {end.frame}, which should have ended it{more}",
        (request_index(t), end.message),
    )


# -- DLG-6 ---------------------------------------------------------------------


@rule(
    "DLG-6",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.8, §12.1.1",
    scope=Scope.MESSAGE,
    methods=("INVITE", "REFER"),
)
def dialog_contact(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """INVITE, REFER or a dialog-creating response without exactly one SIP or SIPS Contact.

    RFC 3261 §8.1.1.8: "The Contact header field MUST be present and contain
    exactly one SIP or SIPS URI in any request that can result in the
    establishment of a dialog."  §12.1.1: "The UAS MUST add a Contact header
    field to the response."  Checked: every INVITE (§20 Table 3 makes
    Contact mandatory in re-INVITEs too), a REFER outside a dialog, a 2xx to
    an INVITE or to such a REFER, and a 101-199 response with a To tag to an
    initial INVITE (it creates an early dialog).  A 1xx without any Contact
    is a warning: §20 Table 3 marks Contact optional in provisional
    responses, against §12.1.1.  SUBSCRIBE and NOTIFY are SUB-24's.  A
    misspelt Contact counts as missing (HDR-11b names it).
    """
    if isinstance(msg, SipRequest):
        if msg.method == "REFER" and msg.to_tag is not None:
            return
        problem = _contact_problem(msg) if not _one_sip_contact(msg) else None
        if problem is not None:
            yield Issue(f"{_label(msg)} {problem}", (i,))
        return
    assert isinstance(msg, SipResponse)
    status = msg.status
    if status <= 100 or status >= 300:
        return
    method = msg.cseq_method
    if status < 200 or method == "REFER":
        if msg.to_tag is None or (status < 200 and method != "INVITE"):
            return
        txn = ctx.transaction_of(i)
        req = None if txn is None else ctx.request(txn)
        if req is None or req.to_tag is not None:
            return
    problem = _contact_problem(msg) if not _one_sip_contact(msg) else None
    if problem is not None:
        # §20 Table 3 marks Contact optional in 1xx, against §12.1.1's MUST.
        mild = Severity.WARNING if status < 200 and problem == _NO_CONTACT else None
        yield Issue(f"{status} response to {method} {problem}", (i,), mild)


def _one_sip_contact(msg: SipMessage) -> bool:
    """The common case, settled without parsing: one Contact line, one SIP(S) URI."""
    lines = msg.headers.get_all("contact")
    if len(lines) != 1 or "," in lines[0]:
        return False
    uri = addr_uri(lines[0])
    return uri is not None and uri[:4].lower() in ("sip:", "sips")


# -- DLG-7 ---------------------------------------------------------------------


@rule("DLG-7", severity=Severity.INFO, rfc="RFC 3261 §12.3", scope=Scope.DIALOG)
def early_dialog_used_after_failure(ctx: Context, dialog: Dialog) -> Iterator[Issue]:
    """Request in an early dialog after the INVITE's non-2xx final response ended it.

    RFC 3261 §12.3: "Independent of the method, if a request outside of a
    dialog generates a non-2xx final response, any early dialogs created
    through provisional responses to that request are terminated."  Noted:
    a request (other than ACK and CANCEL) sent in such a dialog more than
    T1 after the final response (a request sent earlier may have crossed
    it).
    """
    changes = dialog.state_changes
    if len(changes) < 2 or changes[0].state is not DialogState.EARLY:
        return
    end = changes[-1]
    if end.state is not DialogState.TERMINATED or not (
        end.cause == "CANCEL" or (end.cause.isdigit() and int(end.cause) >= 300)
    ):
        return
    if any(c.state is DialogState.CONFIRMED for c in changes):
        return
    for t, req in _view(ctx, dialog).requests:
        if t.method in ("ACK", "CANCEL") or req.origin.ts_ns <= end.ts_ns + T1_NS:
            continue
        yield Issue(
            f"{_label(req)} sent in the early dialog (To tag {quote(dialog.remote_tag)}) "
            f"after the {end.cause} at frame {end.frame} terminated it",
            (request_index(t), end.message),
        )
        return


# -- DLG-8 ---------------------------------------------------------------------


@rule("DLG-8", severity=Severity.WARNING, rfc="RFC 3261 §12.2.1.1", scope=Scope.DIALOG)
def request_uri_not_remote_target(ctx: Context, dialog: Dialog) -> Iterator[Issue]:
    """In-dialog Request-URI that is not the peer's Contact (dialog without Record-Route).

    RFC 3261 §12.2.1.1: "If the route set is empty, the UAC MUST place the
    remote target URI into the Request-URI."  The remote target is the
    Contact the peer sent in the dialog's creating request or responses, or
    in a later target refresh.  Judged for dialogs whose creating messages
    carry no Record-Route, and for requests without a Route header; any
    Contact the peer advertised before the request counts (a refresh the
    capture missed is not taken for an error), and URIs are compared by
    scheme, user, host and port.  A warning: a proxy on the path may
    rewrite the Request-URI, and a peer behind NAT may be reached at the
    address its requests came from: a Request-URI that is the peer's Contact
    with the host replaced by the ``received`` address of the peer's Via
    (RFC 3261 §18.2.1; catalogue G-6) is accepted.  Dialogs the capture
    joined in the middle are not judged (G-1).
    """
    if dialog.mid_dialog:
        return
    messages = ctx.messages
    of_message = ctx.correlation.message_transaction
    creating = set(dialog.creating_transactions)
    # The Contact header values each side sent (True: the creator), in order,
    # each once; and the Request-URIs already accepted for each side.
    contacts: dict[bool, dict[str, None]] = {True: {}, False: {}}
    accepted: set[tuple[bool, str]] = set()
    for i in dialog.messages:
        msg = messages[i]
        if isinstance(msg, SipResponse) and not 100 < msg.status < 300:
            continue
        headers = msg.headers
        is_creating = of_message[i] in creating
        if is_creating and "record-route" in headers:
            return
        if isinstance(msg, SipRequest):
            local = _sent_by_local(dialog, msg)
            targets = list(contacts[not local])
            if (
                targets
                and not is_creating
                and msg.method not in _NOT_IN_DIALOG
                and msg.method != "CANCEL"
                and (not local, msg.uri) not in accepted
                and "route" not in headers
            ):
                if _names_target(msg.uri, targets) or _nat_target(
                    ctx, dialog, msg.uri, targets, not local
                ):
                    accepted.add((not local, msg.uri))
                else:
                    known = ", ".join(quote(addr_uri(c)) for c in targets[-2:])
                    yield Issue(
                        f"{_label(msg)} has Request-URI {quote(msg.uri)}, but the peer's "
                        f"Contact (the remote target) is {known}",
                        (i,),
                    )
                    return
        else:
            # A response is sent by the side that did not send the request.
            local = not _sent_by_local(dialog, msg)
        contact = headers.get("contact")
        if contact is not None:
            contacts[local][contact] = None


def _names_target(uri: str, contacts: Sequence[str]) -> bool:
    """Whether ``uri`` is the URI of one of the Contact header values ``contacts``."""
    bracketed = f"<{uri}>"
    for c in contacts:
        if bracketed in c or c == uri:
            return True
    return any(same_uri(uri, addr_uri(c)) for c in contacts)


def _nat_target(
    ctx: Context, dialog: Dialog, uri: str, contacts: Sequence[str], local: bool
) -> bool:
    """Whether ``uri`` is one of a side's Contact values with the host its NAT gave it.

    The NAT's address is the ``received`` parameter (RFC 3261 §18.2.1) of
    the top Via in responses to that side's requests.
    """
    scheme, user, host, port = uri_key(uri)
    keys = [uri_key(c) for v in contacts if (c := addr_uri(v)) is not None]
    if not any(k[0] == scheme and k[1] == user and k[3] == port for k in keys):
        return False
    address = host.strip("[]")
    for i in dialog.messages:
        msg = ctx.messages[i]
        if not isinstance(msg, SipResponse) or _sent_by_local(dialog, msg) != local:
            continue
        via = msg.headers.get("via")
        # A substring test first: parsing every Via of the dialog costs more.
        if via is None or address not in via.lower():
            continue
        top = ctx.top_via(i)
        if top is not None and top.received and top.received.strip("[]").lower() == address:
            return True
    return False
