"""Relations between SIP messages: transactions, dialogs, calls, subscriptions,
registration state documents and registrations.

Pure functions over parsed messages.  :func:`correlate` takes the messages of
a capture (or of several captures merged in time order) and returns a
:class:`Correlation`; :func:`group_by_call_id`, :func:`correlate_group` and
:func:`merge` are the same work split so that Call-ID groups can be
correlated independently (in other processes) and combined.
"""

from __future__ import annotations

from .correlate import (
    Correlation,
    GroupCorrelation,
    Note,
    correlate,
    correlate_group,
    correlate_groups,
    group_by_call_id,
    merge,
)
from .dialogs import Call, CallOutcome, Dialog, DialogState, DialogStateChange, Exchange, Party
from .reginfo import (
    MAX_REGINFO_BYTES,
    AorSnapshot,
    ParsedReginfo,
    ReginfoAor,
    ReginfoContact,
    ReginfoDocument,
    ReginfoError,
    ReginfoRegistration,
    parse_reginfo,
)
from .registrations import (
    Binding,
    BindingEvent,
    GrantedBinding,
    RegisterAttempt,
    RegisterOutcome,
    Registration,
    RequestedBinding,
    canonical_aor,
)
from .subscriptions import (
    Notification,
    SubscribeKind,
    SubscribeRequest,
    Subscription,
    SubscriptionEvent,
    SubState,
)
from .transactions import (
    MAGIC_COOKIE,
    MessageLookup,
    Transaction,
    TxnResponse,
    message_sent_by,
    sent_by,
)

__all__ = [
    "MAGIC_COOKIE",
    "MAX_REGINFO_BYTES",
    "AorSnapshot",
    "Binding",
    "BindingEvent",
    "Call",
    "CallOutcome",
    "Correlation",
    "Dialog",
    "DialogState",
    "DialogStateChange",
    "Exchange",
    "GrantedBinding",
    "GroupCorrelation",
    "MessageLookup",
    "Note",
    "Notification",
    "ParsedReginfo",
    "Party",
    "ReginfoAor",
    "ReginfoContact",
    "ReginfoDocument",
    "ReginfoError",
    "ReginfoRegistration",
    "RegisterAttempt",
    "RegisterOutcome",
    "Registration",
    "RequestedBinding",
    "SubState",
    "SubscribeKind",
    "SubscribeRequest",
    "Subscription",
    "SubscriptionEvent",
    "Transaction",
    "TxnResponse",
    "canonical_aor",
    "correlate",
    "correlate_group",
    "correlate_groups",
    "group_by_call_id",
    "merge",
    "message_sent_by",
    "parse_reginfo",
    "sent_by",
]
