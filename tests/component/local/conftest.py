"""Fixtures of the local runtime's tests: the calc sample in a temporary directory, and real
``kasugai up`` runs that are always stopped, with a check that none left a process behind."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_samples import StartRun, copy_calc

from kasugai.adapters.local.testing import LocalRun


@pytest.fixture
def calc_sample(tmp_path: Path) -> Path:
    return copy_calc(tmp_path / "sample")


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[StartRun]:
    """Start ``kasugai up`` on a directory; every run is stopped and checked afterwards."""
    runs: list[LocalRun] = []

    def start(source: Path) -> LocalRun:
        run = LocalRun(source, tmp_path / f"state{len(runs)}", tmp_path / f"up{len(runs)}.log")
        runs.append(run)
        return run.start()

    yield start
    survivors = []
    for run in runs:
        run.close()
        survivors += run.leftovers()
    assert not survivors, f"processes left behind: {survivors}"


@pytest.fixture(scope="session")
def gstreamer() -> None:
    """The video samples need GStreamer's tools; say how to get them instead of skipping."""
    missing = [t for t in ("gst-launch-1.0", "gst-discoverer-1.0") if not shutil.which(t)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run scripts/setup.sh (GStreamer)")
