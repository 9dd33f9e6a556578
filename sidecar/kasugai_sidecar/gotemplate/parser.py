"""A parser for Go's text/template, following ``text/template/parse/parse.go``.

It builds the same tree as Go for the language the sidecar supports: text, comments, actions,
pipelines with declarations and assignments, ``if``/``else if``/``else``, ``range`` (one or two
variables, ``else``, ``break``, ``continue``), ``with``/``else with``, parenthesised pipelines and
field chains. ``define``, ``template`` and ``block`` are refused with a parse error: a sidecar
renders one file per template, so nothing can name another template. Errors read like Go's:
``template: NAME:LINE: message``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

from kasugai_sidecar.gotemplate import nodes as n
from kasugai_sidecar.gotemplate.builtins import BUILTINS
from kasugai_sidecar.gotemplate.errors import TemplateParseError
from kasugai_sidecar.gotemplate.lexer import Lexer, Tok, Token
from kasugai_sidecar.gotemplate.literals import number_value, unquote

_MAX_PAREN_DEPTH = 100  # Go allows 10000; Python recursion does not
_OPERAND_START = frozenset(
    {
        Tok.BOOL,
        Tok.CHAR_CONSTANT,
        Tok.COMPLEX,
        Tok.DOT,
        Tok.FIELD,
        Tok.IDENTIFIER,
        Tok.NUMBER,
        Tok.NIL,
        Tok.RAW_STRING,
        Tok.STRING,
        Tok.VARIABLE,
        Tok.LEFT_PAREN,
    }
)
_NON_EXECUTABLE = (n.BoolNode, n.DotNode, n.NilNode, n.NumberNode, n.StringNode)


class _End:
    """``{{end}}`` or ``{{else}}``: closes an item list; never part of the tree."""

    def __init__(self, keyword: str, pos: int) -> None:
        self.keyword = keyword
        self.pos = pos

    def __str__(self) -> str:
        return "{{" + self.keyword + "}}"


def parse(name: str, text: str) -> n.ListNode:
    """Parse a template; ``TemplateParseError`` says what is wrong and on which line."""
    return _Parser(name, text).parse()


class _Parser:
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self._stream: Iterator[Token] = Lexer(name, text).tokens()
        self._tokens: list[Token] = []
        self._i = 0
        self._line = 1
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.paren_depth = 0

    # -- token stream --------------------------------------------------------------------

    def _next(self) -> Token:
        if self._i == len(self._tokens):
            self._tokens.append(next(self._stream))
        token = self._tokens[self._i]
        self._i += 1
        self._line = token.line
        return token

    def _backup(self, count: int = 1) -> None:
        self._i -= count

    def _peek(self) -> Token:
        token = self._next()
        self._backup()
        return token

    def _next_non_space(self) -> Token:
        token = self._next()
        while token.typ is Tok.SPACE:
            token = self._next()
        return token

    def _peek_non_space(self) -> Token:
        token = self._next_non_space()
        self._backup()
        return token

    def _errorf(self, message: str) -> NoReturn:
        raise TemplateParseError(f"template: {self.name}:{self._line}: {message}")

    def _unexpected(self, token: Token, context: str) -> NoReturn:
        self._errorf(f"unexpected {token} in {context}")

    def _expect(self, typ: Tok, context: str) -> Token:
        token = self._next_non_space()
        if token.typ is not typ:
            self._unexpected(token, context)
        return token

    # -- structure -----------------------------------------------------------------------

    def parse(self) -> n.ListNode:
        pos = self._peek().pos
        nodes: list[n.Node] = []
        while self._peek().typ is not Tok.EOF:
            node = self._text_or_action()
            if isinstance(node, _End):
                self._errorf(f"unexpected {node}")
            nodes.append(node)
        return n.ListNode(pos, tuple(nodes))

    def _item_list(self) -> tuple[n.ListNode, _End]:
        pos = self._peek_non_space().pos
        nodes: list[n.Node] = []
        while self._peek_non_space().typ is not Tok.EOF:
            node = self._text_or_action()
            if isinstance(node, _End):
                return n.ListNode(pos, tuple(nodes)), node
            nodes.append(node)
        self._errorf("unexpected EOF")

    def _text_or_action(self) -> n.Node | _End:
        token = self._next_non_space()
        if token.typ is Tok.TEXT:
            return n.TextNode(token.pos, token.val)
        if token.typ is Tok.LEFT_DELIM:
            return self._action()
        self._unexpected(token, "input")

    def _action(self) -> n.Node | _End:
        token = self._next_non_space()
        if token.typ in (Tok.DEFINE, Tok.TEMPLATE, Tok.BLOCK):
            self._errorf(
                f"{{{{{token.val}}}}} is not supported: a sidecar template cannot name another"
            )
        if token.typ in (Tok.BREAK, Tok.CONTINUE):
            return self._loop_control(token)
        if token.typ is Tok.ELSE:
            return self._else_control()
        if token.typ is Tok.END:
            return _End("end", self._expect(Tok.RIGHT_DELIM, "end").pos)
        if token.typ in (Tok.IF, Tok.RANGE, Tok.WITH):
            return self._control(token.val)
        self._backup()
        start = self._peek()
        return n.ActionNode(start.pos, start.line, self._pipeline("command", Tok.RIGHT_DELIM))

    def _loop_control(self, keyword: Token) -> n.Node:
        token = self._next_non_space()
        if token.typ is not Tok.RIGHT_DELIM:
            self._unexpected(token, "{{" + keyword.val + "}}")
        if self.range_depth == 0:
            self._errorf("{{" + keyword.val + "}} outside {{range}}")
        if keyword.typ is Tok.BREAK:
            return n.BreakNode(keyword.pos, keyword.line)
        return n.ContinueNode(keyword.pos, keyword.line)

    def _else_control(self) -> _End:
        peek = self._peek_non_space()
        if peek.typ in (Tok.IF, Tok.WITH):
            return _End("else", peek.pos)  # "else if"/"else with": the keyword stays pending
        return _End("else", self._expect(Tok.RIGHT_DELIM, "else").pos)

    def _control(self, context: str) -> n.BranchNode:
        """``if``/``range``/``with``: pipeline, item list, optional else list, end."""
        outer_vars = len(self.vars)
        pipe = self._pipeline(context, Tok.RIGHT_DELIM)
        if context == "range":
            self.range_depth += 1
        body, end = self._item_list()
        if context == "range":
            self.range_depth -= 1
        else_list = None
        if end.keyword == "else":
            follow = self._peek()
            if context in ("if", "with") and follow.typ.value == context:
                # {{else if x}} is {{else}}{{if x}}...{{end}}{{end}} with the inner end shared.
                self._next()
                else_list = n.ListNode(end.pos, (self._control(context),))
            else:
                else_list, end = self._item_list()
                if end.keyword != "end":
                    self._errorf(f"expected end; found {end}")
        del self.vars[outer_vars:]
        return n.BranchNode(context, pipe.pos, pipe.line, pipe, body, else_list)

    # -- pipelines -----------------------------------------------------------------------

    def _pipeline(self, context: str, end: Tok) -> n.PipeNode:
        start = self._peek_non_space()
        is_assign = False
        decl: list[n.VariableNode] = []
        while (variable := self._peek_non_space()).typ is Tok.VARIABLE:
            mark = self._i
            self._next_non_space()
            follow = self._peek_non_space()
            if follow.typ in (Tok.ASSIGN, Tok.DECLARE):
                is_assign = follow.typ is Tok.ASSIGN
                self._next_non_space()
                decl.append(n.VariableNode(variable.pos, (variable.val,)))
                self.vars.append(variable.val)
                break
            if follow.typ is Tok.CHAR and follow.val == ",":
                self._next_non_space()
                decl.append(n.VariableNode(variable.pos, (variable.val,)))
                self.vars.append(variable.val)
                if context == "range" and len(decl) < 2:
                    if self._peek_non_space().typ in (
                        Tok.VARIABLE,
                        Tok.RIGHT_DELIM,
                        Tok.RIGHT_PAREN,
                    ):
                        continue  # the second variable of "range $i, $v :="
                    self._errorf("range can only initialize variables")
                self._errorf(f"too many declarations in {context}")
            self._i = mark  # "$x" is an operand, not a declaration
            break
        cmds: list[n.CommandNode] = []
        while True:
            token = self._next_non_space()
            if token.typ is end:
                self._check_pipeline(cmds, context)
                return n.PipeNode(start.pos, start.line, is_assign, tuple(decl), tuple(cmds))
            if token.typ not in _OPERAND_START:
                self._unexpected(token, context)
            self._backup()
            cmds.append(self._command())

    def _check_pipeline(self, cmds: list[n.CommandNode], context: str) -> None:
        if not cmds:
            self._errorf(f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], _NON_EXECUTABLE):
                self._errorf(f"non executable command in pipeline stage {stage}")

    def _command(self) -> n.CommandNode:
        pos = self._peek_non_space().pos
        args: list[n.Operand] = []
        while True:
            self._peek_non_space()
            operand = self._operand()
            if operand is not None:
                args.append(operand)
            token = self._next()
            if token.typ is Tok.SPACE:
                continue
            if token.typ in (Tok.RIGHT_DELIM, Tok.RIGHT_PAREN):
                self._backup()
            elif token.typ is not Tok.PIPE:
                self._unexpected(token, "operand")
            break
        if not args:
            self._errorf("empty command")
        return n.CommandNode(pos, tuple(args))

    def _operand(self) -> n.Operand | None:
        node = self._term()
        if node is None or self._peek().typ is not Tok.FIELD:
            return node
        pos = self._peek().pos
        fields: list[str] = []
        while self._peek().typ is Tok.FIELD:
            fields.append(self._next().val[1:])
        if isinstance(node, n.FieldNode):
            return n.FieldNode(pos, node.ident + tuple(fields))
        if isinstance(node, n.VariableNode):
            return n.VariableNode(pos, node.ident + tuple(fields))
        if isinstance(node, _NON_EXECUTABLE):
            self._errorf(f'unexpected . after term "{node}"')
        return n.ChainNode(pos, node, tuple(fields))

    def _term(self) -> n.Operand | None:
        token = self._next_non_space()
        typ = token.typ
        if typ is Tok.IDENTIFIER:
            if token.val not in BUILTINS:
                self._errorf(f'function "{token.val}" not defined')
            return n.IdentifierNode(token.pos, token.val)
        if typ is Tok.DOT:
            return n.DotNode(token.pos)
        if typ is Tok.NIL:
            return n.NilNode(token.pos)
        if typ is Tok.VARIABLE:
            return self._use_var(token)
        if typ is Tok.FIELD:
            return n.FieldNode(token.pos, (token.val[1:],))
        if typ is Tok.BOOL:
            return n.BoolNode(token.pos, token.val == "true")
        if typ in (Tok.NUMBER, Tok.COMPLEX, Tok.CHAR_CONSTANT):
            return self._number(token)
        if typ is Tok.LEFT_PAREN:
            if self.paren_depth >= _MAX_PAREN_DEPTH:
                self._errorf("max expression depth exceeded")
            self.paren_depth += 1
            try:
                return self._pipeline("parenthesized pipeline", Tok.RIGHT_PAREN)
            finally:
                self.paren_depth -= 1
        if typ in (Tok.STRING, Tok.RAW_STRING):
            try:
                return n.StringNode(token.pos, token.val, unquote(token.val))
            except ValueError as err:
                self._errorf(str(err))
        self._backup()
        return None

    def _number(self, token: Token) -> n.NumberNode:
        try:
            if token.typ is Tok.CHAR_CONSTANT:
                return n.NumberNode(token.pos, token.val, ord(unquote(token.val)))
            return n.NumberNode(token.pos, token.val, number_value(token.val))
        except ValueError as err:
            self._errorf(str(err))

    def _use_var(self, token: Token) -> n.VariableNode:
        ident = tuple(token.val.split("."))
        if ident[0] not in self.vars:
            self._errorf(f'undefined variable "{ident[0]}"')
        return n.VariableNode(token.pos, ident)
