"""The supervisor: runs the DataFlows of a directory on this machine until told to stop.

Start-up is all or nothing: the inputs are read and planned, every desired Pod is checked to be
runnable here, and only then does anything start; a failure raises ``StartError`` listing every
problem, with no process left behind. Then two tasks run until ``request_stop``: one watches the
input directory and feeds edits to the reconciler as events, the other applies queued events
(edits and Pod status changes) in batches and rewrites ``state.json``. ``close`` stops every Pod
(SIGTERM, grace period, SIGKILL), writes the last snapshot and releases the state directory.
The engine and everything that touches it run on the event loop's thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import structlog
import watchfiles

from kasugai.adapters.files import InputError, Loaded
from kasugai.adapters.journal import JournalWriter
from kasugai.adapters.local.addresses import AddressBook
from kasugai.adapters.local.configmaps import ConfigMapFiles
from kasugai.adapters.local.inputs import InputDirectory
from kasugai.adapters.local.layout import StateDir
from kasugai.adapters.local.leftovers import runtime_id_of, stop_leftovers
from kasugai.adapters.local.lock import AlreadyRunning, SupervisorLock
from kasugai.adapters.local.pods import PodRunner, PodTable
from kasugai.adapters.local.podspec import NotRunnable, PodSpec, pod_spec_json, prepare_pod
from kasugai.adapters.local.reconciler import Reconciler
from kasugai.adapters.local.snapshot import build_snapshot, read_snapshot, write_snapshot
from kasugai.atomic_files import write_atomically
from kasugai.backoff import Backoff
from kasugai.core.diff import object_key
from kasugai.core.engine import Engine
from kasugai.core.events import Event, Forgotten, ObjectKey
from kasugai.core.options import PlanOptions

__all__ = ["Settings", "StartError", "Supervisor"]

log = structlog.get_logger("kasugai.local")

WATCH_RESTART_SECONDS = 1.0
# A sidecar's report gates the rewiring of the function's upstream: watch with little delay.
LOADED_STEP_MS = 2
LOADED_DEBOUNCE_MS = 20


class StartError(Exception):
    """``up`` cannot start; ``problems`` say why, one line each, naming file, Pod or field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@attrs.frozen
class Settings:
    source: Path
    state: StateDir
    options: PlanOptions = attrs.field(factory=PlanOptions)
    backoff: Backoff = attrs.field(factory=Backoff)
    journal: Path | None = None  # record every event and decision for ``kasugai replay``


