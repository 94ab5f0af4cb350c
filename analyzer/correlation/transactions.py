"""Transactions (RFC 3261 §17) as a passive observer of both sides sees them.

A capture shows client and server transactions at once, often of several
hops, so matching follows the server-side rule of RFC 3261 §17.2.3 for
requests and the client-side rule of §17.1.3 for responses:

* a request belongs to the transaction with the same top-Via ``branch``,
  the same top-Via ``sent-by`` and the same method, "except for ACK, where
  the method of the request that created the transaction is INVITE";
* a response belongs to the transaction with the same top-Via branch and
  sent-by whose method equals the response's CSeq method.

So an ACK for a non-2xx final response joins its INVITE transaction (it
reuses the INVITE's branch, §17.1.1.3), an ACK for a 2xx is a transaction
of its own (new branch, §13.2.2.4), and a CANCEL is a transaction of its own
with the INVITE's branch (§9.1), linked to the transaction it cancels.

Branches without the ``z9hG4bK`` magic cookie come from RFC 2543 peers and
are matched by the older rule (§17.2.3, last paragraph): Request-URI, To
tag, From tag, Call-ID, CSeq and top Via.

Everything here runs on the eager fields of the message records (Call-ID,
CSeq, tags, branch) and the capture endpoints.  The top-Via sent-by, the
third part of the key, is read from the headers only when the endpoints
cannot settle a match (see :func:`_find`) and for RFC 2543 branches.  All
matching happens inside one Call-ID group, so the Call-ID is implied.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..net.flow import Endpoint, Origin
from ..sip.abnf import VIA_RE
from ..sip.message import SipMessage, SipRequest, SipResponse

# RFC 3261 §8.1.1.7: "The branch ID inserted by an element compliant with
# this specification MUST always begin with the characters "z9hG4bK"."
MAGIC_COOKIE = "z9hG4bK"


R = TypeVar("R")


def record_constructor(cls: type[R]) -> Callable[..., R]:
    """A fast constructor for a frozen, slotted dataclass without defaults.

    The ``__init__`` that dataclasses generate for a frozen class stores each
    field with ``object.__setattr__(self, name, value)``, a lookup by name per
    field; correlation builds hundreds of thousands of records and that
    lookup is a large part of its time.  This generates, once per class, a
    function with the same parameters that fills a mutable twin of ``cls``
    (a plain class with the same ``__slots__``, so plain slot stores) and
    then gives the object its real class: CPython allows the change because
    the two layouts are identical, as the message parser does for its
    records.  For a 17-field record that is a third of the time of storing
    through the member descriptors and a sixth of the generated
    ``__init__``.  What it returns is an ordinary instance of ``cls``: equal,
    hashable, picklable and immutable exactly like one built by
    ``cls(...)`` (tests/correlation/test_transactions.py checks it).  Type
    checkers see the class itself (see the ``TYPE_CHECKING`` aliases next to
    each use), so calls stay checked.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    twin = type(f"_{cls.__name__}Slots", (), {"__slots__": cls.__slots__})  # type: ignore[attr-defined]
    namespace: dict[str, object] = {"_twin": twin, "_cls": cls}
    lines = [f"def make({', '.join(names)}):", "    self = _twin()"]
    lines += [f"    self.{name} = {name}" for name in names]
    lines += ["    self.__class__ = _cls", "    return self"]
    exec("\n".join(lines), namespace)
    return namespace["make"]  # type: ignore[return-value]


class MessageLookup(Protocol):
    """Messages by message index: a list of all messages, or a dict holding a subset."""

    def __getitem__(self, index: int, /) -> SipMessage: ...


