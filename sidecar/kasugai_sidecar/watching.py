"""The one way the sidecar watches a directory: watchfiles, tuned for low latency.

watchfiles groups changes until none arrives for ``step`` ms (at most ``debounce`` ms); its
defaults (50 ms, 1.6 s) would eat most of the reconfiguration budget, so both are small here.
On a quiet directory it still yields an empty batch every ``WATCH_TIMEOUT_MS``: that is the
watch's heartbeat for ``/healthz``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import watchfiles

STEP_MS = 2
DEBOUNCE_MS = 20
WATCH_TIMEOUT_MS = 5_000
STALE_AFTER_S = 6 * WATCH_TIMEOUT_MS / 1000


async def watch_directory(
    directory: Path,
    accept: Callable[[watchfiles.Change, str], bool],
    stop: asyncio.Event,
) -> AsyncIterator[set[tuple[watchfiles.Change, str]]]:
    """Batches of accepted changes in ``directory``; an empty batch on every quiet timeout."""
    async for changes in watchfiles.awatch(
        directory,
        watch_filter=accept,
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        rust_timeout=WATCH_TIMEOUT_MS,
        yield_on_timeout=True,
        stop_event=stop,
        recursive=False,
    ):
        yield changes
