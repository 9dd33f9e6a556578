"""Log lines written once per event-loop turn, not one write() each.

A calc hop logs four lines per request (``start call Do``, ``send message``, ``recive message``,
``end call Do``). Written one by one, each is a system call that also hands the GIL to gRPC's
threads, and together they cost about a quarter of the hop's CPU. Here the lines one turn of
the loop produces are handed to the configured logger as one write at the end of that turn
(``call_soon``): they still appear at once and in order. A line from another thread is written
at once, after whatever was pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol

import structlog


class _Writer(Protocol):
    def msg(self, message: str) -> Any: ...


class TurnLogger:
    """A structlog logger (the rendered line in, nothing out) that batches per loop turn."""

    def __init__(self, writer: _Writer, loop: asyncio.AbstractEventLoop) -> None:
        self._writer = writer
        self._loop = loop
        self._loop_thread = threading.get_ident()  # made on the loop's thread
        self._pending: list[str] = []
        self._lock = threading.Lock()  # the loop and other threads (the /metrics one) may log

    def msg(self, message: str) -> None:
        on_loop = threading.get_ident() == self._loop_thread and not self._loop.is_closed()
        with self._lock:
            self._pending.append(message)
            if on_loop and len(self._pending) > 1:
                return  # a flush is already on its way
        if on_loop:
            self._loop.call_soon(self.flush)
        else:
            self.flush()

    log = debug = info = warn = warning = error = err = fatal = exception = critical = msg

    def flush(self) -> None:
        with self._lock:  # held while writing: lines of two threads never interleave
            lines, self._pending = self._pending, []
            if lines:
                self._writer.msg("\n".join(lines))


@contextlib.contextmanager
def batched_per_loop_turn(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Within: every structlog logger bound goes through one ``TurnLogger`` on ``loop``, which
    writes with the logger configured before (its stream and format stay as they were)."""
    factory = structlog.get_config()["logger_factory"]
    turn_logger = TurnLogger(factory(), loop)
    structlog.configure(logger_factory=lambda *_: turn_logger)
    try:
        yield
    finally:
        structlog.configure(logger_factory=factory)
        turn_logger.flush()