@dataclass(frozen=True, slots=True)
class TxnResponse:
    """The first copy of one response of a transaction, and its retransmissions.

    Two responses are copies of each other when they have the same status
    code and the same To tag (forked responses differ by To tag, RFC 3261
    §13.2.2.4), and, for reliable provisional responses, the same RSeq
    (RFC 3262 §3).  ``retransmissions`` are message indices.
    """

    message: int
    frame: int
    ts_ns: int
    status: int
    to_tag: str | None
    retransmissions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Transaction:
    """One SIP transaction at one hop (one top Via).

    ``id`` is the message index of the transaction's first message in the
    capture (its request, or its first response when the request was not
    captured); ids are unique, increase with capture order, and do not depend
    on how the capture was split for correlation.

    Message fields are message indices; ``frames`` are all capture frames of
    all its messages, ascending.  ``method`` is the request method, or the
    CSeq method of the responses when the request was not seen.  ``cseq`` and
    ``from_tag`` come from the first message.

    ``responses`` hold the first copy of each distinct response in capture
    order; the properties ``final_status`` / ``final`` / ``final_ts_ns`` are
    those of the first final (>= 200) response.  ``ack`` is the ACK for a non-2xx final
    response (same branch); it stays None for INVITE transactions answered
    with a 2xx, whose ACK is a transaction of its own.  ``cancels`` is set on
    a CANCEL transaction: the id of the INVITE transaction it cancels, when
    that was captured.  ``linked`` are the ids of the same request seen at
    other hops or capture points (different top Via, same Call-ID, From tag,
    CSeq number and method: catalogue G-4).

    Properties: ``orphan_response`` (responses but no request in the
    capture), ``no_final`` (no final response in the capture; never for ACK,
    which has no responses), ``first_provisional_ts_ns``,
    ``response_time_ns`` (request -> first final), ``final_response``,
    ``response_retransmissions``.  ``rfc2543``: matched by the RFC 2543 rule
    because the branch lacks the magic cookie.  The top-Via sent-by is not
    stored (reading it costs a header split per message); see
    :func:`message_sent_by`.
    """

    id: int
    call_id: str | None
    method: str
    cseq: int | None
    from_tag: str | None
    branch: str | None
    rfc2543: bool
    request: int | None
    request_ts_ns: int | None
    request_retransmissions: tuple[int, ...]
    responses: tuple[TxnResponse, ...]
    ack: int | None
    ack_retransmissions: tuple[int, ...]
    cancels: int | None
    linked: tuple[int, ...]
    messages: tuple[int, ...]
    frames: tuple[int, ...]

    @property
    def final_response(self) -> TxnResponse | None:
        """The first final (>= 200) response, if any."""
        for r in self.responses:
            if r.status >= 200:
                return r
        return None

    @property
    def final(self) -> int | None:
        """Message index of the first final response."""
        r = self.final_response
        return None if r is None else r.message

    @property
    def final_status(self) -> int | None:
        """Status code of the first final response."""
        r = self.final_response
        return None if r is None else r.status

    @property
    def final_ts_ns(self) -> int | None:
        """Time of the first final response."""
        r = self.final_response
        return None if r is None else r.ts_ns

    @property
    def first_provisional_ts_ns(self) -> int | None:
        """Time of the first provisional (1xx) response."""
        for r in self.responses:
            if r.status < 200:
                return r.ts_ns
        return None

    @property
    def response_time_ns(self) -> int | None:
        """Request -> first final response, when both were captured."""
        r = self.final_response
        if r is None or self.request_ts_ns is None:
            return None
        return r.ts_ns - self.request_ts_ns

    @property
    def orphan_response(self) -> bool:
        """Responses were captured but not the request."""
        return self.request is None

    @property
    def no_final(self) -> bool:
        """No final response was captured (never true for ACK, which has none)."""
        return self.method != "ACK" and self.final_response is None

    @property
    def response_retransmissions(self) -> tuple[int, ...]:
        """Message indices of all response retransmissions, ascending."""
        return tuple(sorted(i for r in self.responses for i in r.retransmissions))

    @property
    def retransmissions(self) -> tuple[int, ...]:
        """Message indices of every retransmission: of the request, the ACK and the responses."""
        return (
            self.request_retransmissions
            + self.ack_retransmissions
            + tuple(i for r in self.responses for i in r.retransmissions)
        )

    @property
    def start_ts_ns(self) -> int:
        """Time of the transaction's first message (the request, or its first response)."""
        if self.request == self.id and self.request_ts_ns is not None:
            return self.request_ts_ns
        return self.responses[0].ts_ns


if TYPE_CHECKING:
    _new_response = TxnResponse
    _new_transaction = Transaction
else:
    _new_response = record_constructor(TxnResponse)
    _new_transaction = record_constructor(Transaction)


class _Unknown(enum.Enum):
    UNKNOWN = 0


_UNKNOWN = _Unknown.UNKNOWN


