"""The collector pause around a batch: collection is off inside, as it was outside, also after a
batch that fails (a paused collector left off would let cycles pile up for good)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kasugai.collector import collector_paused


@pytest.fixture
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("before", [True, False])
def test_paused_inside_and_as_it_was_after(collector_restored: None, before: bool) -> None:
    if before:
        gc.enable()
    else:
        gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is before


def test_a_failing_batch_gives_the_collector_back(collector_restored: None) -> None:
    gc.enable()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a batch that breaks the core")
    assert gc.isenabled()
