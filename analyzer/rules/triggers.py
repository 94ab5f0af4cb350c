"""What the rule engine notices about a message before it calls any rule.

Most MESSAGE-scope rules look for something clean traffic does not have: a
header that is missing, a parameter written twice, a name nobody registered.
Calling each of them for every message costs more than all the rest of the
validation, so each such rule declares *triggers*: the features of a
message without which it cannot find anything.  The engine works out a
message's features once (:func:`message_triggers`, a few dictionary and
string tests on fields the parser already set) and calls a rule only for
messages that have at least one of its triggers.  Rules declared without
triggers are called for every message they apply to.

A trigger is a necessary condition, never a verdict: the rule called still
decides.  So a trigger may fire for a message the rule then passes (a Via
with two parameters for HDR-14, which looks for a repeated one), but it
must fire for every message the rule would report; tests/rules/
test_triggers.py runs every rule with and without triggers on the samples,
the corpus and the rules' own test messages and requires the same findings.
"""

from __future__ import annotations

import enum

from ..correlation import MAGIC_COOKIE
from ..sip.headers import KNOWN_HEADER_KEYS
from ..sip.message import IANA_METHOD_SET, SipMessage, SipRequest

__all__ = [
    "ALL_TRIGGERS",
    "CSEQ_LIMIT",
    "UDP_REQUEST_LIMIT",
    "Trigger",
    "message_triggers",
]

#: RFC 3261 §8.1.1.5: "The sequence number value MUST be expressible as a
#: 32-bit unsigned integer and MUST be less than 2**31."
CSEQ_LIMIT = 2**31

#: RFC 3261 §18.1.1: "If a request is within 200 bytes of the path MTU, or
#: if it is larger than 1300 bytes and the path MTU is unknown, the request
#: MUST be sent using an RFC 2914 [43] congestion controlled transport
#: protocol, such as TCP."
UDP_REQUEST_LIMIT = 1300


class Trigger(enum.IntFlag):
    """Features of a message that make some rule worth calling.

    Each is cheap to test and absent from most messages of clean traffic.
    """

    #: The parser recorded defects (see :attr:`SipMessage.defects`).
    DEFECTS = enum.auto()
    #: The body is not empty and there is no Content-Type header.
    UNTYPED_BODY = enum.auto()
    #: No Content-Length value was read.
    NO_CONTENT_LENGTH = enum.auto()
    #: The message is larger than UDP_REQUEST_LIMIT bytes.
    LARGE = enum.auto()
    #: No From tag, CSeq number, Call-ID or Via branch was read, or no To
    #: header is present (a To without a tag is no gap: initial requests
    #: and 100 Trying have one).
    EAGER_GAP = enum.auto()
    #: A request's top Via is not "SIP/2.0/..." with a z9hG4bK branch.
    ODD_VIA = enum.auto()
    #: A request's CSeq method differs from its method, or its number is
    #: not below CSEQ_LIMIT.
    ODD_CSEQ = enum.auto()
    #: A request's Max-Forwards is missing or not an integer from 1 to 255.
    ODD_MAX_FORWARDS = enum.auto()
    #: A request's method is not in the IANA registry.
    UNKNOWN_METHOD = enum.auto()
    #: A header name outside KNOWN_HEADER_KEYS.
    UNKNOWN_HEADER = enum.auto()
    #: An underscore anywhere in the message.
    UNDERSCORE = enum.auto()
    #: A From or To value (a request's), a To value (a response's) or a
    #: request's Via line with at least two parameters.
    PARAMETERS = enum.auto()
    #: A response with more than one Via value, or one that may have.
    SEVERAL_VIAS = enum.auto()
    #: A Subscription-State header.
    SUBSCRIPTION_STATE = enum.auto()
    #: An Event header.
    EVENT = enum.auto()
    #: A request whose method or CSeq method is SUBSCRIBE or NOTIFY, or a
    #: response whose CSeq method is one of them.
    EVENTS_METHOD = enum.auto()


#: Every trigger: what a message has when the engine calls every rule.
ALL_TRIGGERS = Trigger(sum(Trigger))

