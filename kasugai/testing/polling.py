"""Waiting for something another process does: poll until true, with a deadline.

Tests never sleep a fixed time as a correctness condition; they poll with a generous deadline
(the machine may be loaded) and fail naming what they waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T], what: str, timeout: float = 60.0, interval: float = 0.02
) -> T:
    """Poll ``probe`` until it returns something truthy, and return that; TimeoutError naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
