"""Garbage collection around a batch, for the processes that hold a world (controller, ``up``).

The world and the plans are large and acyclic: reference counting frees what a batch discards,
while the cyclic collector, triggered by the many young objects planning allocates, walks the
whole world again and again to find nothing (about a third of planning 1,000 DataFlows;
``benchmarks/core.py`` prints both figures). So the collector is paused while a batch is folded
and planned, and left as it was between batches, when it has little to walk through.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


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
