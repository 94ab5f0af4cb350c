"""Command line: ``sip-analyzer`` / ``python -m analyzer``.

The only module that reads argv, prints, writes files and chooses exit
statuses: 0 done (for ``check``: nothing at or above the threshold), 1 findings
at or above the threshold, 2 unusable input or bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from . import __version__
from .errors import CaptureError, Diagnostic
from .pipeline import read_messages
from .render.messages import (
    csv_header,
    csv_line,
    filtered_rows,
    jsonl_line,
    parse_filter,
    table_header,
    table_line,
)

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
    m.add_argument("-q", "--quiet", action="store_true", help="do not list diagnostics on stderr")
    m.set_defaults(func=_cmd_messages)

    for name, help_text in _TABLES.items():
        t = sub.add_parser(
            name, help=help_text, description=f"{help_text.capitalize()} in CAPTURE."
        )
        t.add_argument(
            "capture",
            metavar="CAPTURE",
            nargs="+",
            help="one capture, or several rotated captures merged in time order",
        )
        t.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
        t.add_argument(
            "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
        )
        t.add_argument(
            "-q", "--quiet", action="store_true", help="do not list diagnostics on stderr"
        )
        t.set_defaults(func=_cmd_table, table=name)
    return p


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


def _cmd_messages(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        filters = [parse_filter(e) for e in args.filter]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    reader = read_messages(args.capture)
    rows = filtered_rows(reader, filters)
    fmt = args.format

    def lines() -> Iterator[str]:
        if fmt == "jsonl":
            for row in rows:
                yield jsonl_line(row) + "\n"
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


def _cmd_table(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .analysis import analyze

    analysis = analyze(args.capture)
    df = getattr(analysis, args.table)
    lines = _frame_lines(df, args.format)
    _emit(args, out, lines)
    if not args.quiet:
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
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
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
    sys.exit(main())
