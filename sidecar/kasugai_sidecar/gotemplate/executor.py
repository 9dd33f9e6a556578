"""Executes a parsed template against data, following ``text/template/exec.go``.

The data is what Go's ``json.Unmarshal`` into ``any`` gives (see :mod:`values`). Semantics kept
from Go: a missing map key is an invalid value that prints ``<no value>`` and is false; a field of
a nil value is an error; ``index`` of a missing value is an error; variables are scoped to the
enclosing control structure; ``range`` over a map visits keys in sorted order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

from kasugai_sidecar.gotemplate import nodes as n
from kasugai_sidecar.gotemplate.builtins import BUILTINS, BuiltinError
from kasugai_sidecar.gotemplate.errors import TemplateExecError
from kasugai_sidecar.gotemplate.values import NO_VALUE, format_value, go_type, is_true


class _NoFinal:
    """Go's missingVal: no value was piped in from a previous command."""


_NO_FINAL: Any = _NoFinal()
_INT64 = range(-(2**63), 2**63)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Executor:
    """One execution of one template: variables, output, and the node being evaluated."""

    def __init__(self, name: str, text: str, data: Any) -> None:
        self.name = name
        self.text = text
        self.out: list[str] = []
        self.vars: list[list[Any]] = [["$", data]]  # [name, value] pairs, innermost last
        self.node: Any = None

    def run(self, root: n.ListNode, data: Any) -> str:
        self.walk(NO_VALUE if data is None else data, root)
        return "".join(self.out)

    # -- errors --------------------------------------------------------------------------

    def at(self, node: Any) -> None:
        self.node = node

    def errorf(self, message: str) -> NoReturn:
        if self.node is None:
            raise TemplateExecError(f"template: {self.name}: {message}")
        # Go reports the line and the byte offset within the line of the failing node.
        before = self.text[: self.node.pos].encode()
        newline = before.rfind(b"\n")
        column = len(before) if newline < 0 else len(before) - newline - 1
        line = 1 + before.count(b"\n")
        location = f"{self.name}:{line}:{column}"
        raise TemplateExecError(
            f'template: {location}: executing "{self.name}" at <{self.node}>: {message}'
        )

    # -- variables -----------------------------------------------------------------------

    def var_value(self, name: str) -> Any:
        for var_name, value in reversed(self.vars):
            if var_name == name:
                return value
        self.errorf(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    # -- walking the tree ----------------------------------------------------------------

    def walk(self, dot: Any, node: n.Node) -> None:
        self.at(node)
        if isinstance(node, n.TextNode):
            self.out.append(node.text)
        elif isinstance(node, n.ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:  # a declaration prints nothing
                self.at(node)
                self.out.append(format_value(value))
        elif isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, n.BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, n.BreakNode):
            raise _Break
        elif isinstance(node, n.ContinueNode):
            raise _Continue

    def walk_if_or_with(self, dot: Any, node: n.BranchNode) -> None:
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if is_true(value):
                self.walk(value if node.keyword == "with" else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, node: n.BranchNode) -> None:
        outer = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            mark = len(self.vars)
            ran = False
            try:
                for key, elem in self._iterate(value, node):
                    ran = True
                    self._bind_range_vars(node.pipe, key, elem)
                    try:
                        self.walk(elem, node.list)
                    except _Continue:
                        pass
                    finally:
                        del self.vars[mark:]
            except _Break:
                return
            if not ran and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[outer:]

    def _iterate(self, value: Any, node: n.BranchNode) -> Iterator[tuple[Any, Any]]:
        if isinstance(value, list):
            yield from enumerate(value)
        elif isinstance(value, dict):
            for key in sorted(value):
                yield key, value[key]
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(node.pipe.decl) > 1:
                self.errorf(f"can't use {value} to iterate over more than one variable")
            for i in range(value):
                yield NO_VALUE, i
        elif value is not NO_VALUE:
            self.errorf(f"range can't iterate over {format_value(value)}")

    def _bind_range_vars(self, pipe: n.PipeNode, key: Any, elem: Any) -> None:
        decl = pipe.decl
        if not decl:
            return
        if pipe.is_assign:
            if len(decl) > 1:
                self.set_var(decl[0].ident[0], key)
                self.set_var(decl[1].ident[0], elem)
            else:
                self.set_var(decl[0].ident[0], elem)
            return
        # The declarations were pushed by eval_pipeline: the element is on top, the key below.
        self.vars[-1][1] = elem
        if len(decl) > 1:
            self.vars[-2][1] = key

    # -- evaluation ----------------------------------------------------------------------

    def eval_pipeline(self, dot: Any, pipe: n.PipeNode) -> Any:
        self.at(pipe)
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:  # a nil interface{} digs down to the invalid value
                value = NO_VALUE
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def not_a_function(self, args: tuple[n.Operand, ...], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: n.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, n.FieldNode):
            self.at(first)
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, n.ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, n.IdentifierNode):
            return self.eval_call(dot, first.name, cmd, cmd.args[1:], final)
        if isinstance(first, n.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, n.VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, n.NilNode):
            self.errorf("nil is not a command")
        return self.eval_literal(dot, first)

    def eval_literal(self, dot: Any, node: n.Operand) -> Any:
        if isinstance(node, n.DotNode):
            return dot
        if isinstance(node, n.BoolNode):
            return node.value
        if isinstance(node, n.StringNode):
            return node.text
        if isinstance(node, n.NumberNode):
            if isinstance(node.value, int) and node.value not in _INT64:
                self.errorf(f"{node.text} overflows int")
            return node.value
        self.errorf(f"can't evaluate command {node}")

    def eval_chain(self, dot: Any, chain: n.ChainNode, args: tuple[Any, ...], final: Any) -> Any:
        self.at(chain)
        if isinstance(chain.node, n.NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(
        self, dot: Any, var: n.VariableNode, args: tuple[Any, ...], final: Any
    ) -> Any:
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(
        self,
        dot: Any,
        receiver: Any,
        node: Any,
        ident: tuple[str, ...],
        args: tuple[Any, ...],
        final: Any,
    ) -> Any:
        for name in ident[:-1]:
            receiver = self.eval_field(name, (), _NO_FINAL, receiver)
        return self.eval_field(ident[-1], args, final, receiver)

    def eval_field(self, name: str, args: tuple[Any, ...], final: Any, receiver: Any) -> Any:
        if receiver is NO_VALUE:
            return NO_VALUE  # a field of a missing value is missing too
        if receiver is None:
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, dict):
            if len(args) > 1 or final is not _NO_FINAL:
                self.errorf(f"{name} is not a method but has arguments")
            return receiver.get(name, NO_VALUE)
        self.errorf(f"can't evaluate field {name} in type {go_type(receiver)}")

    def eval_arg(self, dot: Any, node: n.Operand) -> Any:
        self.at(node)
        if isinstance(node, n.NilNode):
            return NO_VALUE
        if isinstance(node, n.FieldNode):
            return self.eval_field_chain(dot, dot, node, node.ident, (node,), _NO_FINAL)
        if isinstance(node, n.VariableNode):
            return self.eval_variable(dot, node, (), _NO_FINAL)
        if isinstance(node, n.PipeNode):
            return self.eval_pipeline(dot, node)
        if isinstance(node, n.IdentifierNode):
            return self.eval_call(dot, node.name, node, (), _NO_FINAL)
        if isinstance(node, n.ChainNode):
            return self.eval_chain(dot, node, (), _NO_FINAL)
        return self.eval_literal(dot, node)

    def eval_call(
        self, dot: Any, name: str, node: Any, args: tuple[n.Operand, ...], final: Any
    ) -> Any:
        self.at(node)
        function, least, most = BUILTINS[name]
        count = len(args) + (final is not _NO_FINAL)
        if most is None and count < least:
            self.errorf(f"wrong number of args for {name}: want at least {least} got {len(args)}")
        if most is not None and count != most:
            self.errorf(f"wrong number of args for {name}: want {most} got {count}")
        if name in ("and", "or"):
            value: Any = NO_VALUE
            for arg in args:
                value = self.eval_arg(dot, arg)
                if is_true(value) == (name == "or"):
                    return value
            return final if final is not _NO_FINAL else value
        assert function is not None  # only and/or have none
        argv = [self.eval_arg(dot, arg) for arg in args]
        if final is not _NO_FINAL:
            argv.append(final)
        try:
            return function(*argv)
        except BuiltinError as err:
            self.at(node)
            self.errorf(f"error calling {name}: {err}")
