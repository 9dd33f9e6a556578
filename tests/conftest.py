"""Shared pytest configuration. Tier folders (core, component, cluster) hold their own fixtures."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Tests do not time things: on a loaded 2-core machine an example may take long, which is no
# failure. Per-test settings still choose their example counts.
settings.register_profile("kasugai", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kasugai")

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "fixtures" / "openkasugai"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
