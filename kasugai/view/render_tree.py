"""Chains as terminal trees (rich): the DataFlow, its functions in chain order, and under each
function where it sends to.

Text is built as ``rich.text.Text`` (never parsed as markup) from ``plain`` labels, so a name
cannot inject markup or terminal escape sequences. Colour only when asked (``colour=True``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from kasugai.view.chain import Chain, Node
from kasugai.view.render_labels import PHASE_COLOURS, edge_label, plain

__all__ = ["render_tree"]

_STATUS_COLOURS = {"Deployed": "green", "Error": "red", "Degraded": "yellow"}
_WIDTH = 250  # like `kasugai status` off a terminal: a line is as long as it needs


def _node_text(node: Node) -> Text:
    text = Text()
    text.append(plain(node.key), style="bold")
    text.append("  ")
    text.append(plain(node.phase), style=PHASE_COLOURS.get(node.phase, "grey50"))
    for detail in (node.pod, node.address):
        if detail:
            text.append("  " + plain(detail), style="dim")
    return text


def _tree(chain: Chain) -> Tree:
    title = Text()
    title.append(f"DataFlow {plain(chain.namespace)}/{plain(chain.name)}", style="bold")
    title.append("  ")
    title.append(plain(chain.status), style=_STATUS_COLOURS.get(chain.status, ""))
    if chain.message and chain.status != "Deployed":
        title.append("  " + plain(chain.message), style="dim")
    tree = Tree(title)
    for node in chain.nodes:
        branch = tree.add(_node_text(node))
        for edge in chain.edges:
            if edge.source != node.key:
                continue
            line = Text("→ ")
            line.append(plain(edge.target), style="bold")
            line.append("  ")
            style = "" if edge.published else "yellow"
            line.append(edge_label(edge, chain.node(edge.source)), style=style)
            if edge.reason and not edge.published:
                line.append("  " + plain(edge.reason), style="dim")
            branch.add(line)
    return tree


def render_tree(chains: Sequence[Chain], colour: bool = False, width: int = _WIDTH) -> str:
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=colour,
        no_color=not colour,
        color_system="standard" if colour else None,
        highlight=False,
        emoji=False,
    )
    for number, chain in enumerate(chains):
        if number:
            console.print()
        console.print(_tree(chain))
    return out.getvalue()
