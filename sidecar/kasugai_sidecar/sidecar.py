"""The sidecar's main loop: config in, templates rendered, function signalled.

Everything runs on one asyncio loop under a TaskGroup: the config source (a file watch, or the
Kubernetes watch thread feeding the loop), the template-directory watch, the renderer and the
signaller. Each watch is supervised: if it fails it is logged, counted, shown by ``/healthz``
and restarted after a short backoff, so the process never exits on bad data or a lost
connection. A change marks the state dirty; the renderer takes every change that arrived with it
(and more, for ``coalesce`` seconds if set: none by default, since the minimum interval between
two SIGHUPs already bounds a burst), renders, and asks for a SIGHUP only if some output changed.
"""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import structlog
import watchfiles

from kasugai.atomic_files import write_atomically
from kasugai_sidecar.connection import InvalidConnectionConfig, parse_connection_config
from kasugai_sidecar.file_source import watch_config_file
from kasugai_sidecar.observability import (
    CONFIG_UPDATES,
    RELOADS,
    RENDER_ERRORS,
    RENDER_FAILURES,
    RENDERS,
    WATCH_RESTARTS,
    WatchHealth,
    serve_observability,
)
from kasugai_sidecar.rendering import TEMPLATE_SUFFIX, render_directory, templates_in
from kasugai_sidecar.signalling import ReloadSignaller
from kasugai_sidecar.watching import STALE_AFTER_S, watch_directory

if TYPE_CHECKING:
    from kasugai_sidecar.kube_http import Api
    from kasugai_sidecar.loaded_report import LoadedReporter

log = structlog.get_logger("kasugai_sidecar")

RESTART_DELAY_S = 1.0


@attrs.frozen
class Settings:
    config_dir: Path
    process_name: str
    pod_name: str | None
    namespace: str | None
    config_file: Path | None  # the file source; None means the Kubernetes API
    kubeconfig: str | None = None
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = None
    coalesce: float = 0.0
    min_signal_interval: float = 0.1
    signal_retry_for: float = 15.0
    signal_retry_every: float = 0.1
    loaded_file: Path | None = None  # where to report the config the function was signalled for


