"""Command line: ``sip-analyzer`` / ``python -m analyzer``.

The only module that reads argv, prints, writes files and chooses exit
statuses: 0 done (for ``check``: nothing at or above the threshold), 1 findings
at or above the threshold, 2 unusable input or bad usage, 3 a worker process
of a ``--jobs`` run failed.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .collector import gc_paused
from .errors import CaptureError, Diagnostic
from .pipeline import read_messages
from .render.messages import (
    csv_header,
    csv_line,
    filtered_rows,
    jsonl_line,
    jsonl_message,
    message_row,
    parse_filter,
    table_header,
    table_line,
)
from .sip.message import SipMessage

if TYPE_CHECKING:
    from .options import Options

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNUSABLE = 2

# Diagnostics go to stderr after the output; a capture full of damage could
# produce thousands, so only this many are listed, followed by a count.
MAX_DIAGNOSTICS_SHOWN = 20

# Output lines are written in batches: one write per line costs more than the
# formatting on captures with hundreds of thousands of messages.
_WRITE_BATCH = 2048


class UsageError(Exception):
    """Bad arguments found after argparse (e.g. an unreadable filter)."""


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sip-analyzer",
        description="Offline SIP trace analyzer: read pcap/pcapng captures, "
        "list SIP messages, and check them against the RFCs.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    m = sub.add_parser(
        "messages",
        help="one row per SIP message",
        description="List every SIP message in CAPTURE (pcap, pcapng, optionally gzip).",
    )
    m.add_argument("capture", metavar="CAPTURE")
    m.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    m.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="EXPR",
        help="keep rows where FIELD=GLOB, FIELD!=GLOB, FIELD~REGEX or a numeric "
        "comparison (frame, status, body_len, ts_ns with < <= > >=); repeat to AND them, "
        "e.g. --filter method=INVITE --filter 'status>=400'",
    )
    m.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    _add_quiet(m)
    m.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help="worker processes for CSV and JSON lines output (default: one per CPU, "
        f"at most {MAX_DEFAULT_JOBS}, for captures of {PARALLEL_MIN_BYTES >> 20} MiB or "
        "more); the output is the same for any N; the table format always uses one",
    )
    m.set_defaults(func=_cmd_messages)

    for name, help_text in _TABLES.items():
        t = sub.add_parser(
            name, help=help_text, description=f"{help_text.capitalize()} in CAPTURE."
        )
        _add_captures(t)
        t.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
        t.add_argument(
            "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
        )
        _add_quiet(t)
        t.set_defaults(func=_cmd_table, table=name)
    _add_check_parsers(sub)
    _add_report_parser(sub)
    _add_ladder_parser(sub)
    return p


def _add_check_parsers(sub: Any) -> None:
    """The ``check`` and ``rules`` subcommands."""
    c = sub.add_parser(
        "check",
        help="check the SIP messages against the RFC rules",
        description="Validate the SIP messages of CAPTURE against the rule catalogue. "
        "Exit status: 0 when no finding is at or above --fail-on, 1 when one is, "
        "2 for unusable input or bad usage.",
    )
    _add_captures(c)
    c.add_argument("--format", choices=("text", "json", "junit"), default="text")
    c.add_argument(
        "--fail-on",
        choices=("error", "warning", "info"),
        default="error",
        help="lowest severity that makes the exit status 1 (default: error)",
    )
    _add_rule_options(c)
    c.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    _add_quiet(c)
    _add_rule_jobs(c)
    c.set_defaults(func=_cmd_check)

    r = sub.add_parser(
        "rules",
        help="list the validation rules",
        description="List the rule catalogue: ID, severity, RFC reference and summary.",
    )
    r.add_argument("--format", choices=("text", "json"), default="text")
    r.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    r.set_defaults(func=_cmd_rules)


def _add_report_parser(sub: Any) -> None:
    """The ``report`` subcommand."""
    r = sub.add_parser(
        "report",
        help="write a report: summary, findings, calls, timelines, ladders, plots",
        description="Analyze CAPTURE and write a report: HTML (one self-contained page with "
        "ladders and plots), JSON or Markdown (for tickets). The format follows the extension "
        "of -o (.html, .json, .md); without -o, Markdown goes to standard output.",
    )
    _add_captures(r)
    r.add_argument("-o", "--output", metavar="FILE", help="write to FILE (.html, .json or .md)")
    r.add_argument(
        "--format",
        choices=("html", "json", "markdown", "md"),
        help="output format, instead of the one the extension of -o implies",
    )
    _add_rule_options(r)
    _add_view_options(r)
    _add_quiet(r)
    _add_rule_jobs(r)
    r.set_defaults(func=_cmd_report)


#: Report formats by output file extension.
_REPORT_EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
}


def _cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .analysis import analyze
    from .progress import ProgressLine
    from .report import build_report, render_html, render_json, render_markdown

    fmt = "markdown" if args.format == "md" else args.format
    if fmt is None:
        if args.output:
            ext = os.path.splitext(args.output)[1].lower()
            fmt = _REPORT_EXTENSIONS.get(ext)
            if fmt is None:
                raise UsageError(
                    f"cannot tell the report format from {args.output!r}: name it .html, "
                    ".json or .md, or give --format"
                )
        else:
            fmt = "markdown"
    options = _options(args)
    with ProgressLine(err) as progress:
        analysis = analyze(args.capture, options, progress=progress)
        progress.phase("checking")
        findings = analysis.check(processes=_rule_processes(args))
        report = build_report(analysis, findings=findings)
        progress.phase("rendering")
        if fmt == "html":
            text = render_html(report, analysis, findings=findings)
        elif fmt == "json":
            text = render_json(report)
        else:
            text = render_markdown(report)
    _emit(args, out, iter((text,)))
    if not args.quiet:
        _print_diagnostics(analysis.diagnostic_records, err)
    return EXIT_OK


def _add_captures(p: argparse.ArgumentParser) -> None:
    """The CAPTURE arguments of the commands that analyze: one file or rotated parts."""
    p.add_argument(
        "capture",
        metavar="CAPTURE",
        nargs="+",
        help="one capture, or several rotated captures merged in time order",
    )


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="do not list diagnostics on stderr")


def _add_rule_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help="processes for the validation rules: 1, or 2 to share them with a forked "
        f"process (default: 2 for captures of {PARALLEL_MIN_BYTES >> 20} MiB or more on a "
        "machine with two CPUs or more and the memory for a second copy of the analysis); "
        "the findings are the same for any N",
    )


def _rule_processes(args: argparse.Namespace) -> int:
    """The processes the validation rules run in (see --jobs of check and report).

    Asked once the analysis is built, so that the memory it takes is known.
    """
    if args.jobs is not None:
        jobs: int = args.jobs
        return jobs
    try:
        small = sum(os.path.getsize(c) for c in args.capture) < PARALLEL_MIN_BYTES
    except OSError:
        small = True  # the capture reader has said what is wrong with it
    if small or (os.cpu_count() or 1) < 2:
        return 1
    from .parallel import room_to_fork

    return 2 if room_to_fork() else 1


def _add_rule_options(p: argparse.ArgumentParser) -> None:
    """The flags that choose and tune the validation rules (Options fields)."""
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="GLOBS",
        help="run only rules matching these ID globs (comma-separated, repeatable), "
        "e.g. --select 'HDR-*,CSEQ-*'",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="GLOBS",
        help="skip rules matching these ID globs (comma-separated, repeatable)",
    )
    p.add_argument(
        "--events-rfc",
        choices=("6665", "3265"),
        default="6665",
        help="SUBSCRIBE/NOTIFY rules per RFC 6665 (default) or the older RFC 3265, "
        "which reports what RFC 6665 made stricter as warnings",
    )
    p.add_argument(
        "--message-body-limit",
        type=_non_negative_int,
        metavar="BYTES",
        help="MESSAGE body size above which MSG-14 reports (default 1300)",
    )


def _add_view_options(p: argparse.ArgumentParser) -> None:
    """The flags that name ladder columns (Options fields)."""
    p.add_argument(
        "--alias",
        action="append",
        default=[],
        metavar="HOST[:PORT]=NAME",
        help="name a ladder column: HOST for every port of that address, HOST:PORT for one "
        "endpoint ([v6]:port); endpoints with the same name share a column (repeatable)",
    )
    p.add_argument(
        "--per-host", action="store_true", help="one ladder column per address, not address:port"
    )


def _options(args: argparse.Namespace) -> Options:
    """The one Options object the flags of a command describe.

    Raises:
        UsageError: a rule glob that matches no rule, or an unreadable alias.
    """
    from .ladder import parse_aliases
    from .options import Options
    from .rules import patterns_without_rules

    select = _globs(getattr(args, "select", ())) or ("*",)
    ignore = _globs(getattr(args, "ignore", ()))
    unknown = patterns_without_rules(select + ignore)
    if unknown:
        raise UsageError(
            f"no rule matches {', '.join(map(repr, unknown))} (see 'sip-analyzer rules')"
        )
    extra: dict[str, Any] = {}
    if getattr(args, "message_body_limit", None) is not None:
        extra["message_body_limit"] = args.message_body_limit
    try:
        aliases = parse_aliases(getattr(args, "alias", ()))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Options(
        select=select,
        ignore=ignore,
        events_rfc=getattr(args, "events_rfc", "6665"),
        aliases=tuple(aliases.items()),
        per_host=getattr(args, "per_host", False),
        **extra,
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value}")
    return value


#: Record tables the CLI can print, each an attribute of :class:`~analyzer.analysis.Analysis`.
_TABLES = {
    "transactions": "one row per transaction (RFC 3261 §17)",
    "dialogs": "one row per dialog",
    "calls": "one row per call: outcome, setup and answer times, duration",
    "subscriptions": "one row per subscription (RFC 6665)",
    "registrations": "one row per registered address of record",
}


def _print_diagnostics(diags: Sequence[Diagnostic], err: TextIO) -> None:
    for d in diags[:MAX_DIAGNOSTICS_SHOWN]:
        print(f"sip-analyzer: {d}", file=err)
    if len(diags) > MAX_DIAGNOSTICS_SHOWN:
        print(
            f"sip-analyzer: ... and {len(diags) - MAX_DIAGNOSTICS_SHOWN} more diagnostics",
            file=err,
        )


def _write_lines(out: TextIO, lines: Iterator[str]) -> None:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= _WRITE_BATCH:
            out.write("".join(batch))
            batch.clear()
    if batch:
        out.write("".join(batch))


# The default of --jobs: one worker per CPU, up to this many.  Every worker
# reads and decodes the whole capture (about a third of a single process's
# time), so beyond a few workers that repeated part dominates and more of them
# only add memory.
MAX_DEFAULT_JOBS = 8

# Captures smaller than this are read by one process unless --jobs says
# otherwise: they take a few tenths of a second at most, and starting and
# feeding workers would cost about as much as it saves.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024

# Exit status when a worker process of a --jobs run failed (its own error
# output says why): the output is incomplete.
EXIT_WORKER_FAILED = 3


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _default_jobs(capture: str) -> int:
    try:
        small = os.path.getsize(capture) < PARALLEL_MIN_BYTES
    except OSError:
        small = True  # the capture reader says what is wrong with it
    return 1 if small else min(os.cpu_count() or 1, MAX_DEFAULT_JOBS)


def _cmd_messages(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        filters = [parse_filter(e) for e in args.filter]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    fmt = args.format
    jobs = args.jobs if args.jobs is not None else _default_jobs(args.capture)
    # Message records form no reference cycles: the cyclic collector would
    # only walk them, over and over.
    with gc_paused():
        if jobs > 1 and fmt != "table":
            return _messages_parallel(args, out, err, filters, jobs)
        reader = read_messages(args.capture)
        rows = filtered_rows(reader, filters)

        def lines() -> Iterator[str]:
            if fmt == "jsonl":
                if filters:
                    for row in rows:
                        yield jsonl_line(row) + "\n"
                else:
                    for msg in reader:
                        yield jsonl_message(msg, "\n")
            elif fmt == "csv":
                yield csv_header()
                for row in rows:
                    yield csv_line(row)
            else:
                yield table_header()
                first: int | None = None
                for row in rows:
                    if first is None:
                        first = row["ts_ns"]
                    yield table_line(row, first)

        _emit(args, out, lines())
    if not args.quiet:
        _print_diagnostics(reader.diagnostics, err)
    return EXIT_OK


def _messages_parallel(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    filters: Sequence[Callable[[dict[str, Any]], bool]],
    jobs: int,
) -> int:
    """``messages`` in CSV or JSON lines with ``jobs`` worker processes (same output)."""
    from .parallel import ParallelMessages, WorkerError

    fmt = args.format
    format_message: Callable[[SipMessage], str | None]
    if fmt == "jsonl" and not filters:
        format_message = functools.partial(jsonl_message, end="\n")
    else:
        render = jsonl_line if fmt == "jsonl" else csv_line
        end = "\n" if fmt == "jsonl" else ""

        def format_message(msg: SipMessage) -> str | None:
            row = message_row(msg)
            return render(row) + end if all(f(row) for f in filters) else None

    with ParallelMessages(args.capture, jobs, format_message) as run:
        head = [csv_header()] if fmt == "csv" else []
        try:
            if args.output:
                with open(args.output, "w", encoding="utf-8", newline="") as f:
                    _write_pieces(f, itertools.chain(head, run))
            else:
                _write_pieces(out, itertools.chain(head, run))
        except WorkerError as exc:
            print(f"sip-analyzer: {exc}; the output is incomplete", file=err)
            return EXIT_WORKER_FAILED
    if not args.quiet:
        _print_diagnostics(run.diagnostics, err)
    return EXIT_OK


def _write_pieces(out: TextIO, pieces: Iterator[str]) -> None:
    # Unlike _write_lines: each piece is already many lines (all those that
    # became final at once), so it is written as it comes.
    for piece in pieces:
        out.write(piece)


def _cmd_table(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .analysis import analyze

    analysis = analyze(args.capture)
    df = getattr(analysis, args.table)
    lines = _frame_lines(df, args.format)
    _emit(args, out, lines)
    if not args.quiet:
        _print_diagnostics(analysis.diagnostic_records, err)
    return EXIT_OK


def _globs(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(g.strip() for v in values for g in v.split(",") if g.strip())


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .analysis import analyze
    from .render.findings import at_or_above, findings_dict, render_junit, render_text
    from .rules import Severity, select_rules

    options = _options(args)
    threshold = Severity.parse(args.fail_on)
    rules = select_rules(options)
    analysis = analyze(args.capture, options)
    findings = analysis.check(processes=_rule_processes(args))
    captures = analysis.sources
    located = (
        [analysis.finding_capture(f) for f in findings]
        if analysis.message_sources is not None
        else None
    )
    if args.format == "json":
        doc = findings_dict(findings, captures, len(rules), threshold, located)
        text = json.dumps(doc, indent=2) + "\n"
    elif args.format == "junit":
        text = render_junit(findings, rules, captures, threshold, located)
    else:
        text = render_text(findings, captures, len(rules), located)
    _emit(args, out, iter((text,)))
    if not args.quiet:
        _print_diagnostics(analysis.diagnostic_records, err)
    return EXIT_FINDINGS if at_or_above(findings, threshold) else EXIT_OK


def _cmd_rules(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .render.findings import render_rules_text, rules_list
    from .rules import RULES

    if args.format == "json":
        text = json.dumps(rules_list(RULES.values()), indent=2) + "\n"
    else:
        text = render_rules_text(RULES.values())
    _emit(args, out, iter((text,)))
    return EXIT_OK


#: Ladder formats by output file extension.
_LADDER_EXTENSIONS = {
    ".txt": "txt",
    ".mmd": "mmd",
    ".mermaid": "mmd",
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}


def _add_ladder_parser(sub: Any) -> None:
    """The ``ladder`` subcommand."""
    lp = sub.add_parser(
        "ladder",
        help="draw a ladder (call-flow) diagram",
        description="Draw the SIP messages of CAPTURE as a ladder diagram, with retransmissions "
        "and findings marked. The format follows the extension of -o (.svg, .png, .pdf, .html, "
        ".mmd for Mermaid, .txt); without -o, text goes to standard output.",
    )
    _add_captures(lp)
    lp.add_argument(
        "--call-id",
        dest="call_ids",
        action="append",
        default=[],
        metavar="ID",
        help="only messages with this Call-ID (repeatable)",
    )
    lp.add_argument(
        "--dialog",
        type=_non_negative_int,
        metavar="N",
        help="only the messages of dialog N (its id in 'sip-analyzer dialogs')",
    )
    lp.add_argument(
        "--start",
        metavar="TIME",
        help="only messages at or after TIME: ISO 8601 (UTC unless an offset is given), "
        "seconds since the epoch, or +SECONDS after the first message",
    )
    lp.add_argument("--end", metavar="TIME", help="only messages at or before TIME (as --start)")
    lp.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="EXPR",
        help="keep messages matching EXPR, as for 'messages --filter' (repeatable, all must match)",
    )
    _add_view_options(lp)
    _add_rule_options(lp)
    lp.add_argument(
        "--related",
        action="store_true",
        help="add related legs: the same transactions at other hops, and B2BUA legs "
        "(same Session-ID, X-Call-ID naming the Call-ID, or same From tag and CSeq)",
    )
    lp.add_argument(
        "--max-arrows",
        type=_non_negative_int,
        metavar="N",
        help="draw at most N messages (default 2000); the title says when some are left out",
    )
    lp.add_argument("-o", "--output", metavar="FILE", help="write to FILE")
    lp.add_argument(
        "--format",
        choices=("txt", "text", "mmd", "mermaid", "svg", "png", "pdf", "html"),
        help="output format, instead of the one the extension of -o implies",
    )
    _add_quiet(lp)
    _add_rule_jobs(lp)
    lp.set_defaults(func=_cmd_ladder)


def _cmd_ladder(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .analysis import analyze
    from .ladder import (
        MAX_LADDER_ARROWS,
        build_ladder,
        parse_time,
        render_html,
        render_mermaid,
        render_svg,
        render_text,
        save_ladder,
    )

    fmt = {"text": "txt", "mermaid": "mmd"}.get(args.format, args.format)
    if fmt is None and args.output:
        fmt = _LADDER_EXTENSIONS.get(os.path.splitext(args.output)[1].lower())
        if fmt is None:
            raise UsageError(
                f"cannot tell the format of {args.output!r}: use .svg, .png, .pdf, .html, .mmd "
                "or .txt, or --format"
            )
    fmt = fmt or "txt"
    if fmt in ("png", "pdf") and not args.output:
        raise UsageError(f"{fmt} output needs -o FILE")
    max_arrows = MAX_LADDER_ARROWS if args.max_arrows is None else args.max_arrows
    if max_arrows < 1:
        raise UsageError("--max-arrows must be at least 1")
    options = _options(args)
    try:
        for expr in args.filter:
            parse_filter(expr)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    progress = err.isatty()

    def say(text: str) -> None:
        if progress:
            print(f"sip-analyzer: {text}", file=err, flush=True)

    n = len(args.capture)
    say(f"reading {'the capture' if n == 1 else f'{n} captures'}...")
    analysis = analyze(args.capture, options)
    first = analysis.correlation.capture_start_ns
    try:
        start = None if args.start is None else parse_time(args.start, capture_start_ns=first)
        end = None if args.end is None else parse_time(args.end, capture_start_ns=first)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    say(f"checking {len(analysis.sip_messages)} messages against the rules...")
    findings = analysis.check(processes=_rule_processes(args))
    say("selecting the messages...")
    try:
        ladder = build_ladder(
            analysis,
            call_ids=args.call_ids or None,
            dialog=args.dialog,
            start_ns=start,
            end_ns=end,
            filters=args.filter,
            aliases=options.alias_map,
            per_host=options.per_host,
            related=args.related,
            findings=findings,
            max_arrows=max_arrows,
        )
    except ValueError as exc:  # EmptySelectionError included
        raise UsageError(str(exc)) from None
    say(f"drawing {len(ladder.arrows)} arrows as {fmt}...")
    if fmt in ("png", "pdf"):
        save_ladder(ladder, args.output, fmt)
    else:
        if fmt == "svg":
            text = render_svg(ladder)
        elif fmt == "html":
            text = render_html(ladder, analysis)
        elif fmt == "mmd":
            text = render_mermaid(ladder)
        else:
            text = render_text(ladder)
        _emit(args, out, iter((text,)))
    if args.output:
        say(f"wrote {args.output}")
    if not args.quiet:
        for note in ladder.notes:
            print(f"sip-analyzer: note: {note}", file=err)
        _print_diagnostics(analysis.diagnostic_records, err)
    return EXIT_OK


def _frame_lines(df: Any, fmt: str) -> Iterator[str]:
    """A DataFrame as table, CSV or JSON lines text."""
    if fmt == "csv":
        yield df.to_csv()
    elif fmt == "jsonl":
        if len(df):
            yield (
                df.reset_index()
                .to_json(orient="records", lines=True, date_format="iso", date_unit="ns")
                .rstrip("\n")
                + "\n"
            )
    elif len(df):
        yield df.to_string(max_colwidth=60) + "\n"
    else:
        yield "(none)\n"


def _emit(args: argparse.Namespace, out: TextIO, lines: Iterator[str]) -> None:
    # Captured bytes that are not UTF-8 reach the text as lone surrogates;
    # they are written as \udcXX escapes, never as an encoding error.
    if args.output:
        with open(args.output, "w", encoding="utf-8", errors="backslashreplace", newline="") as f:
            _write_lines(f, lines)
    else:
        _write_lines(out, lines)


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; returns the exit status (``sys.exit`` is left to the caller
    of the console script)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message
        return EXIT_UNUSABLE if exc.code else EXIT_OK
    func: Callable[[argparse.Namespace, TextIO, TextIO], int] = args.func
    try:
        # A command builds records, tables and pages that form no reference
        # cycles; the cyclic collector's passes over them cost a third of
        # the rules' time and of the HTML report's on a large capture.
        with gc_paused():
            return func(args, out, err)
    except CaptureError as exc:
        print(f"sip-analyzer: {exc}", file=err)
        return EXIT_UNUSABLE
    except UsageError as exc:
        print(f"sip-analyzer: {exc}", file=err)
        return EXIT_UNUSABLE
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        print(f"sip-analyzer: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=err)
        return EXIT_UNUSABLE


def run() -> None:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        # Undecodable captured bytes (lone surrogates) as escapes, not a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    sys.exit(main())
