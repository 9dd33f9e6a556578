"""Lifecycle decisions and apply failures as log lines and Kubernetes Events.

Every ``Transitioned`` decision of the core is logged; the leader also records it as a core/v1
Event on its DataFlow (``kubectl describe dataflow`` and ``kubectl get events`` show it), with
the trigger as reason (``AllReady``, ``InvalidInput``, ``AddressKnown``...). Moves into
``Error``, ``Degraded`` or ``Stale`` are Warnings. An Event that cannot be written is logged and
dropped: Events are a courtesy, never a reason to stop reconciling.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Mapping
from typing import Any

import structlog

from kasugai.adapters.kube.api import error_message
from kasugai.adapters.kube.pacing import REQUEST_ERRORS, Stopped
from kasugai.adapters.kube.writer import NotLeader, Writer
from kasugai.core.events import ObjectKey, Transitioned

__all__ = ["COMPONENT", "EventRecorder"]

log = structlog.get_logger("kasugai.controller")

COMPONENT = "kasugai-controller"
_WARNING_STATES = frozenset({"Error", "Degraded", "Stale"})
_MESSAGE_LIMIT = 1024  # what events.k8s.io allows for a note


def describe(transition: Transitioned) -> str:
    moved = f"{transition.from_state or 'New'} -> {transition.to_state}"
    subject = f"connection {transition.subject}: " if transition.subject else ""
    detail = f": {transition.message}" if transition.message else ""
    return f"{subject}{moved}{detail}"


class EventRecorder:
    """Logs decisions; writes Events through ``writer`` when asked to publish."""

    def __init__(self, writer: Writer | None, identity: str) -> None:
        self.writer = writer
        self.identity = identity

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
        if publish:
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
            self.writer.create_event(body)
        except (*REQUEST_ERRORS, NotLeader, Stopped) as error:
            log.warning(
                "event not recorded",
                dataflow=f"{key.namespace}/{key.name}",
                reason=reason,
                error=error_message(error),
            )
