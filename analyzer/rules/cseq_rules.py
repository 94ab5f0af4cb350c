"""CSeq rules (catalogue §3, CSEQ).

The CSeq header orders requests within a dialog and ties responses, ACKs and
CANCELs to the request they answer, acknowledge or cancel.  Sequences are
judged per sender: per dialog, per direction (the request's From tag) and
per hop (the sending address), so that the same request seen at two capture
points (catalogue G-4) is not taken for a repeat.  Gaps are info or warnings
(a lost packet, a challenge absorbed by a proxy: G-2); a number that goes
backwards is an error.  Retransmissions are matched to their transaction
first and never compared (G-3).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..correlation import Dialog, Transaction
from ..errors import SipParseError
from ..net.flow import Endpoint
from ..sip.message import SipMessage, SipRequest
from ..sip.values import parse_name_addr
from . import rule
from .base import Context, Issue, Scope, Severity, answers_along_path, quote, request_index
from .triggers import CSEQ_LIMIT, Trigger

# RFC 3261 §17.1.1.1: T1 = 500 ms; Timer H / Timer B = 64*T1.  A UAS
# retransmits a 2xx to INVITE until the ACK arrives, for at most 64*T1
# (§13.3.1.4); only after that long can a missing ACK be asserted.
T1_NS = 500_000_000
ACK_WAIT_NS = 64 * T1_NS


@rule("CSEQ-1", severity=Severity.ERROR, rfc="RFC 3261 §8.2.6.2", scope=Scope.TRANSACTION)
def response_cseq_differs(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """Response CSeq number or method differs from its request's.

    RFC 3261 §8.2.6.2: "The CSeq header field of the response MUST equal the
    CSeq field of the request."  Two cases: a response matched to its
    request by Via branch and CSeq method whose CSeq number differs; and a
    response matching no transaction whose branch, From tag and path are
    those of a request with another method (its CSeq method is wrong; the
    branch shared by an INVITE, its ACK and its CANCEL is not counted).
    """
    messages = ctx.messages
    req = ctx.request(txn)
    if req is not None:
        number = req.cseq_num
        if number is None:
            return
        seen: set[int] = set()
        for r in txn.responses:
            for idx in (r.message, *r.retransmissions):
                resp = messages[idx]
                got = resp.cseq_num
                if got is None or got == number or got in seen:
                    continue
                seen.add(got)
                yield Issue(
                    f"{r.status} response has CSeq {got} {resp.cseq_method}, "
                    f"but its request (frame {req.origin.frame}) has CSeq "
                    f"{number} {req.cseq_method}",
                    (idx, request_index(txn)),
                )
        return
    if not txn.responses or txn.branch is None:
        return
    first = txn.responses[0].message
    resp = messages[first]
    for other in ctx.transactions_with_call_id(txn.call_id):
        if other.branch != txn.branch or other.method == txn.method:
            continue
        if {other.method, txn.method} & {"ACK", "CANCEL"}:
            continue
        oreq = ctx.request(other)
        if oreq is None or oreq.from_tag != resp.from_tag or not answers_along_path(resp, oreq):
            continue
        yield Issue(
            f"{txn.responses[0].status} response has CSeq {resp.cseq_num} "
            f"{quote(resp.cseq_method)}, but the request with its Via branch and From tag "
            f"(frame {oreq.origin.frame}) is {quote(oreq.method)} with CSeq {oreq.cseq_num}: "
            "the response matches no transaction",
            (first, request_index(other)),
        )
        return


@rule(
    "CSEQ-2",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.5",
    scope=Scope.MESSAGE,
    responses=False,
    triggers=Trigger.ODD_CSEQ,
)
def cseq_method_differs(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """CSeq method differs from the request method.

    RFC 3261 §8.1.1.5: "The method MUST match that of the request."  The
    comparison is case-sensitive (§20.16).  A misspelt request method
    (``NOFITY`` with ``CSeq: 1 NOTIFY``) shows up here as well as in HDR-12.
    """
    assert isinstance(msg, SipRequest)
    method = msg.cseq_method
    if method is None or method == msg.method:
        return
    hint = " (case differs; methods are case-sensitive)" if method.upper() == msg.method else ""
    yield Issue(
        f"CSeq {msg.cseq_num} {method} does not name the request method {quote(msg.method)}" + hint,
        (i,),
    )


@rule(
    "CSEQ-3",
    severity=Severity.ERROR,
    rfc="RFC 3261 §8.1.1.5",
    scope=Scope.MESSAGE,
    triggers=Trigger.ODD_CSEQ | Trigger.DEFECTS,
)
def cseq_out_of_range(ctx: Context, i: int, msg: SipMessage) -> Iterator[Issue]:
    """CSeq is not a number below 2**31 followed by a method.

    RFC 3261 §8.1.1.5: "The sequence number value MUST be expressible as a
    32-bit unsigned integer and MUST be less than 2**31."  Also reported: a
    CSeq that is not one decimal number and one method.  The range is
    checked on requests only (a response copies its request's CSeq; CSEQ-1
    covers a response that does not).
    """
    for d in msg.defects:
        if d.code == "bad-cseq":
            yield Issue(d.detail, (i,))
            return
    number = msg.cseq_num
    if isinstance(msg, SipRequest) and number is not None and number >= CSEQ_LIMIT:
        yield Issue(f"CSeq number {number} is not below 2**31 ({CSEQ_LIMIT})", (i,))


@rule(
    "CSEQ-4",
    severity=Severity.ERROR,
    rfc="RFC 3261 §17.1.1.3",
    scope=Scope.TRANSACTION,
    methods=("INVITE",),
)
def non_2xx_ack_mismatch(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """ACK for a non-2xx final response does not repeat the INVITE it acknowledges.

    RFC 3261 §17.1.1.3: "The CSeq header field in the ACK MUST contain the
    same value for the sequence number as was present in the original
    request" and "The Call-ID, From, and Request-URI header fields in it
    equal to those in the original request", with the To of the response
    being acknowledged.  Checked for the ACK that reuses the INVITE's branch
    after a 3xx-6xx: its CSeq number, Request-URI, From tag and To tag.  (A
    CSeq method other than ACK is CSEQ-2.)
    """
    if txn.ack is None:
        return
    status = txn.final_status
    if status is not None and status < 300:
        return
    inv = ctx.request(txn)
    ack = ctx.messages[txn.ack]
    if inv is None or not isinstance(ack, SipRequest):
        return
    problems: list[str] = []
    if ack.cseq_num != inv.cseq_num:
        problems.append(f"CSeq number {ack.cseq_num} instead of {inv.cseq_num}")
    if ack.uri != inv.uri:
        problems.append(f"Request-URI {quote(ack.uri)} instead of {quote(inv.uri)}")
    if ack.from_tag != inv.from_tag:
        problems.append(f"From tag {quote(ack.from_tag)} instead of {quote(inv.from_tag)}")
    final = txn.final_response
    if final is not None and ack.to_tag != final.to_tag:
        problems.append(
            f"To tag {quote(ack.to_tag)} instead of the {final.status} response's "
            f"{quote(final.to_tag)}"
        )
    if problems:
        where = f"the INVITE at frame {inv.origin.frame}"
        yield Issue(
            f"ACK for the {status or 'non-2xx'} response differs from {where}: "
            + "; ".join(problems),
            (txn.ack, request_index(txn)),
        )


def _dialog_transactions(ctx: Context, dialog: Dialog) -> list[Transaction]:
    out: list[Transaction] = []
    for tid in dialog.transactions:
        t = ctx.transaction(tid)
        if t is not None:
            out.append(t)
    return out


@rule("CSEQ-5", severity=Severity.ERROR, rfc="RFC 3261 §13.2.2.4", scope=Scope.DIALOG)
def ack_for_2xx(ctx: Context, dialog: Dialog) -> Iterator[Issue]:
    """ACK for a 2xx does not carry the INVITE's CSeq number, or no ACK was sent.

    RFC 3261 §13.2.2.4: "The sequence number of the CSeq header field MUST
    be the same as the INVITE being acknowledged, but the CSeq method MUST
    be ACK."  An ACK in the dialog whose number matches no INVITE of the
    dialog, while a 2xx-answered INVITE was captured before it, is an
    error (named: the last INVITE answered before the ACK).  Also (warning):
    "The UAC core MUST generate an ACK request for each 2xx received from
    the transaction layer": a 2xx that the UAS retransmitted (so it did
    not get an ACK), with no ACK in the capture for 64*T1 = 32 s after it.
    """
    messages = ctx.messages
    tags = {dialog.local_tag, dialog.remote_tag}
    invites: list[tuple[int, int, int, Transaction]] = []  # (2xx ts, cseq, 2xx index, txn)
    acks: list[int] = []
    # Every INVITE of the dialog, answered in the capture or not: an ACK
    # naming one of them is taken to acknowledge it (its 2xx may be lost).
    invite_numbers: set[int | None] = set()
    for t in _dialog_transactions(ctx, dialog):
        if t.method == "INVITE":
            invite_numbers.add(t.cseq)
            for r in t.responses:
                if 200 <= r.status < 300 and r.to_tag in tags and t.cseq is not None:
                    invites.append((r.ts_ns, t.cseq, r.message, t))
            if t.ack is not None and t.final_status is not None and t.final_status < 300:
                acks.append(t.ack)
        elif t.method == "ACK" and t.request is not None:
            acks.append(t.request)
    ack_numbers = {messages[a].cseq_num for a in acks}
    for a in acks:
        ack = messages[a]
        if ack.cseq_num in invite_numbers:
            continue
        before = [inv for inv in invites if inv[0] <= ack.origin.ts_ns]
        if not before:
            continue
        ts, number, ok, t = max(before, key=lambda inv: inv[0])
        yield Issue(
            f"ACK has CSeq {ack.cseq_num} {ack.cseq_method}, but the INVITE answered by "
            f"the 2xx at frame {ctx.frame(ok)} has CSeq {number}",
            (a, ok),
        )
    end = ctx.correlation.capture_end_ns
    for ts, number, ok, t in invites:
        if number in ack_numbers or end is None or end - ts < ACK_WAIT_NS:
            continue
        copies = next((r.retransmissions for r in t.responses if r.message == ok), ())
        if copies:
            yield Issue(
                f"the 2xx to INVITE (CSeq {number}) was retransmitted {len(copies)} time(s) "
                f"and no ACK was captured in the {ACK_WAIT_NS // 1_000_000_000} s after it",
                (ok, *copies),
                Severity.WARNING,
            )


def _name_addr(value: str | None) -> tuple[str, str | None] | None:
    """(URI in lower case, tag) of a From/To value; None when unreadable."""
    if value is None:
        return None
    try:
        na = parse_name_addr(value)
    except SipParseError:
        return None
    return na.uri.lower(), na.param("tag")


@rule(
    "CSEQ-6",
    severity=Severity.ERROR,
    rfc="RFC 3261 §9.1",
    scope=Scope.TRANSACTION,
    methods=("CANCEL",),
)
def cancel_mismatch(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    """CANCEL does not match the request it cancels, or is sent too early.

    RFC 3261 §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq,
    and From header fields in the CANCEL request MUST be identical to those
    in the request being cancelled, including tags."  An error when they
    differ from the INVITE with the same branch.  Warnings: a CANCEL before
    any provisional response to the INVITE was captured ("If no provisional
    response has been received, the CANCEL request MUST NOT be sent"; the
    response may be missing from the capture), and a CANCEL for a request
    other than INVITE ("A CANCEL request SHOULD NOT be sent to cancel a
    request other than INVITE.").
    """
    cancel = ctx.request(txn)
    if cancel is None:
        return
    if txn.cancels is None:
        for other in ctx.transactions_with_call_id(txn.call_id):
            if (
                other.branch == txn.branch
                and other.method not in ("INVITE", "CANCEL", "ACK")
                and other.request is not None
                and other.id < txn.id
            ):
                yield Issue(
                    f"CANCEL for a {other.method} request (frame "
                    f"{ctx.frame(other.request)}); only INVITE should be cancelled",
                    (request_index(txn), other.request),
                    Severity.WARNING,
                )
                return
        return
    inv_txn = ctx.transaction(txn.cancels)
    inv = None if inv_txn is None else ctx.request(inv_txn)
    if inv_txn is None or inv is None:
        return
    pair = (request_index(txn), request_index(inv_txn))
    problems: list[str] = []
    if cancel.uri.lower() != inv.uri.lower():
        problems.append(f"Request-URI {quote(cancel.uri)} instead of {quote(inv.uri)}")
    if cancel.cseq_num != inv.cseq_num:
        problems.append(f"CSeq number {cancel.cseq_num} instead of {inv.cseq_num}")
    for name in ("From", "To"):
        mine, theirs = cancel.headers.get(name), inv.headers.get(name)
        got, want = _name_addr(mine), _name_addr(theirs)
        if got is not None and want is not None and got != want:
            problems.append(f"{name} {quote(mine)} instead of {quote(theirs)}")
    if problems:
        yield Issue(
            f"CANCEL differs from the INVITE at frame {inv.origin.frame}: " + "; ".join(problems),
            pair,
        )
    first_1xx = inv_txn.first_provisional_ts_ns
    if first_1xx is None or first_1xx > cancel.origin.ts_ns:
        yield Issue(
            f"CANCEL sent before any provisional response to the INVITE at frame "
            f"{inv.origin.frame} was captured",
            pair,
            Severity.WARNING,
        )


_Step = tuple[int, int, Transaction, int, Transaction]


def _steps(ctx: Context, txns: list[Transaction]) -> Iterator[_Step]:
    """(step, index, transaction, previous index, previous transaction) along one sequence.

    ``txns`` are the request transactions of one sender, with requests and
    CSeq numbers.  They are taken in time order; a transaction that is the
    same request as one already taken, seen at another hop (linked by
    Call-ID, From tag, CSeq and method, and sent from another address:
    catalogue G-4), is skipped.  A number that did not increase does not
    become the new reference.
    """
    messages = ctx.messages
    ordered = sorted(txns, key=lambda t: (messages[request_index(t)].origin.ts_ns, t.id))
    taken: dict[int, Endpoint] = {}
    prev: Transaction | None = None
    for t in ordered:
        i = request_index(t)
        src = messages[i].origin.src
        if any(o in taken and taken[o] != src for o in t.linked):
            continue
        taken[t.id] = src
        if prev is None:
            prev = t
            continue
        assert prev.cseq is not None and t.cseq is not None
        step = t.cseq - prev.cseq
        yield step, i, t, request_index(prev), prev
        if step > 0:
            prev = t


@rule("CSEQ-7", severity=Severity.ERROR, rfc="RFC 3261 §12.2.1.1", scope=Scope.DIALOG)
def in_dialog_sequence(ctx: Context, dialog: Dialog) -> Iterator[Issue]:
    """In-dialog CSeq does not increase by one per direction.

    RFC 3261 §12.2.1.1: "Requests within a dialog MUST contain strictly
    monotonically increasing and contiguous CSeq sequence numbers
    (increasing-by-one) in each direction (excepting ACK and CANCEL of
    course, whose numbers equal the requests being acknowledged or
    cancelled)."  Per dialog and sender (From tag), in time order, the same
    request seen at another hop counted once: a number that does not
    increase is an error (the UAS rejects it with a 500, §12.2.2); a jump is
    info, because §12.2.2 calls it "not an error condition" (a challenged
    request absorbed by a proxy, a lost packet).  The first request seen
    from a sender is the baseline (catalogue G-1).
    """
    senders: dict[str | None, list[Transaction]] = {}
    for t in _dialog_transactions(ctx, dialog):
        if t.method in ("ACK", "CANCEL") or t.request is None or t.cseq is None:
            continue
        senders.setdefault(t.from_tag, []).append(t)
    for txns in senders.values():
        for step, i, t, prev_i, prev in _steps(ctx, txns):
            if step == 1:
                continue
            if step > 1:
                yield Issue(
                    f"{t.method} CSeq {t.cseq} follows {prev.method} CSeq {prev.cseq} "
                    f"(frame {ctx.frame(prev_i)}) from the same side: {step - 1} number(s) "
                    "skipped",
                    (i, prev_i),
                    Severity.INFO,
                )
            else:
                verb = "repeats" if step == 0 else "is lower than"
                yield Issue(
                    f"{t.method} CSeq {t.cseq} {verb} the CSeq {prev.cseq} of the "
                    f"{prev.method} at frame {ctx.frame(prev_i)} from the same side of the "
                    "dialog",
                    (i, prev_i),
                )


@rule("CSEQ-8", severity=Severity.WARNING, rfc="RFC 3261 §10.2", scope=Scope.ANALYSIS)
def register_sequence(ctx: Context) -> Iterator[Issue]:
    """REGISTER CSeq not incremented by one per Call-ID.

    RFC 3261 §10.2: "A UA MUST increment the CSeq value by one for each
    REGISTER request with the same Call-ID."  Per Call-ID, in time order,
    the same REGISTER seen at another hop counted once: a number that does
    not increase is an error; a jump is a warning (a REGISTER may be missing
    from the capture).  A retry after a 401/407 challenge is the next
    number, as it should be.
    """
    groups: dict[str | None, list[Transaction]] = {}
    for t in ctx.correlation.transactions:
        if t.method == "REGISTER" and t.request is not None and t.cseq is not None:
            groups.setdefault(t.call_id, []).append(t)
    for txns in groups.values():
        if len(txns) < 2:
            continue
        for step, i, t, prev_i, prev in _steps(ctx, txns):
            if step > 1:
                yield Issue(
                    f"REGISTER CSeq {t.cseq} follows CSeq {prev.cseq} (frame "
                    f"{ctx.frame(prev_i)}) in the same Call-ID: {step - 1} number(s) skipped",
                    (i, prev_i),
                )
            elif step < 1:
                verb = "repeats" if step == 0 else "is lower than"
                yield Issue(
                    f"REGISTER CSeq {t.cseq} {verb} CSeq {prev.cseq} of the REGISTER at frame "
                    f"{ctx.frame(prev_i)} in the same Call-ID",
                    (i, prev_i),
                    Severity.ERROR,
                )
