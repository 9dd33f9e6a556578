"""Shared pytest configuration. Tier folders (core, component, cluster) hold their own fixtures."""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Tests do not time things: on a loaded 2-core machine an example may take long, which is no
# failure. Per-test settings still choose their example counts.
settings.register_profile("kasugai", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kasugai")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium through Selenium, for the live page's tests."""
    from kasugai.testing.browser import headless_chromium

    driver = headless_chromium()
    try:
        yield driver
    finally:
        driver.quit()
