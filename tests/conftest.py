"""Shared pytest configuration. Tier folders (core, component, cluster) hold their own fixtures."""

import signal
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, settings

# Tests do not time things: on a loaded 2-core machine an example may take long, which is no
# failure. Per-test settings still choose their example counts.
settings.register_profile("kasugai", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kasugai")

# A run started in the background by a shell without job control has SIGINT ignored, and every
# program the tests start would inherit that: the tests that interrupt one (Ctrl-C) would wait
# for nothing. A handler here is reset to the default in each child, an ignored signal is not.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _structlog_restored() -> Iterator[None]:
    """A test that runs a program's main() in-process points structlog at pytest's captured
    stream, which is closed after that test: the next test to log would fail on it."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium through Selenium, for the live page's tests."""
    from kasugai.testing.browser import headless_chromium

    driver = headless_chromium()
    try:
        yield driver
    finally:
        driver.quit()
