"""A DataFlow's chain as nodes and edges, read from its status (cluster, local runtime or plan).

Every view of a chain (``kasugai graph``, ``kasugai explain``, the live page) starts here, so they
all show the same thing: the status the controller or ``kasugai up`` wrote. Nothing else is read,
because a status is what a user may see in any namespace the DataFlow lives in. Hostile input
gives an empty or partial chain, never an exception: every field is checked for its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

__all__ = ["Chain", "Edge", "HopFigures", "Node", "chain_from_dataflow", "chain_to_json"]

_MAX_FUNCTIONS = 1000  # a status listing more is not one a person can read as a graph


@attrs.frozen
class HopFigures:
    """What a function's metrics say, over the last sampling interval (rates) and in total."""

    requests_per_second: float = 0.0
    errors_per_second: float = 0.0
    requests_total: float = 0.0
    errors_total: float = 0.0
    mean_latency_ms: float | None = None
    next_hop: str = ""


@attrs.frozen
class Node:
    key: str
    pod: str
    phase: str
    address: str = ""
    service: str = ""
    figures: HopFigures | None = None


@attrs.frozen
class Edge:
    source: str
    target: str
    state: str
    destination: str = ""
    protocol: str = ""
    reason: str = ""

    @property
    def published(self) -> bool:
        return self.state == "Published"


@attrs.frozen
class Chain:
    namespace: str
    name: str
    status: str
    message: str = ""
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()

    def node(self, key: str) -> Node | None:
        return next((n for n in self.nodes if n.key == key), None)

    def with_figures(self, figures: Mapping[str, HopFigures]) -> Chain:
        """This chain with each node's figures (by function key) set where known."""
        nodes = tuple(attrs.evolve(n, figures=figures.get(n.key, n.figures)) for n in self.nodes)
        return attrs.evolve(self, nodes=nodes)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _entries(status: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    found = status.get(field)
    if not isinstance(found, list):
        return []
    return [e for e in found[:_MAX_FUNCTIONS] if isinstance(e, Mapping)]


def _edge(entry: Mapping[str, Any]) -> Edge:
    state = _text(entry.get("state")) or ("Published" if entry.get("published") is True else "")
    return Edge(
        source=_text(entry.get("from")),
        target=_text(entry.get("to")),
        state=state or "Waiting",
        destination=_text(entry.get("destination")),
        protocol=_text(entry.get("protocol")),
        reason=_text(entry.get("reason")),
    )


def chain_from_dataflow(dataflow: Mapping[str, Any]) -> Chain:
    """The chain of a DataFlow object (``metadata`` and ``status``; ``spec`` is not needed)."""
    metadata = dataflow.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    status = dataflow.get("status")
    status = status if isinstance(status, Mapping) else {}
    nodes = tuple(
        Node(
            key=_text(f.get("key")),
            pod=_text(f.get("pod")),
            phase=_text(f.get("phase")) or "Unknown",
            address=_text(f.get("address")),
            service=_text(f.get("service")),
        )
        for f in _entries(status, "functions")
    )
    edges = tuple(_edge(c) for c in _entries(status, "connections"))
    known = {n.key for n in nodes}
    # A connection to a function the status does not list still gets drawn, as Unknown.
    extra = dict.fromkeys(k for e in edges for k in (e.source, e.target) if k not in known)
    return Chain(
        namespace=_text(metadata.get("namespace")),
        name=_text(metadata.get("name")),
        status=_text(status.get("status")) or "Unknown",
        message=_text(status.get("message")),
        nodes=(*nodes, *(Node(key=k, pod="", phase="Unknown") for k in extra if k)),
        edges=tuple(e for e in edges if e.source and e.target),
    )


_converter = cattrs.Converter()


def chain_to_json(chain: Chain) -> dict[str, Any]:
    """The chain as plain JSON (the page's data and ``kasugai graph -o json``)."""
    data: dict[str, Any] = _converter.unstructure(chain)
    for edge, entry in zip(chain.edges, data["edges"], strict=True):
        entry["published"] = edge.published
    return data