class TxnDraft:
    """A transaction while messages are still being matched to it."""

    __slots__ = (
        "id",
        "method",
        "cseq",
        "from_tag",
        "branch",
        "sent_by",
        "rfc2543",
        "request",
        "request_uri",
        "req_to_tag",
        "req_retrans",
        "responses",
        "final_status",
        "final",
        "final_ts",
        "first_prov_ts",
        "ack",
        "ack_retrans",
        "cancels",
        "linked",
        "messages",
        "request_ts",
        "src",
        "dst",
        "first_is_request",
        "frames",
        "tags",
        "frame_tuple",
    )

    def __init__(
        self,
        first: int,
        method: str,
        cseq: int | None,
        from_tag: str | None,
        branch: str | None,
        rfc2543: bool,
        src: Endpoint,
        dst: Endpoint,
        first_is_request: bool,
    ) -> None:
        self.id = first
        self.method = method
        self.cseq = cseq
        self.from_tag = from_tag
        self.branch = branch
        # The top-Via sent-by of the first message, read only when needed.
        self.sent_by: str | None | _Unknown = _UNKNOWN
        self.rfc2543 = rfc2543
        self.src = src
        self.dst = dst
        self.first_is_request = first_is_request
        # The frames of all messages, in message order (repeats possible),
        # and the To tag of each message (parallel to ``messages``), so that
        # later passes need not read messages again.
        self.frames: list[int] = []
        self.tags: list[str | None] = []
        # ``frames`` ascending without repeats, set by freeze_transaction.
        self.frame_tuple: tuple[int, ...] = ()
        self.request: int | None = None
        self.request_uri: str | None = None
        self.req_to_tag: str | None = None
        self.request_ts: int | None = None
        # Retransmissions and links are rare: tuples, grown by copying.
        self.req_retrans: tuple[int, ...] = ()
        self.responses: list[TxnResponse] = []
        self.final_status: int | None = None
        self.final: int | None = None
        self.final_ts: int | None = None
        self.first_prov_ts: int | None = None
        self.ack: int | None = None
        self.ack_retrans: tuple[int, ...] = ()
        self.cancels: TxnDraft | None = None
        self.linked: tuple[int, ...] = ()
        self.messages: list[int] = []


def sent_by(top_via: str | None) -> str | None:
    """The ``host[:port]`` of a Via value (its first via-parm), host in lower case.

    RFC 3261 §17.2.3 matches on the sent-by *string*: NAT changes the source
    address, not the Via (catalogue TXN-4).
    """
    if top_via is None:
        return None
    m = VIA_RE.match(top_via)
    if m is None:
        return None
    host = m.group("host").lower()
    port = m.group("port")
    return host if port is None else f"{host}:{port}"


def message_sent_by(msg: SipMessage) -> str | None:
    """The sent-by of a message's top Via (see :func:`sent_by`)."""
    return sent_by(msg.headers.get("via"))


def _rseq(msg: SipMessage) -> str | None:
    value = msg.headers.get("rseq")
    return None if value is None else value.strip()


