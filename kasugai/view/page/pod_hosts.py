"""Where each function Pod of a cluster can be scraped: its Pod IP, from the controller's Pod watch.

In a cluster a function's status address is its Service's (a cluster IP, or a LoadBalancer's),
and a Service carries only the function's own ports, not its metrics port (9464). The Pod IP
does, so the page scrapes that. Only Pods kasugai labelled are watched; their labels say which
DataFlow and function they run.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kasugai.core import names
from kasugai.core.events import Forgotten, Observed

__all__ = ["PodHosts"]

_Pod = tuple[str, str]  # namespace, Pod name
_Function = tuple[str, str, str]  # namespace, DataFlow, function key


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _function_and_ip(pod: Mapping[str, Any]) -> tuple[_Function, str] | None:
    metadata = pod.get("metadata")
    status = pod.get("status")
    if not isinstance(metadata, Mapping) or not isinstance(status, Mapping):
        return None
    labels = metadata.get("labels")
    labels = labels if isinstance(labels, Mapping) else {}
    function = (
        _text(metadata.get("namespace")),
        _text(labels.get(names.DATAFLOW_LABEL)),
        _text(labels.get(names.FUNCTION_KEY_LABEL)),
    )
    ip = _text(status.get("podIP"))
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    return (function, ip) if all(function) else None


class PodHosts:
    """Function key -> Pod IP, per DataFlow; thread-safe (the watch writes, the sampler reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ips: dict[_Pod, tuple[_Function, str]] = {}

    def see(self, events: Iterable[Observed | Forgotten]) -> None:
        with self._lock:
            for event in events:
                pod = (event.namespace, event.name)
                found = _function_and_ip(event.body) if isinstance(event, Observed) else None
                if found is None:
                    self._ips.pop(pod, None)
                else:
                    self._ips[pod] = found

    def of(self, namespace: str, dataflow: str) -> dict[str, str]:
        """The Pod IP of each function of one DataFlow that has one."""
        with self._lock:
            return {
                key: ip
                for (space, flow, key), ip in self._ips.values()
                if (space, flow) == (namespace, dataflow)
            }
