"""The parse tree of a Go template, with Go's ``String()`` forms for error messages."""

from __future__ import annotations

from typing import Any

import attrs

from kasugai_sidecar.gotemplate.lexer import go_quote


@attrs.frozen
class TextNode:
    pos: int
    text: str

    def __str__(self) -> str:
        return go_quote(self.text)


@attrs.frozen
class DotNode:
    pos: int

    def __str__(self) -> str:
        return "."


@attrs.frozen
class NilNode:
    pos: int

    def __str__(self) -> str:
        return "nil"


@attrs.frozen
class BoolNode:
    pos: int
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@attrs.frozen
class NumberNode:
    """A numeric literal; ``value`` is a Go int (Python int) or float64 (Python float)."""

    pos: int
    text: str
    value: Any

    def __str__(self) -> str:
        return self.text


@attrs.frozen
class StringNode:
    pos: int
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@attrs.frozen
class FieldNode:
    pos: int
    ident: tuple[str, ...]

    def __str__(self) -> str:
        return "".join("." + name for name in self.ident)


@attrs.frozen
class VariableNode:
    pos: int
    ident: tuple[str, ...]  # ident[0] is the variable ("$x"), the rest are fields

    def __str__(self) -> str:
        return ".".join(self.ident)


@attrs.frozen
class IdentifierNode:
    pos: int
    name: str

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class ChainNode:
    """``(pipeline).Field1.Field2``: a term followed by field accesses."""

    pos: int
    node: Operand
    fields: tuple[str, ...]

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + name for name in self.fields)


@attrs.frozen
class CommandNode:
    pos: int
    args: tuple[Operand, ...]

    def __str__(self) -> str:
        return " ".join(f"({arg})" if isinstance(arg, PipeNode) else str(arg) for arg in self.args)


@attrs.frozen
class PipeNode:
    pos: int
    line: int
    is_assign: bool
    decl: tuple[VariableNode, ...]
    cmds: tuple[CommandNode, ...]

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(cmd) for cmd in self.cmds)


@attrs.frozen
class ActionNode:
    pos: int
    line: int
    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@attrs.frozen
class ListNode:
    pos: int
    nodes: tuple[Node, ...]

    def __str__(self) -> str:
        return "".join(str(node) for node in self.nodes)


@attrs.frozen
class BranchNode:
    """``if``, ``range`` or ``with`` (``keyword``), each with an optional else list."""

    keyword: str
    pos: int
    line: int
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None

    def __str__(self) -> str:
        text = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            text += "{{else}}" + str(self.else_list)
        return text + "{{end}}"


@attrs.frozen
class BreakNode:
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{break}}"


@attrs.frozen
class ContinueNode:
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{continue}}"


Operand = (
    DotNode
    | NilNode
    | BoolNode
    | NumberNode
    | StringNode
    | FieldNode
    | VariableNode
    | IdentifierNode
    | ChainNode
    | PipeNode
)
Node = TextNode | ActionNode | BranchNode | BreakNode | ContinueNode | ListNode
