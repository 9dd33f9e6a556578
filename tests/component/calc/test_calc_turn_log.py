"""The calc server's log batching: lines of one event-loop turn are written together at the end of
the turn, in order; a line from another thread is written at once, after what was pending; leaving
the batching writes what is left and restores the logger configured before.

Real structlog loggers writing to a real file; the chain tests check the lines end to end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest
import structlog
from kasugai_functions.calc.turn_log import batched_per_loop_turn


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[tuple[Path, TextIO]]:
    """structlog configured as a program would be, writing to a file, for the test only."""
    path = tmp_path / "log"
    previous = structlog.get_config()
    with path.open("w") as file:
        structlog.configure(
            processors=[structlog.processors.JSONRenderer()],
            logger_factory=structlog.PrintLoggerFactory(file=file),
            cache_logger_on_first_use=False,
        )
        try:
            yield path, file
        finally:
            structlog.configure(**previous)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_the_lines_of_a_turn_are_written_at_its_end_in_order(
    log_file: tuple[Path, TextIO],
) -> None:
    path, _ = log_file

    async def main() -> list[list[str]]:
        seen = []
        with batched_per_loop_turn(asyncio.get_running_loop()):
            log = structlog.get_logger()
            log.info("start call Do")
            log.info("send message")
            seen.append(lines(path))  # still in the same turn: nothing written yet
            await asyncio.sleep(0)  # the turn ends
            seen.append(lines(path))
            log.info("recive message")
            await asyncio.sleep(0)
            seen.append(lines(path))
        return seen

    during, after_first, after_second = asyncio.run(main())
    assert during == []
    assert after_first == ['{"event": "start call Do"}', '{"event": "send message"}']
    assert after_second[2:] == ['{"event": "recive message"}']


def test_a_line_from_another_thread_is_written_at_once_after_the_pending_ones(
    log_file: tuple[Path, TextIO],
) -> None:
    path, _ = log_file

    async def main() -> list[str]:
        with batched_per_loop_turn(asyncio.get_running_loop()):
            log = structlog.get_logger()
            log.info("on the loop")
            other = threading.Thread(target=lambda: log.warning("from a thread"))
            other.start()
            other.join()
            return lines(path)  # the loop has not yielded: only the thread wrote

    assert asyncio.run(main()) == ['{"event": "on the loop"}', '{"event": "from a thread"}']


def test_leaving_writes_what_is_pending_and_restores_the_logger(
    log_file: tuple[Path, TextIO],
) -> None:
    path, file = log_file

    async def main() -> None:
        with batched_per_loop_turn(asyncio.get_running_loop()):
            structlog.get_logger().info("last words")
        # No turn has ended since, yet the line is written; new lines are no longer batched.
        assert lines(path) == ['{"event": "last words"}']
        structlog.get_logger().info("unbatched")
        assert lines(path)[-1] == '{"event": "unbatched"}'

    asyncio.run(main())
    structlog.get_logger().info("after the loop")
    assert lines(path)[-1] == '{"event": "after the loop"}'
    assert not file.closed
