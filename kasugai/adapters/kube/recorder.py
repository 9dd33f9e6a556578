"""Lifecycle decisions and apply failures as log lines and Kubernetes Events.

Every ``Transitioned`` decision of the core is logged; the leader also records it as a core/v1
Event on its DataFlow (``kubectl describe dataflow`` and ``kubectl get events`` show it), with
the trigger as reason (``AllReady``, ``InvalidInput``, ``AddressLost``...): every DataFlow move,
and a connection's move into or out of ``Stale``; a connection's routine moves are only logged,
so a DataFlow's life in the normal case makes two or three Events. Moves into ``Error``,
``Degraded`` or ``Stale`` are Warnings.

Events are written by a thread of their own, from a bounded queue, as client-go's broadcaster
does: the reconcile loop never waits for them (they still take tokens from the process-wide
write limit). An Event that cannot be written, or finds the queue full, is logged, counted and
dropped: Events are a courtesy, never a reason to stop reconciling. The recent ones are also
kept in memory (``recent``, bounded) for the live page.
"""

from __future__ import annotations

import contextlib
import datetime
import queue
import secrets
import threading
from collections.abc import Mapping
from typing import Any

import structlog

from kasugai.adapters.kube.api import error_message
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.pacing import REQUEST_ERRORS, Stopped
from kasugai.adapters.kube.writer import NotLeader, Writer
from kasugai.core.events import ObjectKey, Transitioned
from kasugai.core.lifecycle import STALE
from kasugai.view.page.recent import RecentEvents

__all__ = ["COMPONENT", "EventRecorder"]

log = structlog.get_logger("kasugai.controller")

COMPONENT = "kasugai-controller"
_WARNING_STATES = frozenset({"Error", "Degraded", "Stale"})
_MESSAGE_LIMIT = 1024  # what events.k8s.io allows for a note


def _worth_an_event(transition: Transitioned) -> bool:
    """Whether a user would act on it: every DataFlow move, and a connection losing its address
    or getting it back; a connection's routine moves (a new one published, a rewiring) are
    only logged: a DataFlow of n functions would otherwise make about n Events each time."""
    if transition.machine == "DataFlow":
        return True
    return STALE in (transition.from_state, transition.to_state)


def describe(transition: Transitioned) -> str:
    moved = f"{transition.from_state or 'New'} -> {transition.to_state}"
    subject = f"connection {transition.subject}: " if transition.subject else ""
    detail = f": {transition.message}" if transition.message else ""
    return f"{subject}{moved}{detail}"


class EventRecorder:
    """Logs decisions; writes Events through ``writer`` (None: never) when asked to publish."""

    def __init__(
        self, writer: Writer | None, identity: str, metrics: Metrics, capacity: int = 1000
    ) -> None:
        self.writer = writer
        self.identity = identity
        self.metrics = metrics
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._send_all, name="events", daemon=True)
        self.recent = RecentEvents()  # what this replica recorded, per DataFlow, for the page

    def start(self) -> None:
        if self.writer is not None:
            self._thread.start()

    def stop(self) -> None:
        """Stop after the Event being written; the ones still queued are dropped."""
        if not self._thread.is_alive():
            return
        dropped = 0
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
                dropped += 1
        self._queue.put(None)
        self._thread.join(15)
        if dropped:
            log.info("events not recorded: shutting down", dropped=dropped)

    def transition(
        self, transition: Transitioned, involved: Mapping[str, Any] | None, publish: bool
    ) -> None:
        key = transition.object
        message = describe(transition)
        log.info(
            "transition",
            dataflow=f"{key.namespace}/{key.name}",
            machine=transition.machine,
            subject=transition.subject or None,
            reason=transition.reason,
            message=message,
        )
        if publish and _worth_an_event(transition):
            warning = transition.to_state in _WARNING_STATES
            self._publish(key, involved, transition.reason, message, warning)

    def failure(self, key: ObjectKey, involved: Mapping[str, Any] | None, message: str) -> None:
        """A write the API server refused, as a Warning ``ApplyFailed``."""
        log.error("apply failed", dataflow=f"{key.namespace}/{key.name}", error=message)
        self._publish(key, involved, "ApplyFailed", message, warning=True)

    def _publish(
        self,
        key: ObjectKey,
        involved: Mapping[str, Any] | None,
        reason: str,
        message: str,
        warning: bool,
    ) -> None:
        if self.writer is None or involved is None:
            return
        meta = involved.get("metadata") or {}
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{key.name}.{secrets.token_hex(8)}", "namespace": key.namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", ""),
                "kind": key.kind,
                "name": key.name,
                "namespace": key.namespace,
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message[:_MESSAGE_LIMIT],
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.identity[:128],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self._queue.put_nowait(body)
            self.recent.add(key.namespace, key.name, str(body["type"]), reason, message)
        except queue.Full:
            self.metrics.events_dropped.inc()
            log.warning("event not recorded: queue full", dataflow=f"{key.namespace}/{key.name}")

    def _send_all(self) -> None:
        assert self.writer is not None
        while (body := self._queue.get()) is not None:
            try:
                self.writer.create_event(body)
            except (*REQUEST_ERRORS, NotLeader, Stopped) as error:
                self.metrics.events_dropped.inc()
                log.warning(
                    "event not recorded",
                    object=body["involvedObject"]["name"],
                    reason=body["reason"],
                    error=error_message(error),
                )
