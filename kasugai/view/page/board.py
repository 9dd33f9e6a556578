"""What the live page shows, kept up to date by its source and read by the HTTP threads.

The source (``kasugai up``'s supervisor, or the controller's DataFlow watch) sets the DataFlows
as objects with ``metadata`` and ``status``; the ``FigureSampler`` sets each function's figures;
Events come from a ``RecentEvents``. The request handlers only read the latest of each and build
the JSON (``chain_to_json`` plus Events and rewiring), so a request never waits for a scrape or
for the reconciler. ``wait`` lets a server-sent events stream sleep until something changes.

A rewiring is seen from the statuses: it starts when a running chain's connections stop being
all published (or its ``Rewired`` condition turns False) and ends when they all are again; its
duration is measured here, on this process's clock, so it is as precise as the updates are
frequent (every change, in both sources).
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from kasugai.view.chain import Chain, HopFigures, chain_from_dataflow, chain_to_json
from kasugai.view.figures import metrics_url
from kasugai.view.page.recent import RecentEvents

__all__ = ["Board", "DataflowKey"]

DataflowKey = tuple[str, str]  # namespace, name
MAX_DATAFLOWS = 1000  # more than a page could list; the rest are left out and said to be
VIEWED_SECONDS = 10.0  # figures are scraped only for DataFlows a page asked about this recently
_SEPARATOR = "\x00"  # in the sampler's keys: cannot occur in a namespace, name or function key


def _iso(at: float) -> str:
    moment = datetime.datetime.fromtimestamp(at, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rewired_condition(status: Mapping[str, Any]) -> bool:
    conditions = status.get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        if isinstance(condition, Mapping) and condition.get("type") == "Rewired":
            return condition.get("status") != "False"
    return True


@attrs.define
class _Rewiring:
    """One DataFlow's rewiring, as seen from successive statuses."""

    settled: tuple[str, ...] | None = None  # the chain (function keys) when last all published
    started: float | None = None  # monotonic
    started_at: float | None = None  # wall clock, for the page
    last: dict[str, Any] | None = None

    def see(self, chain: Chain, rewired: bool, now: float, wall: float) -> None:
        keys = tuple(n.key for n in chain.nodes)
        settled = rewired and bool(chain.edges) and all(e.published for e in chain.edges)
        if not settled:
            if self.started is None and self.settled is not None:
                self.started, self.started_at = now, wall
            return
        if self.started is not None and self.started_at is not None:
            seconds: float | None = now - self.started
            started_at = self.started_at
        elif self.settled is not None and self.settled != keys:
            seconds, started_at = None, wall  # changed and settled between two updates
        else:
            self.settled = keys
            return
        self.last = {
            "from": list(self.settled or ()),
            "to": list(keys),
            "startedAt": _iso(started_at),
            "finishedAt": _iso(wall),
            "seconds": None if seconds is None else round(seconds, 3),
        }
        self.settled, self.started, self.started_at = keys, None, None

    def json(self) -> dict[str, Any]:
        return {
            "inProgress": self.started is not None,
            "since": _iso(self.started_at) if self.started_at is not None else None,
            "last": self.last,
        }


