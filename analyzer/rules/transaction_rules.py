"""Transaction rules (catalogue §4, TXN) about branches and transaction outcomes.

The rules about what a request's top Via and a response's Via and To carry
(TXN-1, TXN-3, TXN-6, TXN-7, TXN-10) are in :mod:`.header_rules`; these
look at transactions as a whole: a branch used by two requests (TXN-2),
transactions matched by the RFC 2543 rule (TXN-5), a request that reaches a
UAS twice by two paths (TXN-8), and requests left without a final response
(TXN-9).

False-positive guards: retransmissions are copies within one transaction
(G-3) and never count as a second request; the same request seen at two
hops or capture points has the same branch and sent-by only when it is the
same transaction (G-4); "missing" is said only when the capture goes on
long enough after the request (G-2).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..correlation import Transaction, message_sent_by
from ..sip.message import SipRequest, SipResponse
from . import rule
from .base import (
    TIMER_64_T1_NS,
    Context,
    Issue,
    Scope,
    Severity,
    answers_along_path,
    quote,
    request_index,
)

# Requests that may carry the branch of the request they belong to (RFC 3261
# §8.1.1.7: "The exceptions to this rule are CANCEL and ACK for non-2xx
# responses"): an INVITE, its CANCEL and the ACK of its non-2xx response.
_INVITE_FAMILY = frozenset(("INVITE", "CANCEL", "ACK"))


def _label(req: SipRequest) -> str:
    if req.cseq_num is None:
        return f"{req.method} (no readable CSeq)"
    if req.cseq_method == req.method:
        return f"{req.method} (CSeq {req.cseq_num})"
    return f"{req.method} (CSeq {req.cseq_num} {req.cseq_method})"


def _one_request(a: Transaction, ra: SipRequest, b: Transaction, rb: SipRequest) -> bool:
    """Whether two transactions with one branch and sent-by may legally share it."""
    if ra.call_id != rb.call_id or ra.cseq_num != rb.cseq_num:
        return False
    if a.method == b.method:
        # The same request seen twice (it was not matched as a retransmission,
        # e.g. after a long gap): not a second request.
        return True
    return {a.method, b.method} <= _INVITE_FAMILY


@rule("TXN-2", severity=Severity.ERROR, rfc="RFC 3261 §8.1.1.7", scope=Scope.ANALYSIS)
def branch_reused(ctx: Context) -> Iterator[Issue]:
    """Via branch of an earlier request reused by a new request.

    RFC 3261 §8.1.1.7: "The branch parameter value MUST be unique across
    space and time for all requests sent by the UA. The exceptions to this
    rule are CANCEL and ACK for non-2xx responses."  Reported: two requests
    with the same top-Via branch and sent-by (so the same sender) but a
    different Call-ID, CSeq number or method (other than an INVITE and its
    CANCEL or non-2xx ACK); a copy of a request whose CSeq differs from the
    original's (matched as a retransmission by its branch, but a new
    request); and the ACK for a 2xx that reuses the INVITE's branch (it is a
    new request of the dialog, §13.2.2.4).  Retransmissions (same branch,
    method and CSeq) are not reported (G-3); different senders are told
    apart by the sent-by.  Only RFC 3261 branches (magic cookie) are judged,
    and only requests with a readable Call-ID and CSeq.
    """
    messages = ctx.messages
    by_branch: dict[str, list[Transaction]] = {}
    for t in ctx.correlation.transactions:
        if t.request is None or t.rfc2543:
            continue
        branch = t.branch
        if branch is None:
            continue
        same = by_branch.get(branch)
        if same is None:
            by_branch[branch] = [t]
        else:
            same.append(t)
        if t.request_retransmissions:
            req = messages[t.request]
            for k in t.request_retransmissions:
                copy = messages[k]
                if (
                    copy.cseq_num != req.cseq_num
                    and copy.cseq_num is not None
                    and req.cseq_num is not None
                    and isinstance(copy, SipRequest)
                    and isinstance(req, SipRequest)
                ):
                    yield Issue(
                        f"{_label(copy)} reuses the Via branch {quote(branch)} of the "
                        f"{_label(req)} at frame {req.origin.frame}",
                        (k, t.request),
                    )
                    break
        if (
            t.ack is not None
            and t.method == "INVITE"
            and all(200 <= r.status < 300 for r in t.responses if r.status >= 200)
            and t.final_status is not None
        ):
            yield Issue(
                f"ACK for the {t.final_status} response reuses the INVITE's Via branch "
                f"{quote(branch)}; only the ACK of a non-2xx response may",
                (t.ack, t.request),
            )
    for branch, same in by_branch.items():
        if len(same) < 2:
            continue
        senders: dict[str | None, list[tuple[Transaction, SipRequest]]] = {}
        for t in same:
            assert t.request is not None
            req = messages[t.request]
            # A request without a readable CSeq or Call-ID cannot be told
            # apart from a damaged copy of another one.
            if isinstance(req, SipRequest) and req.cseq_num is not None and req.call_id:
                senders.setdefault(message_sent_by(req), []).append((t, req))
        for sent_by, pairs in senders.items():
            if len(pairs) < 2:
                continue
            pairs.sort(key=lambda p: (p[1].origin.ts_ns, p[0].id))
            first, first_req = pairs[0]
            for t, req in pairs[1:]:
                if _one_request(first, first_req, t, req):
                    continue
                assert t.request is not None and first.request is not None
                yield Issue(
                    f"{_label(req)} reuses the Via branch {quote(branch)} and sent-by "
                    f"{quote(sent_by)} of the {_label(first_req)} at frame "
                    f"{first_req.origin.frame}",
                    (t.request, first.request),
                )


@rule("TXN-5", severity=Severity.INFO, rfc="RFC 3261 §17.2.3", scope=Scope.ANALYSIS)
def legacy_matching(ctx: Context) -> Iterator[Issue]:
    """Transaction matched by the RFC 2543 rule: its branch lacks the magic cookie.

    RFC 3261 §17.2.3: "For all other request methods, a request is matched
    to a transaction if the Request-URI, To tag, From tag, Call-ID, CSeq
    (including the method), and top Via header field match those of the
    request that created the transaction."  Noted once per transaction whose
    top-Via branch does not begin with ``z9hG4bK`` (or is absent), so that
    its grouping can be weighed; the branch itself is TXN-1's finding.
    """
    for txn in ctx.correlation.transactions:
        if not txn.rfc2543:
            continue
        shown = "no branch" if txn.branch is None else f"branch {quote(txn.branch)}"
        yield Issue(
            f"{txn.method} transaction ({shown}) matched by the RFC 2543 rule "
            "(Request-URI, tags, Call-ID, CSeq and top Via)",
            (request_index(txn),),
        )


# RFC 3261 §8.2.2.2: a request merges with an "ongoing transaction"; a
# server transaction stays for Timer J (64*T1) after a non-INVITE final
# response, and an INVITE one until its ACK (Timer H, 64*T1).
_ONGOING_AFTER_FINAL_NS = TIMER_64_T1_NS


@rule("TXN-8", severity=Severity.INFO, rfc="RFC 3261 §8.2.2.2", scope=Scope.ANALYSIS)
def merged_request(ctx: Context) -> Iterator[Issue]:
    """Merged request: the same request reached a UAS twice by two branches, without a 482.

    RFC 3261 §8.2.2.2: "If the From tag, Call-ID, and CSeq exactly match
    those associated with an ongoing transaction, but the request does not
    match that transaction (based on the matching rules in Section 17.2.3),
    the UAS core SHOULD generate a 482 (Loop Detected) response".  The
    check is for requests "with no tag in the To header field" (§8.2.2.2;
    inside a dialog the To tag tells the requests apart).  Noted when such
    a request with the From tag, Call-ID, CSeq and Request-URI of an
    earlier one arrives at the same address with another branch while the
    earlier transaction is ongoing (before its final response, or within
    64*T1 after it), and is not answered 482.  The usual cause is a forking
    proxy; copies of one request seen at different hops go to different
    addresses and are not compared (G-4).
    """
    for txn in ctx.correlation.transactions:
        if txn.linked and txn.request is not None and txn.method not in ("ACK", "CANCEL"):
            yield from _merged(ctx, txn)


def _merged(ctx: Context, txn: Transaction) -> Iterator[Issue]:
    assert txn.request is not None
    if txn.final_status == 482:
        return
    req = ctx.messages[txn.request]
    if not isinstance(req, SipRequest) or req.to_tag is not None:
        return
    here = req.origin
    for tid in txn.linked:
        if tid >= txn.id:
            continue
        other = ctx.transaction(tid)
        if other is None or other.request is None or other.branch == txn.branch:
            continue
        first = ctx.messages[other.request]
        if (
            not isinstance(first, SipRequest)
            or first.origin.dst != here.dst
            or first.uri != req.uri
            or first.origin.ts_ns > here.ts_ns
        ):
            continue
        done = other.final_ts_ns
        if done is not None and here.ts_ns > done + _ONGOING_AFTER_FINAL_NS:
            continue
        answered = (
            f"answered {txn.final_status}" if txn.final_status is not None else "not answered"
        )
        yield Issue(
            f"{_label(req)} reached {here.dst} again with branch {quote(txn.branch)} while the "
            f"same request (frame {first.origin.frame}, branch {quote(other.branch)}) was "
            f"ongoing; {answered}, where a 482 (Loop Detected) is expected",
            (txn.request, other.request),
        )
        return


@rule("TXN-9", severity=Severity.INFO, rfc="RFC 3261 §17.1.1.2, §17.1.2.2", scope=Scope.ANALYSIS)
def no_final_response(ctx: Context) -> Iterator[Issue]:
    """Request without a final response: the transaction timed out or its response is missing.

    RFC 3261 §17.1.2.2 / §17.1.1.2: the client transaction gives up after
    Timer F (non-INVITE) or Timer B (INVITE), 64*T1 = 32 s.  Noted for a
    request with no final response in the capture when the capture goes on
    at least 64*T1 after it (G-2: the response may be lost, or the capture
    may end early), or earlier when the only response captured for it
    cannot match it (its Via branch was changed: TXN-3), so the client
    never sees one.  An INVITE that got a provisional response may wait for
    its final far longer (Timer C, §16.6) and is not judged on time.  ACK
    has no response.
    """
    # Transactions of responses whose request was not captured, by Call-ID
    # (one pass: most Call-IDs have none).
    orphans: dict[str | None, list[Transaction]] = {}
    unanswered: list[Transaction] = []
    for txn in ctx.correlation.transactions:
        if txn.request is None:
            if txn.responses:
                orphans.setdefault(txn.call_id, []).append(txn)
            continue
        if txn.method == "ACK":
            continue
        for r in txn.responses:
            if r.status >= 200:
                break
        else:
            unanswered.append(txn)
    for txn in unanswered:
        yield from _unanswered(ctx, txn, orphans.get(txn.call_id, ()))


def _unanswered(ctx: Context, txn: Transaction, orphans: Sequence[Transaction]) -> Iterator[Issue]:
    assert txn.request is not None
    req = ctx.messages[txn.request]
    if not isinstance(req, SipRequest):
        return
    stray = _stray_response(ctx, txn, req, orphans)
    if stray is not None:
        resp = ctx.messages[stray]
        status = resp.status if isinstance(resp, SipResponse) else "response"
        yield Issue(
            f"{_label(req)} got no response it can match: the {status} at frame "
            f"{resp.origin.frame} has another Via branch",
            (txn.request, stray),
        )
        return
    if txn.method == "INVITE" and txn.responses:
        return
    end = ctx.correlation.capture_end_ns
    if end is None or end - req.origin.ts_ns < TIMER_64_T1_NS:
        return
    what = "no response" if not txn.responses else "no final response"
    yield Issue(
        f"{_label(req)} got {what} in the {TIMER_64_T1_NS // 1_000_000_000} s after it "
        f"(the capture goes on {(end - req.origin.ts_ns) / 1e9:.1f} s): the transaction "
        "timed out or its response was not captured",
        (txn.request,),
    )


def _stray_response(
    ctx: Context, txn: Transaction, req: SipRequest, orphans: Sequence[Transaction]
) -> int | None:
    """A response with the request's Call-ID, From tag, CSeq and path but another branch."""
    for other in orphans:
        if other.method != txn.method:
            continue
        if other.branch == txn.branch or other.cseq != req.cseq_num:
            continue
        first = other.responses[0]
        resp = ctx.messages[first.message]
        if resp.from_tag == req.from_tag and answers_along_path(resp, req):
            return first.message
    return None
