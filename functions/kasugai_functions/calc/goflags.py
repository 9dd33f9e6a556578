"""Command-line flags parsed by the rules of Go's ``flag`` package, and Go's float syntax.

The original calcapp is a Go program, and Pod specs call it as ``/calcapp -server -port 8080
-operator plus`` or ``/calcapp -host h 1 2 3``. Go's rules: a flag has one or two dashes; its value
is given as ``-name=value`` or ``-name value``; a boolean flag is ``-name`` or ``-name=false``;
parsing stops at the first argument that is not a flag, or after ``--``. argparse follows other
rules (it mixes flags and values and takes ``-1e3`` for a flag), hence this module.

One deliberate difference from Go: an argument that is a number (``-3``, ``-inf``) starts the
values, so negative inputs need no ``--``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import attrs

FlagValue = bool | int | str

_DECIMAL = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_HEXADECIMAL = r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+"
_FINITE = re.compile(rf"[+-]?(?:{_DECIMAL}|{_HEXADECIMAL})")
_INFINITE = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)
_NOT_A_NUMBER = re.compile(r"nan", re.IGNORECASE)
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class FlagError(ValueError):
    """The command line breaks the flag rules; the message says how, as Go's flag package does."""


class HelpRequested(Exception):
    """``-h`` or ``-help``: print the usage and exit 0, as Go does."""


@attrs.frozen
class Flag:
    """One flag; the type of its default (bool, int or str) is the type of its value."""

    name: str
    default: FlagValue
    usage: str


def parse_go_float(text: str) -> float:
    """A float in the syntax of Go's ``strconv.ParseFloat`` (no spaces, no underscores).

    Raises ValueError when the text is not a number or is out of the float64 range.
    """
    if _INFINITE.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NOT_A_NUMBER.fullmatch(text):
        return math.nan
    if not _FINITE.fullmatch(text):
        raise ValueError(f"invalid number {text!r}")
    unsigned = text.lstrip("+-")
    magnitude = float.fromhex(unsigned) if unsigned[1:2] in ("x", "X") else float(unsigned)
    if math.isinf(magnitude):
        raise ValueError(f"number {text!r} is out of the float64 range")
    return -magnitude if text.startswith("-") else magnitude


def _is_number(text: str) -> bool:
    try:
        parse_go_float(text)
    except ValueError:
        return False
    return True


def _convert(flag: Flag, text: str) -> FlagValue:
    if isinstance(flag.default, bool):
        if text in _GO_TRUE:
            return True
        if text in _GO_FALSE:
            return False
        raise FlagError(f'invalid boolean value "{text}" for -{flag.name}: parse error')
    if isinstance(flag.default, int):
        try:
            if text != text.strip():  # int() forgives spaces, Go does not
                raise ValueError(text)
            return int(text, 0)  # Go's ParseInt(s, 0, 64): 0x, 0o, 0b prefixes and underscores
        except ValueError:
            raise FlagError(f'invalid value "{text}" for flag -{flag.name}: parse error') from None
    return text


def parse_flags(
    flags: Sequence[Flag], args: Sequence[str]
) -> tuple[dict[str, FlagValue], list[str]]:
    """Split ``args`` into flag values (defaults filled in) and the remaining arguments."""
    known = {flag.name: flag for flag in flags}
    values: dict[str, FlagValue] = {flag.name: flag.default for flag in flags}
    position = 0
    while position < len(args):
        arg = args[position]
        if len(arg) < 2 or not arg.startswith("-") or _is_number(arg):
            break
        position += 1
        if arg == "--":
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {arg}")
        name, has_value, text = name.partition("=")
        flag = known.get(name)
        if flag is None:
            if name in ("h", "help"):
                raise HelpRequested
            raise FlagError(f"flag provided but not defined: -{name}")
        if isinstance(flag.default, bool) and not has_value:
            values[name] = True
            continue
        if not has_value:
            if position == len(args):
                raise FlagError(f"flag needs an argument: -{name}")
            text, position = args[position], position + 1
        values[name] = _convert(flag, text)
    return values, list(args[position:])


def describe_flags(flags: Sequence[Flag]) -> str:
    """The flag list in the layout of Go's ``flag.PrintDefaults``."""
    lines: list[str] = []
    for flag in sorted(flags, key=lambda f: f.name):
        kind = "" if isinstance(flag.default, bool) else f" {type(flag.default).__name__}"
        kind = kind.replace("str", "string")  # Go's names for the value types
        lines.append(f"  -{flag.name}{kind}")
        shown_default = _shown_default(flag.default)
        suffix = f" (default {shown_default})" if shown_default else ""
        lines.append(f"    \t{flag.usage}{suffix}")
    return "\n".join(lines) + "\n"


def _shown_default(default: FlagValue) -> str:
    if isinstance(default, bool) or default in ("", 0):
        return ""  # Go omits zero values
    return f'"{default}"' if isinstance(default, str) else str(default)
