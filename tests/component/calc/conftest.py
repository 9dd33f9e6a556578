"""Fixtures for the calcapp tests: real ``kasugai-calc`` processes on loopback, cleaned up after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kasugai_functions.calc.testing import LocalCalc


@pytest.fixture
def calc(tmp_path: Path) -> Iterator[LocalCalc]:
    """Starts functions on a loopback subnet of its own; stops every process group afterwards."""
    with LocalCalc(tmp_path / "functions") as local:
        yield local
