"""Offline SIP trace analyzer.

Read a capture and stream its SIP messages::

    import analyzer
    for msg in analyzer.read_messages("call.pcap"):
        print(msg.origin.frame, msg.call_id)

or get them as a pandas DataFrame::

    df = analyzer.messages_dataframe("call.pcap")
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .analysis import Analysis, analyze
    from .errors import CaptureError, DecodeError, Diagnostic, Level, SipParseError
    from .net.flow import Endpoint, Origin, Transport
    from .options import Options
    from .pipeline import MessageExtractor, MessageReader, read_messages
    from .sip.headers import Headers
    from .sip.message import Defect, SipMessage, SipRequest, SipResponse, parse_message

# Public names and the modules that define them.  They are imported on first
# use (PEP 562), so that ``sip-analyzer messages`` does not pay for the
# correlation and validation modules it never runs.
_EXPORTS = {
    "Analysis": ".analysis",
    "analyze": ".analysis",
    "CaptureError": ".errors",
    "DecodeError": ".errors",
    "Diagnostic": ".errors",
    "Level": ".errors",
    "SipParseError": ".errors",
    "Endpoint": ".net.flow",
    "Origin": ".net.flow",
    "Transport": ".net.flow",
    "Options": ".options",
    "MessageExtractor": ".pipeline",
    "MessageReader": ".pipeline",
    "read_messages": ".pipeline",
    "Headers": ".sip.headers",
    "Defect": ".sip.message",
    "SipMessage": ".sip.message",
    "SipRequest": ".sip.message",
    "SipResponse": ".sip.message",
    "parse_message": ".sip.message",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "CaptureError",
    "DecodeError",
    "Defect",
    "Diagnostic",
    "Endpoint",
    "Headers",
    "Level",
    "MessageExtractor",
    "MessageReader",
    "Options",
    "Origin",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "Transport",
    "analyze",
    "messages_dataframe",
    "parse_message",
    "read_messages",
]


def messages_dataframe(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The SIP messages of a capture as a DataFrame.

    Columns are ``analyzer.render.messages.MESSAGE_COLUMNS``, as in the CLI's outputs.
    """
    from .collector import gc_paused
    from .pipeline import read_messages
    from .render.frames import messages_frame

    with gc_paused():
        return messages_frame(read_messages(path))
