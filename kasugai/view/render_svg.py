"""Chains as a standalone SVG, laid out by kasugai itself (no Graphviz): left to right, one band
per DataFlow.

A function's column is its longest distance from a function nothing sends to (an edge closing
a cycle is drawn but not counted); functions in one column are stacked. Each function
is one ``<g class="node">`` (a box, its key, its phase); each connection one ``<g class="edge">``
(a path with an arrow and its label). Text is XML-escaped after ``plain`` has dropped the
characters XML cannot hold, so any status gives a well-formed document.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

import attrs

from kasugai.view.chain import Chain
from kasugai.view.render_labels import (
    PHASE_COLOURS,
    chain_title,
    edge_label,
    plain,
)

__all__ = ["render_svg"]

_CHAR = 7.2  # width of one character of 12px monospace
_NODE_HEIGHT = 44.0
_ROW_GAP = 24.0
_MIN_COLUMN_GAP = 80.0
_MARGIN = 20.0
_TITLE = 28.0
_LOOP = 36.0  # depth of the loops under a band
_FILLS = {"green": "#d4f7d4", "yellow": "#fff3c4", "red": "#ffd6d6", "grey": "#e8e8e8"}
_STROKES = {"green": "#2e7d32", "yellow": "#b58900", "red": "#c62828", "grey": "#777777"}


def _text(text: str) -> str:
    return escape(plain(text), {'"': "&quot;"})


@attrs.frozen
class _Box:
    x: float
    y: float
    width: float

    @property
    def middle(self) -> float:
        return self.y + _NODE_HEIGHT / 2


def _columns(chain: Chain, index: dict[str, int]) -> list[int]:
    """Each node's column: the longest path to it, not counting the edges that close a cycle
    (found by a depth-first walk in the status's order, which is the chain's)."""
    count = len(chain.nodes)
    successors: list[list[int]] = [[] for _ in range(count)]
    for edge in chain.edges:
        successors[index[edge.source]].append(index[edge.target])
    state = [0] * count  # 0 unseen, 1 on the walk's path, 2 done
    order: list[int] = []  # finishing order: reversed, a topological order of the forward edges
    forward: list[list[int]] = [[] for _ in range(count)]
    for root in range(count):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(successors[root]))]
        while stack:  # iterative: a long chain must not exhaust Python's recursion
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif state[target] == 0:
                forward[node].append(target)
                state[target] = 1
                stack.append((target, iter(successors[target])))
            elif state[target] == 2:
                forward[node].append(target)
            # state 1: a back edge, closing a cycle; drawn, but not laid out by
    column = [0] * count
    for node in reversed(order):
        for target in forward[node]:
            column[target] = max(column[target], column[node] + 1)
    return column


def _layout(chain: Chain, index: dict[str, int], top: float) -> tuple[list[_Box], float]:
    """Boxes of the chain's nodes, and the band's bottom."""
    column = _columns(chain, index)
    count = max(column, default=-1) + 1
    widths = [0.0] * count
    gaps = [_MIN_COLUMN_GAP] * count
    for i, node in enumerate(chain.nodes):
        text = max(len(plain(node.key)), len(plain(node.phase)) + 2)
        widths[column[i]] = max(widths[column[i]], text * _CHAR + 24)
    for edge in chain.edges:
        label = len(edge_label(edge, chain.node(edge.source))) * _CHAR * 0.85 + 24
        source = column[index[edge.source]]
        gaps[source] = max(gaps[source], label)
    lefts = []
    x = _MARGIN
    for c in range(count):
        lefts.append(x)
        x += widths[c] + gaps[c]
    rows = [0] * count
    boxes = []
    for i in range(len(chain.nodes)):
        c = column[i]
        y = top + _TITLE + rows[c] * (_NODE_HEIGHT + _ROW_GAP)
        rows[c] += 1
        boxes.append(_Box(lefts[c], y, widths[c]))
    bottom = top + _TITLE + max(rows, default=0) * (_NODE_HEIGHT + _ROW_GAP)
    return boxes, bottom


def _node(box: _Box, key: str, phase: str, detail: str) -> str:
    colour = PHASE_COLOURS.get(phase, "grey")
    return (
        f'<g class="node"><title>{_text(detail)}</title>'
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
        f'height="{_NODE_HEIGHT:.1f}" rx="6" fill="{_FILLS[colour]}" stroke="{_STROKES[colour]}"/>'
        f'<text class="key" x="{box.x + 12:.1f}" y="{box.y + 18:.1f}">{_text(key)}</text>'
        f'<text class="phase" x="{box.x + 12:.1f}" y="{box.y + 35:.1f}">{_text(phase)}</text>'
        "</g>"
    )


def _backwards(source: _Box, target: _Box) -> bool:
    return target.x <= source.x + source.width


def _edge(source: _Box, target: _Box, label: str, published: bool, below: float) -> str:
    """A path with an arrow; one going backwards (a cycle) loops under the band at ``below``."""
    if _backwards(source, target):
        x1, y1 = source.x + source.width / 2, source.y + _NODE_HEIGHT
        x2, y2 = target.x + target.width / 2, target.y + _NODE_HEIGHT
        path = f"M {x1:.1f} {y1:.1f} C {x1:.1f} {below:.1f}, {x2:.1f} {below:.1f}, "
        # The curve's lowest point (its middle) is 3/4 of the way down to ``below``: under it.
        mid_x, mid_y = (x1 + x2) / 2, 0.75 * below + 0.125 * (y1 + y2) + 12
    else:
        x1, y1 = source.x + source.width, source.middle
        x2, y2 = target.x, target.middle
        bend = (x2 - x1) / 2
        path = f"M {x1:.1f} {y1:.1f} C {x1 + bend:.1f} {y1:.1f}, {x2 - bend:.1f} {y2:.1f}, "
        mid_x, mid_y = (x1 + x2) / 2, (y1 + y2) / 2 - 6
    path += f"{x2:.1f} {y2:.1f}"
    dash = "" if published else ' stroke-dasharray="5 4"'
    return (
        f'<g class="edge"><path d="{path}" fill="none" stroke="#555555"{dash} '
        'marker-end="url(#arrow)"/>'
        f'<text class="label" x="{mid_x:.1f}" y="{mid_y:.1f}" text-anchor="middle">'
        f"{_text(label)}</text></g>"
    )


def render_svg(chains: Sequence[Chain]) -> str:
    parts = []
    top, right = _MARGIN, 0.0
    for chain in chains:
        index: dict[str, int] = {}
        for i, node in enumerate(chain.nodes):
            index.setdefault(node.key, i)  # a repeated key: its edges go to the first
        edges = [e for e in chain.edges if e.source in index and e.target in index]
        chain = attrs.evolve(chain, edges=tuple(edges))
        boxes, bottom = _layout(chain, index, top)
        parts.append(f'<g class="dataflow"><text class="title" x="{_MARGIN:.1f}" ')
        parts.append(f'y="{top + 14:.1f}">{_text(chain_title(chain))}</text>')
        for box, node in zip(boxes, chain.nodes, strict=True):
            detail = " ".join(p for p in (node.pod, node.address) if p)
            parts.append(_node(box, node.key, node.phase, detail or node.key))
        pairs = [(e, boxes[index[e.source]], boxes[index[e.target]]) for e in chain.edges]
        if any(_backwards(source, target) for _, source, target in pairs):
            bottom += _LOOP  # room under the boxes for the edges that close a cycle
        for edge, source, target in pairs:
            label = edge_label(edge, chain.node(edge.source))
            parts.append(_edge(source, target, label, edge.published, bottom - _ROW_GAP / 2))
        parts.append("</g>")
        title = _MARGIN + len(chain_title(chain)) * _CHAR
        right = max([right, title, *(b.x + b.width for b in boxes)])
        top = bottom + _MARGIN
    width, height = right + _MARGIN, top
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12">\n'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555555"/></marker></defs>\n'
        "<style>.title{font-weight:bold}.phase{fill:#555555;font-size:11px}"
        ".label{fill:#333333;font-size:10px}</style>\n" + "".join(parts) + "\n</svg>\n"
    )
