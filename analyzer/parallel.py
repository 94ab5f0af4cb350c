"""The output lines of one capture's messages, made by several processes and merged.

A single process spends most of its time on per-message work (SIP parsing,
formatting), which splits cleanly: :class:`ParallelMessages` forks ``jobs``
worker processes, each running the whole pipeline over the whole capture as
a :class:`~analyzer.pipeline.MessageExtractor` with its own
:class:`~analyzer.pipeline.Share`, so that each message is produced by
exactly one worker.  Reading and decoding every frame is repeated in every
worker: IP reassembly and TCP state need all the frames, and it is the
cheap part (the capture reader skips the RTP frames unseen).

Each worker formats its own messages into lines and streams them to the
parent through a pipe, a block of lines at a time, each line with the order
key the extractor gave its message (:func:`~analyzer.pipeline.order_key`).
The parent merges the streams by key into exactly the order a single process
writes, and writes them out as they become final: a line is final once every
other worker has reported progress past its key, either with lines of its own
or with the progress marks workers send every :data:`PROGRESS_FRAMES` frames.
The parent holds only the lines of workers that are ahead.  Merging is one
stable sort by key of the lines that became final (the C sort finds the
workers' already sorted runs and merges them), which keeps the parent's share
of the work to a fraction of a microsecond per line.

Diagnostics are merged the same way at the end; those of the capture reader
and of the packet decoder, identical in every worker, come from worker 0.

Failures: an unusable capture is reported by the parent before any worker
starts (:class:`~analyzer.errors.CaptureError`); a worker that dies without
finishing (an exception, a signal) makes the run raise :class:`WorkerError`
once the workers are stopped.  Leaving early (an exception in the consumer,
Ctrl-C, :meth:`ParallelMessages.close`) terminates the workers.

:func:`run_rules_forked` runs the validation rules of one analysis in this
process and a forked one, each with a share of the rules: the fork sees the
analysis as it is, without copying or sending it, and sends back only its
findings, which are few.

Only the process machinery lives here; this module reads no file itself
(the workers open the capture through :func:`~analyzer.capture.open_capture`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import multiprocessing
import os
import pickle
import selectors
import signal
import struct
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from operator import itemgetter
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from .capture import open_capture
from .collector import gc_paused
from .errors import CaptureError, Diagnostic
from .net.packet import PREFILTERS
from .options import Options
from .pipeline import MessageExtractor, Share, order_key
from .sip.message import SipMessage

if TYPE_CHECKING:
    from .rules import AnalysisLike, Finding

__all__ = [
    "BLOCK_LINES",
    "FORKED_SCOPES",
    "PROGRESS_FRAMES",
    "LineFormatter",
    "ParallelMessages",
    "WorkerError",
    "room_to_fork",
    "run_rules_forked",
]

LineFormatter = Callable[[SipMessage], "str | None"]
"""Turns a message into its output text (newline included), or None to leave it out."""

# Lines a worker gathers before sending them as one block.  Each block costs
# a pickle, a header and a pipe write in the worker and an unpickling in the
# parent; at 512 lines (about 230 KB of JSON lines) that is negligible, while
# the parent still gets lines often enough to write them out as it goes.
BLOCK_LINES = 512

# A worker that has sent nothing for this many frames (its share of a stretch
# of the capture happens to be empty) sends an empty block saying how far it
# is, so that the other workers' lines need not wait for its end.  That is a
# mark every 0.05 s (mostly RTP) to 1 s (all signalling) of work, and the
# other workers' lines held meanwhile are bounded accordingly.
PROGRESS_FRAMES = 65536

# Pipe capacity asked for (Linux; the default is 64 KiB).  Four blocks of
# JSON lines: a worker rarely waits for the parent to read.  1 MiB is also
# the default limit for unprivileged processes (/proc/sys/fs/pipe-max-size).
PIPE_SIZE = 1 << 20

# Bytes the parent reads from a pipe at once.
_READ_SIZE = 1 << 20

# Block framing, worker to parent: the kind and the length of the pickled
# payload that follows.  The pipe links a process to its own fork, so the
# pickles are trusted.
_HEADER = struct.Struct("<BI")
_LINES = 1  # (no key still to come from the worker is below this, keys, lines)
_END = 2  # _Trailer: the worker has finished
_CAPTURE_ERROR = 3  # the message of the CaptureError the worker met
_FINAL = 1 << 63  # the progress of a worker that has sent all its lines

# What a worker sends at its end: the capture reader's diagnostics, its
# extractor's with their order keys, and the packet decoder's (the first and
# last from worker 0 only).
_Trailer = tuple[list[Diagnostic], list[tuple[int, Diagnostic]], list[Diagnostic]]

_first = itemgetter(0)
_second = itemgetter(1)


class WorkerError(Exception):
    """A worker process failed; its own error output says why."""


class _Block:
    """Lines received from a worker and not yet written, with their keys."""

    __slots__ = ("keys", "lines", "next")

    def __init__(self, keys: list[int], lines: list[str]) -> None:
        self.keys = keys
        self.lines = lines
        self.next = 0  # the first line not yet written


class ParallelMessages:
    """Iterate for the output text of a capture's messages, made by ``jobs`` processes.

    ``format_message`` turns a message into its text (or None to leave it
    out); it runs in the workers, which inherit it by fork, so it may be
    any callable.  Iteration yields pieces of text (runs of whole lines) in
    the order a single process would write them.  After iteration,
    ``diagnostics`` holds what a :class:`~analyzer.pipeline.MessageReader`
    would list, in the same order.  The capture is checked when the object
    is made (:class:`~analyzer.errors.CaptureError`); the workers start when
    iteration does.
    """

    def __init__(
        self, path: str | os.PathLike[str], jobs: int, format_message: LineFormatter
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self.path = os.fspath(path)
        self.jobs = jobs
        self.format_message = format_message
        self.diagnostics: list[Diagnostic] = []
        # Opened and closed at once: an unusable file is reported before
        # any process is started.  The workers open it again for themselves
        # (a file offset shared across fork would interleave their reads).
        open_capture(self.path).close()
        self._procs: list[BaseProcess] = []
        self._fds: list[int] = []

    def __iter__(self) -> Iterator[str]:
        if self._procs:
            raise RuntimeError("ParallelMessages can be iterated only once")
        try:
            self._start()
            yield from self._merge()
            self._check_exits()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers still running and release the pipes."""
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
        for proc in self._procs:
            if proc.exitcode is None:
                proc.terminate()
            proc.join()

    def __enter__(self) -> ParallelMessages:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- parent ------------------------------------------------------------------

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        for index in range(self.jobs):
            read_fd, write_fd = os.pipe()
            with contextlib.suppress(OSError):
                fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            proc = ctx.Process(
                target=_work,
                args=(
                    self.path,
                    Share(index, self.jobs),
                    self.format_message,
                    write_fd,
                    # Inherited read ends the worker must not keep.
                    [*self._fds, read_fd],
                ),
                name=f"sip-analyzer worker {index + 1}/{self.jobs}",
                daemon=True,
            )
            self._fds.append(read_fd)
            try:
                proc.start()
            finally:
                # Only the worker may hold a write end: the parent sees the end
                # of a pipe when its worker exits, however it exits.
                os.close(write_fd)
            self._procs.append(proc)

    def _merge(self) -> Iterator[str]:
        jobs = self.jobs
        # Per worker: the lines not yet written; a key no key still to come
        # is below; bytes received but not yet parsed; what it sent at its end.
        pending: list[deque[_Block]] = [deque() for _ in range(jobs)]
        low = [0] * jobs
        raw = [bytearray() for _ in range(jobs)]
        trailers: dict[int, _Trailer] = {}
        with selectors.DefaultSelector() as selector:
            for index, fd in enumerate(self._fds):
                selector.register(fd, selectors.EVENT_READ, index)
            open_pipes = jobs
            while open_pipes:
                for sel_key, _events in selector.select():
                    index = sel_key.data
                    chunk = os.read(self._fds[index], _READ_SIZE)
                    if not chunk:
                        if index not in trailers:
                            self._fail(index)
                        selector.unregister(self._fds[index])
                        open_pipes -= 1
                        continue
                    buf = raw[index]
                    buf += chunk
                    used = _parse_blocks(buf, index, pending[index], low, trailers)
                    if used:
                        del buf[:used]
                text = _ready(pending, min(low))
                if text:
                    yield text
        text = _ready(pending, _FINAL)
        if text:
            yield text
        capture_diags, _keyed, decoder_diags = trailers[0]
        keyed = [item for index in range(jobs) for item in trailers[index][1]]
        keyed.sort(key=_first)
        self.diagnostics = capture_diags + list(map(_second, keyed)) + decoder_diags

    def _fail(self, index: int) -> None:
        proc = self._procs[index]
        proc.join()
        raise WorkerError(
            f"worker {index + 1} of {self.jobs} stopped before finishing "
            f"({_exit_text(proc.exitcode)})"
        )

    def _check_exits(self) -> None:
        for index, proc in enumerate(self._procs):
            proc.join()
            if proc.exitcode != 0:
                raise WorkerError(
                    f"worker {index + 1} of {self.jobs} finished with {_exit_text(proc.exitcode)}"
                )


