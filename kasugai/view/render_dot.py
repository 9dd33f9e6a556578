"""Chains as a Graphviz ``digraph`` (left to right), one cluster per DataFlow.

Node ids are made here (``d0n3``); every label is a double-quoted DOT string with ``\\`` and
``"`` escaped, so a name such as ``a" -> "b`` stays one label and never becomes an edge.
"""

from __future__ import annotations

from collections.abc import Sequence

from kasugai.view.chain import Chain
from kasugai.view.render_labels import (
    PHASE_COLOURS,
    chain_title,
    edge_label,
    node_ids,
    node_label,
)

__all__ = ["quote", "render_dot"]

_FILLS = {"green": "#d4f7d4", "yellow": "#fff3c4", "red": "#ffd6d6", "grey": "#e8e8e8"}


def quote(text: str) -> str:
    """``text`` as a DOT quoted string (a backslash stays a backslash, not an escape)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(chains: Sequence[Chain]) -> str:
    lines = [
        "digraph kasugai {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for number, chain in enumerate(chains):
        names = [f"d{number}n{i}" for i in range(len(chain.nodes))]
        ids = node_ids(chain, names)
        lines.append(f"  subgraph cluster_d{number} {{")
        lines.append(f"    label={quote(chain_title(chain))};")
        for name, node in zip(names, chain.nodes, strict=True):
            fill = _FILLS[PHASE_COLOURS.get(node.phase, "grey")]
            lines.append(f"    {name} [label={quote(node_label(node))}, fillcolor={quote(fill)}];")
        for edge in chain.edges:
            if edge.source not in ids or edge.target not in ids:
                continue
            label = quote(edge_label(edge, chain.node(edge.source)))
            style = "" if edge.published else ", style=dashed"
            lines.append(f"    {ids[edge.source]} -> {ids[edge.target]} [label={label}{style}];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
