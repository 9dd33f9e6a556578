"""Faults the core survived: bugs that cost one object instead of a crash, and must be seen.

The core does no I/O, so it cannot log them itself. A program that can registers a listener
(``kasugai``'s entry point logs the error's type and where in the code it happened; never its
message, which may quote an input). Without a listener a fault only shows in the object's
``Invalid`` value.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Listener", "listen", "survived"]

Listener = Callable[[str, BaseException], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener(what, error)`` for every fault from now on (once, however often it is
    registered); returns how to stop."""
    if listener not in _listeners:
        _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def survived(what: str, error: BaseException) -> None:
    """Report that ``what`` failed with ``error`` and the core went on without it."""
    for listener in tuple(_listeners):
        listener(what, error)
