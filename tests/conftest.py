"""Shared pytest configuration. Tier folders (core, component, cluster) hold their own fixtures."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "fixtures" / "openkasugai"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
