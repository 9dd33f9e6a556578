"""Watches of single objects by name, started and stopped as the core's interest changes.

Config, functioninfo and user-requirement ConfigMaps carry no label kasugai could select (the
original samples apply them as they are), and watching every ConfigMap of the cluster would
make the controller's memory grow with the cluster and put every ConfigMap's body through the
core and its journal. So the core says which ConfigMaps it refers to (and which foreign objects
block a name it wants) and each gets a watch of its own, with a ``metadata.name`` field selector.
A name nothing refers to any more loses its watch. ``limit`` bounds how many run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from kasugai.adapters.kube.api import KubeApi
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.watchers import Delivery, Watcher, WatchTimeouts
from kasugai.core.events import ObjectKey

__all__ = ["NamedWatches"]

log = structlog.get_logger("kasugai.controller")


class NamedWatches:
    """One ``Watcher`` per wanted object; ``follow`` the wanted set as it changes."""

    def __init__(
        self,
        api: KubeApi,
        deliver: Callable[[Delivery], None],
        metrics: Metrics,
        timeouts: WatchTimeouts,
        limit: int = 1000,
    ) -> None:
        self.api = api
        self.deliver = deliver
        self.metrics = metrics
        self.timeouts = timeouts
        self.limit = limit
        self._watchers: dict[ObjectKey, Watcher] = {}
        self._over_limit = 0

    @property
    def watchers(self) -> list[Watcher]:
        return list(self._watchers.values())

    def follow(self, wanted: Iterable[ObjectKey]) -> tuple[list[str], list[ObjectKey]]:
        """Start watches for new names, stop those no longer wanted; (started, stopped)."""
        wanted = sorted(set(wanted))
        stopped = [key for key in self._watchers if key not in set(wanted)]
        for key in stopped:
            self._watchers.pop(key).stop()
        started = []
        skipped = 0
        for key in wanted:
            if key in self._watchers:
                continue
            if len(self._watchers) >= self.limit:
                skipped += 1
                continue
            watcher = Watcher(
                self.api,
                key.kind,
                key.namespace,
                self.deliver,
                self.metrics,
                field_selector=f"metadata.name={key.name}",
                name=str(key),
                timeouts=self.timeouts,
            )
            self._watchers[key] = watcher
            watcher.start()
            started.append(watcher.name)
        if skipped != self._over_limit:
            self._over_limit = skipped
            if skipped:
                log.error(
                    "too many referenced objects to watch; some are not followed",
                    limit=self.limit,
                    not_followed=skipped,
                )
        return started, stopped

    def stop(self) -> None:
        for watcher in self._watchers.values():
            watcher.stop()

    def join(self, timeout: float) -> None:
        for watcher in self._watchers.values():
            watcher.join(timeout)
