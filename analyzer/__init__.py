"""Offline SIP trace analyzer.

Read a capture and stream its SIP messages::

    import analyzer
    for msg in analyzer.read_messages("call.pcap"):
        print(msg.origin.frame, msg.call_id)

or get them as a pandas DataFrame::

    df = analyzer.messages_dataframe("call.pcap")
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .analysis import Analysis, analyze
from .errors import CaptureError, DecodeError, Diagnostic, Level, SipParseError
from .net.flow import Endpoint, Origin, Transport
from .pipeline import MessageExtractor, MessageReader, read_messages
from .sip.headers import Headers
from .sip.message import Defect, SipMessage, SipRequest, SipResponse, parse_message

if TYPE_CHECKING:
    import pandas as pd

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
    from .render.frames import messages_frame

    return messages_frame(read_messages(path))
