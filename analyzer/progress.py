"""Progress on one terminal line: ``reading capture… 45%``, ``correlating…``.

:class:`ProgressLine` writes to a stream (stderr) only when that stream is a
terminal, so redirected output, pipes, CI logs and tests see nothing.  It is
a callable with the signature of :func:`analyzer.analysis.analyze`'s
``progress`` callback, ``(phase, done, total)``, and :meth:`phase` announces
a step without a count.  Each update overwrites the line (``\\r``, padded
with spaces over the previous text); :meth:`close` (or leaving the ``with``
block) wipes the line so that what is printed next starts on a clean line.
Updates closer together than :data:`MIN_INTERVAL_S` are skipped, except a
change of phase, so a fast loop does not spend its time writing.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TextIO

__all__ = ["MIN_INTERVAL_S", "PHASE_NAMES", "ProgressLine"]

# A terminal redraw every 100 ms looks continuous and costs nothing.
MIN_INTERVAL_S = 0.1

#: What the line says for the phases :func:`~analyzer.analysis.analyze` reports.
PHASE_NAMES = {
    "reading": "reading capture",
    "correlating": "correlating",
    "checking": "checking rules",
    "rendering": "rendering",
}


class ProgressLine:
    """Phase progress on one line of ``stream``, shown only if it is a terminal."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None) -> None:
        self._stream = stream
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self._width = 0
        self._phase: str | None = None
        self._last = 0.0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        """Report ``done`` of ``total`` units of ``phase``.

        A percentage is shown when ``total`` is more than 1; ``None`` (unknown)
        and 1 (a step that is either started or done) show the phase alone.
        """
        if not self.enabled:
            return
        now = time.monotonic()
        if phase == self._phase and now - self._last < MIN_INTERVAL_S and done != total:
            return
        self._phase = phase
        self._last = now
        name = PHASE_NAMES.get(phase, phase)
        if total is not None and total > 1:
            self._show(f"{name}\u2026 {min(100, done * 100 // total)}%")
        else:
            self._show(f"{name}\u2026")

    def phase(self, phase: str) -> None:
        """Announce ``phase`` without a count (``checking rules…``)."""
        self(phase, 0, None)

    def _show(self, text: str) -> None:
        pad = " " * max(0, self._width - len(text))
        self._stream.write(f"\r{text}{pad}")
        self._stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Wipe the line (nothing is left behind on the terminal)."""
        if self.enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
        self._width = 0
        self._phase = None

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
