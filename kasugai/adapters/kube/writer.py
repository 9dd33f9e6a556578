"""Every write the controller sends: creates, Server-Side Apply, JSON patches, deletes, statuses
and Events.

Workload objects (Pods, Services, ConfigMaps, a Pod's ServiceAccount and Role) are written as
the DataFlow namespace's ServiceAccount (``as_user``); statuses and Events as the controller.

Each request first takes a token from the process-wide ``TokenBucket``, then checks that this
replica still leads (a replica that lost the Lease sends nothing more, not even a retry), and is
retried with jittered backoff while the error is transient. Successes, failures and conflicts
are counted in the metrics. Errors that retrying cannot fix (invalid, forbidden) go back to the
caller at once, which reports them on the DataFlow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import structlog
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.kube.api import KubeApi, error_message
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.pacing import TokenBucket, retrying
from kasugai.backoff import Backoff
from kasugai.core.events import ObjectKey

__all__ = ["NotLeader", "Writer"]

log = structlog.get_logger("kasugai.controller")
T = TypeVar("T")


class NotLeader(Exception):
    """This replica does not hold the Lease (any more); the request was not sent."""


class Writer:
    """Writes through one API client, paced, retried, gated on leadership, counted."""

    def __init__(
        self,
        api: KubeApi,
        metrics: Metrics,
        bucket: TokenBucket,
        may_write: Callable[[], bool],
        stop: threading.Event,
        *,
        backoff: Backoff | None = None,
        attempts: int = 5,
    ) -> None:
        self.api = api
        self.metrics = metrics
        self.bucket = bucket
        self.may_write = may_write
        self.stop = stop
        self.backoff = backoff or Backoff(initial=0.2, jitter=0.2)
        self.attempts = attempts

    def apply(self, body: Mapping[str, Any], as_user: str) -> dict[str, Any]:
        """Server-Side Apply of a whole object, as ``as_user``; the object as it now is."""
        api = self.api.acting_as(as_user)
        return self._send("apply", str(body["kind"]), lambda: api.apply(body))

    def patch(
        self, key: ObjectKey, operations: Sequence[Mapping[str, Any]], as_user: str
    ) -> dict[str, Any]:
        """A JSON patch of an object, as ``as_user``; the object as it now is."""
        api = self.api.acting_as(as_user)
        return self._send(
            "patch", key.kind, lambda: api.patch(key.kind, key.namespace, key.name, operations)
        )

    def create(self, body: Mapping[str, Any], as_user: str) -> dict[str, Any]:
        """Create an object, as ``as_user``; 409 AlreadyExists if its name is taken."""
        api = self.api.acting_as(as_user)
        return self._send("create", str(body["kind"]), lambda: api.create(body))

    def apply_status(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Server-Side Apply of ``status`` through the status subresource."""
        kind = str(body["kind"])
        return self._send("status", kind, lambda: self.api.apply(body, subresource="status"))

    def delete(self, kind: str, namespace: str, name: str, uid: str, as_user: str) -> bool:
        """Delete that incarnation (``uid``) of the object, as ``as_user``; False if gone."""
        api = self.api.acting_as(as_user)
        try:
            self._send("delete", kind, lambda: api.delete(kind, namespace, name, uid=uid))
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def create_event(self, body: Mapping[str, Any]) -> None:
        self._send("create", "Event", lambda: self.api.create(body))

    def _send(self, verb: str, kind: str, request: Callable[[], T]) -> T:
        def attempt() -> T:
            self.bucket.acquire(self.stop)
            if not self.may_write():
                raise NotLeader
            return request()

        def retry(error: BaseException, delay: float) -> None:
            log.info(
                "write failed; retrying",
                verb=verb,
                kind=kind,
                error=error_message(error),
                retry_in_s=round(delay, 2),
            )

        try:
            result = retrying(
                attempt,
                backoff=self.backoff,
                attempts=self.attempts,
                stop=self.stop,
                on_retry=retry,
            )
        except ApiException as error:
            if error.status == 409:
                self.metrics.conflicts.inc()
            if error.status != 404:
                self.metrics.write_errors.labels(verb, kind, str(error.status)).inc()
            raise
        self.metrics.writes.labels(verb, kind).inc()
        return result
