"""The Go values a template sees, and how Go's ``fmt`` prints them.

A ConfigMap's JSON reaches a Go template decoded into ``any``: objects become
``map[string]interface{}``, arrays ``[]interface{}``, every number ``float64``. Literals in the
template add Go ``int``. We model them with plain Python values: ``dict``, ``list``, ``float``
(float64), ``int`` (int), ``str``, ``bool``, ``None`` (a nil interface, JSON ``null``), plus
:data:`NO_VALUE` for Go's invalid ``reflect.Value`` (a missing map key), which prints
``<no value>``. Keeping ``float`` and ``int`` apart matters: Go refuses ``eq 8080.0 8080``.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Final

from kasugai.core import bounded


class _NoValue:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()


def decode_json(text: str) -> Any:
    """Decode JSON as Go's ``json.Unmarshal`` into ``any`` does: every number is a float64.

    Raises ``ValueError`` for what Go rejects too (NaN and Infinity are not JSON), and
    ``kasugai.core.bounded.OverLimit`` (a ``ValueError``) for a text beyond its limits.
    """

    def reject_constant(name: str) -> Any:
        raise ValueError(f"invalid JSON literal {name}")

    text = bounded.check_json(text, bounded.VALUE)
    return json.loads(text, parse_int=float, parse_constant=reject_constant)


def go_type(value: Any) -> str:
    """The Go type name of a value, as error messages print it."""
    if value is NO_VALUE:
        return "<nil>"
    if value is None:
        return "interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    raise TypeError(f"not a template value: {value!r}")


def is_true(value: Any) -> bool:
    """Go template truth: the zero value of its type, empty or missing is false."""
    if value is NO_VALUE or value is None:
        return False
    if isinstance(value, (list, dict, str)):
        return len(value) > 0
    if isinstance(value, bool):
        return value
    return bool(value != 0)


def format_float(value: float) -> str:
    """Go's ``%v`` for a float64: ``%g`` with the shortest digits that round-trip.

    Exponent form when the decimal exponent is below -4 or at least 6 (``1e+06``, ``1e-05``),
    at least two exponent digits; ``-0`` keeps its sign.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    # repr() gives the shortest round-trip digits, as Go's strconv does.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)  # position of the decimal point within digits
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_value(value: Any) -> str:
    """What ``fmt.Fprint`` writes for a value (``%v``), as text/template prints it."""
    if value is NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        # fmt sorts map keys; Python's str order is Go's byte order for UTF-8.
        inner = " ".join(f"{key}:{format_value(value[key])}" for key in sorted(value))
        return "map[" + inner + "]"
    raise TypeError(f"not a template value: {value!r}")


def sprint(args: list[Any]) -> str:
    """``fmt.Sprint``: a space between operands when neither side is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(format_value(arg))
    return "".join(out)


def sprintln(args: list[Any]) -> str:
    """``fmt.Sprintln``: spaces between all operands, then a newline."""
    return " ".join(format_value(arg) for arg in args) + "\n"
