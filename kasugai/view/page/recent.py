"""Recent Events per DataFlow, in memory and bounded: what the live page lists under the chain.

The controller's ``EventRecorder`` and ``kasugai up``'s reconciler add one for each decision a
person would act on; the page shows the newest first. Bounded twice (Events per DataFlow, and
DataFlows: the least recently noted is forgotten first), so a namespace of many DataFlows cannot
grow it without limit. Safe to use from several threads.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

__all__ = ["RecentEvents"]

_MESSAGE_LIMIT = 1024


def _iso(at: float) -> str:
    moment = datetime.datetime.fromtimestamp(at, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RecentEvents:
    def __init__(
        self,
        per_dataflow: int = 20,
        dataflows: int = 1000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._per_dataflow = per_dataflow
        self._dataflows = dataflows
        self._clock = clock or time.time
        self._lock = threading.Lock()
        self._events: OrderedDict[tuple[str, str], deque[dict[str, Any]]] = OrderedDict()

    def add(self, namespace: str, name: str, type: str, reason: str, message: str) -> None:
        event = {
            "time": _iso(self._clock()),
            "type": "Warning" if type == "Warning" else "Normal",
            "reason": reason[:128],
            "message": message[:_MESSAGE_LIMIT],
        }
        key = (namespace, name)
        with self._lock:
            found = self._events.pop(key, None) or deque(maxlen=self._per_dataflow)
            found.append(event)
            self._events[key] = found
            while len(self._events) > self._dataflows:
                self._events.popitem(last=False)

    def of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The DataFlow's recent Events, newest first."""
        with self._lock:
            return list(reversed(self._events.get((namespace, name), ())))