def _errors(engine: Engine, sources: Mapping[ObjectKey, str]) -> list[str]:
    """Every object in Error, naming its file (as ``kasugai plan`` reports them)."""
    errors = []
    for status in engine.status_objects():
        body = status["status"]
        if body.get("status") == "Error":
            key = object_key(status)
            where = sources.get(key, "(input)")
            errors.append(f"{where}: {key.kind} {key.namespace}/{key.name}: {body['message']}")
    return errors


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        state = settings.state
        self.runtime_id = uuid.uuid4().hex
        self._lock = SupervisorLock(state)
        self._inputs = InputDirectory(settings.source)
        # Input edits, Pod status changes, and Pods whose sidecar reported a loaded config.
        self._inbox: asyncio.Queue[list[Event] | PodRunner | ObjectKey] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._phase = "Starting"
        self._input_problems: list[str] = []
        self._started_at = time.time()
        self._closed = False
        # Told every snapshot as it is written (the live page), and where that page is served.
        self.on_snapshot: Callable[[dict[str, Any]], None] | None = None
        self.view_url = ""
        self.pods = PodTable(settings.backoff, self._inbox.put_nowait)
        self.reconciler = Reconciler(
            Engine(settings.options),
            AddressBook(state.addresses),
            self.pods,
            ConfigMapFiles(state),
            self._prepare,
            JournalWriter(settings.journal) if settings.journal else None,
        )

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Plan, check and start everything; ``StartError`` (nothing left running) if not."""
        # Inputs are read before the state directory is touched: a wrong path leaves nothing.
        try:
            loaded = self._inputs.load()
        except InputError as error:
            raise StartError([str(error)]) from None
        try:
            self._lock.acquire()
        except AlreadyRunning as error:
            raise StartError([str(error)]) from None
        try:
            await self._start(loaded)
        except BaseException:
            await self.close(phase="Failed")
            raise

    async def _start(self, loaded: list[Loaded]) -> None:
        stop_leftovers(self.settings.state, runtime_id_of(read_snapshot(self.settings.state)))
        self.reconciler.configmaps.clear()
        shutil.rmtree(self.settings.state.loaded, ignore_errors=True)
        self.settings.state.loaded.mkdir(parents=True)
        self._tasks = [asyncio.create_task(self._watch_loaded())]  # before any Pod starts
        self.write_snapshot()
        engine = self.reconciler.engine
        self.reconciler.feed([item.event for item in loaded])
        problems = _errors(engine, self._inputs.sources()) + self._unrunnable()
        if problems:
            raise StartError(problems)
        self.reconciler.converge()
        await self.pods.settled()
        self._apply_queued_now()  # the Pods' "started" reports, so the first snapshot shows them
        self._tasks += [
            asyncio.create_task(self._apply_queued()),
            asyncio.create_task(self._watch_inputs()),
        ]
        self._phase = "Running"
        self.write_snapshot()
        log.info("up", source=str(self.settings.source), state=str(self.settings.state.root))

    def request_stop(self) -> None:
        self._stop.set()

    async def wait(self) -> None:
        """Run until ``request_stop``; a failed task (a bug) ends the wait with its error."""
        stopper = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait([stopper, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        for task in done:
            if task is not stopper:
                task.result()

    async def close(self, phase: str = "Stopped") -> None:
        """Stop every Pod and task, write the last snapshot, release the state directory."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._phase = "Stopping"
        try:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.pods.stop_all()
            stop_leftovers(self.settings.state, self.runtime_id)
            self._phase = phase
            pods = [k for k in self.reconciler.actual if k.kind == "Pod"]
            gone: list[Event] = [Forgotten(k.kind, k.namespace, k.name) for k in pods]
            for key in pods:
                del self.reconciler.actual[key]
            self.reconciler.feed(gone)  # the statuses say the Pods are gone
            self.write_snapshot()
        finally:
            if self.reconciler.journal is not None:
                self.reconciler.journal.close()
            self._lock.release()
        log.info("down", phase=phase)

    # --- inside ---------------------------------------------------------------------------

    def _prepare(self, desired: Mapping[str, Any]) -> PodSpec:
        key = object_key(desired)
        state = self.settings.state
        address = self.reconciler.addresses.address_of(key.namespace, key.name)
        connection = self.reconciler.configmaps.path(key.namespace, f"ethcrl.{key.name}")
        spec = prepare_pod(desired, address, state, connection, self.runtime_id)
        write_atomically(
            state.pod_file(key.namespace, key.name),
            json.dumps(pod_spec_json(spec), indent=2),
        )
        return spec

    def _unrunnable(self) -> list[str]:
        problems = []
        for desired in self.reconciler.engine.desired():
            if desired["kind"] != "Pod":
                continue
            key = object_key(desired)
            address = self.reconciler.addresses.address_of(key.namespace, key.name)
            try:
                prepare_pod(desired, address, self.settings.state, Path(), self.runtime_id)
            except NotRunnable as error:
                problems.extend(error.problems)
        return problems

    async def _apply_queued(self) -> None:
        while True:
            self._inbox.put_nowait(await self._inbox.get())
            self._apply_queued_now()

    def _apply_queued_now(self) -> None:
        """Apply everything queued as one batch (a burst of changes is planned once)."""
        events: list[Event] = []
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if isinstance(item, PodRunner | ObjectKey):
                event = (
                    self.reconciler.pod_changed(item)
                    if isinstance(item, PodRunner)
                    else self.reconciler.loaded_changed(item)
                )
                if event is not None:
                    events.append(event)
            else:
                events.extend(item)
        if events:
            self.reconciler.apply(events)
        self.write_snapshot()

    async def _watch_inputs(self) -> None:
        """Feed edits of the input directory to the reconciler; a failed watch is restarted."""
        await self._restarting("input watch", self._follow_inputs)

    async def _follow_inputs(self) -> None:
        async for paths in self._inputs.changes(self._stop):
            events, errors = self._inputs.reload(paths)
            for error in errors:
                log.error("input not applied; keeping the last good version", error=error)
            self._input_problems = errors
            log.info("inputs changed", files=[str(p) for p in paths], events=len(events))
            self._inbox.put_nowait(events)

    async def _watch_loaded(self) -> None:
        """Queue the Pods whose sidecar reported a loaded config (``<ns>/<pod>.config``)."""
        await self._restarting("loaded-config watch", self._follow_loaded)

    async def _follow_loaded(self) -> None:
        async for changes in watchfiles.awatch(
            self.settings.state.loaded,
            watch_filter=lambda change, path: (
                path.endswith(".config") and change != watchfiles.Change.deleted
            ),
            debounce=LOADED_DEBOUNCE_MS,
            step=LOADED_STEP_MS,
            stop_event=self._stop,
        ):
            for _, path in changes:
                name = Path(path)
                self._inbox.put_nowait(
                    ObjectKey("Pod", name.parent.name, name.name.removesuffix(".config"))
                )

    async def _restarting(self, what: str, follow: Callable[[], Awaitable[None]]) -> None:
        """Run ``follow`` until the supervisor stops; a failure restarts it after a pause."""
        while not self._stop.is_set():
            try:
                await follow()
            except (OSError, RuntimeError) as error:
                log.error(f"{what} failed; restarting it", error=str(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), WATCH_RESTART_SECONDS)

    def write_snapshot(self) -> None:
        supervisor = {
            "pid": os.getpid(),
            "phase": self._phase,
            "runtimeId": self.runtime_id,
            "source": str(self.settings.source),
            "startedAt": self._started_at,
        }
        if self.view_url:
            supervisor["view"] = self.view_url
        snapshot = build_snapshot(self.reconciler, supervisor, list(self._input_problems))
        write_snapshot(self.settings.state, snapshot)
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot)
