"""Files in, files out: Kubernetes YAML/JSON documents <-> events and printable output.

``load_objects`` reads files and directories (recursively: ``*.yaml``, ``*.yml``, ``*.json``),
multi-document YAML and ``kind: List`` documents, and remembers where each object came from so
that errors can name the file. Anything unreadable raises ``InputError`` with a message naming
the file, the document and the field; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from kasugai.core.events import ObjectKey, Observed

__all__ = ["InputError", "Loaded", "dump_objects", "load_objects", "to_yaml"]

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


def _documents(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    try:
        if path.suffix == ".json":
            yield 1, json.loads(text)
            return
        yield from enumerate(yaml.safe_load_all(text), start=1)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON: {exc.msg} (line {exc.lineno})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1} column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{path}: invalid YAML{where}: {problem}") from exc


def _check(body: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InputError(f"{where}: expected a Kubernetes object, got {type(body).__name__}")
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InputError(f"{where}: kind: required (e.g. kind: DataFlow)")
    meta = body.get("metadata")
    if not isinstance(meta, Mapping):
        raise InputError(f"{where}: {kind}: metadata: required, with a name")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: {kind}: metadata.name: required (a non-empty string)")
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InputError(f"{where}: {kind} {name}: metadata.namespace: expected a string")
    return body


def load_objects(paths: Iterable[str | Path]) -> list[Loaded]:
    """Every object in the given files and directories, in order (directories sorted)."""
    loaded = []
    for path in paths:
        for file in _files(Path(path)):
            documents = list(_documents(file))
            for number, document in documents:
                if document is None:
                    continue
                where = f"{file} (document {number})" if len(documents) > 1 else str(file)
                if isinstance(document, dict) and document.get("kind") == "List":
                    # A List (kubectl get -o yaml, kasugai plan) has no name of its own.
                    items = document.get("items")
                    if not isinstance(items, list):
                        raise InputError(f"{where}: List: items: expected a list")
                    for index, item in enumerate(items):
                        loaded.append(Loaded(_check(item, f"{where} items[{index}]"), where))
                else:
                    loaded.append(Loaded(_check(document, where), where))
    return loaded


class _Dumper(yaml.SafeDumper):
    """YAML like kubectl prints it; multi-line strings (ConfigMap data) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False)


def dump_objects(objects: Sequence[Mapping[str, Any]], output: str) -> str:
    """A Kubernetes ``List`` of the objects, as ``yaml`` or ``json``."""
    document = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    if output == "json":
        return json.dumps(document, indent=2) + "\n"
    return to_yaml(document)
