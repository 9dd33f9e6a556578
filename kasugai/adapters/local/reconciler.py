"""The local reconciler: the core's desired objects, made real on this machine.

Each batch of events (edited inputs, Pod status changes) goes into the core's ``Engine``; then
``diff(desired, actual)`` says what to do, and each action is carried out here: a Pod is started
or stopped as process groups (``PodTable``, asynchronously: a slow stop never holds up the
rewiring of other functions), a Service is recorded with its Pod's address, a ConfigMap becomes a
file. Every action is observed back into the core as the API server would report it
(``facts``), and the loop repeats until the diff is empty: Pods and Services first, then, once
their addresses are known, the connection ConfigMaps. With a journal, every event and decision is
recorded, so ``kasugai replay`` can reproduce a local run's decisions offline.

A Pod that cannot run here (``NotRunnable``) is not started; its previous version, if any, keeps
running, and the error stays in the snapshot until the inputs change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import structlog

from kasugai.adapters.journal import JournalWriter
from kasugai.adapters.local.addresses import AddressBook
from kasugai.adapters.local.configmaps import ConfigMapFiles
from kasugai.adapters.local.facts import observed_pod, observed_service, selected_pod
from kasugai.adapters.local.pods import PodRunner, PodTable
from kasugai.adapters.local.podspec import NotRunnable, PodSpec
from kasugai.collector import collector_paused
from kasugai.core.diff import Action, diff
from kasugai.core.engine import Changes, Engine
from kasugai.core.events import Event, Forgotten, ObjectKey, Observed, Transitioned
from kasugai.core.identity import IDENTITY_KINDS
from kasugai.core.rewiring import loaded_condition
from kasugai.core.status import condition

__all__ = ["Reconciler"]

log = structlog.get_logger("kasugai.local")

MAX_PASSES = 8  # create Pods and Services, then ConfigMaps: two passes suffice; more is a bug


@attrs.frozen
class Rejection:
    desired: Mapping[str, Any] = attrs.field(eq=False)
    problems: tuple[str, ...]


class Reconciler:
    """Engine + actual objects + the Pods, ConfigMap files and addresses behind them."""

    def __init__(
        self,
        engine: Engine,
        addresses: AddressBook,
        pods: PodTable,
        configmaps: ConfigMapFiles,
        prepare: Callable[[Mapping[str, Any]], PodSpec],
        journal: JournalWriter | None = None,
    ) -> None:
        self.engine = engine
        self.journal = journal
        self.addresses = addresses
        self.pods = pods
        self.configmaps = configmaps
        self._prepare = prepare
        self.actual: dict[ObjectKey, dict[str, Any]] = {}
        self.specs: dict[ObjectKey, PodSpec] = {}
        self.rejected: dict[ObjectKey, Rejection] = {}
        self.loaded: dict[ObjectKey, str] = {}  # Pod -> the config its sidecar reported
        # Told every lifecycle decision, after it is logged (the live page lists them).
        self.on_transition: Callable[[Transitioned], None] | None = None

    def feed(self, events: list[Event]) -> None:
        """Fold events into the core (through the journal, one by one, if there is one)."""
        if self.journal is None:
            with collector_paused():
                changes = self.engine.apply_all(events)
            self._report(changes)
            return
        for event in events:
            self._report(self.journal.apply(self.engine, event))

    def apply(self, events: list[Event]) -> None:
        """Fold events into the core, then act until nothing is left to do."""
        self.feed(events)
        self.converge()

    def converge(self) -> None:
        for _ in range(MAX_PASSES):
            actions = self._actions()
            if not actions:
                return
            self.feed([event for action in actions for event in self._act(action)])
        log.error("the plan did not settle; please report this", actions=len(self._actions()))

    def pod_changed(self, runner: PodRunner) -> Event | None:
        """The observed Pod after a status change of its processes (None: not the current Pod)."""
        key = runner.key
        if self.specs.get(key) is not runner.spec or key not in self.actual:
            return None
        self.actual[key] = {**self.actual[key], "status": self._status(key, runner.status())}
        return Observed.of(self.actual[key])

    def loaded_changed(self, key: ObjectKey) -> Event | None:
        """The observed Pod after its sidecar reported a loaded config (None: not ours now)."""
        spec = self.specs.get(key)
        if spec is None or not spec.loaded_file or key not in self.actual:
            return None
        try:
            text = Path(spec.loaded_file).read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            return None  # replaced or removed meanwhile: the next report will tell
        if self.loaded.get(key) == text:
            return None
        self.loaded[key] = text
        status = dict(self.actual[key].get("status") or {})
        self.actual[key] = {**self.actual[key], "status": self._status(key, status)}
        return Observed.of(self.actual[key])

    def _status(self, key: ObjectKey, status: Mapping[str, Any]) -> dict[str, Any]:
        """A Pod status with the conditions a kubelet would add: ``Ready`` (every container
        running) and, for a Pod with a sidecar, ``ConnectionLoaded`` with the config's digest."""
        containers = status.get("containerStatuses") or []
        ready = status.get("phase") == "Running" and all(
            c.get("state") == "Running" for c in containers
        )
        conditions = [condition("Ready", ready, "ContainersRunning" if ready else "NotReady", "")]
        spec = self.specs.get(key)
        if spec is not None and spec.loaded_file:
            conditions.append(loaded_condition(self.loaded.get(key)))
        return {**status, "conditions": conditions}

    def problems(self) -> list[str]:
        return [problem for r in self.rejected.values() for problem in r.problems]

    def _actions(self) -> list[Action]:
        """What is left to do, without the Pods already found unable to run as desired."""
        actions = diff(self.engine.desired(), self.actual.values())
        starting = {a.key for a in actions if a.verb in ("create", "replace")}
        for key in [k for k in self.rejected if k not in starting]:
            del self.rejected[key]  # no longer desired, or desired as it already runs
        return [a for a in actions if not self._still_rejected(a)]

    def _still_rejected(self, action: Action) -> bool:
        rejection = self.rejected.get(action.key)
        return (
            action.verb in ("create", "replace")
            and rejection is not None
            and rejection.desired == action.desired
        )

    def _act(self, action: Action) -> list[Event]:
        key = action.key
        if action.verb == "delete":
            return [self._delete(key)]
        desired = action.desired
        assert desired is not None
        if key.kind == "Pod":
            return self._start_pod(action, desired)
        if key.kind == "Service":
            address = self.addresses.address_of(key.namespace, selected_pod(desired))
            self.actual[key] = observed_service(desired, address)
            log.info("service", name=key.name, type=desired["spec"].get("type"), address=address)
        elif key.kind == "ConfigMap":
            if self.configmaps.write(desired):
                log.info("connection config written", name=key.name)
            self.actual[key] = dict(desired)
        elif key.kind in IDENTITY_KINDS:  # no API here: a Pod's account grants nothing locally
            self.actual[key] = dict(desired)
        else:
            log.error("cannot apply this kind locally", kind=key.kind, name=key.name)
            return []
        return [Observed.of(self.actual[key])]

    def _start_pod(self, action: Action, desired: Mapping[str, Any]) -> list[Event]:
        key = action.key
        address = self.addresses.address_of(key.namespace, key.name)
        previous = self.actual.get(key)
        if action.verb == "patch" and previous is not None:  # labels or annotations only
            self.actual[key] = observed_pod(desired, address, previous.get("status") or {})
            return [Observed.of(self.actual[key])]
        try:
            spec = self._prepare(desired)
        except NotRunnable as error:
            self.rejected[key] = Rejection(desired, tuple(error.problems))
            for problem in error.problems:
                log.error("pod cannot run here", pod=key.name, problem=problem)
            return []
        self.rejected.pop(key, None)
        if previous is not None:
            self.pods.delete(key)
            log.info("pod replaced", pod=key.name)
        self._forget_loaded(key, spec.loaded_file)
        self.pods.create(spec)
        self.specs[key] = spec
        status = self._status(key, {"phase": "Pending", "podIP": address})
        self.actual[key] = observed_pod(desired, address, status)
        log.info("pod created", pod=key.name, address=address)
        return [Observed.of(self.actual[key])]

    def _delete(self, key: ObjectKey) -> Event:
        self.actual.pop(key, None)
        if key.kind == "Pod":
            spec = self.specs.pop(key, None)
            self.pods.delete(key)
            self._forget_loaded(key, spec.loaded_file if spec else "")
        elif key.kind == "ConfigMap":
            self.configmaps.delete(key.namespace, key.name)
        log.info("deleted", kind=key.kind, name=key.name)
        return Forgotten(key.kind, key.namespace, key.name)

    def _forget_loaded(self, key: ObjectKey, loaded_file: str) -> None:
        """A new Pod has loaded nothing yet (a report of its predecessor must not count)."""
        self.loaded.pop(key, None)
        if loaded_file:
            Path(loaded_file).unlink(missing_ok=True)

    def _report(self, changes: Changes) -> None:
        for decision in changes.transitions:
            where = f"{decision.object.namespace}/{decision.object.name}"
            level = log.error if decision.to_state == "Error" else log.info
            level(
                f"{decision.machine} {decision.to_state}",
                dataflow=where,
                subject=decision.subject or None,
                reason=decision.reason,
                message=decision.message,
            )
            if self.on_transition is not None:
                self.on_transition(decision)
        for key, status in changes.statuses.items():
            if status is not None and status.status.get("status") == "Error":
                log.error(f"{key.kind} Error", name=str(key), message=status.status["message"])
