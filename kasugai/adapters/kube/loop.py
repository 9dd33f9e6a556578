"""The reconcile loop: the one thread that owns the engine, level-triggered.

Watch threads put ``Delivery`` messages on ``queue``; the loop drains it, folds every event of
the batch into the engine at once, and marks what the batch concerns as dirty: the DataFlows
the engine re-planned, the owners of changed inventory objects (also when the DataFlow itself
is gone: orphans), and FunctionChain/FunctionType statuses. For each dirty DataFlow it compares
the plan with the objects observed (``kasugai.core.diff``) and writes the difference; nothing
is written when they agree, so a steady state costs no write at all.

Before every watch has listed once, events are only buffered (a half-listed world would look
like missing objects); the first full world is folded in one batch, and its decisions are
logged but not published as Events (they describe the past). The world then names the
ConfigMaps it refers to, each of which gets a watch by name (``NamedWatches``), and the
references across namespaces it needs checked (``AccessChecks``); only when those have listed
and been answered too does the first reconcile run, so a restart rewrites nothing. Gaining the
Lease marks everything dirty, since another replica may have left work undone.

A DataFlow's objects are written as its namespace's ServiceAccount and compared only with the
observed objects it owns (``kasugai.core.ownership``); a name held by a foreign object is found
by the create's 409 and reported by the core, never overwritten. The objects of a DataFlow that
is gone are left to Kubernetes' garbage collector (their ownerReferences). A failure while
reconciling one DataFlow is logged and reported on it; the others go on.

Writes are folded back at once: the server's answer to an apply is the object as it now is, so
the next pass sees it without waiting for the watch (``ledger`` says why that is safe, and what
is not sent again). A write the server refuses becomes an ``Applied`` condition and a Warning
Event. Every failed write is tried again after a jittered backoff (at most five minutes apart):
one that may pass soon (no answer, throttled, a server error), and one refused, since what
refused it (the namespace's Pod Security labels, RBAC, a quota, a webhook) can change without
any object kasugai watches changing. Between those retries a refused write is not sent again.
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
from kasugai.adapters.kube.access_checks import AccessChecks
from kasugai.adapters.kube.api import KubeApi, error_message, service_account_user
from kasugai.adapters.kube.ledger import Ledger, uid_of, version_of
from kasugai.adapters.kube.named_watches import NamedWatches
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.pacing import REQUEST_ERRORS, Stopped, is_transient
from kasugai.adapters.kube.recorder import EventRecorder
from kasugai.adapters.kube.statuses import failure_condition, now, stamped, status_body
from kasugai.adapters.kube.watchers import Delivery, observed
from kasugai.adapters.kube.writer import NotLeader, Writer
from kasugai.backoff import Backoff
from kasugai.collector import collector_paused, freeze_loaded
from kasugai.core import fieldsets, names
from kasugai.core.access import ACCESS_KIND
from kasugai.core.diff import Action, diff
from kasugai.core.engine import Changes, Engine
from kasugai.core.events import Forgotten, ObjectKey, Observed, Transitioned
from kasugai.core.inventory import Owner
from kasugai.core.ownership import observed_objects, owned_objects
from kasugai.core.reads import referenced_configmaps
from kasugai.core.takeover import restore_lists
from kasugai.core.world import World, owning_dataflow

__all__ = ["LeaderChanged", "Reconciler"]

log = structlog.get_logger("kasugai.controller")

STATUS_KINDS = ("FunctionChain", "FunctionType")
# Kinds whose change may change what the world refers to (the named watches to run).
REFERRING_KINDS = frozenset({"DataFlow", "FunctionChain", "FunctionType", "ConfigMap"})
NAMED_SYNC_S = 10.0  # how long new named watches may hold events back before they list
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
        api: KubeApi,
        writer: Writer | None,
        recorder: EventRecorder,
        metrics: Metrics,
        watches: Iterable[str],
        leader: Callable[[], bool],
        render: Callable[[Sequence[Action]], str],
        journal: JournalWriter | None = None,
        backoff: Backoff | None = None,
        named: NamedWatches | None = None,
        access: AccessChecks | None = None,
    ) -> None:
        self.engine = engine
        self.api = api
        self.writer = writer  # None: dry-run
        self.named = named
        self.access = access
        self.recorder = recorder
        self.metrics = metrics
        self.leader = leader
        self.render = render
        self.journal = journal
        self.backoff = backoff or Backoff(initial=1.0, maximum=300.0, jitter=0.2)
        self.queue: queue.Queue[Message] = queue.Queue()
        self._unsynced = set(watches)
        self._initialized = False  # the first whole world is folded, named watches included
        self._unsynced_since = time.monotonic()
        self._references_changed = True
        self._buffer: list[Observed | Forgotten] = []
        self._dirty: set[ObjectKey] = set()
        self._gone: dict[ObjectKey, str] = {}  # deleted DataFlow -> the account it wrote as
        self._dirty_statuses: set[ObjectKey] = set()
        self._retry_at: dict[ObjectKey, float] = {}
        self._retries: dict[ObjectKey, int] = {}
        self._ledger = Ledger()
        self._failures: dict[ObjectKey, str] = {}
        self._refusals: dict[ObjectKey, dict[ObjectKey, str]] = {}  # DataFlow -> object -> why
        self._shown: dict[ObjectKey, str] = {}

    @property
    def synced(self) -> bool:
        """Every watch has listed once, and the world they make up has been folded."""
        return self._initialized

    def waiting_for(self) -> list[str]:
        """The watches that have not listed yet."""
        return sorted(self._unsynced)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            busy = self._may_reconcile() and (self._dirty or self._dirty_statuses)
            self._take(self._drain(0.0 if busy else self._idle_wait()))
            self.metrics.queue_depth.set(self.queue.qsize())
            if self.synced:
                self._check_access(publish=True)
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
        for message in messages:
            if isinstance(message, LeaderChanged):
                if message.leading and self.synced:
                    self._mark_all()
                continue
            events.extend(e for e in message.events if self._ledger.admit(e, message.relisted))
            if message.relisted:
                self._unsynced.discard(message.watch)
        self._buffer.extend(events)
        if self._unsynced and not self._waited_enough():
            return
        batch, self._buffer = self._buffer, []
        folded = self._watch_references(batch)
        if folded is None:  # it refers to ConfigMaps not listed yet: fold it once they are
            self._buffer = batch
            return
        self._apply(batch, publish=self._initialized, folded=folded)
        if not self._initialized:
            self._check_access(publish=False)
            self._initialized = True
            freeze_loaded()  # later collections need not walk the loaded world again
            log.info("every watch listed; reconciling", objects=len(list(self.engine.world)))
            self._mark_all()
        self._watch_conflicts()

    def _waited_enough(self) -> bool:
        """Past the first sync, a new watch holds events back for ``NAMED_SYNC_S`` at most."""
        if not self._initialized:
            return False
        if time.monotonic() - self._unsynced_since < NAMED_SYNC_S:
            return False
        log.warning("watches still not listed; going on without them", watches=self.waiting_for())
        self._unsynced.clear()
        return True

    def _watch_references(self, batch: list[Observed | Forgotten]) -> World | None:
        """Follow the ConfigMaps the world refers to once ``batch`` is folded in (each watched
        by name), and that world; None if a new watch must list first: until then the world
        would miss a ConfigMap that exists (and a config would be looked for in ``default``)."""
        folded = self._preview(batch)
        if self.named is None or not (
            self._references_changed or any(e.key.kind in REFERRING_KINDS for e in batch)
        ):
            return folded
        self._references_changed = False
        wanted = referenced_configmaps(folded) | self.engine.conflicting()
        started, stopped = self.named.follow(wanted)
        forgotten = [
            Forgotten(key.kind, key.namespace, key.name)
            for key in stopped
            if (stored := folded.get(key)) is not None and not _managed(stored.body)
        ]
        if started:
            self._unsynced.update(started)
            self._unsynced_since = time.monotonic()
            batch.extend(forgotten)
            return None
        if forgotten:
            batch.extend(forgotten)
            return self._preview(batch)
        return folded

    def _preview(self, batch: list[Observed | Forgotten]) -> World:
        """The world ``batch`` makes; an event that breaks the core is logged and taken out
        of ``batch``, and the others are folded all the same."""
        try:
            return self.engine.preview(batch)
        except Exception:
            log.exception("folding a batch failed; folding its events one by one")
        kept = []
        for event in batch:
            try:
                self.engine.preview([event])
            except Exception:
                log.exception("an event could not be folded; it is left out", object=str(event.key))
                continue
            kept.append(event)
        batch[:] = kept
        return self.engine.preview(batch)

    def _watch_conflicts(self) -> None:
        """Watch the foreign objects plans collide with, so that their removal is seen."""
        if self.named is not None and self._references_changed:
            self._references_changed = False
            self.named.follow(referenced_configmaps(self.engine.world) | self.engine.conflicting())

    def _check_access(self, publish: bool) -> None:
        """Ask the access questions that are due and fold the answers in."""
        if self.access is None:
            return
        due = self.access.due(set(self.engine.world.keys(ACCESS_KIND)))
        if due:
            self._apply(list(self.access.ask(due)), publish)

    def _apply(
        self, events: list[Observed | Forgotten], publish: bool, folded: World | None = None
    ) -> None:
        """Fold ``events`` (``folded``: the world they make, if known) and note what is dirty."""
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
            if event.key.kind == "DataFlow" and isinstance(event, Forgotten):
                self._remember_gone(event.key)
        for change in self._fold_events(events, folded):
            self._dirty |= change.replanned
            self._dirty_statuses |= set(change.statuses)
            if self.access is not None:
                for key, plan in change.plans.items():
                    self.access.need(key, plan.questions)
                for key in change.removed:
                    self.access.need(key, ())
                for key, status in change.statuses.items():
                    self.access.need(key, status.questions if status else ())
            if any(plan.conflicts for plan in change.plans.values()):
                self._references_changed = True
            for transition in change.transitions:
                self._transition(transition, publish)

    def _remember_gone(self, key: ObjectKey) -> None:
        """Who wrote for a deleted DataFlow, to delete what it owned as that account."""
        plan = self.engine.plan_of(key)
        if plan is not None:
            self._gone[key] = plan.service_account

    def _fold_events(
        self, events: list[Observed | Forgotten], folded: World | None = None
    ) -> list[Changes]:
        """Fold into the engine (through the journal, if any); an event that breaks the core
        is logged and left out, and the others are folded all the same."""
        if self.journal is None:
            try:
                with collector_paused():
                    return [self.engine.apply_all(events, folded)]
            except Exception:
                log.exception("folding a batch failed; folding its events one by one")
        changes = []
        for event in events:
            try:
                if self.journal is not None:
                    changes.append(self.journal.apply(self.engine, event))
                else:
                    changes.append(self.engine.apply(event))
            except Exception:
                log.exception("an event could not be folded; it is left out", object=str(event.key))
        return changes

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
        return self._initialized and (self.writer is None or self.leader())

    def _reconcile_due(self) -> None:
        moment = time.monotonic()
        for key in [k for k, at in self._retry_at.items() if at <= moment]:
            del self._retry_at[key]
            for refused in self._refusals.get(key, {}):
                self._ledger.retry(refused)
            (self._dirty_statuses if key.kind in STATUS_KINDS else self._dirty).add(key)
        dataflows, self._dirty = sorted(self._dirty), set()
        statuses, self._dirty_statuses = sorted(self._dirty_statuses), set()
        written: list[dict[str, Any]] = []
        try:
            for key in dataflows:
                written.extend(self._reconcile_guarded(key))
            for key in statuses:
                status = self.engine.status_of(key)
                if status is not None:
                    written.extend(self._write_status(key, status.status))
        except NotLeader:
            log.info("lost the lease; writing stopped")
        self._fold(written)

    def _reconcile_guarded(self, key: ObjectKey) -> list[dict[str, Any]]:
        """``_reconcile``; a fault in it is reported on this DataFlow and retried later."""
        try:
            return self._reconcile(key)
        except (NotLeader, Stopped):
            raise
        except Exception as error:
            log.exception("reconciling a DataFlow failed", dataflow=f"{key.namespace}/{key.name}")
            self._set_failure(key, f"internal error while reconciling: {type(error).__name__}")
            self._schedule_retry(key, str(key), error)
            return []

    def _reconcile(self, key: ObjectKey) -> list[dict[str, Any]]:
        self.metrics.reconciles.inc()
        plan = self.engine.plan_of(key)
        if plan is not None:
            desired = list(plan.objects)
            actual = owned_objects(self.engine.world, key, desired)
            account = plan.service_account
        else:
            # No DataFlow of this name exists: what one owned goes, as the garbage collector
            # would have it (an object whose owner is absent); as the account that wrote it.
            account = self._gone.get(key, names.DATAFLOW_SERVICE_ACCOUNT)
            desired = []
            actual = observed_objects(self.engine.world, Owner(key.namespace, key.name), key, [])
            if not actual:
                self._gone.pop(key, None)
        as_user = service_account_user(key.namespace, account)
        needed = diff(desired, actual)
        actions = [a for a in needed if not self._ledger.settled(a)]
        for action in actions:
            self.metrics.planned.labels(action.verb, action.key.kind).inc()
        if self.writer is None:
            self._show(key, actions)
            return self._write_dataflow_status(key)
        # A refusal stands (and is shown) until that object needs no write any more, or a write
        # of it passes: a refused write is not sent again until its inputs change.
        refusals = self._refusals.setdefault(key, {})
        for stale in refusals.keys() - {a.key for a in needed}:
            del refusals[stale]
        written: list[dict[str, Any]] = []
        failed: tuple[str, BaseException] | None = None
        for action in actions:
            try:
                answer = self._execute(self.writer, action, as_user)
            except REQUEST_ERRORS as error:
                # Reported either way (a 500 can be the data: the server cannot convert it). A
                # refusal is not sent again on the next passes, only when the backoff is due or
                # the inputs or the object change.
                refusals[action.key] = _refusal(action, error)
                if not is_transient(error):
                    self._ledger.refused(action)
                failed = failed or (str(action.key), error)
                continue
            refusals.pop(action.key, None)
            if answer is not None:
                written.append(answer)
        if failed is not None:  # one retry per pass, however many writes failed in it
            self._schedule_retry(key, *failed)
        if not self._retry_at.get(key):
            self._retries.pop(key, None)
        if not refusals:
            del self._refusals[key]
        self._set_failure(key, "; ".join(refusals[k] for k in sorted(refusals)))
        return written + self._write_dataflow_status(key)

    def _execute(self, writer: Writer, action: Action, as_user: str) -> dict[str, Any] | None:
        key = action.key
        if action.verb == "create":
            assert action.desired is not None
            try:
                answer = writer.create(action.desired, as_user)
            except ApiException as error:
                if error.status != 409:
                    raise
                # The name is taken: fold in whoever holds it (the core tells ours from not).
                log.info("create found the name taken", object=str(key))
                return self.api.get(key.kind, key.namespace, key.name)
            log.info("created", object=str(key))
            # A create records kasugai's fields as an Update, with the server's defaults: the
            # apply puts what kasugai set on record, for the diff to remove what it drops.
            answer = writer.apply(action.desired, as_user)
            self._ledger.applied(action, answer)
            return answer
        if action.verb == "patch":
            patched = self._patch(writer, action, as_user)
            if patched is not None:
                self._ledger.applied(action, patched)
            return patched
        uid = uid_of(action.actual)
        try:
            writer.delete(key.kind, key.namespace, key.name, uid, as_user)
        except ApiException as error:
            if error.status == 409:  # another incarnation by now: the watch will show it
                return None
            raise
        self._ledger.deleted(key, uid)
        reason = "its spec changed; created again once gone" if action.verb == "replace" else ""
        log.info("deleted", object=str(key), reason=reason or "no longer desired")
        return None

    def _patch(self, writer: Writer, action: Action, as_user: str) -> dict[str, Any] | None:
        """Remove the fields kasugai no longer sets, then apply; when the apply is refused as
        invalid, take back the lists another manager changed (``kasugai.core.takeover``) and
        apply again. None: the object is gone meanwhile (the watch will say so)."""
        key, desired = action.key, action.desired
        assert desired is not None
        if action.removed:
            # Who else owns what is read fresh: the watch keeps kasugai's own field set only.
            live = self.api.get(key.kind, key.namespace, key.name)
            if live is None:
                return None
            found = fieldsets.removals(
                desired, live, fieldsets.applied_fields(live), fieldsets.other_fields(live)
            )
            if found:
                writer.patch(key, fieldsets.json_patch(live, found), as_user)
                log.info("removed fields", object=str(key), fields=[str(r) for r in found])
        try:
            answer = writer.apply(desired, as_user)
        except ApiException as error:
            if error.status != 422:
                raise
            current = self.api.get(key.kind, key.namespace, key.name)
            operations = restore_lists(desired, current) if current is not None else []
            if not operations:
                raise
            writer.patch(key, operations, as_user)
            log.info(
                "apply refused; took back lists another manager changed",
                object=str(key),
                lists=[op["path"] for op in operations if op["op"] == "replace"],
                refused=error_message(error),
            )
            answer = writer.apply(desired, as_user)
        log.info("applied", object=str(key))
        return answer

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
