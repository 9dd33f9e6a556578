"""Scrapes every function's metrics into the board, once a second, in a thread of its own.

A page request only reads the latest figures: a slow or silent function delays the next sample
(each scrape times out after a second), never a page.
"""

from __future__ import annotations

import threading
import time

import structlog

from kasugai.view.figures import HopSampler, scrape
from kasugai.view.page.board import Board

__all__ = ["FigureSampler"]

log = structlog.get_logger("kasugai.view")

INTERVAL_SECONDS = 1.0


class FigureSampler:
    def __init__(self, board: Board, interval: float = INTERVAL_SECONDS) -> None:
        self.board = board
        self.interval = interval
        self._stop = threading.Event()
        self._sampler = HopSampler(clock=time.monotonic)
        self._thread = threading.Thread(target=self._run, name="page-figures", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def sample_once(self) -> None:
        counts = scrape(self.board.metrics_targets())
        self.board.set_figures(self._sampler.figures(counts))

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.sample_once()
            except Exception:  # a bug here must not end the page's figures for good
                log.exception("sampling the functions' metrics failed")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