# Trigger values as plain ints: computing a message's features is an inner
# loop of the engine, and an int flag operation runs Python code.
_DEFECTS = int(Trigger.DEFECTS)
_UNTYPED_BODY = int(Trigger.UNTYPED_BODY)
_NO_CONTENT_LENGTH = int(Trigger.NO_CONTENT_LENGTH)
_LARGE = int(Trigger.LARGE)
_EAGER_GAP = int(Trigger.EAGER_GAP)
_ODD_VIA = int(Trigger.ODD_VIA)
_ODD_CSEQ = int(Trigger.ODD_CSEQ)
_ODD_MAX_FORWARDS = int(Trigger.ODD_MAX_FORWARDS)
_UNKNOWN_METHOD = int(Trigger.UNKNOWN_METHOD)
_UNKNOWN_HEADER = int(Trigger.UNKNOWN_HEADER)
_UNDERSCORE = int(Trigger.UNDERSCORE)
_PARAMETERS = int(Trigger.PARAMETERS)
_SEVERAL_VIAS = int(Trigger.SEVERAL_VIAS)
_SUBSCRIPTION_STATE = int(Trigger.SUBSCRIPTION_STATE)
_EVENT = int(Trigger.EVENT)
_EVENTS_METHOD = int(Trigger.EVENTS_METHOD)

_IANA = IANA_METHOD_SET
_KNOWN_KEYS = KNOWN_HEADER_KEYS
_EVENT_METHODS = frozenset(("SUBSCRIBE", "NOTIFY"))
# Max-Forwards values that need no closer look (0 does: HDR-8 checks that
# such a request was not forwarded).
_PLAIN_MAX_FORWARDS = frozenset(str(n) for n in range(1, 256))


def message_triggers(msg: SipMessage) -> int:
    """The :class:`Trigger` bits of ``msg``, as an int."""
    # Written for speed: the engine calls this once per message, and a
    # test that is false for clean traffic comes first in each condition.
    found = _DEFECTS if msg.defects else 0
    if msg.content_length is None:
        found |= _NO_CONTENT_LENGTH
    raw = msg.raw
    if len(raw) > UDP_REQUEST_LIMIT:
        found |= _LARGE
    if b"_" in raw:
        found |= _UNDERSCORE
    branch = msg.branch
    headers = msg.headers
    first = headers.first_values()
    if (
        branch is None
        or msg.from_tag is None
        or msg.cseq_num is None
        or msg.call_id is None
        or (msg.to_tag is None and "to" not in first)
    ):
        found |= _EAGER_GAP
    if msg.body and "content-type" not in first:
        found |= _UNTYPED_BODY
    if not _KNOWN_KEYS.issuperset(first):
        found |= _UNKNOWN_HEADER
    get = first.get
    if "subscription-state" in first:
        found |= _SUBSCRIPTION_STATE
    if "event" in first:
        found |= _EVENT
    to = get("to")
    if to is not None and to.count(";") > 1:
        found |= _PARAMETERS
    cseq_method = msg.cseq_method
    if type(msg) is SipRequest or isinstance(msg, SipRequest):
        method = msg.method
        if method not in _IANA:
            found |= _UNKNOWN_METHOD
        if method in _EVENT_METHODS or cseq_method in _EVENT_METHODS:
            found |= _EVENTS_METHOD
        if cseq_method != method or (msg.cseq_num or 0) >= CSEQ_LIMIT:
            found |= _ODD_CSEQ
        via = get("via")
        if via is not None:
            if (
                branch is None
                or not branch.startswith(MAGIC_COOKIE)
                or not via.lstrip(" \t").startswith("SIP/2.0/")
            ):
                found |= _ODD_VIA
            if via.count(";") > 1:
                found |= _PARAMETERS
        fro = get("from")
        if fro is not None and fro.count(";") > 1:
            found |= _PARAMETERS
        forwards = get("max-forwards")
        if (
            forwards is None
            or forwards not in _PLAIN_MAX_FORWARDS
            and forwards.strip() not in _PLAIN_MAX_FORWARDS
        ):
            found |= _ODD_MAX_FORWARDS
        return found
    if cseq_method in _EVENT_METHODS:
        found |= _EVENTS_METHOD
    if headers.repeats:
        found |= _SEVERAL_VIAS
    else:
        via = get("via")
        if via is not None and "," in via:
            found |= _SEVERAL_VIAS
    return found
