"""The dict -> domain value boundary: one cattrs converter and errors that name the bad field.

Input JSON is matched case-insensitively against the camelCase field names (the OpenKasugai
samples write ``"Annotations"`` for ``annotations``; a field whose JSON name is not plain camelCase
declares it as ``metadata={"json": "functionInfoCMRef"}``), unknown keys are ignored (a field with
``metadata={"raw": True}`` receives the whole input object, for parts copied through unchanged),
and scalars are checked strictly (``"false"`` is not a bool). A failure never escapes as an
exception: ``structure`` returns an ``Invalid`` value holding messages of the form
``spec.connections[2].to.port: expected an integer``, ready to become a status condition.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mapping,
    is_sequence,
    mapping_structure_factory,
)
from cattrs.gen import make_dict_structure_fn, override

from kasugai.core.bounded import OVER_LIMIT

__all__ = [
    "JSON_OBJECT",
    "STRICT",
    "Invalid",
    "camel_case",
    "json_type",
    "refusing_other_json_types",
    "shown",
    "structure",
]

T = TypeVar("T")

# ``isinstance(value, JSON_OBJECT)``: whether a JSON value is an object. Any Mapping is, but a
# dict (what JSON and the API give) is tried first: a plain type check, where the Mapping ABC's
# check costs several times more, and bodies are checked this way a few hundred times per plan.
JSON_OBJECT = (dict, Mapping)


@attrs.frozen
class Invalid:
    """Why an input could not be understood: one message per problem, each naming its path."""

    problems: tuple[str, ...]

    @property
    def message(self) -> str:
        return "; ".join(self.problems)


def camel_case(name: str) -> str:
    """``function_chain_ref`` -> ``functionChainRef``; a trailing ``_`` (``from_``) is dropped."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _strict_str(value: Any, _: type) -> str:
    # YAML turns `version: 1.0` into a float; a version or name written as a number still counts.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string, got {json_type(value)}")
    return str(value)


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"expected an integer, got {json_type(value)}")
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {json_type(value)}")
    return value


def json_type(value: Any) -> str:
    """How an error message names a JSON value: by its type only (``a string``, ``a list``).

    Never the value itself: an input may hold a secret, and errors end up in statuses, Events
    and logs that other people read.
    """
    if value is None:
        return "null"
    if isinstance(value, str) and value.startswith(OVER_LIMIT):
        return "a value over kasugai's limits" + value[len(OVER_LIMIT) - 2 : -1]
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return type(value).__name__


def shown(name: object, limit: int = 80, *, quoted: bool = True) -> str:
    """A name (of an object, a key, a kind) as messages quote it: escaped, and cut at ``limit``.

    Names are not secret, but they are typed by anyone: a message stays one short line.
    """
    if not isinstance(name, str):
        return json_type(name)
    text = repr(name[:limit]) if quoted else repr(name[:limit])[1:-1]
    return f"{text}... ({len(name):,} characters)" if len(name) > limit else text


# Attribute -> JSON key where it is not plain camelCase, so error paths show what users wrote.
_JSON_KEYS: dict[str, str] = {}


def _case_insensitive_hook(cls: type[Any], conv: cattrs.Converter) -> Callable[[Any, type], Any]:
    fields = attrs.fields(cls)
    keys = {f.name: f.metadata.get("json") or camel_case(f.name) for f in fields}
    _JSON_KEYS.update((name, key) for name, key in keys.items() if key != camel_case(name))
    renames: dict[str, Any] = {name: override(rename=key) for name, key in keys.items()}
    raw = [keys[f.name] for f in fields if f.metadata.get("raw")]
    by_lower = {key.lower(): key for key in keys.values() if key not in raw}
    exact = frozenset(by_lower.values())  # as written in the samples: no need to lower-case
    inner = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=False, **renames)
    strict: tuple[str, ...] | None = getattr(cls, STRICT, None)
    allowed = set(by_lower) | {extra.lower() for extra in strict or ()}

    def hook(value: Any, _: type) -> Any:
        if not isinstance(value, JSON_OBJECT):
            raise ValueError(f"expected an object, got {json_type(value)}")
        known: dict[str, Any] = dict.fromkeys(raw, value)
        unknown = []
        for key, item in value.items():
            name = key if key in exact else by_lower.get(str(key).lower())
            if name is not None:
                known[name] = item
            elif strict is not None and str(key).lower() not in allowed:
                unknown.append(str(key))
        if unknown:
            raise ValueError(_unknown_fields(unknown, [*by_lower.values(), *(strict or ())]))
        return inner(known, cls)

    return hook


