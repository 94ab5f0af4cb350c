"""``analyze(path)``: messages, correlation and their DataFrames in one object."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from .correlation import Correlation, correlate
from .errors import Diagnostic
from .pipeline import ExtractionStats, gc_paused, read_messages
from .sip.message import SipMessage

if TYPE_CHECKING:
    import pandas as pd

    from .rules.base import Finding, Options

PathLike = str | os.PathLike[str]


class Analysis:
    """The result of :func:`analyze`.

    Records: ``sip_messages`` (the parsed messages; the message index used by
    every table is the position in this list), ``correlation`` (transactions,
    dialogs, calls, subscriptions, reginfo documents, registrations),
    ``diagnostic_records`` and ``stats``.

    DataFrames (built on first access): ``messages``, ``transactions``,
    ``dialogs``, ``calls``, ``subscriptions``, ``notifications``,
    ``reginfo``, ``registrations``, ``findings``, ``diagnostics``.
    :meth:`check` runs the validation rules with other options.  ``messages`` carries
    ``transaction_id``, ``dialog_id``, ``call`` and ``subscription_id`` so it
    joins onto the others by those keys.
    """

    def __init__(
        self,
        sip_messages: list[SipMessage],
        correlation: Correlation,
        diagnostic_records: list[Diagnostic],
        stats: list[ExtractionStats],
        sources: list[str],
        message_sources: list[int] | None = None,
    ) -> None:
        self.sip_messages = sip_messages
        self.correlation = correlation
        self.diagnostic_records = diagnostic_records
        self.stats = stats
        self.sources = sources
        # For several captures: the index in ``sources`` of each message's file
        # (frame numbers are per file).  None for a single capture.
        self.message_sources = message_sources

    def __repr__(self) -> str:
        c = self.correlation
        return (
            f"<Analysis of {', '.join(self.sources)}: {len(self.sip_messages)} messages, "
            f"{len(c.transactions)} transactions, {len(c.dialogs)} dialogs, "
            f"{len(c.subscriptions)} subscriptions, {len(c.registrations)} registrations, "
            f"{len(self.diagnostic_records)} diagnostics>"
        )

    def message(self, index: int) -> str:
        """The raw text of message ``index`` (undecodable bytes shown as ``\\xNN``)."""
        return self.sip_messages[index].raw.decode("utf-8", "backslashreplace")

    # -- DataFrames ---------------------------------------------------------

    @cached_property
    def messages(self) -> pd.DataFrame:
        from .render.frames import messages_frame
        from .render.tables import message_links_frame

        df = messages_frame(self.sip_messages)
        if self.message_sources is not None:
            df.insert(0, "capture", [self.sources[i] for i in self.message_sources])
        return df.join(message_links_frame(self.correlation))

    @cached_property
    def transactions(self) -> pd.DataFrame:
        from .render.tables import transactions_frame

        return transactions_frame(self.correlation, self.sip_messages)

    @cached_property
    def dialogs(self) -> pd.DataFrame:
        from .render.tables import dialogs_frame

        return dialogs_frame(self.correlation)

    @cached_property
    def calls(self) -> pd.DataFrame:
        from .render.tables import calls_frame

        return calls_frame(self.correlation)

    @cached_property
    def subscriptions(self) -> pd.DataFrame:
        from .render.tables import subscriptions_frame

        return subscriptions_frame(self.correlation)

    @cached_property
    def notifications(self) -> pd.DataFrame:
        from .render.tables import notifications_frame

        return notifications_frame(self.correlation)

    @cached_property
    def reginfo(self) -> pd.DataFrame:
        from .render.tables import reginfo_frame

        return reginfo_frame(self.correlation)

    @cached_property
    def registrations(self) -> pd.DataFrame:
        from .render.tables import registrations_frame

        return registrations_frame(self.correlation)

    # -- validation ---------------------------------------------------------

    def check(self, options: Options | None = None) -> list[Finding]:
        """Run the validation rules with ``options`` (default: every rule, RFC 6665 profile)."""
        from .rules import run_rules

        return run_rules(self, options)

    @cached_property
    def findings(self) -> pd.DataFrame:
        """The findings of every rule with default options, one row each."""
        from .render.findings import findings_frame

        return findings_frame(self.check())

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {"level": d.level.value, "layer": d.layer, "frames": list(d.frames), "reason": d.reason}
            for d in self.diagnostic_records
        ]
        df = pd.DataFrame.from_records(rows, columns=["level", "layer", "frames", "reason"])
        return df.astype({"level": "category", "layer": "category", "reason": "string"})


def _tagged(source: int, messages: Iterable[SipMessage]) -> Iterator[tuple[int, int, SipMessage]]:
    for m in messages:
        yield m.origin.ts_ns, source, m


def analyze(source: PathLike | Sequence[PathLike]) -> Analysis:
    """Read one capture, or several merged in time order (rotated captures), and correlate.

    Raises :class:`~analyzer.errors.CaptureError` when a file is not a usable capture.
    """
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not paths:
        raise ValueError("analyze() needs at least one capture")
    readers = [read_messages(p) for p in paths]
    with gc_paused():
        if len(readers) == 1:
            messages = list(readers[0])
            origins: list[int] | None = None
        else:
            # Messages of each file are in completion order, which is time
            # order up to capture-clock jitter; merge the files by time.
            tagged = heapq.merge(
                *(_tagged(i, r) for i, r in enumerate(readers)),
                key=lambda t: (t[0], t[1]),
            )
            messages, origins = [], []
            for _, i, m in tagged:
                messages.append(m)
                origins.append(i)
        correlation = correlate(messages)
    diagnostics = [d for r in readers for d in r.diagnostics]
    return Analysis(
        messages,
        correlation,
        diagnostics,
        [r.stats for r in readers],
        [os.fspath(p) for p in paths],
        origins,
    )
