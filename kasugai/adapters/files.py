"""Files in, files out: Kubernetes YAML/JSON documents <-> events and printable output.

``load_objects`` reads files and directories (recursively: ``*.yaml``, ``*.yml``, ``*.json``),
multi-document YAML and ``kind: List`` documents, and remembers where each object came from so
that errors can name the file. Anything unreadable raises ``InputError`` with a message naming
the file, the document and the field; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import difflib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import yaml

from kasugai.core import bounded
from kasugai.core.bounded import resolve_plain
from kasugai.core.convert import json_type, shown
from kasugai.core.events import ObjectKey, Observed
from kasugai.core.names import API_VERSION

__all__ = [
    "InputError",
    "Loaded",
    "dump_objects",
    "load_objects",
    "to_yaml",
    "write_objects",
    "write_yaml",
]

SUFFIXES = (".yaml", ".yml", ".json")


class InputError(Exception):
    """A user input that cannot be read; the message names the file and the field."""


@attrs.frozen
class Loaded:
    """One object read from a file; ``source`` says where (``path`` or ``path (document 3)``)."""

    body: Mapping[str, Any] = attrs.field(hash=False)
    source: str

    @property
    def event(self) -> Observed:
        return Observed.of(self.body)

    @property
    def key(self) -> ObjectKey:
        return self.event.key


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if path.is_file():
        return [path]
    raise InputError(f"{path}: no such file or directory")


class _Budget:
    """What is left of ``FILES_TOTAL`` for the files of one command."""

    def __init__(self) -> None:
        self.left = bounded.FILES_TOTAL

    def take(self, path: Path) -> None:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        self.left -= size
        if self.left < 0:
            limit = bounded.describe_size(bounded.FILES_TOTAL)
            raise InputError(f"{path}: the files given hold more than {limit} (the limit)")


def _documents(path: Path) -> list[tuple[int, Any]]:
    """(number, value) of every document in the file, read as a stream within the limits."""
    try:
        with path.open("rb") as stream:
            if path.suffix == ".json":
                data = stream.read(bounded.FILE.max_bytes + 1)
                return [(1, bounded.load_json(data, bounded.FILE))]
            return list(enumerate(bounded.yaml_documents(stream, bounded.FILE), start=1))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except bounded.ParseError as exc:
        raise InputError(f"{path}: {exc}") from exc


GROUP = API_VERSION.split("/")[0]
KINDS = ("DataFlow", "FunctionChain", "FunctionType")


def _check(body: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InputError(f"{where}: expected a Kubernetes object, got {json_type(body)}")
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InputError(f"{where}: kind: required (e.g. kind: DataFlow)")
    if str(body.get("apiVersion", "")).startswith(f"{GROUP}/") and kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InputError(f"{where}: kind: {shown(kind)} is not a kind of {GROUP}{hint}")
    kind = shown(kind, quoted=False)
    meta = body.get("metadata")
    if not isinstance(meta, Mapping):
        raise InputError(f"{where}: {kind}: metadata: required, with a name")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: {kind}: metadata.name: required (a non-empty string)")
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InputError(
            f"{where}: {kind} {shown(name, quoted=False)}: metadata.namespace: expected a string, "
            f"got {json_type(namespace)}"
        )
    return body


def load_objects(paths: Iterable[str | Path]) -> list[Loaded]:
    """Every object in the given files and directories, in order (directories sorted)."""
    loaded = []
    budget = _Budget()
    for path in paths:
        for file in _files(Path(path)):
            budget.take(file)
            documents = _documents(file)
            if all(document is None for _, document in documents):
                raise InputError(f"{file}: no objects in it (an empty file is a mistake)")
            for number, document in documents:
                if document is None:
                    continue
                where = f"{file} (document {number})" if len(documents) > 1 else str(file)
                if isinstance(document, dict) and document.get("kind") == "List":
                    # A List (kubectl get -o yaml, kasugai plan) has no name of its own.
                    items = document.get("items")
                    if not isinstance(items, list):
                        raise InputError(
                            f"{where}: List: items: expected a list, got {json_type(items)}"
                        )
                    for index, item in enumerate(items):
                        loaded.append(Loaded(_check(item, f"{where} items[{index}]"), where))
                else:
                    loaded.append(Loaded(_check(document, where), where))
    _refuse_duplicates(loaded)
    return loaded


def _refuse_duplicates(loaded: list[Loaded]) -> None:
    """One object defined twice is an error, not "the last one wins"."""
    seen: dict[ObjectKey, Loaded] = {}
    for item in loaded:
        first = seen.setdefault(item.key, item)
        if first is not item:
            key = item.key
            raise InputError(
                f"{item.source}: {key.kind} {shown(key.namespace)}/{shown(key.name)} is also "
                f"defined in {first.source}; define each object once"
            )


# libyaml's emitter when the wheel has it: the pure-Python one took minutes for a large plan.
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_STR, _INT, _FLOAT, _BOOL, _NULL = (
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)
_END_MAPPING, _END_SEQUENCE = yaml.MappingEndEvent(), yaml.SequenceEndEvent()


def _scalar(value: Any) -> yaml.ScalarEvent:
    """A scalar as PyYAML's SafeRepresenter writes it; multi-line strings as literal blocks."""
    if isinstance(value, str):
        plain = resolve_plain(value) == _STR  # else quoted: the string "true" stays a string
        style = "|" if "\n" in value else None
        return yaml.ScalarEvent(None, _STR, (plain, True), value, style=style)
    if value is None:
        text, tag = "null", _NULL
    elif isinstance(value, bool):
        text, tag = ("true" if value else "false"), _BOOL
    elif isinstance(value, int):
        text, tag = str(value), _INT
    elif isinstance(value, float):
        text, tag = _float_text(value), _FLOAT
    else:
        raise TypeError(f"not a JSON value: {type(value).__name__}")
    return yaml.ScalarEvent(None, tag, (True, False), text)