# A class attribute naming the JSON keys an attrs class accepts beyond its fields; a class that
# has it refuses any other key (as ``kubectl apply --validate=strict`` does), so that a typo such
# as ``conections`` is an error instead of a silently ignored field.
STRICT = "__kasugai_strict__"


def _unknown_fields(unknown: list[str], known: list[str]) -> str:
    """``unknown field 'conections' (did you mean 'connections'?)``, for each unknown key."""
    parts = []
    for key in sorted(unknown):
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" (did you mean {shown(close[0])}?)" if close else ""
        parts.append(f"{shown(key)}{hint}")
    fields = "field" if len(parts) == 1 else "fields"
    return f"unknown {fields} {', '.join(parts)} (known: {', '.join(sorted(known))})"


def refusing_other_json_types(
    kind: type | tuple[type, ...], expected: str, factory: Callable[..., Any]
) -> Callable[[Any, cattrs.Converter], Callable[[Any, Any], Any]]:
    """A cattrs hook factory: ``factory``'s hook, refusing values that are not ``kind`` first.

    cattrs would happily iterate a string or an object as if it were a list.
    """

    def make(type_: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
        structure = factory(type_, converter)

        def hook(value: Any, target: Any) -> Any:
            if not isinstance(value, kind):
                raise ValueError(f"expected {expected}, got {json_type(value)}")
            return structure(value, target)

        return hook

    return make


def _new_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook_factory(attrs.has, lambda cls: _case_insensitive_hook(cls, conv))
    conv.register_structure_hook_factory(
        is_sequence,
        refusing_other_json_types((list, tuple), "a list", homogenous_tuple_structure_factory),
    )
    conv.register_structure_hook_factory(
        is_mapping, refusing_other_json_types(Mapping, "an object", mapping_structure_factory)
    )
    return conv


_CONVERTER = _new_converter()
_PATH_STEP = re.compile(r"\.(?P<attr>\w+)|\[(?P<q>['\"])(?P<key>.*?)(?P=q)\]|\[(?P<index>\d+)\]")


def _json_path(cattrs_path: str) -> str:
    """``$.functions['p'].function_key`` -> ``functions.p.functionKey`` (the keys users wrote)."""
    steps = []
    for step in _PATH_STEP.finditer(cattrs_path):
        if step["attr"] is not None:
            steps.append("." + _JSON_KEYS.get(step["attr"], camel_case(step["attr"])))
        elif step["key"] is not None:
            steps.append("." + step["key"])
        else:
            steps.append(f"[{step['index']}]")
    return "".join(steps)


def _describe(exc: BaseException, expected: type | None) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    first = exc.args[0] if exc.args else None
    if isinstance(first, str) and first.startswith(("expected", "unknown field")):
        return first  # our own hooks' messages
    name = getattr(expected, "__name__", None) or str(expected)
    if isinstance(exc, TypeError | AttributeError) and name in ("tuple", "list"):
        return "expected a list"
    if isinstance(exc, TypeError | AttributeError) and name in ("dict", "Mapping"):
        return "expected an object"
    return f"expected {name}" if expected is not None else f"invalid value ({type(exc).__name__})"


def _format(problem: str, root: str) -> str:
    message, _, path = problem.rpartition(" @ ")
    full = (root + _json_path(path)).lstrip(".")
    return f"{full}: {message}" if full else message


def structure(value: Any, cls: type[T], root: str = "") -> T | Invalid:
    """``value`` as a ``cls``, or an ``Invalid`` whose messages start with ``root`` + the path."""
    try:
        return _CONVERTER.structure(value, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        found = cattrs.transform_error(exc, path="$", format_exception=_describe)
        return Invalid(tuple(_format(problem, root) for problem in found))
