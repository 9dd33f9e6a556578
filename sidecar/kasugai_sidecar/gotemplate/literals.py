"""Go literal syntax inside actions: quoted strings, raw strings, characters and numbers."""

from __future__ import annotations

import re

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}
_HEX_LENGTH = {"x": 2, "u": 4, "U": 8}
_LEGACY_OCTAL = re.compile(r"[+-]?0[0-7_]+")


def unquote(quoted: str) -> str:
    """Go's ``strconv.Unquote`` for "...", `...` and '...'; ``ValueError`` on bad syntax."""
    if len(quoted) < 2 or quoted[0] != quoted[-1] or quoted[0] not in "\"`'":
        raise ValueError("invalid syntax")
    quote, body = quoted[0], quoted[1:-1]
    if quote == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == quote or ch == "\n":
            raise ValueError("invalid syntax")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("invalid syntax")
        esc = body[i]
        i += 1
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
        elif esc == quote:
            out.append(esc)
        elif esc in _HEX_LENGTH:
            digits = body[i : i + _HEX_LENGTH[esc]]
            if len(digits) != _HEX_LENGTH[esc] or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise ValueError("invalid syntax")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ValueError("invalid syntax")
            out.append(chr(code))
            i += len(digits)
        elif "0" <= esc <= "7":
            digits = body[i - 1 : i + 2]
            if not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise ValueError("invalid syntax")
    text = "".join(out)
    if quote == "'" and len(text) != 1:
        raise ValueError("invalid syntax")
    return text


def _parse_int(text: str) -> int | None:
    try:
        if _LEGACY_OCTAL.fullmatch(text):
            return int(text.replace("_", ""), 8)
        return int(text, 0)
    except ValueError:
        return None


def _parse_float(text: str) -> float | None:
    body = text.lstrip("+-")
    negative = text.startswith("-")
    try:
        hexadecimal = body[:2] in ("0x", "0X")
        value = float.fromhex(body.replace("_", "")) if hexadecimal else float(body)
    except ValueError:
        return None
    return -value if negative else value


def number_value(text: str) -> int | float:
    """The Go value of a numeric literal in a context without a type (an "ideal constant").

    As in Go: the literal is a float64 when it is written like one (``.``, ``e``, ``p``),
    otherwise an int. ``ValueError`` for what Go cannot parse.
    """
    if text.endswith("i"):
        raise ValueError(f"complex constants are not supported: {text}")
    as_int = _parse_int(text)
    as_float = _parse_float(text)
    is_hex_int = text.lstrip("+-")[:2] in ("0x", "0X") and not any(c in text for c in "pP")
    if as_float is not None and not is_hex_int and any(c in text for c in ".eEpP"):
        return as_float
    if as_int is not None:
        return as_int
    if as_float is not None and as_float.is_integer():
        return int(as_float)
    raise ValueError(f"illegal number syntax: {text!r}")