def _float_text(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text


def _yaml_events(value: Any) -> Iterator[yaml.Event]:
    """The events of a JSON value, keys sorted, block style; a loop, however deep the value."""
    todo: list[Any] = [value]
    short: dict[str, yaml.ScalarEvent] = {}  # keys and short values repeat: one event each
    while todo:
        item = todo.pop()
        kind = type(item)
        if kind is str and len(item) <= 64:
            event = short.get(item)
            if event is None:
                event = short[item] = _scalar(item)
            yield event
        elif item is _END_MAPPING or item is _END_SEQUENCE:
            yield item
        elif kind is dict or (kind is not str and isinstance(item, Mapping)):
            yield yaml.MappingStartEvent(None, None, True, flow_style=False)
            todo.append(_END_MAPPING)
            for key in sorted(item, reverse=True):
                todo.append(item[key])
                todo.append(key)
        elif kind is list or kind is tuple:
            yield yaml.SequenceStartEvent(None, None, True, flow_style=False)
            todo.append(_END_SEQUENCE)
            todo.extend(reversed(item))
        else:
            yield _scalar(item)


def write_yaml(value: Any, stream: IO[str]) -> None:
    """``value`` as YAML like kubectl prints it, written to ``stream`` as it is produced."""
    dumper = _Dumper(stream)
    try:
        dumper.emit(yaml.StreamStartEvent())
        dumper.emit(yaml.DocumentStartEvent(explicit=False))
        for event in _yaml_events(value):
            dumper.emit(event)
        dumper.emit(yaml.DocumentEndEvent(explicit=False))
        dumper.emit(yaml.StreamEndEvent())
    finally:
        dumper.dispose()


def to_yaml(value: Any) -> str:
    text = io.StringIO()
    write_yaml(value, text)
    return text.getvalue()


def write_objects(objects: Sequence[Mapping[str, Any]], output: str, stream: IO[str]) -> None:
    """A Kubernetes ``List`` of the objects, as ``yaml`` or ``json``, written to ``stream``."""
    document = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    if output == "json":
        json.dump(document, stream, indent=2)
        stream.write("\n")
    else:
        write_yaml(document, stream)


def dump_objects(objects: Sequence[Mapping[str, Any]], output: str) -> str:
    """A Kubernetes ``List`` of the objects, as ``yaml`` or ``json``."""
    text = io.StringIO()
    write_objects(objects, output, text)
    return text.getvalue()
