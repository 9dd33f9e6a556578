"""Exponential backoff, the one used by every retry and restart in kasugai.

The controller's writes and watches, the sidecar's API watch, the local runtime's container
restarts and the video wrapper's pipeline restarts all wait ``initial * 2**(n-1)`` after the n-th
failure in a row, at most ``maximum``. Retries against a shared server add jitter so that many
clients do not retry in step; restarts count failures only while the process keeps dying quickly
(``reset_after``), as Kubernetes' CrashLoopBackOff does.
"""

from __future__ import annotations

import random

import attrs

__all__ = ["Backoff"]


@attrs.frozen
class Backoff:
    """Delays ``initial * 2**(n-1)`` for the n-th failure, capped, optionally jittered."""

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.0  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
    reset_after: float = 60.0  # a process that ran this long counts as a first failure again

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1-based)."""
        base = min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return float(base)

    def failures_after(self, failures: int, ran_for: float) -> int:
        """The failure count once a process that had ``failures`` ran ``ran_for`` s and died."""
        return 1 if ran_for >= self.reset_after else failures + 1
