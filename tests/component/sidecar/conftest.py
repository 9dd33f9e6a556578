"""Fixtures of the sidecar's component tests: the Go oracle, and real sidecar processes."""

from __future__ import annotations

from pathlib import Path

import goparity
import pytest


@pytest.fixture(scope="session")
def go_oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go program that renders templates with the real text/template, built once."""
    return goparity.build_oracle(tmp_path_factory.mktemp("gotemplate"))
