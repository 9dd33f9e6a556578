"""Loopback addresses for Pods: each Pod gets its own 127.0.x.y, so every function keeps its port.

An address is derived from a hash of ``namespace/pod`` (the same Pod gets the same address in any
state directory, which makes logs and configs easy to compare), then probed past addresses other
Pods already hold, so two Pods never share one. Allocations are kept in ``addresses.json`` so a
Pod keeps its address across restarts of the runtime even when a collision moved it. 127.0.0.1
is left alone (other programs listen there), as are the .0 and .255 host parts.

Linux routes all of 127.0.0.0/8 to the loopback interface: no set-up is needed to listen on
127.0.x.y.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from pathlib import Path

import structlog

from kasugai.adapters.local.layout import read_json, write_atomically

__all__ = ["AddressBook", "validate_loopback"]

log = structlog.get_logger("kasugai.local.addresses")

_HOSTS_PER_BLOCK = 254  # y in 1..254
_CANDIDATES = 256 * _HOSTS_PER_BLOCK
_RESERVED = frozenset({"127.0.0.1"})


def validate_loopback(address: str) -> str:
    """``address`` if it is an IPv4 loopback address; ValueError otherwise (before any use)."""
    parsed = ipaddress.ip_address(address)
    if parsed.version != 4 or not parsed.is_loopback:
        raise ValueError(f"{address!r} is not an IPv4 loopback address (127.0.0.0/8)")
    return str(parsed)


def _candidate(index: int) -> str:
    x, y = divmod(index % _CANDIDATES, _HOSTS_PER_BLOCK)
    return f"127.0.{x}.{y + 1}"


class AddressBook:
    """Pod name -> address; persisted in ``path`` when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._by_pod: dict[str, str] = {}
        stored = read_json(path) if path else None
        for pod, address in (stored or {}).items():
            try:
                self._by_pod[str(pod)] = validate_loopback(str(address))
            except ValueError as error:
                log.warning("ignoring a stored address", pod=pod, error=str(error))
        self._taken = set(self._by_pod.values())

    def address_of(self, namespace: str, pod: str) -> str:
        """The Pod's address, allocating (and recording) it the first time."""
        name = f"{namespace}/{pod}"
        found = self._by_pod.get(name)
        if found is not None:
            return found
        start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
        for step in range(_CANDIDATES):
            address = _candidate(start + step)
            if address not in self._taken and address not in _RESERVED:
                break
        else:  # 65,000 Pods on one machine: not a case worth more than a clear error
            raise RuntimeError("no free loopback address left in 127.0.0.0/16")
        self._by_pod[name] = address
        self._taken.add(address)
        if self._path is not None:
            write_atomically(self._path, json.dumps(self._by_pod, indent=2, sort_keys=True))
        return address
