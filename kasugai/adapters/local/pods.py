"""Pods as supervised process groups: start, restart with backoff, stop gracefully.

A ``PodRunner`` runs the containers of one Pod and restarts a container that exits, as its
``restartPolicy`` says (Always by default), after an exponential, capped backoff that starts over
once the container has run for a while (Kubernetes' CrashLoopBackOff, with shorter delays). Each
change (started, exited, restarting) is reported through ``on_change``, which the supervisor
turns into an observed Pod status for the core. ``PodTable`` holds the runners and runs
operations on one Pod in order (a replace stops the old Pod before the new one takes its
address) while operations on different Pods run concurrently: stopping a Pod never delays
rewiring the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import structlog

from kasugai.adapters.local.podspec import ContainerSpec, PodSpec, create_directories
from kasugai.adapters.local.processes import spawn, stop_group
from kasugai.backoff import Backoff
from kasugai.core.events import ObjectKey

__all__ = ["PodRunner", "PodTable"]

log = structlog.get_logger("kasugai.local.pods")


@attrs.define
class _Container:
    spec: ContainerSpec
    process: asyncio.subprocess.Process | None = None
    state: str = "Waiting"  # Waiting, Running, Terminated (Kubernetes' container states)
    reason: str = "ContainerCreating"
    exit_code: int | None = None
    restarts: int = 0
    failures: int = 0
    started: float = 0.0
    attempted: asyncio.Event = attrs.field(factory=asyncio.Event)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": self.spec.name,
            "state": self.state,
            "reason": self.reason,
            "restartCount": self.restarts,
            "pid": self.process.pid if self.process and self.state == "Running" else None,
            "log": self.spec.log,
        }
        if self.exit_code is not None:
            status["lastExitCode"] = self.exit_code
        return status


def _should_restart(policy: str, code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and code != 0)


class PodRunner:
    """The containers of one Pod, each supervised by its own task."""

    def __init__(
        self, spec: PodSpec, backoff: Backoff, on_change: Callable[[PodRunner], None]
    ) -> None:
        self.spec = spec
        self._backoff = backoff
        self._on_change = on_change
        self._containers = [_Container(c) for c in spec.containers]
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def key(self) -> ObjectKey:
        return ObjectKey("Pod", self.spec.namespace, self.spec.name)

    async def start(self) -> None:
        """Start every container; returns once each has been started (or failed to)."""
        create_directories(self.spec)
        for container in self._containers:
            task = asyncio.create_task(self._supervise(container))
            task.add_done_callback(self._supervision_ended)
            self._tasks.append(task)
        await asyncio.gather(*(c.attempted.wait() for c in self._containers))

    def _supervision_ended(self, task: asyncio.Task[None]) -> None:
        """A supervising task ends when the container is not to be restarted, or on a bug."""
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "container supervision crashed", pod=self.spec.name, exc_info=task.exception()
            )

    async def stop(self) -> None:
        """Stop every container (SIGTERM, grace period, SIGKILL), all at once."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = [c for c in self._containers if c.process and c.process.returncode is None]
        await asyncio.gather(
            *(stop_group(c.process, self.spec.grace_seconds) for c in running if c.process)
        )
        for container in self._containers:
            container.state, container.reason = "Terminated", "Stopped"
        log.info("pod stopped", pod=self.spec.name)

    def phase(self) -> str:
        states = [c.state for c in self._containers]
        if any(not c.attempted.is_set() for c in self._containers):
            return "Pending"
        if all(state == "Terminated" for state in states):
            failed = any(c.exit_code for c in self._containers)
            return "Failed" if failed else "Succeeded"
        return "Running"

    def status(self) -> dict[str, Any]:
        """A Kubernetes-like Pod status, with each container's PID and log."""
        return {
            "phase": self.phase(),
            "podIP": self.spec.address,
            "containerStatuses": [c.status() for c in self._containers],
        }

    async def _supervise(self, container: _Container) -> None:
        while True:
            code = await self._run_once(container)
            ran_for = time.monotonic() - container.started
            container.failures = self._backoff.failures_after(container.failures, ran_for)
            container.state, container.exit_code = "Terminated", code
            if not _should_restart(self.spec.restart_policy, code):
                container.reason = "Completed" if code == 0 else "Error"
                self._on_change(self)
                return
            delay = self._backoff.delay(container.failures)
            container.state, container.reason = "Waiting", "CrashLoopBackOff"
            log.warning(
                "container exited; restarting",
                pod=self.spec.name,
                container=container.spec.name,
                exit_code=code,
                restart_in=round(delay, 3),
                log=container.spec.log,
            )
            self._on_change(self)
            await asyncio.sleep(delay)
            container.restarts += 1

    async def _run_once(self, container: _Container) -> int:
        """Start the container and wait for it to exit; its exit code (128+n for signal n)."""
        container.started = time.monotonic()
        try:
            container.process = await spawn(container.spec)
        except OSError as error:
            log.error(
                "container cannot start",
                pod=self.spec.name,
                container=container.spec.name,
                error=str(error),
            )
            container.attempted.set()
            return 128
        container.state, container.reason = "Running", ""
        container.attempted.set()
        log.info(
            "container started",
            pod=self.spec.name,
            container=container.spec.name,
            pid=container.process.pid,
        )
        self._on_change(self)
        code = await container.process.wait()
        return code if code >= 0 else 128 - code


class PodTable:
    """The running Pods; operations on one Pod run in order, on different Pods concurrently."""

    def __init__(self, backoff: Backoff, on_change: Callable[[PodRunner], None]) -> None:
        self._backoff = backoff
        self._on_change = on_change
        self.runners: dict[ObjectKey, PodRunner] = {}
        self.failures: list[BaseException] = []  # operations that crashed (bugs)
        self._queues: dict[ObjectKey, asyncio.Task[None]] = {}

    def _enqueue(self, key: ObjectKey, operation: Callable[[], Awaitable[None]]) -> None:
        previous = self._queues.get(key)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            try:
                await operation()
            except OSError as error:  # the Pod's directories or log cannot be written
                log.error("pod operation failed", pod=key.name, error=str(error))

        task = asyncio.create_task(run())
        self._queues[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: ObjectKey, task: asyncio.Task[None]) -> None:
        if self._queues.get(key) is task:
            del self._queues[key]
        if not task.cancelled() and task.exception() is not None:
            self.failures.append(task.exception())  # type: ignore[arg-type]
            log.error("pod operation crashed", pod=key.name, exc_info=task.exception())

    def create(self, spec: PodSpec) -> None:
        runner = PodRunner(spec, self._backoff, self._on_change)

        async def start() -> None:
            self.runners[runner.key] = runner
            await runner.start()

        self._enqueue(runner.key, start)

    def delete(self, key: ObjectKey) -> None:
        async def stop() -> None:
            runner = self.runners.pop(key, None)
            if runner is not None:
                await runner.stop()

        self._enqueue(key, stop)

    async def settled(self) -> None:
        """Wait until every queued operation has finished; raise the first that crashed."""
        while self._queues:
            await asyncio.wait(list(self._queues.values()))
        if self.failures:
            raise self.failures[0]

    async def stop_all(self) -> None:
        for key in list(self.runners):
            self.delete(key)
        await self.settled()
