"""How fast the controller may write, and how it waits after a failure.

A ``TokenBucket`` caps the write rate of the whole process (a burst, then a steady rate), so a
thousand objects to create never flood the API server. ``retrying`` runs one request with the
shared jittered ``kasugai.backoff.Backoff`` while the error is transient (throttling,
server errors, lost connections); any other error is the caller's to handle at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kasugai.backoff import Backoff

__all__ = ["REQUEST_ERRORS", "Stopped", "TokenBucket", "is_transient", "retrying"]

T = TypeVar("T")
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# What a request can raise: the API server's answer, or no answer (urllib3, sockets).
REQUEST_ERRORS = (ApiException, HTTPError, OSError)


class Stopped(Exception):
    """The process is shutting down; the request was not sent."""


class TokenBucket:
    """``burst`` requests at once, then ``rate`` per second; shared by every writer thread."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"write rate limit needs rate > 0 and burst >= 1, got {rate}, {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event) -> None:
        """Take one token, waiting for it; ``Stopped`` if ``stop`` is set meanwhile."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            if stop.wait(wait):
                raise Stopped


def is_transient(error: BaseException) -> bool:
    """Worth retrying as is: throttled, a server error, or no answer at all."""
    if isinstance(error, ApiException):
        return error.status in _TRANSIENT_STATUSES or not error.status
    return isinstance(error, HTTPError | OSError)


def retrying(
    request: Callable[[], T],
    *,
    backoff: Backoff,
    attempts: int,
    stop: threading.Event,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """``request()``, retried after transient errors up to ``attempts`` times in all."""
    for attempt in range(1, attempts + 1):
        try:
            return request()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            delay = backoff.delay(attempt)
            if on_retry is not None:
                on_retry(error, delay)
            if stop.wait(delay):
                raise Stopped from error
    raise AssertionError("unreachable: the last attempt returns or raises")
