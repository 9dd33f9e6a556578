"""What each heavier test tier does once per session, in one place: mark its tests (so that
``-m "not cluster"`` and the like select them), and make what it needs (binaries, images) right
after collection, outside every test's timeout, with a cold build's progress shown live."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

T = TypeVar("T")


def mark_folder(items: list[pytest.Item], folder: Path, mark: pytest.MarkDecorator) -> None:
    """Give every test under ``folder`` the ``mark``."""
    for item in items:
        if item.path.is_relative_to(folder):
            item.add_marker(mark)


def prepare_once(
    session: pytest.Session,
    folder: Path,
    key: pytest.StashKey[T],
    prepare: Callable[[], T],
) -> None:
    """Run ``prepare`` once if a test under ``folder`` was collected; stash what it returns."""
    if session.config.option.collectonly:
        return
    if any(item.path.is_relative_to(folder) for item in session.items):
        capture = session.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():  # show a cold build's progress live
            session.config.stash[key] = prepare()


def tier_hooks(
    folder: Path, mark: pytest.MarkDecorator, key: pytest.StashKey[T], prepare: Callable[[], T]
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A tier conftest's two hooks; bind them to their hook names in the conftest:
    ``pytest_collection_modifyitems, pytest_collection_finish = tier_hooks(...)``."""

    @pytest.hookimpl(tryfirst=True)  # before -m deselects, so "not <mark>" sees the mark
    def modifyitems(items: list[pytest.Item]) -> None:
        mark_folder(items, folder, mark)

    def finish(session: pytest.Session) -> None:
        prepare_once(session, folder, key, prepare)

    return modifyitems, finish


class _Tier(Protocol):
    @property
    def processes(self) -> list[Any]: ...

    def stop(self) -> None: ...


@contextlib.contextmanager
def stopped_after(tier: _Tier, what: str) -> Iterator[None]:
    """Stop ``tier`` when the block ends, however it ends, and fail if a process of it is left."""
    try:
        yield
    finally:
        tier.stop()
        alive = [p.name for p in tier.processes if p.group_alive()]
        assert not alive, f"still running after {what} was stopped: {alive}"