def match_transactions(
    messages: MessageLookup, indices: Sequence[int]
) -> tuple[list[TxnDraft], list[TxnDraft]]:
    """Match the messages of one Call-ID group to transactions.

    ``indices`` are message indices in ascending order.  Returns the drafts in
    order of creation (which is the order of their ids) and, parallel to
    ``indices``, the draft each message belongs to.
    """
    drafts: list[TxnDraft] = []
    per_message: list[TxnDraft] = []
    # RFC 3261 branches: (branch, method) -> transactions, newest last.  The
    # sent-by completes the key (see _find).
    by_branch: dict[tuple[str | None, str], list[TxnDraft]] = {}
    # RFC 2543 requests by their full matching tuple, and by what their
    # responses can name (see _match_legacy_response).
    by_key: dict[tuple[object, ...], TxnDraft] = {}
    legacy_resp: dict[tuple[object, ...], TxnDraft] = {}
    # The common cases (a new request, a response or retransmission on the
    # flow of its transaction) are written out in this loop: it runs once
    # per message of the capture.  Requests and responses are told apart
    # first, so that each attribute read below only ever sees one class and
    # the interpreter keeps it specialised (a read that alternates between
    # SipRequest and SipResponse takes the generic path, a third slower).
    for i in indices:
        msg = messages[i]
        if isinstance(msg, SipRequest):
            branch = msg.branch
            origin = msg.origin
            to_tag = msg.to_tag
            if branch is None or not branch.startswith(MAGIC_COOKIE):
                t = _match_legacy(msg, i, messages, by_key, legacy_resp, drafts)
            else:
                method = msg.method
                key = (branch, method)
                if key in by_branch or (
                    (method == "ACK" or method == "CANCEL") and (branch, "INVITE") in by_branch
                ):
                    t = _match_request(msg, i, branch, by_branch, drafts, messages)
                else:
                    # A new transaction: nothing has this branch and method
                    # (nor, for an ACK or CANCEL, an INVITE with this branch:
                    # an ACK for a 2xx has a branch of its own).
                    t = TxnDraft(
                        i,
                        method,
                        msg.cseq_num,
                        msg.from_tag,
                        branch,
                        False,
                        origin.src,
                        origin.dst,
                        True,
                    )
                    drafts.append(t)
                    by_branch[key] = [t]
                    t.request = i
                    t.request_uri = msg.uri
                    t.req_to_tag = to_tag
                    t.request_ts = origin.ts_ns
        else:
            branch = msg.branch
            origin = msg.origin
            to_tag = msg.to_tag
            if branch is None or not branch.startswith(MAGIC_COOKIE):
                t = _match_legacy(msg, i, messages, by_key, legacy_resp, drafts)
            else:
                candidates = by_branch.get((branch, msg.cseq_method or ""))
                if (
                    candidates is None
                    or len(candidates) != 1
                    or not (t := candidates[0]).first_is_request
                    or origin.dst is not t.src
                ):
                    t = _match_response(msg, i, branch, by_branch, drafts, messages)
                # _add_response, written out for the common case: no earlier
                # response of the transaction with this status and To tag.
                status = msg.status
                for r in t.responses:
                    if r.status == status and r.to_tag == to_tag:
                        _add_response(t, msg, i, messages)
                        break
                else:
                    ts = origin.ts_ns
                    t.responses.append(_new_response(i, origin.frame, ts, status, to_tag, ()))
                    if status >= 200:
                        if t.final is None:
                            t.final = i
                            t.final_status = status
                            t.final_ts = ts
                    elif t.first_prov_ts is None:
                        t.first_prov_ts = ts
        t.messages.append(i)
        t.tags.append(to_tag)
        t.frames += origin.frames
        per_message.append(t)
    return drafts, per_message


def _match_legacy(
    msg: SipMessage,
    i: int,
    messages: MessageLookup,
    by_key: dict[tuple[object, ...], TxnDraft],
    legacy_resp: dict[tuple[object, ...], TxnDraft],
    drafts: list[TxnDraft],
) -> TxnDraft:
    via_host = message_sent_by(msg)
    if isinstance(msg, SipRequest):
        return _match_legacy_request(msg, i, msg.branch, via_host, by_key, legacy_resp, drafts)
    t = _match_legacy_response(msg, i, msg.branch, via_host, legacy_resp, drafts)
    _add_response(t, msg, i, messages)
    return t


def _consistent(t: TxnDraft, origin: Origin, is_request: bool) -> bool:
    """Whether a message comes from, or goes to, the client of transaction ``t``.

    The client is the source of a request and the destination of a
    response.  Endpoints are cached objects, so identity settles almost
    every comparison.
    """
    client = t.src if t.first_is_request else t.dst
    other = origin.src if is_request else origin.dst
    return other is client or other == client


def _find(
    candidates: list[TxnDraft], msg: SipMessage, is_request: bool, messages: MessageLookup
) -> TxnDraft | None:
    """The transaction among ``candidates`` (same branch and method) with msg's sent-by.

    RFC 3261 §17.2.3 keys on branch, sent-by and method.  Reading the sent-by
    means splitting the message's header lines, so it is skipped when there
    is a single candidate and the message has the same client address and
    port: two clients cannot share one.  (Deviation: a single client that
    reused a branch under two different sent-by values would be seen as
    one transaction; no conforming element does that.)  Otherwise (another
    client, or a response routed to the Via port rather than the source
    port) the sent-by strings are compared.
    """
    if len(candidates) == 1 and _consistent(candidates[0], msg.origin, is_request):
        return candidates[0]
    wanted = message_sent_by(msg)
    for t in reversed(candidates):
        if t.sent_by is _UNKNOWN:
            t.sent_by = message_sent_by(messages[t.id])
        if t.sent_by == wanted:
            return t
    return None


