"""Keeps one pipeline running as the config file says: gst-launch cannot reload, so it is restarted.

One asyncio loop owns everything: signals (SIGHUP reload, SIGTERM/SIGINT stop, SIGCHLD reap),
the config directory watch (watchfiles, no polling) and the restart timers. Every trigger is a
message on one queue, handled in order, so a reload never races a stop.

Rules: a config that is bad is logged and the last good pipeline keeps running; a config equal to
the running one changes nothing (the sidecar both rewrites the file and sends SIGHUP); a pipeline
that dies is restarted after an exponential backoff; stopping sends SIGINT to the pipeline's
process group (gst-launch -e turns it into end-of-stream, which finalises an MP4), then SIGTERM,
then SIGKILL, each after a timeout.

A pipeline that exits with status 0 reached end-of-stream: someone stopped it on purpose, as the
original's guide does with SIGINT before it copies a receiver's MP4. It is finished, not dead, and
is not restarted (a restart would truncate that MP4) until the next reload: SIGHUP or a new config.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path

import attrs
import structlog
import watchfiles

from kasugai.backoff import Backoff
from kasugai_functions.video.pipeline_config import (
    ConfigError,
    PipelineConfig,
    read_pipeline_config,
)
from kasugai_functions.video.process_group import reap_children, signal_group, spawn_in_new_session

log = structlog.get_logger("kasugai.wrapper")

TERM_GRACE_SECONDS = 5.0  # after SIGTERM, before SIGKILL
KILL_WAIT_SECONDS = 10.0  # after SIGKILL: only a process stuck in the kernel takes this long
WATCH_READY_MS = 500  # the watch's first idle wake-up, which shows it is watching


@attrs.define
class _Running:
    pid: int
    config: PipelineConfig
    started: float
    exited: asyncio.Future[int]
    stopping: bool = False


@attrs.frozen
class _Reload:
    reason: str


@attrs.frozen
class _Exited:
    pid: int
    code: int


@attrs.frozen
class _Retry:
    pass


@attrs.frozen
class _Stop:
    reason: str


_Event = _Reload | _Exited | _Retry | _Stop


class Supervisor:
    """Runs the pipeline described by ``config_path`` until told to stop."""

    def __init__(
        self,
        config_path: Path,
        stop_timeout: float,
        backoff: Backoff,
        on_start: Callable[[], None] = lambda: None,
    ) -> None:
        self._config_path = config_path
        self._on_start = on_start  # counts starts for /metrics
        self._stop_timeout = stop_timeout
        self._backoff = backoff
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._desired: PipelineConfig | None = None
        self._running: _Running | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._failures = 0  # quick pipeline deaths in a row
        self._shutting_down = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._events.put_nowait, _Reload("SIGHUP"))
        loop.add_signal_handler(signal.SIGTERM, self._request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._request_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        stop_watch = asyncio.Event()
        watcher = asyncio.create_task(self._watch_config(stop_watch))
        self._events.put_nowait(_Reload("start"))
        try:
            while not isinstance(event := await self._events.get(), _Stop):
                await self._handle(event)
            log.info("stopping", reason=event.reason)
        finally:
            self._cancel_retry()
            await self._stop_pipeline()
            stop_watch.set()
            await watcher
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                loop.remove_signal_handler(sig)
        log.info("stopped")

    def _request_stop(self, reason: str) -> None:
        self._shutting_down = True
        self._events.put_nowait(_Stop(reason))

    async def _handle(self, event: _Event) -> None:
        if isinstance(event, _Reload):
            await self._reload(event.reason)
        elif isinstance(event, _Exited):
            self._on_unexpected_exit(event)
        elif isinstance(event, _Retry):
            self._retry = None
            if self._running is None and self._desired is not None:
                self._start(self._desired)

    async def _reload(self, reason: str) -> None:
        try:
            config = read_pipeline_config(self._config_path)
        except FileNotFoundError:
            log.info("waiting for config", path=str(self._config_path), trigger=reason)
            return
        except ConfigError as exc:
            running = list(self._running.config.command) if self._running else None
            log.error("config rejected", error=str(exc), trigger=reason, keeps_running=running)
            return
        finished = self._running is None and self._retry is None  # see _on_unexpected_exit
        if config == self._desired and not finished:
            log.info("config unchanged", trigger=reason)
            return
        log.info("config loaded", trigger=reason, command=list(config.command))
        self._desired = config
        self._cancel_retry()
        self._failures = 0
        await self._stop_pipeline()
        self._start(config)

    def _start(self, config: PipelineConfig) -> None:
        if self._shutting_down:
            return
        loop = asyncio.get_running_loop()
        try:
            pid = spawn_in_new_session(config.command)
        except OSError as exc:
            log.error("pipeline failed to start", command=list(config.command), error=str(exc))
            self._schedule_retry(ran_for=0.0)
            return
        self._running = _Running(pid, config, loop.time(), loop.create_future())
        self._on_start()
        log.info("pipeline started", pid=pid, command=list(config.command))

    def _reap(self) -> None:
        for pid, code in reap_children():
            running = self._running
            if running is None or pid != running.pid:
                log.info("reaped descendant", pid=pid, exit_code=code)
                continue
            running.exited.set_result(code)
            if not running.stopping:
                self._events.put_nowait(_Exited(pid, code))

    def _on_unexpected_exit(self, event: _Exited) -> None:
        running = self._running
        if running is None or running.pid != event.pid:
            return
        self._running = None
        if signal_group(running.pid, signal.SIGKILL):
            log.warning("killed leftover processes of the pipeline", pgid=running.pid)
        ran_for = asyncio.get_running_loop().time() - running.started
        if event.code == 0:
            log.info("pipeline finished", pid=event.pid, restarts_on="SIGHUP or a new config")
            return
        log.warning("pipeline exited", pid=event.pid, exit_code=event.code, ran_for=ran_for)
        self._schedule_retry(ran_for)

    def _schedule_retry(self, ran_for: float) -> None:
        self._failures = self._backoff.failures_after(self._failures, ran_for)
        delay = self._backoff.delay(self._failures)
        log.info("restarting pipeline after backoff", retry_in=delay)
        loop = asyncio.get_running_loop()
        self._retry = loop.call_later(delay, self._events.put_nowait, _Retry())

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    async def _stop_pipeline(self) -> None:
        running = self._running
        if running is None:
            return
        running.stopping = True
        steps = (
            (signal.SIGINT, self._stop_timeout),
            (signal.SIGTERM, TERM_GRACE_SECONDS),
            (signal.SIGKILL, KILL_WAIT_SECONDS),
        )
        for sig, timeout in steps:
            if not running.exited.done():
                log.info("signalling pipeline", pid=running.pid, signal=sig.name)
                signal_group(running.pid, sig)
            try:
                code = await asyncio.wait_for(asyncio.shield(running.exited), timeout)
            except TimeoutError:
                continue
            log.info("pipeline stopped", pid=running.pid, exit_code=code)
            break
        else:
            log.error("pipeline did not die after SIGKILL", pid=running.pid)
        if signal_group(running.pid, signal.SIGKILL):
            log.warning("killed leftover processes of the pipeline", pgid=running.pid)
        self._running = None

    async def _watch_config(self, stop: asyncio.Event) -> None:
        """Turn changes of the config file into reloads; a failed watch is logged and restarted."""
        directory = self._config_path.parent.resolve()
        target = str(directory / self._config_path.name)
        while not stop.is_set():
            watching = False
            try:
                async for changes in watchfiles.awatch(
                    directory,
                    watch_filter=lambda _change, path: path == target,
                    stop_event=stop,
                    recursive=False,
                    rust_timeout=WATCH_READY_MS,
                    yield_on_timeout=True,
                ):
                    if changes:
                        self._events.put_nowait(_Reload("config file changed"))
                    elif not watching:
                        # The first yield proves the watch is up: read once more, so a file
                        # written before then (after the start-up read) is not missed.
                        self._events.put_nowait(_Reload("watch started"))
                    watching = True
            except (OSError, RuntimeError) as exc:
                log.error("config watch failed; restarting it", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
