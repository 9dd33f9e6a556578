"""The live page in a real headless Chromium, against a real ``kasugai up`` of the calc sample:
the 7 functions drawn, a chain edit on the page within a few seconds (the time it took is
printed, not asserted), and, under traffic, each hop's rate above zero from the functions' own
``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_calc import wait_wired
from local_samples import shorten_chain

from kasugai.adapters.local.testing import LocalRun, wait_until
from kasugai.testing.rewire_load import Load

CALC = ["send", "plus", "minus", "multiply", "divide", "average", "rcv"]
SHORT = ["send", "plus", "minus", "rcv"]
PAGE = "dataflows/cpufunc-calcapp/df-calcapp"
EDIT_DEADLINE_S = 10.0


@pytest.fixture
def run(calc_sample: Path, tmp_path: Path) -> Iterator[LocalRun]:
    local = LocalRun(
        calc_sample, tmp_path / "state", tmp_path / "up.log", up_args=("--view", "127.0.0.1:0")
    )
    try:
        yield local.start()
    finally:
        local.close()
        assert not local.leftovers()


# The page redraws as data comes (every second under traffic): read it in one script each time,
# never through element handles that a redraw makes stale.
def on_page(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def keys_on_page(driver: Any) -> list[str]:
    return on_page(
        driver, "return [...document.querySelectorAll('g.node')].map(g => g.dataset.key)"
    )


def rates_on_page(driver: Any) -> dict[str, float]:
    rows = on_page(
        driver,
        "return [...document.querySelectorAll('#hops tr')]"
        ".map(r => [r.dataset.key, Number(r.querySelector('td.rate').dataset.rps)])",
    )
    return dict(rows)


def text_of(driver: Any, element: str) -> str:
    return str(on_page(driver, f"return document.getElementById('{element}').textContent"))


def test_the_page_draws_the_chain_follows_an_edit_and_shows_rates(
    run: LocalRun, calc_sample: Path, browser: Any, tmp_path: Path
) -> None:
    wait_wired(run)
    url = run.snapshot()["supervisor"]["view"]
    assert url.startswith("http://127.0.0.1:")
    browser.get(url)
    links = "return [...document.querySelectorAll('#list-rows a')].map(a => a.href)"
    listed = wait_until(lambda: on_page(browser, links), "the list", timeout=20)
    assert listed == [url + PAGE]
    browser.get(listed[0])
    wait_until(lambda: keys_on_page(browser) == CALC, "the 7 functions on the page", timeout=20)
    assert browser.current_url == url + PAGE
    assert text_of(browser, "status") == "Deployed"
    assert on_page(browser, "return document.querySelectorAll('g.edge.edge-published').length") == 6
    load = Load(f"{run.pod('plus')['address']}:8080", clients=2).start()
    try:
        wait_until(lambda: len(load.sent) >= 20, "the load to flow")
        time.sleep(2.5)  # two samples of the metrics apart: rates need both
        shot = tmp_path / "live-page.png"
        assert browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        edited = time.monotonic()
        shorten_chain(calc_sample)
        wait_until(lambda: keys_on_page(browser) == SHORT, "the edit", timeout=EDIT_DEADLINE_S)
        print(f"the chain edit was on the page {time.monotonic() - edited:.3f} s after the write")
        wait_until(
            lambda: "Last:" in text_of(browser, "rewiring"), "the rewiring on the page", timeout=60
        )
        assert "\u21d2  send \u2192 plus \u2192 minus \u2192 rcv;" in text_of(browser, "rewiring")

        # Every hop the traffic goes through (plus, minus, rcv; send is not in its path).
        def flowing() -> bool:
            rates = rates_on_page(browser)
            return all(rates.get(key, 0) > 0 for key in SHORT[1:])

        wait_until(flowing, "non-zero rates on every hop of the traffic", timeout=20)
    finally:
        load.stop()