def _new(
    i: int,
    msg: SipMessage,
    method: str,
    branch: str | None,
    is_request: bool,
    drafts: list[TxnDraft],
) -> TxnDraft:
    o = msg.origin
    t = TxnDraft(i, method, msg.cseq_num, msg.from_tag, branch, False, o.src, o.dst, is_request)
    drafts.append(t)
    return t


def _match_response(
    msg: SipResponse,
    i: int,
    branch: str,
    by_branch: dict[tuple[str | None, str], list[TxnDraft]],
    drafts: list[TxnDraft],
    messages: MessageLookup,
) -> TxnDraft:
    # §17.1.3: the response matches the transaction whose request had the
    # same top-Via branch, "If the method parameter in the CSeq header field
    # matches the method of the request that created the transaction."
    cmethod = msg.cseq_method or ""
    key = (branch, cmethod)
    candidates = by_branch.get(key)
    if candidates is not None:
        t = _find(candidates, msg, False, messages)
        if t is not None:
            return t
    t = _new(i, msg, cmethod, branch, False, drafts)
    if candidates is None:
        by_branch[key] = [t]
    else:
        candidates.append(t)
    return t


def _match_request(
    msg: SipRequest,
    i: int,
    branch: str,
    by_branch: dict[tuple[str | None, str], list[TxnDraft]],
    drafts: list[TxnDraft],
    messages: MessageLookup,
) -> TxnDraft:
    method = msg.method
    if method == "ACK":
        # §17.2.3: the ACK matches the INVITE transaction it acknowledges when
        # it carries the same branch (ACK for a non-2xx final response).
        invites = by_branch.get((branch, "INVITE"))
        if invites is not None:
            inv = _find(invites, msg, True, messages)
            if inv is not None:
                _add_ack(inv, i)
                return inv
    key = (branch, method)
    candidates = by_branch.get(key)
    if candidates is not None:
        t = _find(candidates, msg, True, messages)
        if t is not None:
            if t.request is None:
                _set_request(t, msg, i)
            else:
                t.req_retrans += (i,)
            return t
    t = _new(i, msg, method, branch, True, drafts)
    if candidates is None:
        by_branch[key] = [t]
    else:
        candidates.append(t)
    _set_request(t, msg, i)
    if method == "CANCEL":
        # §9.2: the CANCEL matches the transaction it cancels by the same
        # rules "assuming that the request method is anything but CANCEL or
        # ACK".
        invites = by_branch.get((branch, "INVITE"))
        if invites is not None:
            t.cancels = _find(invites, msg, True, messages)
    return t


def _match_legacy_response(
    msg: SipResponse,
    i: int,
    branch: str | None,
    via_host: str | None,
    legacy_resp: dict[tuple[object, ...], TxnDraft],
    drafts: list[TxnDraft],
) -> TxnDraft:
    cmethod = msg.cseq_method or ""
    lkey = (via_host, branch, msg.from_tag, msg.cseq_num, cmethod)
    t = legacy_resp.get(lkey)
    if t is None:
        t = _new(i, msg, cmethod, branch, False, drafts)
        t.rfc2543 = True
        t.sent_by = via_host
        legacy_resp[lkey] = t
    return t


def _match_legacy_request(
    msg: SipRequest,
    i: int,
    branch: str | None,
    via_host: str | None,
    by_key: dict[tuple[object, ...], TxnDraft],
    legacy_resp: dict[tuple[object, ...], TxnDraft],
    drafts: list[TxnDraft],
) -> TxnDraft:
    # RFC 3261 §17.2.3: "For all other request methods, a request is matched
    # to a transaction if the Request-URI, To tag, From tag, Call-ID, CSeq
    # (including the method), and top Via header field match those of the
    # request that created the transaction."  The top Via is compared by its
    # sent-by and branch: a response copies the Via but may add "received".
    method = msg.method
    if method == "ACK":
        inv = legacy_resp.get((via_host, branch, msg.from_tag, msg.cseq_num, "INVITE"))
        # The ACK for a non-2xx final response is part of the INVITE
        # transaction; after a 2xx it is a new request of the dialog.
        if (
            inv is not None
            and inv.request_uri == msg.uri
            and (inv.final_status is None or inv.final_status >= 300)
        ):
            _add_ack(inv, i)
            return inv
    key = ("2543", via_host, branch, msg.uri, msg.to_tag, msg.from_tag, msg.cseq_num, method)
    t = by_key.get(key)
    if t is None:
        lkey = (via_host, branch, msg.from_tag, msg.cseq_num, method)
        t = legacy_resp.get(lkey)
        if t is not None and t.request is None:
            # Responses to this request were captured before it.
            _set_request(t, msg, i)
            by_key[key] = t
            return t
        t = _new(i, msg, method, branch, True, drafts)
        t.rfc2543 = True
        t.sent_by = via_host
        by_key[key] = t
        legacy_resp[lkey] = t
        _set_request(t, msg, i)
        if method == "CANCEL":
            inv = legacy_resp.get((via_host, branch, msg.from_tag, msg.cseq_num, "INVITE"))
            if inv is not None and inv.request_uri == msg.uri:
                t.cancels = inv
        return t
    t.req_retrans += (i,)
    return t


