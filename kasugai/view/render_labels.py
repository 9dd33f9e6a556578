"""The words every drawing of a chain uses: a node's and an edge's label, and a phase's colour.

Each format escapes these its own way; here they are plain text. Names, addresses and states come
from a status anyone in the namespace may have written, so they are cut to a length a picture can
hold, and characters that hide or move text (a terminal's escape sequences, bidirectional
overrides, line separators) are replaced.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from kasugai.view.chain import Chain, Edge, HopFigures, Node

__all__ = [
    "PHASE_COLOURS",
    "chain_title",
    "edge_label",
    "figures_label",
    "node_ids",
    "node_label",
    "phase_class",
    "plain",
]

_MAX_TEXT = 120
# Controls (a terminal's escapes), format characters (bidirectional overrides, zero widths),
# surrogates and line or paragraph separators: none belongs in a label, and XML cannot hold some.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NONCHARACTERS = frozenset("\ufffe\uffff")

# A phase's colour in every format (rich, Mermaid classDef, DOT, SVG); anything else is grey.
PHASE_COLOURS = {
    "Running": "green",
    "Succeeded": "green",
    "Pending": "yellow",
    "Failed": "red",
    "Unknown": "grey",
    "Absent": "grey",  # planned, not observed yet
}


def plain(text: str) -> str:
    """``text`` safe to show anywhere: no hidden characters, at most 120 characters."""
    long = len(text) > _MAX_TEXT
    text = "".join(
        "\N{REPLACEMENT CHARACTER}"
        if c in _NONCHARACTERS or unicodedata.category(c) in _HIDDEN
        else c
        for c in (text[: _MAX_TEXT - 1] if long else text)
    )
    return text + "\N{HORIZONTAL ELLIPSIS}" if long else text


def phase_class(phase: str) -> str:
    """A class name for ``phase`` from a fixed set (never the phase's own text)."""
    return phase.lower() if phase in PHASE_COLOURS else "other"


def node_label(node: Node) -> str:
    return plain(f"{node.key} ({node.phase})")


def figures_label(figures: HopFigures) -> str:
    """What a hop's source measured: ``12.0 req/s, 0 NG``."""
    return f"{figures.requests_per_second:.1f} req/s, {figures.errors_total:.0f} NG"


def edge_label(edge: Edge, source: Node | None = None) -> str:
    """Destination and protocol; the state unless Published; the source's figures if any.

    The state's reason is left to the tree and the JSON: a picture's edge has no room for it.
    """
    # A destination written as the core does (``IP:PORT/TCP``) already says a TCP protocol.
    protocol = "" if edge.destination.endswith(f"/{edge.protocol}") else edge.protocol
    where = " ".join(part for part in (edge.destination, protocol) if part)
    parts = [where] if where else []
    if not edge.published:
        parts.append(edge.state)
    if source is not None and source.figures is not None:
        parts.append(figures_label(source.figures))
    return plain("; ".join(parts))


def chain_title(chain: Chain) -> str:
    return plain(f"{chain.namespace}/{chain.name} ({chain.status})")


def node_ids(chain: Chain, names: Sequence[str]) -> Mapping[str, str]:
    """Each function key's drawn id: ``names[i]`` is node i's; a repeated key keeps its first."""
    ids: dict[str, str] = {}
    for name, node in zip(names, chain.nodes, strict=True):
        ids.setdefault(node.key, name)
    return ids