class Sidecar:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data: Any = None  # the last good config, as templates see it
        self.last_text: str | None = None
        self.accepted_text: str | None = None  # the text ``data`` was decoded from
        self.render_error = ""  # why the last render failed ("": it did not)
        self.dirty = asyncio.Event()
        self.stop = asyncio.Event()
        self.signaller = ReloadSignaller(
            settings.process_name,
            settings.pod_name,
            min_interval=settings.min_signal_interval,
            retry_for=settings.signal_retry_for,
            retry_every=settings.signal_retry_every,
            on_delivered=self._report_loaded,
        )
        self.reporter = self._reporter(settings)
        self.source_health = WatchHealth("config source", STALE_AFTER_S)
        self.templates_health = WatchHealth("template watch", STALE_AFTER_S)

    # -- inputs ----------------------------------------------------------------------------

    def on_config(self, text: str | None) -> None:
        """A config arrived (``None``: the source is gone). Bad ones are logged and dropped."""
        if text is None:
            log.warning("config source is gone; keeping the last rendered files")
            return
        if text == self.last_text:
            return
        self.last_text = text
        try:
            data, config = parse_connection_config(text)
        except InvalidConnectionConfig as err:
            CONFIG_UPDATES.labels("rejected").inc()
            RENDER_ERRORS.labels("config").inc()
            log.error("config rejected; keeping the last good files", problems=err.problems)
            self._report_failure(f"config rejected: {'; '.join(map(str, err.problems))}")
            return
        CONFIG_UPDATES.labels("accepted").inc()
        log.info("config accepted", ips=config.ips, ports=[p.port for p in config.ports])
        self.data = data
        self.accepted_text = text
        self.dirty.set()

    @staticmethod
    def _reporter(settings: Settings) -> LoadedReporter | None:
        """From the API source, the sidecar reports on its own Pod's status (in a cluster)."""
        if settings.config_file is not None:
            return None
        from kasugai_sidecar.loaded_report import LoadedReporter, pod_status_patcher

        assert settings.pod_name and settings.namespace  # checked by the CLI
        api = functools.partial(_api, settings.kubeconfig)
        return LoadedReporter(pod_status_patcher(api, settings.namespace, settings.pod_name))

    def _report_loaded(self, text: str | None) -> None:
        """Report the config the function was signalled for (a runtime's readiness signal):
        in a file for the local runtime, on the Pod's status in a cluster."""
        if text is None:
            return
        if self.reporter is not None and not self.render_error:  # else it reports the failure
            self.reporter.report(text)
        path = self.settings.loaded_file
        if path is None:
            return
        try:
            write_atomically(path, text)
        except OSError as err:
            log.error("cannot report the loaded config", path=str(path), error=str(err))

    def _report_failure(self, error: str) -> None:
        """In a cluster, the Pod's condition says the newest config could not be rendered."""
        if self.reporter is not None:
            self.reporter.report_failure(error)

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop.set)
        server = None
        if self.settings.metrics_port is not None:
            server = serve_observability(
                self.settings.metrics_host,
                self.settings.metrics_port,
                (self.source_health, self.templates_health),
            )
        log.info(
            "sidecar started",
            config_dir=str(self.settings.config_dir),
            process=self.settings.process_name,
            pod=self.settings.pod_name,
            source=str(self.settings.config_file or "kubernetes"),
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._supervise(self.source_health, self._config_source))
                tasks.create_task(self._supervise(self.templates_health, self._watch_templates))
                tasks.create_task(self._render_loop())
                tasks.create_task(self.signaller.run())
                if self.reporter is not None:
                    tasks.create_task(self.reporter.run())
                await self.stop.wait()
                raise _Shutdown
        except* _Shutdown:
            log.info("sidecar stopping")
        finally:
            if server is not None:
                server.stop()

    async def _supervise(
        self, health: WatchHealth, watch: Callable[[WatchHealth], Awaitable[None]]
    ) -> None:
        name = health.name
        while not self.stop.is_set():
            try:
                await watch(health)
            except Exception as err:  # a watch that dies is restarted, never silently lost
                WATCH_RESTARTS.labels(name).inc()
                health.down(f"failed: {err}")
                log.error("watch failed; restarting", watch=name, error=str(err))
            else:
                if self.stop.is_set():
                    return
                health.down("ended")
                log.warning("watch ended; restarting", watch=name)
            await asyncio.sleep(RESTART_DELAY_S)

    async def _config_source(self, health: WatchHealth) -> None:
        if self.settings.config_file is not None:
            await watch_config_file(self.settings.config_file, self.on_config, health, self.stop)
            return
        from kasugai_sidecar.api_source import ConfigMapWatch

        loop = asyncio.get_running_loop()
        assert self.settings.pod_name and self.settings.namespace  # checked by the CLI

        def deliver(text: str) -> None:  # called on the watch thread
            loop.call_soon_threadsafe(self.on_config, text)

        watch = ConfigMapWatch(
            _api(self.settings.kubeconfig),
            self.settings.namespace,
            f"ethcrl.{self.settings.pod_name}",
            deliver,
            health,
        )
        watch.start()
        try:
            await self.stop.wait()
        finally:
            watch.stop()

    async def _watch_templates(self, health: WatchHealth) -> None:
        directory = self.settings.config_dir
        directory.mkdir(parents=True, exist_ok=True)
        health.beat()
        self.dirty.set()  # templates already present are rendered once a config is known

        def is_template(change: watchfiles.Change, path: str) -> bool:
            return change != watchfiles.Change.deleted and path.endswith(TEMPLATE_SUFFIX)

        async for changes in watch_directory(directory, is_template, self.stop):
            health.beat()
            if changes:
                self.dirty.set()

    async def _render_loop(self) -> None:
        while True:
            await self.dirty.wait()
            await asyncio.sleep(self.settings.coalesce)  # changes already queued come in too
            self.dirty.clear()
            if self.data is None:
                continue  # no config yet: nothing to render with
            result = render_directory(self.settings.config_dir, self.data)
            RENDERS.inc()
            for failure in result.failures:
                RENDER_ERRORS.labels("template").inc()
                RENDER_FAILURES.inc()
                log.error(
                    "template failed; keeping its last output",
                    template=str(failure.template),
                    reason=failure.reason,
                )
            self.render_error = "; ".join(f"{f.template.name}: {f.reason}" for f in result.failures)
            if self.render_error:
                self._report_failure(self.render_error)
            if result.changed:
                RELOADS.inc()
                log.info("rendered", files=[str(p) for p in result.changed])
                self.signaller.request(self.accepted_text)
            elif not result.failures and templates_in(self.settings.config_dir):
                self._report_loaded(self.accepted_text)  # the function already runs with it


def _api(kubeconfig: str | None) -> Api:
    from kasugai_sidecar.kube_access import load_access
    from kasugai_sidecar.kube_http import Api

    return Api(load_access(kubeconfig))


class _Shutdown(Exception):
    """Ends the TaskGroup on SIGTERM/SIGINT, cancelling every task."""