class Board:
    """The latest DataFlows, figures and Events; thread-safe."""

    def __init__(
        self,
        events: RecentEvents | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        hosts: Callable[[str, str], Mapping[str, str]] | None = None,
    ) -> None:
        """``hosts``: where to scrape each function of a DataFlow, when not at its status
        address (in a cluster, its Pod IP: ``PodHosts.of``)."""
        self.events = events or RecentEvents()
        self._hosts = hosts
        self._clock = clock
        self._wall_clock = wall_clock
        self._changed = threading.Condition()
        self._dataflows: dict[DataflowKey, dict[str, Any]] = {}
        self._chains: dict[DataflowKey, Chain] = {}
        self._rewiring: dict[DataflowKey, _Rewiring] = {}
        self._figures: dict[DataflowKey, dict[str, HopFigures]] = {}
        self._viewed: dict[DataflowKey, float] = {}
        self._left_out = 0
        self._closed = False

    # --- written by the sources -------------------------------------------------------------

    def set_dataflows(self, dataflows: Iterable[Mapping[str, Any]]) -> None:
        """Every DataFlow there is now (objects with ``metadata`` and ``status``)."""
        found: dict[DataflowKey, dict[str, Any]] = {}
        left_out = 0
        for dataflow in dataflows:
            key = self._key(dataflow)
            if key is None:
                continue
            if len(found) >= MAX_DATAFLOWS:
                left_out += 1
                continue
            found[key] = dict(dataflow)
        with self._changed:
            for gone in self._dataflows.keys() - found.keys():
                self._forget(gone)
            for key, dataflow in found.items():
                self._put(key, dataflow)
            self._left_out = left_out
            self._changed.notify_all()

    def observe(self, dataflow: Mapping[str, Any]) -> None:
        """One DataFlow as it is now (a watch event)."""
        key = self._key(dataflow)
        if key is None:
            return
        with self._changed:
            if key not in self._dataflows and len(self._dataflows) >= MAX_DATAFLOWS:
                self._left_out += 1
                return
            self._put(key, dict(dataflow))
            self._changed.notify_all()

    def forget(self, namespace: str, name: str) -> None:
        with self._changed:
            self._forget((namespace, name))
            self._changed.notify_all()

    def set_figures(self, figures: Mapping[str, HopFigures]) -> None:
        """Figures by the keys ``metrics_targets`` gave."""
        found: dict[DataflowKey, dict[str, HopFigures]] = {}
        for compound, figure in figures.items():
            namespace, name, function = compound.split(_SEPARATOR)
            found.setdefault((namespace, name), {})[function] = figure
        with self._changed:
            self._figures = found
            self._changed.notify_all()

    def close(self) -> None:
        """Ends every stream waiting on the board."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _key(self, dataflow: Mapping[str, Any]) -> DataflowKey | None:
        metadata = dataflow.get("metadata")
        if not isinstance(metadata, Mapping):
            return None
        namespace, name = metadata.get("namespace"), metadata.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str) or not name:
            return None
        if _SEPARATOR in namespace + name or len(namespace) + len(name) > 512:
            return None
        return namespace, name

    def _put(self, key: DataflowKey, dataflow: dict[str, Any]) -> None:
        if self._dataflows.get(key) == dataflow:
            return
        self._dataflows[key] = dataflow
        chain = chain_from_dataflow(dataflow)
        self._chains[key] = chain
        status = dataflow.get("status")
        rewired = _rewired_condition(status) if isinstance(status, Mapping) else True
        rewiring = self._rewiring.setdefault(key, _Rewiring())
        rewiring.see(chain, rewired, self._clock(), self._wall_clock())

    def _forget(self, key: DataflowKey) -> None:
        for table in (self._dataflows, self._chains, self._rewiring, self._figures, self._viewed):
            table.pop(key, None)

    # --- read by the sampler and the pages --------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def metrics_targets(self) -> dict[str, str]:
        """The metrics URL of each function of the DataFlows a page shows now (a controller
        with a thousand DataFlows scrapes nobody's functions while nobody looks), by a key
        ``set_figures`` takes back."""
        recent = self._clock() - VIEWED_SECONDS
        with self._changed:
            chains = [
                (k, c) for k, c in self._chains.items() if self._viewed.get(k, -1e18) > recent
            ]
        targets = {}
        for (namespace, name), chain in chains:
            hosts = self._hosts(namespace, name) if self._hosts else {}
            for node in chain.nodes:
                url = metrics_url(hosts.get(node.key) or node.address)
                if url is not None and _SEPARATOR not in node.key:
                    targets[_SEPARATOR.join((namespace, name, node.key))] = url
        return targets

    def listing(self) -> dict[str, Any]:
        with self._changed:
            chains = sorted(self._chains.items())
            left_out = self._left_out
        return {
            "dataflows": [
                {
                    "namespace": namespace,
                    "name": name,
                    "status": chain.status,
                    "functions": len(chain.nodes),
                }
                for (namespace, name), chain in chains
            ],
            "leftOut": left_out,
        }

    def page(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The page's JSON for one DataFlow; None if there is no such DataFlow."""
        key = (namespace, name)
        with self._changed:
            chain = self._chains.get(key)
            if chain is None:
                return None
            figures = self._figures.get(key, {})
            rewiring = self._rewiring[key].json()
            self._viewed[key] = self._clock()
        data = chain_to_json(chain.with_figures(figures))
        data["rewiring"] = rewiring
        data["events"] = self.events.of(namespace, name)
        return data

    def has(self, namespace: str, name: str) -> bool:
        with self._changed:
            return (namespace, name) in self._chains

    def wait(self, timeout: float) -> None:
        """Until something changes, the board closes, or ``timeout`` seconds pass."""
        with self._changed:
            if not self._closed:
                self._changed.wait(timeout)
