"""Pausing Python's cyclic garbage collector while records are built.

The records of every stage (messages, transactions, dialogs, findings, the
rows of the DataFrames) form no reference cycles, so the cyclic collector
never frees any of them; but each collection walks the live objects, and
on a capture with hundreds of thousands of messages its passes cost as much
as the work itself.  The stages that build many records run inside
:func:`gc_paused`.  Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while records are being built.

    Message records form no reference cycles, but each collection of the
    oldest generation walks all the live ones: over a capture with hundreds
    of thousands of messages that costs a tenth of the run or more.  The
    collector is restored (not merely re-enabled) afterwards.  Also a
    decorator (``@gc_paused()``), pausing it for each call.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
