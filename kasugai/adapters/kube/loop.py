"""The reconcile loop: the one thread that owns the engine, level-triggered.

Watch threads put ``Delivery`` messages on ``queue``; the loop drains it, folds every event of
the batch into the engine at once, and marks what the batch concerns as dirty: the DataFlows
the engine re-planned, the owners of changed inventory objects (also when the DataFlow itself
is gone: orphans), and FunctionChain/FunctionType statuses. For each dirty DataFlow it compares
the plan with the objects observed (``kasugai.core.diff``) and writes the difference; nothing
is written when they agree, so a steady state costs no write at all.

Before every watch has listed once, events are only buffered (a half-listed world would look
like missing objects); the first full world is folded in one batch, and its decisions are
logged but not published as Events (they describe the past). Gaining the Lease marks
everything dirty, since another replica may have left work undone.

Writes are folded back at once: the server's answer to an apply is the object as it now is, so
the next pass sees it without waiting for the watch (``ledger`` says why that is safe, and what
is not sent again). A write the server refuses becomes an ``Applied`` condition and a Warning
Event; one that may pass later (no answer, throttled, a server error) is tried again after a
jittered backoff.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import structlog
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.journal import JournalWriter
from kasugai.adapters.kube.api import error_message
from kasugai.adapters.kube.ledger import Ledger, uid_of, version_of
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.pacing import REQUEST_ERRORS, Stopped, is_transient
from kasugai.adapters.kube.recorder import EventRecorder
from kasugai.adapters.kube.statuses import failure_condition, now, stamped, status_body
from kasugai.adapters.kube.watchers import Delivery, observed
from kasugai.adapters.kube.writer import NotLeader, Writer
from kasugai.backoff import Backoff
from kasugai.core import names
from kasugai.core.diff import Action, diff, object_key
from kasugai.core.engine import Engine
from kasugai.core.events import Forgotten, ObjectKey, Observed, Transitioned
from kasugai.core.world import owning_dataflow

__all__ = ["LeaderChanged", "Reconciler"]

log = structlog.get_logger("kasugai.controller")

STATUS_KINDS = ("FunctionChain", "FunctionType")
MAX_BATCH = 20_000
IDLE_WAIT_S = 1.0


@attrs.frozen
class LeaderChanged:
    leading: bool


Message = Delivery | LeaderChanged


def _managed(body: Mapping[str, Any]) -> bool:
    labels = (body.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(names.MANAGED_BY_LABEL) == names.MANAGER)


class Reconciler:
    """Engine + queue + what is dirty; ``run`` until ``stop`` is set."""

    def __init__(
        self,
        engine: Engine,
        *,
        writer: Writer | None,
        recorder: EventRecorder,
        metrics: Metrics,
        watches: Iterable[str],
        leader: Callable[[], bool],
        render: Callable[[Sequence[Action]], str],
        journal: JournalWriter | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.engine = engine
        self.writer = writer  # None: dry-run
        self.recorder = recorder
        self.metrics = metrics
        self.leader = leader
        self.render = render
        self.journal = journal
        self.backoff = backoff or Backoff(initial=1.0, maximum=300.0, jitter=0.2)
        self.queue: queue.Queue[Message] = queue.Queue()
        self._unsynced = set(watches)
        self._buffer: list[Observed | Forgotten] = []
        self._dirty: set[ObjectKey] = set()
        self._dirty_statuses: set[ObjectKey] = set()
        self._retry_at: dict[ObjectKey, float] = {}
        self._retries: dict[ObjectKey, int] = {}
        self._ledger = Ledger()
        self._failures: dict[ObjectKey, str] = {}
        self._shown: dict[ObjectKey, str] = {}

    @property
    def synced(self) -> bool:
        """Every watch has listed once."""
        return not self._unsynced

    def waiting_for(self) -> list[str]:
        """The watches that have not listed yet."""
        return sorted(self._unsynced)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            busy = self._may_reconcile() and (self._dirty or self._dirty_statuses)
            self._take(self._drain(0.0 if busy else self._idle_wait()))
            self.metrics.queue_depth.set(self.queue.qsize())
            if self._may_reconcile():
                try:
                    self._reconcile_due()
                except Stopped:
                    return

    # --- events in ---------------------------------------------------------------------------

    def _drain(self, timeout: float) -> list[Message]:
        messages: list[Message] = []
        try:
            messages.append(self.queue.get(timeout=timeout) if timeout else self.queue.get_nowait())
            while len(messages) < MAX_BATCH:
                messages.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        return messages

    def _idle_wait(self) -> float:
        if not self._retry_at:
            return IDLE_WAIT_S
        return max(0.01, min(IDLE_WAIT_S, min(self._retry_at.values()) - time.monotonic()))

    def _take(self, messages: list[Message]) -> None:
        events: list[Observed | Forgotten] = []
        was_synced = self.synced
        for message in messages:
            if isinstance(message, LeaderChanged):
                if message.leading and self.synced:
                    self._mark_all()
                continue
            events.extend(e for e in message.events if self._ledger.admit(e, message.relisted))
            if message.relisted:
                self._unsynced.discard(message.watch)
        if was_synced:
            self._apply(events, publish=True)
            return
        self._buffer.extend(events)
        if self.synced:
            buffered, self._buffer = self._buffer, []
            log.info("every watch listed; reconciling", objects=len(buffered))
            self._apply(buffered, publish=False)
            self._mark_all()

    def _apply(self, events: list[Observed | Forgotten], publish: bool) -> None:
        if not events:
            return
        world = self.engine.world
        for event in events:
            before = world.get(event.key)
            bodies = [before.body] if before is not None else []
            if isinstance(event, Observed):
                bodies.append(event.body)
            for body in bodies:
                owner = owning_dataflow(event.key, body) if _managed(body) else None
                if owner is not None:
                    self._dirty.add(owner)
            if event.key.kind in STATUS_KINDS:
                self._dirty_statuses.add(event.key)
        if self.journal is not None:
            changes = [self.journal.apply(self.engine, event) for event in events]
        else:
            changes = [self.engine.apply_all(events)]
        for change in changes:
            self._dirty |= change.replanned
            self._dirty_statuses |= set(change.statuses)
            for transition in change.transitions:
                self._transition(transition, publish)

    def _transition(self, transition: Transitioned, publish: bool) -> None:
        stored = self.engine.world.get(transition.object)
        publish = publish and self.writer is not None and self.leader()
        self.recorder.transition(transition, stored.body if stored else None, publish)

    def _mark_all(self) -> None:
        world = self.engine.world
        owners = {key for key in world.inventory if isinstance(key, ObjectKey)}
        self._dirty |= set(world.keys("DataFlow")) | owners
        self._dirty_statuses |= {k for kind in STATUS_KINDS for k in world.keys(kind)}

    # --- writes out --------------------------------------------------------------------------

    def _may_reconcile(self) -> bool:
        return self.synced and (self.writer is None or self.leader())

    def _reconcile_due(self) -> None:
        moment = time.monotonic()
        for key in [k for k, at in self._retry_at.items() if at <= moment]:
            del self._retry_at[key]
            (self._dirty_statuses if key.kind in STATUS_KINDS else self._dirty).add(key)
        dataflows, self._dirty = sorted(self._dirty), set()
        statuses, self._dirty_statuses = sorted(self._dirty_statuses), set()
        written: list[dict[str, Any]] = []
        try:
            for key in dataflows:
                written.extend(self._reconcile(key))
            for key in statuses:
                status = self.engine.status_of(key)
                if status is not None:
                    written.extend(self._write_status(key, status.status))
        except NotLeader:
            log.info("lost the lease; writing stopped")
        self._fold(written)

    def _reconcile(self, key: ObjectKey) -> list[dict[str, Any]]:
        self.metrics.reconciles.inc()
        plan = self.engine.plan_of(key)
        desired = list(plan.objects) if plan else []
        actual = self._actual(key, desired)
        actions = [a for a in diff(desired, actual) if not self._ledger.settled(a)]
        for action in actions:
            self.metrics.planned.labels(action.verb, action.key.kind).inc()
        if self.writer is None:
            self._show(key, actions)
            return self._write_dataflow_status(key)
        written: list[dict[str, Any]] = []
        failure = ""
        for action in actions:
            try:
                answer = self._execute(self.writer, action)
            except REQUEST_ERRORS as error:
                # Reported either way (a 500 can be the data: the server cannot convert it);
                # retried later if it may pass, else not until the inputs or the object change.
                failure = _refusal(action, error)
                if is_transient(error):
                    self._schedule_retry(key, str(action.key), error)
                else:
                    self._ledger.refused(action)
                continue
            if answer is not None:
                written.append(answer)
        if not self._retry_at.get(key):
            self._retries.pop(key, None)
        self._set_failure(key, failure)
        return written + self._write_dataflow_status(key)

    def _actual(self, key: ObjectKey, desired: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
        world = self.engine.world
        keys = set(world.inventory_of(key)) | {object_key(obj) for obj in desired}
        return [stored.body for k in sorted(keys) if (stored := world.get(k)) is not None]

    def _execute(self, writer: Writer, action: Action) -> dict[str, Any] | None:
        key = action.key
        if action.verb in ("create", "patch"):
            assert action.desired is not None
            answer = writer.apply(action.desired)
            self._ledger.applied(action, answer)
            log.info("applied", verb=action.verb, object=str(key))
            return answer
        uid = uid_of(action.actual)
        try:
            writer.delete(key.kind, key.namespace, key.name, uid)
        except ApiException as error:
            if error.status == 409:  # another incarnation by now: the watch will show it
                return None
            raise
        self._ledger.deleted(key, uid)
        reason = "its spec changed; created again once gone" if action.verb == "replace" else ""
        log.info("deleted", object=str(key), reason=reason or "no longer desired")
        return None

    def _schedule_retry(self, key: ObjectKey, what: str, error: BaseException) -> None:
        count = self._retries.get(key, 0) + 1
        self._retries[key] = count
        delay = self.backoff.delay(count)
        self._retry_at[key] = time.monotonic() + delay
        log.warning(
            "write failed; reconciling again later",
            object=what,
            error=error_message(error),
            retry_in_s=round(delay, 2),
        )

    def _set_failure(self, key: ObjectKey, failure: str) -> None:
        if failure == self._failures.get(key, ""):
            return
        if failure:
            self._failures[key] = failure
            stored = self.engine.world.get(key)
            self.recorder.failure(key, stored.body if stored else None, failure)
        else:
            self._failures.pop(key, None)
            log.info("every write accepted again", dataflow=f"{key.namespace}/{key.name}")

    def _write_dataflow_status(self, key: ObjectKey) -> list[dict[str, Any]]:
        plan = self.engine.plan_of(key)
        if plan is None:
            return []
        status = dict(plan.status)
        if key in self._failures:
            conditions = list(status.get("conditions") or [])
            status["conditions"] = [*conditions, failure_condition(self._failures[key])]
        return self._write_status(key, status)

    def _write_status(self, key: ObjectKey, status: Mapping[str, Any]) -> list[dict[str, Any]]:
        stored = self.engine.world.get(key)
        if stored is None:
            return []
        observed_status = stored.body.get("status") or {}
        wanted = stamped(status, observed_status, now())
        if wanted == observed_status:
            return []
        if self._ledger.status_tried(key, status, version_of(stored.body)):
            return []
        if self.writer is None:
            self._show(key, [], status=wanted)
            return []
        try:
            answer = self.writer.apply_status(status_body(key, wanted))
        except REQUEST_ERRORS as error:
            if is_transient(error):
                self._schedule_retry(key, f"{key} status", error)
            else:  # not again until the status or the object changes
                self._ledger.status_sent(key, status, version_of(stored.body))
                log.error("status refused", object=str(key), error=error_message(error))
            return []
        self._ledger.status_sent(key, status, version_of(answer))
        return [answer]

    def _fold(self, written: list[dict[str, Any]]) -> None:
        """Take the server's answers in as observations, ahead of their watch events."""
        events: list[Observed | Forgotten] = []
        for body in written:
            event = observed(str(body.get("kind", "")), body)
            current = self.engine.world.get(event.key)
            if current is not None and version_of(current.body) == version_of(body):
                continue
            self._ledger.expect(event.key, version_of(body))
            events.append(event)
        self._apply(events, publish=True)

    def _show(
        self, key: ObjectKey, actions: list[Action], status: Mapping[str, Any] | None = None
    ) -> None:
        """Dry-run: log what would be written, once per change of it."""
        text = self.render(actions) if actions else ""
        if status is not None:
            text += "status:\n" + json.dumps(status, indent=2, sort_keys=True) + "\n"
        name = key if status is None else ObjectKey(key.kind + "/status", key.namespace, key.name)
        if not text or self._shown.get(name) == text:
            return
        self._shown[name] = text
        log.info(
            "dry-run: would write",
            object=f"{key.kind}/{key.namespace}/{key.name}",
            actions=[f"{a.verb} {a.key.kind}/{a.key.name}" for a in actions] or ["status"],
            diff=text,
        )


def _refusal(action: Action, error: BaseException) -> str:
    """One line: what was refused and the API server's reason."""
    return f"{action.verb} {action.key.kind} {action.key.name}: {error_message(error)}"
