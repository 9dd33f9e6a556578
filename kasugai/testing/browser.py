"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) through Selenium, for the
live page's browser test and ``scripts/screenshot_page.py``. Never downloads a browser or a
driver: both must be installed (``scripts/setup.sh`` does), and a missing one is named."""

from __future__ import annotations

import os
import shutil
from typing import Any

__all__ = ["BrowserMissing", "headless_chromium"]

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class BrowserMissing(RuntimeError):
    pass


def headless_chromium(width: int = 1500, height: int = 900) -> Any:
    """A Selenium ``webdriver.Chrome`` driving headless Chromium; ``quit()`` it when done."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    browser = next((p for p in map(shutil.which, _BROWSERS) if p), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        raise BrowserMissing(
            "chromium and chromedriver are needed: apt-get install chromium chromium-driver "
            "(scripts/setup.sh installs them)"
        )
    options = Options()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's sandbox cannot start here
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: nothing leaves the host
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)
