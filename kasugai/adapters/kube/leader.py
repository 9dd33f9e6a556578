"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does it.

Every replica watches and plans; only the Lease holder writes. A candidate takes the Lease when
it is free (no holder: released on shutdown) or when its record has not changed for
``lease_duration`` seconds of the candidate's own clock (no clock skew between machines
matters); the holder renews it every ``retry_period``. Updates carry the resourceVersion they
read, so two candidates cannot both win (the loser gets 409 Conflict).

``is_leader()`` is true only until ``renew_deadline`` after the last successful renewal, which
is shorter than the lease duration: a holder that cannot renew stops writing before anybody
else may start. The client library's own ``LeaderElection`` cannot be stopped, cannot release
the Lease and uses the global client configuration, hence this small loop.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import structlog
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.kube.api import KubeApi, error_message
from kasugai.adapters.kube.observability import Metrics

__all__ = ["LeaseElector", "LeaseTiming"]

log = structlog.get_logger("kasugai.controller")


@attrs.frozen
class LeaseTiming:
    """Seconds, with client-go's defaults."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __attrs_post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs retry period < renew deadline < lease duration, got "
                f"{self.retry_period} / {self.renew_deadline} / {self.lease_duration}"
            )


def _now() -> str:
    """A MicroTime, as Lease fields want it."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """Keeps trying to hold the Lease ``namespace/name`` in a daemon thread."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        name: str,
        identity: str,
        metrics: Metrics,
        on_change: Callable[[bool], None],
        timing: LeaseTiming | None = None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.metrics = metrics
        self.on_change = on_change
        self.timing = timing or LeaseTiming()
        self._leading_until = 0.0  # monotonic
        self._leading = False
        self._observed: tuple[Any, ...] | None = None  # another holder's record, and when seen
        self._observed_at = 0.0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    def is_leader(self) -> bool:
        return time.monotonic() < self._leading_until

    def start(self) -> None:
        log.info("leader election", lease=f"{self.namespace}/{self.name}", identity=self.identity)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and release the Lease, so another replica takes over at once."""
        self._stopping.set()
        self._thread.join(self.timing.renew_deadline + 5)
        if self.is_leader():
            self._leading_until = 0.0
            self._release()
        self._set_leading(False)

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                if self._try_acquire_or_renew():
                    self._leading_until = started + self.timing.renew_deadline
                    self.metrics.lease_renewals.inc()
            except ApiException as error:
                if error.status == 409:
                    self.metrics.conflicts.inc()
                log.info("lease not renewed", error=error_message(error))
            except Exception as error:
                log.warning("lease request failed", error=error_message(error))
            self._set_leading(self.is_leader())
            self._stopping.wait(self.timing.retry_period)

    def _set_leading(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        self.metrics.leader.set(1 if leading else 0)
        log.info("leadership " + ("acquired" if leading else "lost"), identity=self.identity)
        self.on_change(leading)

    def _try_acquire_or_renew(self) -> bool:
        lease = self.api.get("Lease", self.namespace, self.name)
        if lease is None:
            self.api.create(self._lease({}, transitions=0, acquired=_now()))
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        transitions = int(spec.get("leaseTransitions") or 0)
        acquired = spec.get("acquireTime") or _now()
        if holder != self.identity:
            if holder and not self._expired(spec):
                return False
            transitions, acquired = transitions + 1, _now()
        self.api.replace(self._lease(lease["metadata"], transitions, acquired))
        return True

    def _expired(self, spec: dict[str, Any]) -> bool:
        """Another holder's record unchanged for a whole lease duration (on our clock)."""
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("acquireTime"))
        now = time.monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, now
        duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
        return now > self._observed_at + duration

    def _lease(
        self, metadata: dict[str, Any], transitions: int, acquired: str, holder: str | None = None
    ) -> dict[str, Any]:
        meta = {"name": self.name, "namespace": self.namespace}
        if metadata.get("resourceVersion"):
            meta["resourceVersion"] = metadata["resourceVersion"]
        spec: dict[str, Any] = {
            "leaseDurationSeconds": int(self.timing.lease_duration),
            "acquireTime": acquired,
            "renewTime": _now(),
            "leaseTransitions": transitions,
        }
        if holder is None:
            spec["holderIdentity"] = self.identity
        elif holder:
            spec["holderIdentity"] = holder
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": spec,
        }

    def _release(self) -> None:
        """Give the Lease up: no holder, and a 1 s duration, as client-go releases it."""
        try:
            lease = self.api.get("Lease", self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = lease["spec"]
            body = self._lease(
                lease["metadata"], int(spec.get("leaseTransitions") or 0), _now(), holder=""
            )
            body["spec"]["leaseDurationSeconds"] = 1
            self.api.replace(body)
            log.info("lease released", lease=f"{self.namespace}/{self.name}")
        except Exception as error:
            log.warning("lease not released", error=error_message(error))