def _set_request(t: TxnDraft, msg: SipRequest, i: int) -> None:
    t.request = i
    t.request_uri = msg.uri
    t.req_to_tag = msg.to_tag
    t.request_ts = msg.origin.ts_ns


def _add_ack(inv: TxnDraft, i: int) -> None:
    if inv.ack is None:
        inv.ack = i
    else:
        inv.ack_retrans += (i,)


def _add_response(t: TxnDraft, msg: SipResponse, i: int, messages: MessageLookup) -> None:
    status = msg.status
    to_tag = msg.to_tag
    responses = t.responses
    for k, r in enumerate(responses):
        if r.status == status and r.to_tag == to_tag:
            # A reliable provisional response (RFC 3262) is retransmitted
            # with the same RSeq; a new one carries the next RSeq.
            if status < 200 and _rseq(msg) != _rseq(messages[r.message]):
                continue
            responses[k] = _new_response(
                r.message, r.frame, r.ts_ns, status, to_tag, (*r.retransmissions, i)
            )
            return
    origin = msg.origin
    ts = origin.ts_ns
    responses.append(_new_response(i, origin.frame, ts, status, to_tag, ()))
    if status >= 200:
        if t.final is None:
            t.final = i
            t.final_status = status
            t.final_ts = ts
    elif t.first_prov_ts is None:
        t.first_prov_ts = ts


def link_hops(drafts: Sequence[TxnDraft]) -> None:
    """Link transactions that are the same request at different hops.

    Catalogue G-4: "Each hop has its own top-Via branch [...] Correlate hops
    by Call-ID, From tag and CSeq."  Within one Call-ID group, transactions
    with the same From tag, CSeq number and method but different keys are
    linked to each other.
    """
    if len(drafts) < 2:
        return
    # Almost every group has no two such transactions: a set settles it
    # before any list is built.
    seen: set[tuple[str | None, int | None, str]] = set()
    for t in drafts:
        key = (t.from_tag, t.cseq, t.method)
        if key in seen:
            break
        seen.add(key)
    else:
        return
    groups: dict[tuple[str | None, int | None, str], list[TxnDraft]] = {}
    for t in drafts:
        groups.setdefault((t.from_tag, t.cseq, t.method), []).append(t)
    for same in groups.values():
        if len(same) > 1:
            for t in same:
                t.linked = tuple([o.id for o in same if o is not t])


def unique_sorted(values: list[int]) -> tuple[int, ...]:
    """``values`` ascending without repeats (frames: TCP messages share segments)."""
    if len(values) < 2:
        return tuple(values)
    return tuple(sorted(set(values)))


def sorted_frames(per_message: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    """The frames of some messages, ascending, without repeats."""
    frames: list[int] = []
    for f in per_message:
        frames += f
    return unique_sorted(frames)


def freeze_transaction(t: TxnDraft, call_id: str | None) -> Transaction:
    """The frozen :class:`Transaction` for a finished draft.

    Also sets the draft's ``frame_tuple``, which dialogs and calls reuse.
    """
    cancels = t.cancels
    frames = t.frames
    t.frame_tuple = frame_tuple = tuple(frames) if len(frames) < 2 else tuple(sorted(set(frames)))
    return _new_transaction(
        t.id,
        call_id,
        t.method,
        t.cseq,
        t.from_tag,
        t.branch,
        t.rfc2543,
        t.request,
        t.request_ts,
        t.req_retrans,
        tuple(t.responses),
        t.ack,
        t.ack_retrans,
        None if cancels is None else cancels.id,
        t.linked,
        tuple(t.messages),
        frame_tuple,
    )
