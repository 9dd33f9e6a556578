"""Garbage collection around a batch, for the processes that hold a world (controller, ``up``).

The world and the plans are large and acyclic: reference counting frees what a batch discards,
while the cyclic collector, triggered by the many young objects planning allocates, walks the
whole world again and again to find nothing (about half of planning 1,000 DataFlows;
``benchmarks/core.py`` prints both figures). So:

* ``collector_paused``: the collector is off while a batch is folded and planned, and as it was
  after it.
* ``freeze_loaded``: once the initial load is folded, one collection, then everything alive is
  moved to the permanent generation (``gc.freeze``), so that no later collection walks the
  loaded world again; later collections see only what changed since. The core makes no cyclic
  garbage (``tests/core/test_no_cycles.py``), so freezing the world never keeps garbage alive;
  what the rest of the process frees later is still freed by reference counting.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused", "freeze_loaded"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector is as it was after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_loaded() -> None:
    """After the initial load: collect what is garbage now, then freeze what is left alive."""
    gc.collect()
    gc.freeze()
