"""Loopback addresses for Pods: each Pod gets its own 127.0.x.y, so every function keeps its port.

An address is derived from a hash of ``namespace/pod`` (the same Pod gets the same address in any
state directory, which makes logs and configs easy to compare), then probed past addresses other
Pods already hold and addresses some socket on this machine is bound to (another runtime, say
the demo next to a ``kasugai up`` of the same sample), so two Pods never share one. Allocations
are kept in ``addresses.json`` so a Pod keeps its address across restarts of the runtime even
when a collision moved it. 127.0.0.1 is left alone (other programs listen there), as are the .0
and .255 host parts.

Linux routes all of 127.0.0.0/8 to the loopback interface: no set-up is needed to listen on
127.0.x.y.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from pathlib import Path

import structlog

from kasugai.adapters.local.layout import read_json
from kasugai.atomic_files import write_atomically

__all__ = ["AddressBook", "bound_addresses", "validate_loopback"]

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


def bound_addresses() -> set[str]:
    """IPv4 addresses that some TCP or UDP socket on this machine is bound to.

    IPv6 sockets count with their IPv4-mapped addresses (gRPC binds ``[::ffff:127.0.x.y]``).
    """
    found = set()
    for table in ("tcp", "udp", "tcp6", "udp6"):
        try:
            lines = Path("/proc/net", table).read_text().splitlines()[1:]
        except FileNotFoundError:  # no such protocol in this network namespace
            continue
        for line in lines:
            raw = bytes.fromhex(line.split()[1].split(":")[0])
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(words)
            if isinstance(address, ipaddress.IPv6Address):
                address = address.ipv4_mapped or address
            found.add(str(address))
    return found


def _candidate(index: int) -> str:
    x, y = divmod(index % _CANDIDATES, _HOSTS_PER_BLOCK)
    return f"127.0.{x}.{y + 1}"


class AddressBook:
    """Pod name -> address; persisted in ``path`` when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._by_pod: dict[str, str] = {}
        stored = read_json(path) if path else None
        for pod, address in (stored if isinstance(stored, dict) else {}).items():
            try:
                self._by_pod[str(pod)] = validate_loopback(str(address))
            except ValueError as error:
                log.warning("ignoring a stored address", pod=pod, error=str(error))
        self._taken = set(self._by_pod.values())
        self._confirmed: set[str] = set()  # Pods whose address this run has handed out

    def address_of(self, namespace: str, pod: str) -> str:
        """The Pod's address, allocating (and recording) it the first time.

        A stored address is handed out again unless, the first time this run asks, something
        else is bound to it (the Pod's own processes of an earlier run are gone by then).
        """
        name = f"{namespace}/{pod}"
        found = self._by_pod.get(name)
        bound = set() if name in self._confirmed else bound_addresses()
        if found is not None and found not in bound:
            self._confirmed.add(name)
            return found
        if found is not None:
            log.warning("address in use by another program; moving the Pod", pod=name, was=found)
            self._taken.discard(found)
        start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
        for step in range(_CANDIDATES):
            address = _candidate(start + step)
            if address not in self._taken and address not in _RESERVED and address not in bound:
                break
        else:  # 65,000 Pods on one machine: not a case worth more than a clear error
            raise RuntimeError("no free loopback address left in 127.0.0.0/16")
        self._by_pod[name] = address
        self._taken.add(address)
        self._confirmed.add(name)
        if self._path is not None:
            write_atomically(self._path, json.dumps(self._by_pod, indent=2, sort_keys=True))
        return address
