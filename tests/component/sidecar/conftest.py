"""Fixtures of the sidecar's component tests: the Go oracle, and real sidecar processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import goparity
import pytest
from sidecar_rig import POD, Rig


@pytest.fixture(scope="session")
def go_oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go program that renders templates with the real text/template, built once."""
    return goparity.build_oracle(tmp_path_factory.mktemp("gotemplate"))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """A Pod's directories; every process started through it is stopped afterwards."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    connections = tmp_path / "connections"  # the local runtime's ConfigMap directory
    connections.mkdir()
    rig = Rig(tmp_path, config_dir, connections / f"ethcrl.{POD}.json")
    yield rig
    for process in rig.started:
        process.stop()
