"""Read back what ``kasugai graph`` draws: a strict parser of the Mermaid subset it emits (no
well-kept Mermaid parser exists for Python), DOT through pydot, SVG through xml.etree."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import attrs
import pydot

_ENTITY = re.compile(r"#(\d+);")
_LABEL = r'"([^"]*)"'
_ID = r"([A-Za-z][A-Za-z0-9_]*)"
_LINES = {
    "subgraph": re.compile(rf"  subgraph {_ID}\[{_LABEL}\]"),
    "node": re.compile(rf"    {_ID}\[{_LABEL}\]"),
    "edge": re.compile(rf"    {_ID} -->\|{_LABEL}\| {_ID}"),
    "end": re.compile(r"  end"),
    "class": re.compile(rf"  class {_ID} ([a-z]+)"),
    "classDef": re.compile(r"  classDef ([a-z]+) fill:#[0-9a-f]{6}"),
}


@attrs.define
class Drawn:
    """What a drawing says: subgraph titles, nodes (id -> label), edges (source, target, label)."""

    titles: list[str] = attrs.field(factory=list)
    nodes: dict[str, str] = attrs.field(factory=dict)
    edges: list[tuple[str, str, str]] = attrs.field(factory=list)
    classes: dict[str, str] = attrs.field(factory=dict)

    def labelled(self) -> list[tuple[str, str, str]]:
        """Edges by their ends' labels."""
        return [(self.nodes[s], self.nodes[t], label) for s, t, label in self.edges]


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: chr(int(m.group(1))), text)


def parse_mermaid(text: str) -> Drawn:
    """The flowchart; AssertionError on any line outside the subset, or a node declared twice."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR", lines[0]
    drawn = Drawn()
    inside = False
    for line in lines[1:]:
        kind, found = next(
            ((k, m) for k, pattern in _LINES.items() if (m := pattern.fullmatch(line))),
            ("", None),
        )
        assert found is not None, f"not in the emitted subset: {line!r}"
        if kind == "subgraph":
            assert not inside
            inside = True
            drawn.titles.append(_unescape(found.group(2)))
        elif kind == "end":
            assert inside
            inside = False
        elif kind == "node":
            assert inside and found.group(1) not in drawn.nodes
            drawn.nodes[found.group(1)] = _unescape(found.group(2))
        elif kind == "edge":
            assert inside
            source, label, target = found.groups()
            assert source in drawn.nodes and target in drawn.nodes
            drawn.edges.append((source, target, _unescape(label)))
        elif kind == "class":
            assert found.group(1) in drawn.nodes
            drawn.classes[found.group(1)] = found.group(2)
    assert not inside
    return drawn


def _dot_string(value: Any) -> str:
    """A pydot attribute value as the text it stands for (quotes and escapes removed)."""
    text = str(value)
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)


def parse_dot(text: str) -> Drawn:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    drawn = Drawn()
    for cluster in graphs[0].get_subgraphs():
        drawn.titles.append(_dot_string(cluster.get_label()))
        for node in cluster.get_nodes():
            assert node.get_name() not in drawn.nodes
            drawn.nodes[node.get_name()] = _dot_string(node.get_label())
        for edge in cluster.get_edges():
            drawn.edges.append(
                (edge.get_source(), edge.get_destination(), _dot_string(edge.get_label()))
            )
    # Outside the clusters only the defaults (pydot lists `node [...]` as a node named "node").
    assert {n.get_name() for n in graphs[0].get_nodes()} <= {"node", "edge"}
    assert not graphs[0].get_edges()
    return drawn


SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(text: str) -> tuple[list[str], list[str]]:
    """The keys of the ``g.node`` groups, and the labels of the ``g.edge`` groups."""
    root = ET.fromstring(text.encode())
    assert root.tag == f"{SVG}svg"
    nodes = [
        "".join(g.find(f"{SVG}text[@class='key']").itertext())  # type: ignore[union-attr]
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    ]
    edges = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            assert g.find(f"{SVG}path") is not None
            edges.append("".join(g.find(f"{SVG}text").itertext()))  # type: ignore[union-attr]
    return nodes, edges
