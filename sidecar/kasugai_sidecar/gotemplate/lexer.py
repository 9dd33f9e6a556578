"""Tokens of Go's text/template, scanned the way ``text/template/parse/lex.go`` scans them.

A port of Go's state machine, kept close to the original so that trim markers (``{{- `` and
`` -}}`` take all adjacent white space, newlines included), comments and number syntax behave
identically. Tokens are produced lazily, so a lexical error surfaces where the parser reaches it,
as in Go.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable, Iterator
from typing import Optional

import attrs

from kasugai_sidecar.gotemplate.errors import TemplateParseError

LEFT_DELIM = "{{"
RIGHT_DELIM = "}}"
LEFT_COMMENT = "/*"
RIGHT_COMMENT = "*/"
SPACE_CHARS = " \t\r\n"


class Tok(enum.Enum):
    BOOL = "bool"
    CHAR = "char"
    CHAR_CONSTANT = "char constant"
    COMPLEX = "complex"
    ASSIGN = "="
    DECLARE = ":="
    EOF = "EOF"
    FIELD = "field"
    IDENTIFIER = "identifier"
    LEFT_DELIM = "left delim"
    LEFT_PAREN = "("
    NUMBER = "number"
    PIPE = "|"
    RAW_STRING = "raw string"
    RIGHT_DELIM = "right delim"
    RIGHT_PAREN = ")"
    SPACE = "space"
    STRING = "string"
    TEXT = "text"
    VARIABLE = "variable"
    # Keywords.
    BLOCK = "block"
    BREAK = "break"
    CONTINUE = "continue"
    DOT = "."
    DEFINE = "define"
    ELSE = "else"
    END = "end"
    IF = "if"
    NIL = "nil"
    RANGE = "range"
    TEMPLATE = "template"
    WITH = "with"


KEYWORDS = {
    ".": Tok.DOT,
    "block": Tok.BLOCK,
    "break": Tok.BREAK,
    "continue": Tok.CONTINUE,
    "define": Tok.DEFINE,
    "else": Tok.ELSE,
    "end": Tok.END,
    "if": Tok.IF,
    "nil": Tok.NIL,
    "range": Tok.RANGE,
    "template": Tok.TEMPLATE,
    "with": Tok.WITH,
}
_KEYWORD_TOKENS = frozenset(KEYWORDS.values())


@attrs.frozen
class Token:
    typ: Tok
    val: str
    pos: int
    line: int

    def __str__(self) -> str:
        """Go's item.String(), used in "unexpected ..." messages."""
        if self.typ is Tok.EOF:
            return "EOF"
        if self.typ in _KEYWORD_TOKENS:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def go_quote(text: str) -> str:
    """Go's ``%q`` for the strings that appear in messages (ASCII-printable kept as is)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


def go_rune(ch: str) -> str:
    """Go's ``%#U`` for a character: ``U+0023 '#'``."""
    code = ord(ch)
    return f"U+{code:04X} '{ch}'" if ch.isprintable() else f"U+{code:04X}"


def is_space(ch: str) -> bool:
    return ch != "" and ch in SPACE_CHARS


def is_alphanumeric(ch: str) -> bool:
    if ch == "":
        return False
    return ch == "_" or ch.isalpha() or unicodedata.category(ch) == "Nd"


def has_left_trim_marker(text: str) -> bool:
    return len(text) >= 2 and text[0] == "-" and is_space(text[1])


def has_right_trim_marker(text: str) -> bool:
    return len(text) >= 2 and is_space(text[0]) and text[1] == "-"


_State = Callable[[], Optional["_State"]]


