"""Go's predefined template functions that the sidecar supports, with Go's semantics.

Arguments arrive as template values (see :mod:`values`); ``None`` is a nil interface and
``NO_VALUE`` an invalid value, which Go's functions mostly treat alike ("untyped nil"). A
function reports failure by raising ``BuiltinError``; the executor turns it into Go's
``error calling NAME: ...`` message. ``and``/``or`` short-circuit and are handled by the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kasugai_sidecar.gotemplate.values import NO_VALUE, go_type, is_true, sprint, sprintln


class BuiltinError(Exception):
    """A builtin function failed; the message is Go's."""


def _concrete(value: Any) -> Any:
    """Go's indirectInterface: a nil interface becomes the invalid value."""
    return NO_VALUE if value is None else value


def _index_arg(index: Any, cap: int) -> int:
    if index is NO_VALUE:
        raise BuiltinError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise BuiltinError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise BuiltinError(f"index out of range: {index}")
    return index


def index(item: Any, *indexes: Any) -> Any:
    """``index x 1 2`` is ``x[1][2]``; a missing map key gives the element type's zero (nil)."""
    item = _concrete(item)
    if item is NO_VALUE:
        raise BuiltinError("index of untyped nil")
    for raw in indexes:
        key = _concrete(raw)
        if item is None:
            raise BuiltinError("index of nil pointer")
        if isinstance(item, (list, str)):
            # A Go string is a sequence of bytes: indexing bounds and yields bytes (uint8).
            elements = item if isinstance(item, list) else item.encode()
            position = _index_arg(key, len(elements))
            if position == len(elements):  # Go checks against cap, then Index panics
                raise BuiltinError("reflect: slice index out of range")
            item = elements[position]
        elif isinstance(item, dict):
            if key is NO_VALUE:
                key = ""  # the zero value of the key type
            elif not isinstance(key, str):
                raise BuiltinError(f"value has type {go_type(key)}; should be string")
            item = item.get(key)
        else:
            raise BuiltinError(f"can't index item of type {go_type(item)}")
    return item


def length(item: Any) -> int:
    if item is None:
        raise BuiltinError("len of nil pointer")
    if item is NO_VALUE:
        raise BuiltinError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item.encode())  # Go counts bytes
    if isinstance(item, (list, dict)):
        return len(item)
    raise BuiltinError(f"len of type {go_type(item)}")


def not_(arg: Any) -> bool:
    return not is_true(arg)


def _basic_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return None


def eq(arg1: Any, *others: Any) -> bool:
    arg1 = _concrete(arg1)
    if not others:
        raise BuiltinError("missing argument for comparison")
    kind1 = _basic_kind(arg1)
    for raw in others:
        arg = _concrete(raw)
        kind = _basic_kind(arg)
        if kind1 != kind:
            if arg1 is not NO_VALUE and arg is not NO_VALUE:
                raise BuiltinError(
                    f"incompatible types for comparison: {go_type(arg1)} and {go_type(arg)}"
                )
            continue
        if kind1 is not None:
            if arg1 == arg:
                return True
            continue
        # Neither is a basic kind: lists, maps or invalid values. Only nil compares.
        if arg1 is NO_VALUE or arg is NO_VALUE:
            if arg1 is arg:
                return True
            continue
        raise BuiltinError(f"non-comparable type {arg}: {go_type(arg)}")
    return False


def ne(arg1: Any, arg2: Any) -> bool:
    return not eq(arg1, arg2)


def lt(arg1: Any, arg2: Any) -> bool:
    arg1, arg2 = _concrete(arg1), _concrete(arg2)
    kind1, kind2 = _basic_kind(arg1), _basic_kind(arg2)
    if kind1 is None or kind2 is None:
        raise BuiltinError("invalid type for comparison")
    if kind1 != kind2:
        raise BuiltinError(
            f"incompatible types for comparison: {go_type(arg1)} and {go_type(arg2)}"
        )
    if kind1 == "bool":
        raise BuiltinError("invalid type for comparison")
    return bool(arg1 < arg2)


def le(arg1: Any, arg2: Any) -> bool:
    return lt(arg1, arg2) or eq(arg1, arg2)


def gt(arg1: Any, arg2: Any) -> bool:
    return not le(arg1, arg2)


def ge(arg1: Any, arg2: Any) -> bool:
    return not lt(arg1, arg2)


def print_(*args: Any) -> str:
    return sprint([None if arg is NO_VALUE else arg for arg in args])


def println_(*args: Any) -> str:
    return sprintln([None if arg is NO_VALUE else arg for arg in args])


# name -> (function, minimum argument count, maximum or None for variadic); and/or short-circuit,
# so the executor evaluates them itself.
BUILTINS: dict[str, tuple[Callable[..., Any] | None, int, int | None]] = {
    "and": (None, 1, None),
    "or": (None, 1, None),
    "not": (not_, 1, 1),
    "index": (index, 1, None),
    "len": (length, 1, 1),
    "eq": (eq, 1, None),
    "ne": (ne, 2, 2),
    "lt": (lt, 2, 2),
    "le": (le, 2, 2),
    "gt": (gt, 2, 2),
    "ge": (ge, 2, 2),
    "print": (print_, 0, None),
    "println": (println_, 0, None),
}
