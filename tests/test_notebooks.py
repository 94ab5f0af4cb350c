"""The notebooks in ``notebooks/`` run from a clean kernel without error, and are stored run.

Each notebook is executed by ``notebooks/execute.py`` (the script that
refreshes the stored outputs), from a clean kernel with ``notebooks/`` as the
working directory, as when a reader opens it in Jupyter; the committed file is
never rewritten.  A failing cell fails the test with its traceback; the
executed notebook of a passing run is left in the test's temporary directory.

``04-large-capture.ipynb`` is marked ``slow``: it generates and analyses a
capture of about a million packets (a minute or two the first time, the
capture is then cached in ``notebooks/.cache``).  It still runs by default;
``-m "not slow"`` leaves it out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01-quickstart.ipynb",
    "02-welcome-notice.ipynb",
    "03-violations-triage.ipynb",
    "04-large-capture.ipynb",
}
SLOW = {"04-large-capture.ipynb"}

# Stored outputs are shown by code hosts: keep each notebook readable there.
MAX_NOTEBOOK_BYTES = 1_500_000


def _params() -> list[Any]:
    return [
        pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.name in SLOW else [])
        for p in NOTEBOOKS
    ]


def _code_cells(path: Path) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


def test_the_notebooks_are_there() -> None:
    assert {p.name for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", _params())
def test_notebook_is_stored_with_its_outputs(path: Path) -> None:
    """Every code cell was run, in order, without error, and the file stays small."""
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES
    cells = _code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "re-run it with notebooks/execute.py"
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors


@pytest.mark.parametrize("path", _params())
def test_notebook_executes(path: Path, tmp_path: Path) -> None:
    pytest.importorskip("nbclient", reason="needs nbclient to run notebooks")
    pytest.importorskip("ipykernel", reason="needs ipykernel to run notebooks")
    import importlib.util

    import nbformat
    from nbclient.exceptions import CellExecutionError

    spec = importlib.util.spec_from_file_location("execute", NOTEBOOK_DIR / "execute.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    try:
        nb = script.execute(path)
    except CellExecutionError as e:
        pytest.fail(f"{path.name} failed:\n{e}", pytrace=False)
    nbformat.write(nb, tmp_path / f"{path.stem}.executed.ipynb")
