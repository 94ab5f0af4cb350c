"""gc_paused(): the cyclic collector paused inside, given back as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from analyzer.collector import gc_paused


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_restores_the_collector_after_an_error(enabled: bool) -> None:
    (gc.enable if enabled else gc.disable)()
    with pytest.raises(KeyError), gc_paused():
        assert not gc.isenabled()
        raise KeyError("inside")
    assert gc.isenabled() is enabled


@pytest.mark.parametrize("enabled", [True, False])
def test_as_a_decorator_each_call_is_paused(enabled: bool) -> None:
    @gc_paused()
    def inside(n: int) -> tuple[int, bool]:
        return n, gc.isenabled()

    (gc.enable if enabled else gc.disable)()
    assert [inside(n) for n in range(3)] == [(0, False), (1, False), (2, False)]
    assert gc.isenabled() is enabled
