"""``analyze(path)``: messages, correlation and their DataFrames in one object."""

from __future__ import annotations

import gc
import heapq
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias

from .collector import gc_paused
from .correlation import Correlation, correlate
from .errors import Diagnostic
from .pipeline import ExtractionStats, MessageReader, read_messages
from .sip.message import SipMessage

if TYPE_CHECKING:
    from datetime import datetime

    import matplotlib.figure
    import pandas as pd

    from .ladder import Ladder
    from .options import Options
    from .rules.base import Finding

PathLike = str | os.PathLike[str]

TimeLike: TypeAlias = "int | str | datetime | pd.Timestamp"
"""A time bound: nanoseconds since the epoch, a datetime / Timestamp (naive
means UTC), or text as the ``ladder`` command takes it."""

#: Findings listed by :meth:`Analysis._repr_html_`, worst first.
SUMMARY_FINDINGS = 8


def _time_ns(value: Any, first_ns: int | None) -> int:
    from datetime import UTC, datetime

    from .ladder import parse_time

    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_time(value, capture_start_ns=first_ns)
    if isinstance(value, datetime):
        import pandas as pd

        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize(UTC)
        return int(stamp.value)
    raise ValueError(f"not a time: {value!r}")


def summary_html(analysis: Analysis) -> str:
    """The HTML an Analysis shows in a notebook: what was read, counts, worst findings."""
    from html import escape

    from .render.findings import severity_text

    c = analysis.correlation
    findings = analysis.finding_records
    counts = [
        ("SIP messages", len(analysis.sip_messages)),
        ("transactions", len(c.transactions)),
        ("dialogs", len(c.dialogs)),
        ("calls", len(c.calls)),
        ("subscriptions", len(c.subscriptions)),
        ("registrations", len(c.registrations)),
        ("diagnostics", len(analysis.diagnostic_records)),
    ]
    sev = severity_text(findings)
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in counts)
    rows += f"<tr><th>findings</th><td>{len(findings)} ({escape(sev)})</td></tr>"
    worst = sorted(findings, key=lambda f: (-f.severity.rank, f.first_frame))[:SUMMARY_FINDINGS]
    items = "".join(
        f"<tr><td>{escape(f.severity.value)}</td><td>{escape(f.rule)}</td>"
        f"<td>{escape(', '.join(map(str, f.frames[:6])))}</td><td>{escape(f.message)}</td></tr>"
        for f in worst
    )
    more = len(findings) - len(worst)
    table = (
        "<table><tr><th>severity</th><th>rule</th><th>frames</th><th>finding</th></tr>"
        f"{items}</table>"
        + (f"<p>… and {more} more in <code>.findings</code></p>" if more > 0 else "")
        if worst
        else "<p>No findings.</p>"
    )
    names = ", ".join(os.path.basename(p) for p in analysis.sources)
    return (
        f'<div class="sip-analysis"><p><b>Analysis of {escape(names)}</b></p>'
        f"<table>{rows}</table>{table}</div>"
    )


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

    The DataFrames and the rules (in :func:`~analyzer.rules.run_rules`) run
    with the cyclic garbage collector paused, as :func:`analyze` does: what
    they build forms no reference cycles, and on a large capture the
    collector's passes over it took as long as building it (the
    ``transactions`` frame of 88,388 rows: 2.4-2.9 s with it, 1.7-1.8 s
    without; the rules: 5.2-6.1 s against 4.4-4.6 s).
    """

    def __init__(
        self,
        sip_messages: list[SipMessage],
        correlation: Correlation,
        diagnostic_records: list[Diagnostic],
        stats: list[ExtractionStats],
        sources: list[str],
        message_sources: list[int] | None = None,
        options: Options | None = None,
    ) -> None:
        from .options import Options as _Options

        self.sip_messages = sip_messages
        self.correlation = correlation
        self.diagnostic_records = diagnostic_records
        self.stats = stats
        self.sources = sources
        # For several captures: the index in ``sources`` of each message's file
        # (frame numbers are per file).  None for a single capture.
        self.message_sources = message_sources
        self.options: Options = options if options is not None else _Options()
        """The options given to :func:`analyze`: rule selection, profile, limits, aliases."""

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
    @gc_paused()
    def messages(self) -> pd.DataFrame:
        """One row per SIP message (index ``message``), with its transaction, dialog,
        call and subscription ids; columns in docs/api.md."""
        from .render.frames import messages_frame
        from .render.tables import message_links_frame

        df = messages_frame(self.sip_messages)
        if self.message_sources is not None:
            df.insert(0, "capture", [self.sources[i] for i in self.message_sources])
        return df.join(message_links_frame(self.correlation))

    @cached_property
    @gc_paused()
    def transactions(self) -> pd.DataFrame:
        """One row per transaction (index ``transaction_id``); columns in docs/api.md."""
        from .render.tables import transactions_frame

        return transactions_frame(self.correlation, self.sip_messages)

    @cached_property
    @gc_paused()
    def dialogs(self) -> pd.DataFrame:
        """One row per dialog (index ``dialog_id``); columns in docs/api.md."""
        from .render.tables import dialogs_frame

        return dialogs_frame(self.correlation)

    @cached_property
    @gc_paused()
    def calls(self) -> pd.DataFrame:
        """One row per INVITE call (index ``call``): outcome, timings, who hung up."""
        from .render.tables import calls_frame

        return calls_frame(self.correlation)

    @cached_property
    @gc_paused()
    def subscriptions(self) -> pd.DataFrame:
        """One row per subscription (index ``subscription_id``); columns in docs/api.md."""
        from .render.tables import subscriptions_frame

        return subscriptions_frame(self.correlation)

    @cached_property
    @gc_paused()
    def notifications(self) -> pd.DataFrame:
        """One row per NOTIFY (index ``message``) with its Subscription-State."""
        from .render.tables import notifications_frame

        return notifications_frame(self.correlation)

    @cached_property
    @gc_paused()
    def reginfo(self) -> pd.DataFrame:
        """One row per reginfo document (index ``document``: its NOTIFY)."""
        from .render.tables import reginfo_frame

        return reginfo_frame(self.correlation)

    @cached_property
    @gc_paused()
    def registrations(self) -> pd.DataFrame:
        """One row per address of record (index ``registration``)."""
        from .render.tables import registrations_frame

        return registrations_frame(self.correlation)

    # -- validation ---------------------------------------------------------

    def check(
        self, options: Options | None = None, *, processes: int = 1, **keywords: Any
    ) -> list[Finding]:
        """Run the validation rules and return their findings in frame order.

        With no arguments the rules run with :attr:`options` (the result is
        kept: asking again costs nothing); ``options`` replaces them, and
        keywords naming :class:`~analyzer.options.Options` fields override
        single ones (``check(select="SUB-*")``).  ``processes=2`` shares the
        rules with a forked process (:func:`~analyzer.parallel.run_rules_forked`):
        the same findings, sooner on a large capture when a second CPU is
        free, for up to the analysis's memory again while they run.
        """
        from .options import Options as _Options
        from .rules import run_rules

        run = run_rules
        if processes > 1:
            # Only then: the process machinery is not needed to check in one.
            from .parallel import run_rules_forked

            run = run_rules_forked
        if options is None and not keywords:
            if "finding_records" not in self.__dict__:
                self.__dict__["finding_records"] = self._by_file(run(self, self.options))
            return list(self.finding_records)
        opts = _Options.from_keywords(options or self.options, **keywords)
        return self._by_file(run(self, opts))

    @cached_property
    def finding_records(self) -> list[Finding]:
        """The findings of the rules with :attr:`options`, as records.

        In frame order; with several captures, file by file (frame numbers
        restart in each file).
        """
        from .rules import run_rules

        return self._by_file(run_rules(self, self.options))

    def _by_file(self, findings: list[Finding]) -> list[Finding]:
        sources = self.message_sources
        if sources is None:
            return findings
        # Stable: frame order is kept within each file.
        return sorted(findings, key=lambda f: min((sources[i] for i in f.messages), default=0))

    @cached_property
    @gc_paused()
    def findings(self) -> pd.DataFrame:
        """The findings of the rules with :attr:`options`, one row each.

        With several captures a first column ``capture`` names the file the
        frame numbers of each finding belong to (see :meth:`finding_capture`).
        """
        from .render.findings import findings_frame

        df = findings_frame(self.finding_records)
        if self.message_sources is not None:
            df.insert(0, "capture", [self.finding_capture(f) for f in self.finding_records])
        return df

    def finding_capture(self, finding: Finding) -> str:
        """The capture file a finding's frame numbers belong to ("" for a single capture).

        Frame numbers restart in every file of a rotated capture.  A finding
        whose messages come from several files (a transaction that spans a
        rotation) names them all, comma-separated, in the order of the files.
        """
        if self.message_sources is None:
            return ""
        files = sorted({self.message_sources[i] for i in finding.messages})
        return ", ".join(self.sources[k] for k in files)

    # -- ladders and reports ---------------------------------------------

    def ladder_model(
        self,
        call_ids: str | Sequence[str] | None = None,
        *,
        dialog: int | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        filters: str | Sequence[str] = (),
        related: bool = False,
        max_arrows: int | None = None,
    ) -> Ladder:
        """The ladder (call flow) of the selected messages, as plain data.

        ``call_ids``: one Call-ID or several; ``dialog``: a dialog id as the
        ``dialogs`` table shows it; neither means every message.
        ``related`` adds the legs related to the selection (B2BUA legs, the
        same transaction at another hop).  ``start`` / ``end`` bound the time
        (a pandas Timestamp or datetime, nanoseconds since the epoch, or a
        string as the ``ladder`` command takes it: ISO 8601, epoch seconds or
        ``+SECONDS`` from the first message).  ``filters`` are ``messages
        --filter`` expressions.  Columns follow :attr:`options` (``aliases``,
        ``per_host``); finding marks come from :attr:`finding_records`.

        Raises:
            analyzer.ladder.EmptySelectionError: nothing matches.
            ValueError: an unreadable time, filter or alias.
        """
        from .ladder import MAX_LADDER_ARROWS, build_ladder

        ids = [call_ids] if isinstance(call_ids, str) else call_ids
        first = self.sip_messages[0].origin.ts_ns if self.sip_messages else None
        return build_ladder(
            self,
            call_ids=ids,
            dialog=dialog,
            start_ns=None if start is None else _time_ns(start, first),
            end_ns=None if end is None else _time_ns(end, first),
            filters=[filters] if isinstance(filters, str) else filters,
            aliases=self.options.alias_map,
            per_host=self.options.per_host,
            related=related,
            findings=self.finding_records,
            max_arrows=MAX_LADDER_ARROWS if max_arrows is None else max_arrows,
        )

    def ladder(
        self, call_ids: str | Sequence[str] | None = None, **selection: Any
    ) -> matplotlib.figure.Figure:
        """The ladder of the selected messages as a matplotlib Figure.

        Takes the selection of :meth:`ladder_model`; save it with
        ``fig.savefig("flow.png")`` or let the notebook show it.
        """
        from .ladder import ladder_figure

        return ladder_figure(self.ladder_model(call_ids, **selection))

    @gc_paused()
    def ladder_html(self, call_ids: str | Sequence[str] | None = None, **selection: Any) -> str:
        """The ladder of the selected messages as one self-contained HTML page.

        Clicking an arrow shows the full message with the header lines its
        findings point at highlighted.  Takes the selection of
        :meth:`ladder_model`.
        """
        from .ladder import render_html

        return render_html(self.ladder_model(call_ids, **selection), self)

    @gc_paused()
    def report(
        self, path: str | os.PathLike[str] | None = None, *, format: str | None = None
    ) -> dict[str, Any]:
        """The report of this analysis; written to ``path`` when one is given.

        Returns the report as plain data (``schema_version``, summary,
        findings by rule, calls, dialogs, subscriptions, registrations).
        ``path`` gets it as HTML (``.html``/``.htm``: ladders, plots,
        findings linked to arrows), JSON (``.json``) or Markdown (``.md``),
        by extension unless ``format`` (``html``, ``json``, ``md``) says.

        Raises:
            ValueError: a format that cannot be told or is not one of those.
        """
        from .report import build_report, render_html, render_json, render_markdown

        doc = build_report(self, findings=self.finding_records)
        if path is None:
            return doc
        fmt = (format or os.path.splitext(os.fspath(path))[1].lstrip(".")).lower()
        if fmt in ("html", "htm"):
            text = render_html(doc, self, findings=self.finding_records)
        elif fmt == "json":
            text = render_json(doc)
        elif fmt in ("md", "markdown"):
            text = render_markdown(doc)
        else:
            raise ValueError(
                f"cannot tell the report format of {os.fspath(path)!r}: "
                "use .html, .json or .md, or format="
            )
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return doc

    def _repr_html_(self) -> str:
        """A short summary for notebooks: counts and the worst findings, all escaped."""
        return summary_html(self)

    @cached_property
    @gc_paused()
    def diagnostics(self) -> pd.DataFrame:
        """What could not be decoded: level, layer, frames and reason, one row each."""
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


#: From this many messages on, :func:`analyze` moves everything alive out of
#: the cyclic garbage collector's view when it is done (``gc.freeze()``): on a
#: ~1M-packet capture later collections would otherwise cost seconds each.
#: The price: reference cycles that already exist then are never collected.
GC_FREEZE_MESSAGES = 50_000

#: Messages read between two progress reports while reading a capture.
PROGRESS_EVERY = 8192

Progress = Callable[[str, int, int | None], None]
"""A progress callback: ``(phase, done, total)``.  Phases are ``"reading"``
(``done`` and ``total`` in bytes of the capture files; ``total`` None when a
file's size is unknown, e.g. a pipe) and ``"correlating"`` (``0`` then ``1``
of ``1``)."""


class _ReadProgress:
    def __init__(self, readers: Sequence[MessageReader], progress: Progress) -> None:
        self._readers = readers
        self._progress = progress
        sizes = [r.capture.file_size for r in readers]
        self.total: int | None = None if None in sizes else sum(s or 0 for s in sizes)

    def report(self) -> None:
        done = sum(r.capture.file_position() for r in self._readers)
        if self.total is not None:
            done = min(done, self.total)
        self._progress("reading", done, self.total)

    def wrap(self, messages: Iterable[SipMessage]) -> Iterator[SipMessage]:
        it = iter(messages)
        while True:
            chunk = list(itertools.islice(it, PROGRESS_EVERY))
            yield from chunk
            self.report()
            if len(chunk) < PROGRESS_EVERY:
                return


def analyze(
    source: PathLike | Sequence[PathLike],
    options: Options | None = None,
    *,
    progress: Progress | None = None,
    **keywords: Any,
) -> Analysis:
    """Read one capture, or several merged in time order (rotated captures), and correlate.

    ``options`` (an :class:`~analyzer.options.Options`) or keyword arguments
    naming its fields (``select=("SUB-*",)``, ``events_rfc="3265"``,
    ``aliases={"10.0.0.1": "proxy"}`` ...) set what :attr:`Analysis.findings`,
    :meth:`Analysis.check` and the ladders use; keywords override fields of
    ``options``.  ``progress`` is called as work advances (see
    :data:`Progress`).

    Raises:
        CaptureError: a file is not a usable capture.
        TypeError: a keyword that is not an option.
        ValueError: an option value out of range, or no capture given.
    """
    from .options import Options as _Options

    opts = _Options.from_keywords(options, **keywords) if keywords else options or _Options()
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not paths:
        raise ValueError("analyze() needs at least one capture")
    readers = [read_messages(p) for p in paths]
    tracker = _ReadProgress(readers, progress) if progress is not None else None
    with gc_paused():
        if len(readers) == 1:
            messages = list(tracker.wrap(readers[0]) if tracker else readers[0])
            origins: list[int] | None = None
        else:
            # Messages of each file are in completion order, which is time
            # order up to capture-clock jitter; merge the files by time.
            tagged: Iterable[tuple[int, int, SipMessage]] = heapq.merge(
                *(_tagged(i, r) for i, r in enumerate(readers)),
                key=lambda t: (t[0], t[1]),
            )
            if tracker is not None:
                tagged = _wrap_tagged(tracker, tagged)
            messages, origins = [], []
            for _, i, m in tagged:
                messages.append(m)
                origins.append(i)
        if progress is not None:
            progress("correlating", 0, 1)
        correlation = correlate(messages)
        if len(messages) >= GC_FREEZE_MESSAGES:
            # The records live as long as the analysis is used: move them out
            # of the cyclic collector's view, so that the collections the
            # caller's next allocations trigger (DataFrames, findings) do not
            # walk them again and again.  Reference counting still frees them.
            gc.freeze()
        if progress is not None:
            progress("correlating", 1, 1)
    diagnostics = [d for r in readers for d in r.diagnostics]
    return Analysis(
        messages,
        correlation,
        diagnostics,
        [r.stats for r in readers],
        [os.fspath(p) for p in paths],
        origins,
        opts,
    )


def _wrap_tagged(
    tracker: _ReadProgress, tagged: Iterable[tuple[int, int, SipMessage]]
) -> Iterator[tuple[int, int, SipMessage]]:
    for n, item in enumerate(tagged, 1):
        if n % PROGRESS_EVERY == 0:
            tracker.report()
        yield item
    tracker.report()