def _exit_text(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit status {code}"


def _parse_blocks(
    buf: bytearray,
    index: int,
    pending: deque[_Block],
    low: list[int],
    trailers: dict[int, _Trailer],
) -> int:
    """Take the complete blocks at the start of ``buf``; return how many bytes they used."""
    pos = 0
    size = len(buf)
    while size - pos >= _HEADER.size:
        kind, length = _HEADER.unpack_from(buf, pos)
        start = pos + _HEADER.size
        stop = start + length
        if stop > size:
            break
        payload = pickle.loads(buf[start:stop])
        if kind == _LINES:
            progress, keys, lines = payload
            if keys:
                pending.append(_Block(keys, lines))
            low[index] = progress
        elif kind == _END:
            trailers[index] = payload
        else:
            raise CaptureError(payload)
        pos = stop
    return pos


def _ready(pending: list[deque[_Block]], bound: int) -> str:
    """The text of every pending line with a key below ``bound``, in key order."""
    runs: list[tuple[list[int], list[str]]] = []
    for queue in pending:
        while queue:
            block = queue[0]
            keys = block.keys
            first = block.next
            if keys[-1] < bound:
                runs.append((keys[first:], block.lines[first:]) if first else (keys, block.lines))
                queue.popleft()
                continue
            stop = bisect_left(keys, bound, first)
            if stop > first:
                runs.append((keys[first:stop], block.lines[first:stop]))
                block.next = stop
            break
    if not runs:
        return ""
    if len(runs) == 1:
        return "".join(runs[0][1])
    merged: list[tuple[int, str]] = []
    for keys, lines in runs:
        merged += zip(keys, lines, strict=True)
    # Stable, so the lines of one worker that share a key keep their order
    # (keys of different workers are never equal, see order_key).
    merged.sort(key=_first)
    return "".join(map(_second, merged))


# -- workers -----------------------------------------------------------------------


def _work(
    path: str, share: Share, format_message: LineFormatter, write_fd: int, close_fds: list[int]
) -> None:
    """A worker process: the whole pipeline over the whole capture, its share sent up."""
    # Ctrl-C reaches the whole process group: a worker just stops (the
    # parent reports and cleans up) instead of printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    for fd in close_fds:
        os.close(fd)
    with open(write_fd, "wb") as pipe, gc_paused():
        try:
            capture = open_capture(path, PREFILTERS)
        except CaptureError as exc:
            _send(pipe, _CAPTURE_ERROR, str(exc))
            return
        extractor = MessageExtractor(share)
        feed = extractor.feed
        # Each message is formatted as soon as it is made and dropped: the
        # memory it used is reused, still in cache, for the next one.
        lines: list[str | None] = []
        next_mark = PROGRESS_FRAMES
        try:
            for frame in capture:
                msgs = feed(frame)
                if msgs:
                    lines += map(format_message, msgs)
                    if len(lines) < BLOCK_LINES and frame[0] < next_mark:
                        continue
                elif frame[0] < next_mark:
                    continue
                _send_lines(pipe, extractor, lines, order_key(frame[0] + 1, 0, 0))
                lines = []
                next_mark = frame[0] + PROGRESS_FRAMES
            lines += map(format_message, extractor.flush())
            _send_lines(pipe, extractor, lines, _FINAL)
        finally:
            capture.close()
        first = share.index == 0
        trailer: _Trailer = (
            capture.diagnostics if first else [],
            list(zip(extractor.diagnostic_keys, extractor.diagnostics, strict=True)),
            extractor.decoder.diagnostics if first else [],
        )
        _send(pipe, _END, trailer)


def _send(pipe: BinaryIO, kind: int, payload: object) -> None:
    data = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
    pipe.write(_HEADER.pack(kind, len(data)))
    pipe.write(data)
    pipe.flush()


def _send_lines(
    pipe: BinaryIO, extractor: MessageExtractor, lines: list[str | None], progress: int
) -> None:
    """Send ``lines`` (None: a message left out); keys still to come are ``progress`` or more."""
    keys = extractor.message_keys
    assert keys is not None and len(keys) == len(lines)
    extractor.message_keys = []
    if None in lines:
        kept = [(key, line) for key, line in zip(keys, lines, strict=True) if line is not None]
        keys = list(map(_first, kept))
        lines = list(map(_second, kept))
    _send(pipe, _LINES, (progress, keys, lines))


# -- validation rules in two processes -------------------------------------------

#: The rule scopes (:class:`~analyzer.rules.Scope` values) that
#: :func:`run_rules_forked` gives the forked process: on the 1M-packet
#: benchmark capture they take about as long as the others (message 1.41 s,
#: subscription 0.54 s, registration under 0.01 s, against transaction
#: 0.57 s, dialog 0.86 s and analysis-wide 0.66 s).
FORKED_SCOPES = frozenset(("message", "subscription", "registration"))


def room_to_fork() -> bool:
    """Whether the memory available could hold a second copy of this process.

    A forked rule process ends up copying most of the pages of the analysis
    it reads (reference counts are written): on the 1M-packet benchmark
    capture the two processes peaked at 1,162 MiB together, against 646 MiB
    for one.  Read from Linux's /proc (``MemAvailable`` against this
    process's resident set); False where that cannot be read.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        with open("/proc/meminfo", encoding="ascii") as f:
            available = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return False
    return available > 2 * rss


def run_rules_forked(analysis: AnalysisLike, options: Options | None = None) -> list[Finding]:
    """:func:`~analyzer.rules.run_rules`, with the rules shared by this process and a fork.

    The forked process runs the rules of :data:`FORKED_SCOPES`, this one the
    others, at the same time; the findings are the same, in the same order,
    as from one process (each rule runs in one of them, and both lists are
    merged by :func:`~analyzer.rules.finding_sort_key`).  Where ``os.fork``
    does not exist, or when the selection leaves one side without rules, one
    process runs them all.  A forked process that fails (a signal, an error)
    costs time, not findings: its rules are run again here, where an error
    they raise is raised.

    Forking copies no memory up front, but every page of the analysis the
    forked process touches is copied then (reference counts are written):
    on a large capture, up to the size of the analysis again, for the time
    the rules take (see :func:`room_to_fork`).  The command line forks from
    a process with one thread; a process with others (a notebook kernel)
    forks a copy of only the calling thread, which is why ``check`` keeps
    one process unless asked.
    """
    # Imported here: the rules are not needed to extract messages.
    from .rules import finding_sort_key, run_rules, select_rules

    options = options or Options()
    rules = select_rules(options)
    forked = tuple(r.id for r in rules if r.scope.value in FORKED_SCOPES)
    here = tuple(r.id for r in rules if r.scope.value not in FORKED_SCOPES)
    if not forked or not here or not hasattr(os, "fork"):
        return run_rules(analysis, options)
    forked_options = dataclasses.replace(options, select=forked, ignore=())
    here_options = dataclasses.replace(options, select=here, ignore=())
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked process; its result is tested
        status = 1
        try:
            os.close(read_end)
            data = pickle.dumps(run_rules(analysis, forked_options), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            # Straight out: no atexit handlers, no flushing of the parent's
            # buffered output a second time.
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            findings = run_rules(analysis, here_options)
            data = pipe.read()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    theirs: list[Finding] = (
        pickle.loads(data) if status == 0 and data else run_rules(analysis, forked_options)
    )
    findings += theirs
    findings.sort(key=finding_sort_key)
    return findings
