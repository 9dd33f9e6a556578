#!/usr/bin/env python3
"""Takes docs/images/live-page.png: the calc sample under ``kasugai up``, traffic into it, and
its live page in headless Chromium. Everything it starts is stopped before it returns.

    .venv/bin/python scripts/screenshot_page.py [--output PATH]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from kasugai.adapters.local.testing import LocalRun, wait_until
from kasugai.commands.demo_chain import ChainProbe
from kasugai.testing.browser import headless_chromium
from kasugai.testing.rewire_load import Load

REPO = Path(__file__).resolve().parents[1]
PAGE = "dataflows/cpufunc-calcapp/df-calcapp"
RATES = (
    "return [...document.querySelectorAll('#hops td.rate')]"
    ".filter(td => Number(td.dataset.rps) > 0).length"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO / "docs" / "images" / "live-page.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kasugai-page-") as scratch:
        sample = Path(scratch) / "calc"
        shutil.copytree(REPO / "manifests" / "samples" / "calc", sample)
        run = LocalRun(
            sample,
            Path(scratch) / "state",
            Path(scratch) / "up.log",
            up_args=("--view", "127.0.0.1:0"),
        )
        try:
            run.start()
            wait_until(ChainProbe(run.state).wired, "every function to load its next hop")
            url = run.snapshot()["supervisor"]["view"] + PAGE
            load = Load(f"{run.pod('plus')['address']}:8080", clients=2).start()
            browser = headless_chromium(width=1500, height=860)
            try:
                browser.get(url)
                # Rates need two samples a second apart; functions without /metrics show none.
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and browser.execute_script(RATES) < 6:
                    time.sleep(0.5)
                time.sleep(1.0)
                Path(args.output).parent.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(args.output)
            finally:
                browser.quit()
                load.stop()
        finally:
            run.close()
    print(f"wrote {args.output} from {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
