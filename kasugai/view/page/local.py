"""The live page of ``kasugai up``: fed by the supervisor's snapshots and the core's decisions.

The supervisor hands over every snapshot it writes (its DataFlow statuses are the core's, as
``kasugai status`` shows them) and the reconciler every lifecycle decision; the page keeps the
latest of each. Everything here runs in the page's own threads except those two hand-overs,
which only copy references, so the event loop of ``kasugai up`` never waits for a browser.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from kasugai.core.events import Transitioned
from kasugai.health_server import ProbeServer
from kasugai.view.page.board import Board
from kasugai.view.page.routes import mount_page
from kasugai.view.page.sampler import FigureSampler

__all__ = ["DEFAULT_VIEW", "LocalPage", "ViewAddressError", "parse_view", "snapshot_dataflows"]

DEFAULT_VIEW = "127.0.0.1:8765"
_WARNING_STATES = frozenset({"Error", "Degraded", "Stale"})
# Besides every move of a DataFlow, the moves of a connection worth a line on the page.
_NOTED_CONNECTION_STATES = frozenset({"Stale", "Rewiring"})


class ViewAddressError(ValueError):
    """``--view`` names no usable address; the message says which flag and how to fix it."""


def parse_view(value: str, public: bool) -> tuple[str, int] | None:
    """``--view`` as (host, port); None for ``off``. Not loopback: only with ``--view-public``."""
    if value.strip().lower() == "off":
        return None
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ViewAddressError(
            f"--view {value!r}: expected ADDRESS:PORT (e.g. {DEFAULT_VIEW}, port 0: any) or off"
        )
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        raise ViewAddressError(
            f"--view {value!r}: the address must be an IP address or localhost"
        ) from None
    if not address.is_loopback and not public:
        raise ViewAddressError(
            f"--view {value!r}: not a loopback address; the page shows the chain's addresses "
            "and Events to anyone who can reach it: add --view-public to serve it there anyway"
        )
    return str(address), int(port)


def snapshot_dataflows(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The snapshot's DataFlows as objects with ``metadata`` and ``status``."""
    found = snapshot.get("dataflows")
    return [
        {
            "metadata": {"namespace": d.get("namespace"), "name": d.get("name")},
            "status": d.get("status"),
        }
        for d in (found if isinstance(found, list) else [])
        if isinstance(d, Mapping)
    ]


class LocalPage:
    """The page's server, board and sampler; ``start`` serves at ``url`` until ``stop``."""

    def __init__(self, host: str, port: int, public: bool = False) -> None:
        self.board = Board()
        self.server = ProbeServer(host, port, {}, name="live-page")
        mount_page(self.server, self.board, public=public)
        self.sampler = FigureSampler(self.board)

    @property
    def url(self) -> str:
        host, port = self.server.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def start(self) -> None:
        self.server.start()
        self.sampler.start()

    def stop(self) -> None:
        self.board.close()
        self.sampler.stop()
        self.server.stop()

    def snapshot(self, snapshot: Mapping[str, Any]) -> None:
        self.board.set_dataflows(snapshot_dataflows(snapshot))

    def transition(self, decision: Transitioned) -> None:
        if decision.machine != "DataFlow" and not (
            {decision.from_state, decision.to_state} & _NOTED_CONNECTION_STATES
        ):
            return
        moved = f"{decision.from_state or 'New'} -> {decision.to_state}"
        subject = f"connection {decision.subject}: " if decision.subject else ""
        detail = f": {decision.message}" if decision.message else ""
        self.board.events.add(
            decision.object.namespace,
            decision.object.name,
            "Warning" if decision.to_state in _WARNING_STATES else "Normal",
            decision.reason,
            f"{subject}{moved}{detail}",
        )
