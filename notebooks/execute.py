#!/usr/bin/env python3
"""Re-execute the notebooks in place, so that their stored outputs are current.

    python notebooks/execute.py                          # every notebooks/*.ipynb
    python notebooks/execute.py 02-welcome-notice.ipynb  # some of them

Each notebook runs from a clean ``python3`` kernel with ``notebooks/`` as the
working directory, as when a reader opens it in Jupyter, and is written back
only when every cell ran without error: a failing notebook keeps its previous
outputs and the script ends with status 1 after trying the others.  Cell
timings are not recorded, so that a refresh changes only what the outputs
really change.  ``04-large-capture.ipynb`` generates a capture of about a
million packets the first time (cached in ``notebooks/.cache``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parent

# Generous: the slowest cell (analysing the million-packet capture) takes
# about ten seconds on a two-core machine; a cell still running after ten
# minutes has hung.
CELL_TIMEOUT_S = 600


def execute(path: Path) -> nbformat.NotebookNode:
    """Run ``path`` from a clean kernel and return the notebook with its outputs.

    Raises:
        CellExecutionError: a cell raised; the message carries its traceback.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", help="notebook names or paths (default: all)")
    args = ap.parse_args(argv)
    paths = [NOTEBOOKS / Path(n).name for n in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = 0
    for path in paths:
        start = time.perf_counter()
        try:
            nb = execute(path)
        except CellExecutionError as e:
            failed += 1
            print(f"{path.name}: FAILED, left unchanged\n{e}", file=sys.stderr)
            continue
        nbformat.write(nb, path)
        size = path.stat().st_size
        print(f"{path.name}: {time.perf_counter() - start:.1f} s, {size / 1e3:.0f} kB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
