"""Chains as a Mermaid ``flowchart LR``: one subgraph per DataFlow, a class per function phase.

Node ids are made here (``d0n3``), never taken from a name. Every label is quoted and every
character outside a small safe set is written as a Mermaid entity code (``#60;`` for ``<``), so
no name can close a label (``"]``), start a link (``-->``), or reach the page as HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kasugai.view.chain import Chain
from kasugai.view.render_labels import (
    PHASE_COLOURS,
    chain_title,
    edge_label,
    node_ids,
    node_label,
    phase_class,
)

__all__ = ["render_mermaid"]

_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:;/()_+=\-]")
_FILLS = {"green": "#d4f7d4", "yellow": "#fff3c4", "red": "#ffd6d6", "grey": "#e8e8e8"}


def escape(text: str) -> str:
    """``text`` as the inside of a quoted Mermaid label."""
    return _UNSAFE.sub(lambda m: f"#{ord(m.group())};", text)


def render_mermaid(chains: Sequence[Chain]) -> str:
    lines = ["flowchart LR"]
    for number, chain in enumerate(chains):
        names = [f"d{number}n{i}" for i in range(len(chain.nodes))]
        ids = node_ids(chain, names)
        lines.append(f'  subgraph d{number}["{escape(chain_title(chain))}"]')
        for name, node in zip(names, chain.nodes, strict=True):
            lines.append(f'    {name}["{escape(node_label(node))}"]')
        for edge in chain.edges:
            if edge.source not in ids or edge.target not in ids:
                continue
            label = escape(edge_label(edge, chain.node(edge.source)))
            lines.append(f'    {ids[edge.source]} -->|"{label}"| {ids[edge.target]}')
        lines.append("  end")
        for name, node in zip(names, chain.nodes, strict=True):
            lines.append(f"  class {name} {phase_class(node.phase)}")
    for phase, colour in (*PHASE_COLOURS.items(), ("Other", "grey")):
        lines.append(f"  classDef {phase_class(phase)} fill:{_FILLS[colour]}")
    return "\n".join(lines) + "\n"