class Lexer:
    """Scans one template text into tokens; iterate to get them."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self._pending: list[Token] = []
        self._counted = (0, 1)  # (position, its line): lines are counted on from there

    def tokens(self) -> Iterator[Token]:
        state: _State | None = self._lex_text
        while state is not None:
            state = state()
            yield from self._pending
            self._pending.clear()

    # -- helpers -------------------------------------------------------------------------

    def line_at(self, pos: int) -> int:
        # Counted on from the last position asked (tokens come in order): linear, not quadratic.
        counted, line = self._counted if pos >= self._counted[0] else (0, 1)
        line += self.text.count("\n", counted, pos)
        self._counted = (pos, line)
        return line

    def _next(self) -> str:
        if self.pos >= len(self.text):
            self.pos += 1  # so that _backup() after EOF is symmetric
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def _backup(self) -> None:
        self.pos -= 1

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _accept(self, valid: str) -> bool:
        ch = self._next()
        if ch != "" and ch in valid:
            return True
        self._backup()
        return False

    def _accept_run(self, valid: str) -> None:
        while self._accept(valid):
            pass

    def _emit(self, typ: Tok) -> _State | None:
        self._pending.append(
            Token(typ, self.text[self.start : self.pos], self.start, self.line_at(self.start))
        )
        self.start = self.pos
        return self._lex_inside_action if typ not in (Tok.TEXT, Tok.RIGHT_DELIM) else self._lex_text

    def _error(self, message: str) -> _State | None:
        raise TemplateParseError(f"template: {self.name}:{self.line_at(self.start)}: {message}")

    def _at_right_delim(self) -> tuple[bool, bool]:
        # Positions, not slices of the rest: a slice per character made large templates quadratic.
        if has_right_trim_marker(self.text[self.pos : self.pos + 2]) and self.text.startswith(
            RIGHT_DELIM, self.pos + 2
        ):
            return True, True
        return self.text.startswith(RIGHT_DELIM, self.pos), False

    def _at_terminator(self) -> bool:
        ch = self._peek()
        if is_space(ch) or ch in ("", ".", ",", "|", ":", ")", "("):
            return True
        return self.text.startswith(RIGHT_DELIM, self.pos)

    # -- states --------------------------------------------------------------------------

    def _lex_text(self) -> _State | None:
        found = self.text.find(LEFT_DELIM, self.pos)
        if found < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self._emit(Tok.TEXT)
            self._emit(Tok.EOF)
            return None
        if found > self.pos:
            text = self.text[self.start : found]
            trim = 0
            after = found + len(LEFT_DELIM)
            if has_left_trim_marker(self.text[after : after + 2]):
                trim = len(text) - len(text.rstrip(SPACE_CHARS))
            self.pos = found - trim
            if self.pos > self.start:
                self._emit(Tok.TEXT)
        self.pos = self.start = found
        return self._lex_left_delim

    def _lex_left_delim(self) -> _State | None:
        self.pos += len(LEFT_DELIM)
        after_marker = 2 if has_left_trim_marker(self.text[self.pos : self.pos + 2]) else 0
        if self.text.startswith(LEFT_COMMENT, self.pos + after_marker):
            self.pos += after_marker
            self.start = self.pos
            return self._lex_comment
        self._emit(Tok.LEFT_DELIM)
        self.pos += after_marker
        self.start = self.pos
        self.paren_depth = 0
        return self._lex_inside_action

    def _lex_comment(self) -> _State | None:
        self.pos += len(LEFT_COMMENT)
        end = self.text.find(RIGHT_COMMENT, self.pos)
        if end < 0:
            return self._error("unclosed comment")
        self.pos = end + len(RIGHT_COMMENT)
        delim, trim = self._at_right_delim()
        if not delim:
            return self._error("comment ends before closing delimiter")
        self.pos += (2 if trim else 0) + len(RIGHT_DELIM)
        if trim:
            self.pos += self._left_trim_length()
        self.start = self.pos
        return self._lex_text

    def _left_trim_length(self) -> int:
        end = self.pos
        while end < len(self.text) and self.text[end] in SPACE_CHARS:
            end += 1
        return end - self.pos

    def _lex_right_delim(self) -> _State | None:
        _, trim = self._at_right_delim()
        if trim:
            self.pos += 2
            self.start = self.pos
        self.pos += len(RIGHT_DELIM)
        self._emit(Tok.RIGHT_DELIM)
        if trim:
            self.pos += self._left_trim_length()
            self.start = self.pos
        return self._lex_text

    def _lex_inside_action(self) -> _State | None:
        delim, _ = self._at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self._lex_right_delim
            return self._error("unclosed left paren")
        ch = self._next()
        if ch == "":
            return self._error("unclosed action")
        if is_space(ch):
            self._backup()  # put the space back in case we have " -}}"
            return self._lex_space
        if ch == "=":
            return self._emit(Tok.ASSIGN)
        if ch == ":":
            if self._next() != "=":
                return self._error("expected :=")
            return self._emit(Tok.DECLARE)
        if ch == "|":
            return self._emit(Tok.PIPE)
        if ch == '"':
            return self._lex_quote
        if ch == "`":
            return self._lex_raw_quote
        if ch == "$":
            return self._lex_variable
        if ch == "'":
            return self._lex_char
        if ch == "." and not "0" <= self._peek() <= "9":
            return self._lex_field
        if ch in "+-." or "0" <= ch <= "9":
            self._backup()
            return self._lex_number
        if is_alphanumeric(ch):
            self._backup()
            return self._lex_identifier
        if ch == "(":
            self.paren_depth += 1
            return self._emit(Tok.LEFT_PAREN)
        if ch == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self._error("unexpected right paren")
            return self._emit(Tok.RIGHT_PAREN)
        if ord(ch) < 0x80 and ch.isprintable():
            return self._emit(Tok.CHAR)
        return self._error(f"unrecognized character in action: {go_rune(ch)}")

    def _lex_space(self) -> _State | None:
        spaces = 0
        while is_space(self._peek()):
            self._next()
            spaces += 1
        # A trim-marked right delimiter starts with a space: leave it for _lex_right_delim.
        start = self.pos - 1
        if has_right_trim_marker(self.text[start : start + 2]) and self.text.startswith(
            RIGHT_DELIM, start + 2
        ):
            self._backup()
            if spaces == 1:
                return self._lex_right_delim
        return self._emit(Tok.SPACE)

    def _lex_identifier(self) -> _State | None:
        while is_alphanumeric(self._next()):
            pass
        self._backup()
        word = self.text[self.start : self.pos]
        if not self._at_terminator():
            return self._error(f"bad character {go_rune(self._peek())}")
        if word in KEYWORDS:
            return self._emit(KEYWORDS[word])
        if word in ("true", "false"):
            return self._emit(Tok.BOOL)
        return self._emit(Tok.IDENTIFIER)

    def _lex_field(self) -> _State | None:
        return self._lex_field_or_variable(Tok.FIELD)

    def _lex_variable(self) -> _State | None:
        return self._lex_field_or_variable(Tok.VARIABLE)

    def _lex_field_or_variable(self, typ: Tok) -> _State | None:
        if self._at_terminator():  # nothing interesting follows: "." or "$"
            return self._emit(Tok.VARIABLE if typ is Tok.VARIABLE else Tok.DOT)
        while is_alphanumeric(self._next()):
            pass
        self._backup()
        if not self._at_terminator():
            return self._error(f"bad character {go_rune(self._peek())}")
        return self._emit(typ)

    def _lex_char(self) -> _State | None:
        while True:
            ch = self._next()
            if ch == "\\":
                if self._next() not in ("", "\n"):
                    continue
                return self._error("unterminated character constant")
            if ch in ("", "\n"):
                return self._error("unterminated character constant")
            if ch == "'":
                return self._emit(Tok.CHAR_CONSTANT)

    def _lex_number(self) -> _State | None:
        if not self._scan_number():
            return self._error(f"bad number syntax: {go_quote(self.text[self.start : self.pos])}")
        if self._peek() in ("+", "-"):
            if not self._scan_number() or self.text[self.pos - 1] != "i":
                text = self.text[self.start : self.pos]
                return self._error(f"bad number syntax: {go_quote(text)}")
            return self._emit(Tok.COMPLEX)
        return self._emit(Tok.NUMBER)

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if is_alphanumeric(self._peek()):
            self._next()
            return False
        return True

    def _lex_quote(self) -> _State | None:
        while True:
            ch = self._next()
            if ch == "\\":
                if self._next() not in ("", "\n"):
                    continue
                return self._error("unterminated quoted string")
            if ch in ("", "\n"):
                return self._error("unterminated quoted string")
            if ch == '"':
                return self._emit(Tok.STRING)

    def _lex_raw_quote(self) -> _State | None:
        end = self.text.find("`", self.pos)
        if end < 0:
            return self._error("unterminated raw quoted string")
        self.pos = end + 1
        return self._emit(Tok.RAW_STRING)
