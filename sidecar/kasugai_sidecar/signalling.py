"""Delivers SIGHUP to the function after its config files changed, coalescing bursts.

A request is served at once unless a signal went out less than ``min_interval`` ago; then one
signal, sent when the interval is over, serves every request made meanwhile. A burst of changes
therefore costs at most two reloads, and a single change is signalled without added delay.

Every matching process of the Pod gets the signal and its PID is logged. A process that is not
there yet, or has not installed its SIGHUP handler yet (the default action of SIGHUP ends a
process), is waited for, every ``retry_every`` seconds, for at most ``retry_for`` seconds: a
function that starts after the files were written reads them at start anyway.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import structlog

from kasugai_sidecar.observability import LAST_RELOAD, SIGNALS
from kasugai_sidecar.processes import find_processes

log = structlog.get_logger("kasugai_sidecar.signalling")


class ReloadSignaller:
    def __init__(
        self,
        process_name: str,
        pod_name: str | None,
        *,
        min_interval: float,
        retry_for: float,
        retry_every: float,
        on_delivered: Callable[[Any], None] | None = None,
    ) -> None:
        self.process_name = process_name
        self.pod_name = pod_name
        self.min_interval = min_interval
        self.retry_for = retry_for
        self.retry_every = retry_every
        self._wanted = asyncio.Event()
        self._last_sent = -float("inf")
        self._on_delivered = on_delivered
        self._payload: Any = None

    def request(self, payload: Any = None) -> None:
        """Ask for a SIGHUP: the config files changed (rendered from ``payload``, if given).

        Once a signal has reached every process, ``on_delivered`` gets the payload of the last
        request that signal served."""
        self._payload = payload
        self._wanted.set()

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            holdoff = self._last_sent + self.min_interval - time.monotonic()
            if holdoff > 0:
                await asyncio.sleep(holdoff)
                self._wanted.clear()  # served by the signal we are about to send
            payload = self._payload
            if not await self._deliver():
                continue
            LAST_RELOAD.set_to_current_time()
            if self._on_delivered is not None:
                self._on_delivered(payload)

    async def _deliver(self) -> bool:
        deadline = time.monotonic() + self.retry_for
        signalled: set[int] = set()
        announced = False
        while True:
            found = find_processes(self.process_name, self.pod_name)
            for process in found:
                if process.handles_sighup and process.pid not in signalled:
                    self._send(process.pid, process.argv)
                    signalled.add(process.pid)
            not_ready = [p.pid for p in found if not p.handles_sighup]
            if signalled and not not_ready:
                return True
            if time.monotonic() >= deadline:
                log.warning(
                    "sighup not delivered: gave up waiting",
                    process=self.process_name,
                    waited_s=self.retry_for,
                    no_handler_pids=not_ready,
                    hint="is the function running in this Pod, named as "
                    "SIDECAR_MNG_PROSESS_NAME says, with a SIGHUP handler?",
                )
                return False
            if not announced:
                log.info(
                    "waiting for the function before signalling",
                    process=self.process_name,
                    found_pids=[p.pid for p in found],
                    no_handler_pids=not_ready,
                )
                announced = True
            await asyncio.sleep(self.retry_every)

    def _send(self, pid: int, argv: tuple[str, ...]) -> None:
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            return  # ended between the scan and the signal
        except PermissionError as err:
            log.error(
                "sighup refused",
                pid=pid,
                error=str(err),
                hint="run the sidecar as the function's user or give it CAP_KILL",
            )
            return
        self._last_sent = time.monotonic()
        SIGNALS.inc()
        log.info("sighup sent", pid=pid, cmdline=" ".join(argv)[:200])
