"""Bounded JSON and YAML: every text kasugai parses goes through here, with limits.

Anything kasugai reads may be hostile: a ConfigMap value in a watched namespace, an annotation,
a file given to ``kasugai plan``. The standard parsers are not safe on such input: deep nesting
overflows their recursion (``RecursionError``), a long number trips Python's int-digits limit
(``ValueError``), YAML aliases expand exponentially ("billion laughs"), and pure-Python YAML takes
minutes for tens of megabytes. The loaders here check, without recursion and before or while
parsing, every limit of a ``Limits``, and turn every failure into a ``ParseError`` whose message
names the limit or the syntax error and where (line, column, key path), never the value itself.

YAML is read as Kubernetes reads it (sigs.k8s.io/yaml): into JSON values only. Timestamps and
``!!binary`` stay the text written, mapping keys become strings (``1: x`` has the key ``"1"``),
merge keys (``<<``) work, and other tags (``!!set``, ``!!python/...``, ``!custom``) are refused.
libyaml (in the PyYAML wheel) does the scanning; values are built here from its events, one
document at a time, so a file is streamed and never held whole.

The limits, in one place (see ``Limits`` and the constants below):

=================  ===========  ==============================================================
what               bytes        why
=================  ===========  ==============================================================
``VALUE``          3 MiB        one object or a value inside one (a ConfigMap data value, an
                                annotation, a rendered config): the API server refuses larger
                                request bodies (3 MiB) and etcd larger objects (1.5 MiB)
``API``            1 GiB        an API server response or watch line: the server bounds each
                                object; a list page holds up to 500 of them
``JOURNAL_LINE``   64 MiB       one journal line: one event with an object as the API sent it
``FILE``           128 MiB      one file given to ``plan``/``diff``/``up`` (1,000,000 documents)
``FILES_TOTAL``    512 MiB      all the files of one command together
``TEMPLATE_BYTES`` 256 KiB      one sidecar template (real ones are under 1 KiB)
=================  ===========  ==============================================================

Every kind also limits nesting to 100 levels (Kubernetes objects nest about 15 deep; Python's
own recursion limit is 1000, and dumping a value takes several frames per level), numbers to 100
characters (int64 has 19 digits, a float64 about 24), and the values YAML aliases may add to one
document to 100,000.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Protocol

import attrs
import yaml

__all__ = [
    "API",
    "FILE",
    "FILES_TOTAL",
    "JOURNAL_LINE",
    "OVER_LIMIT",
    "TEMPLATE_BYTES",
    "VALUE",
    "BinaryStream",
    "Limits",
    "OverLimit",
    "ParseError",
    "check_json",
    "describe_size",
    "load_api_json",
    "load_json",
    "load_yaml",
    "resolve_plain",
    "yaml_documents",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@attrs.frozen
class Limits:
    """How much one parse may take in. ``max_bytes`` counts characters for a ``str``."""

    max_bytes: int
    max_depth: int = 100
    max_number_length: int = 100
    max_alias_values: int = 100_000  # values YAML aliases may add to one document
    max_documents: int = 1


VALUE = Limits(max_bytes=3 * MiB)
API = Limits(max_bytes=1 * GiB)
JOURNAL_LINE = Limits(max_bytes=64 * MiB)
FILE = Limits(max_bytes=128 * MiB, max_documents=1_000_000)
FILES_TOTAL = 512 * MiB
TEMPLATE_BYTES = 256 * KiB


def describe_size(size: int) -> str:
    """``3 MiB``, ``512 KiB`` or ``100 bytes``: how messages state a size or a limit."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


class ParseError(ValueError):
    """A text that cannot be read: ``problem`` says why; ``line``, ``column`` (1-based) and
    ``path`` (keys from the top, ``spec.functions.a``) say where, when known. No value is ever
    part of the message."""

    def __init__(
        self, problem: str, line: int | None = None, column: int | None = None, path: str = ""
    ) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        self.path = path
        super().__init__(problem)

    def __str__(self) -> str:
        where = f" (line {self.line} column {self.column})" if self.line is not None else ""
        return f"{self.path}: {self.problem}{where}" if self.path else self.problem + where


class OverLimit(ParseError):
    """The text is (or may be) well formed but goes beyond one of the ``Limits``."""


def _too_large(size: int, limits: Limits) -> OverLimit:
    return OverLimit(f"larger than {describe_size(limits.max_bytes)} (the limit); got {size:,}")


def _too_deep(limits: Limits) -> str:
    return f"nested deeper than {limits.max_depth} levels (the limit)"


def _too_long_number(limits: Limits) -> str:
    return f"a number longer than {limits.max_number_length} characters (the limit)"


# --- JSON -----------------------------------------------------------------------------------

# A JSON string (possessive, so a long one costs no backtracking), and what else is structure.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_OPENING = frozenset("[{")


def _check_json_structure(text: str, limits: Limits) -> None:
    """Depth and number length of a JSON text, without parsing it (and without recursion)."""
    structure = _JSON_STRING.sub("S", text)
    unterminated = structure.find('"')
    if unterminated >= 0:  # json.loads stops at the broken string: check what comes before it
        structure = structure[:unterminated]
    if re.search(rf"[-+.0-9eE]{{{limits.max_number_length + 1},}}", structure):
        raise OverLimit(_too_long_number(limits))
    depth = 0
    for bracket in _NOT_BRACKET.sub("", structure):
        if bracket in _OPENING:
            depth += 1
            if depth > limits.max_depth:
                raise OverLimit(_too_deep(limits))
        else:
            depth -= 1


def _reject_constant(name: str) -> Any:
    raise ParseError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ParseError("a number too large for a float")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def check_json(text: str | bytes, limits: Limits = VALUE) -> str:
    """``text`` as a ``str`` if a JSON parser may safely read it: ``OverLimit`` if it is too
    large, nested too deep or has too long a number, ``ParseError`` if it is not UTF-8."""
    if len(text) > limits.max_bytes:
        raise _too_large(len(text), limits)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParseError(f"not UTF-8 (byte {error.start + 1})") from None
    _check_json_structure(text, limits)
    return text


def load_json(text: str | bytes, limits: Limits = VALUE) -> Any:
    """The JSON value of ``text``; ``ParseError`` (``OverLimit`` for a limit) if it has none."""
    text = check_json(text, limits)
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise ParseError(f"invalid JSON: {error.msg}", error.lineno, error.colno) from None
    except ParseError:
        raise
    except (ValueError, RecursionError) as error:  # the checks above should make these unreachable
        raise ParseError(f"invalid JSON ({type(error).__name__})") from None


# An API object is already valid JSON (the API server parsed it), and refusing it whole would
# hide it: kasugai would think it gone. Its values beyond the limits are replaced by a string
# saying so instead (``OVER_LIMIT`` ...), and a field kasugai reads that holds one is an error.
OVER_LIMIT = "<kasugai: value over the limits: "
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]|[-+.0-9eE]+', re.DOTALL)


def _marked(text: str, limits: Limits) -> str:
    """``text`` with every value nested too deep, or number too long, replaced by a marker."""
    deep = json.dumps(f"{OVER_LIMIT}{_too_deep(limits)}>")
    long_number = json.dumps(f"{OVER_LIMIT}{_too_long_number(limits)}>")
    out: list[str] = []
    last = depth = 0
    replacing_from = -1
    for token in _TOKEN.finditer(text):
        first = token.group()[0]
        if first in "[{":
            if depth == limits.max_depth and replacing_from < 0:
                replacing_from = token.start()
            depth += 1
        elif first in "]}":
            depth -= 1
            if depth == limits.max_depth and replacing_from >= 0:
                out += (text[last:replacing_from], deep)
                last, replacing_from = token.end(), -1
        elif first != '"' and replacing_from < 0 and len(token.group()) > limits.max_number_length:
            out += (text[last : token.start()], long_number)
            last = token.end()
    out.append(text[last:])
    return "".join(out)


def load_api_json(text: str | bytes, limits: Limits = API) -> Any:
    """Like ``load_json``, but a value beyond the depth or number limits becomes a string
    starting with ``OVER_LIMIT`` instead of failing the whole text (a list of many objects)."""
    try:
        return load_json(text, limits)
    except OverLimit as error:
        if len(text) > limits.max_bytes:
            raise
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        marked = _marked(text, limits)
        if marked == text:
            raise error from None
        return load_json(marked, limits)


# --- YAML -----------------------------------------------------------------------------------

_YAML = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_YAML + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _BINARY, _MERGE, _VALUE = (_YAML + t for t in ("timestamp", "binary", "merge", "value"))
_SEQ, _MAP = _YAML + "seq", _YAML + "map"
# Kubernetes keeps these as the text written.
_AS_TEXT = frozenset({_STR, _TIMESTAMP, _BINARY, _VALUE, _YAML + "yaml"})
_BOOLS = yaml.constructor.SafeConstructor.bool_values
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it
# PyYAML's implicit tags of plain scalars, by first character (as its Resolver looks them up).
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = _Loader.yaml_implicit_resolvers


def resolve_plain(text: str) -> str:
    """The tag YAML gives ``text`` written plain (unquoted): what a reader would take it for."""
    for tag, pattern in _IMPLICIT.get(text[:1], ()):
        if pattern.match(text):
            return tag
    return _STR


class BinaryStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Counted:
    """A stream that refuses to be read past ``limits.max_bytes``."""

    def __init__(self, stream: BinaryStream, limits: Limits) -> None:
        self._stream = stream
        self._limits = limits
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self.count += len(chunk)
        if self.count > self._limits.max_bytes:
            raise _too_large(self.count, self._limits)
        return chunk


class _Open:
    """A sequence or mapping being built, and what an alias to it will need."""

    __slots__ = ("anchor", "height", "key", "merges", "size", "value")

    def __init__(self, value: list[Any] | dict[str, Any], anchor: str | None) -> None:
        self.value = value
        self.anchor = anchor
        self.key: Any = _NO_KEY  # a mapping: the key whose value comes next
        self.merges: list[Any] = []  # a mapping: the values of its merge keys, in order
        self.size = 1  # values in it, aliases expanded
        self.height = 1  # levels of nesting in it


_NO_KEY = object()
_MERGE_KEY = object()


def _key_text(key: Any) -> str:
    """Mapping keys are strings, as Kubernetes makes them."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


class _DocumentBuilder:
    """Builds the values of one YAML stream from libyaml's events, checking every limit.

    One loop over the events with an explicit stack: no recursion, however deep the input.
    """

    def __init__(self, loader: Any, limits: Limits) -> None:
        self.loader = loader
        self.limits = limits
        self.strings: dict[str, str] = {}  # one object per repeated key or short value

    def error(self, problem: str, event: Any, stack: list[_Open], kind: type = ParseError) -> Any:
        mark = event.start_mark
        steps = []
        for frame in stack:
            if isinstance(frame.value, list):
                steps.append(f"[{len(frame.value)}]")
            elif frame.key is not _NO_KEY and frame.key is not _MERGE_KEY:
                steps.append("." + frame.key)
        path = "".join(steps).lstrip(".")
        if len(path) > 200:
            path = path[:200] + "..."
        return kind(problem, mark.line + 1, mark.column + 1, path)

    def document(self) -> Any:
        """The next document's value (its DocumentStartEvent is consumed already)."""
        limits = self.limits
        stack: list[_Open] = []
        anchors: dict[str, tuple[Any, int, int]] = {}  # anchor -> (value, size, height)
        alias_values = 0
        get_event = self.loader.get_event
        while True:
            event = get_event()
            cls = type(event)
            if cls is yaml.ScalarEvent:
                value = self.scalar(event, stack)
                size, height, anchor = 1, 0, event.anchor
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                if len(stack) >= limits.max_depth:
                    raise self.error(_too_deep(limits), event, stack, OverLimit)
                if event.tag not in (None, "!", _SEQ, _MAP):
                    raise self.error("a tag Kubernetes does not read", event, stack)
                if stack and stack[-1].key is _NO_KEY and isinstance(stack[-1].value, dict):
                    raise self.error("a mapping key must be a scalar", event, stack)
                stack.append(_Open({} if cls is yaml.MappingStartEvent else [], event.anchor))
                continue
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                frame = stack.pop()
                value = self.merged(frame, event, stack) if frame.merges else frame.value
                size, height, anchor = frame.size, frame.height, frame.anchor
            elif cls is yaml.AliasEvent:
                found = anchors.get(event.anchor)
                if found is None:
                    contains = any(frame.anchor == event.anchor for frame in stack)
                    problem = (
                        "an alias refers to a value that contains it"
                        if contains
                        else "an alias refers to an anchor not defined before it"
                    )
                    raise self.error(problem, event, stack)
                value, size, height = found
                anchor = None
                alias_values += size
                if alias_values > limits.max_alias_values:
                    problem = (
                        f"aliases expand to more than {limits.max_alias_values:,} values "
                        "(the limit)"
                    )
                    raise self.error(problem, event, stack, OverLimit)
                if len(stack) + height > limits.max_depth:
                    raise self.error(_too_deep(limits), event, stack, OverLimit)
            else:
                raise self.error(f"unexpected YAML event {cls.__name__}", event, stack)
            if anchor is not None and value is not _MERGE_KEY:
                anchors[anchor] = (value, size, height)
            if not stack:
                return value
            self.add(stack[-1], value, size, height, event, stack)

    def add(
        self, parent: _Open, value: Any, size: int, height: int, event: Any, stack: list[_Open]
    ) -> None:
        parent.size += size
        if height >= parent.height:
            parent.height = height + 1
        container = parent.value
        if isinstance(container, list):
            container.append(value)
            return
        key = parent.key
        if key is _NO_KEY:
            if isinstance(value, list | dict):  # an alias to a collection
                raise self.error("a mapping key must be a scalar", event, stack)
            parent.key = value if value is _MERGE_KEY else _key_text(value)
        elif key is _MERGE_KEY:
            parent.merges.append(value)
            parent.key = _NO_KEY
        else:
            container[key] = value
            parent.key = _NO_KEY

    def scalar(self, event: Any, stack: list[_Open]) -> Any:
        text: str = event.value
        tag = event.tag
        if tag is None or tag == "!":
            tag = resolve_plain(text) if event.implicit[0] else _STR
        if tag in _AS_TEXT:
            return self.strings.setdefault(text, text) if len(text) <= 64 else text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            value = _BOOLS.get(text.lower())
            if value is None:
                raise self.error("not a boolean", event, stack)
            return value
        if tag in (_INT, _FLOAT):
            if len(text) > self.limits.max_number_length:
                raise self.error(_too_long_number(self.limits), event, stack, OverLimit)
            construct = self.loader.yaml_constructors[tag]
            try:
                return construct(self.loader, yaml.ScalarNode(tag, text))
            except (ValueError, IndexError):
                what = "an integer" if tag == _INT else "a number"
                raise self.error(f"not {what}", event, stack) from None
        if tag == _MERGE:  # a merge key; elsewhere the text "<<", as Kubernetes reads it
            at_key = bool(stack) and isinstance(stack[-1].value, dict)
            return _MERGE_KEY if at_key and stack[-1].key is _NO_KEY else text
        raise self.error("a tag Kubernetes does not read", event, stack)

    def merged(self, frame: _Open, event: Any, stack: list[_Open]) -> dict[str, Any]:
        """A mapping with merge keys: merged values first, its own keys win (as PyYAML does)."""
        result: dict[str, Any] = {}
        for merge in frame.merges:
            sources = [merge] if isinstance(merge, dict) else merge
            if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
                raise self.error("a merge key (<<) needs a mapping or a list of them", event, stack)
            for source in reversed(sources):  # the first of a list wins
                result.update(source)
        assert isinstance(frame.value, dict)
        result.update(frame.value)
        return result


def _yaml_error(error: yaml.YAMLError) -> ParseError:
    """The parser's message and position. libyaml's messages never quote the input; PyYAML's
    own (the fallback) may, so a quoted word is left out (a tag or an anchor may be anything)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or type(error).__name__
    context = getattr(error, "context", None)
    text = f"{context}: {problem}" if context else str(problem)
    text = re.sub(r"'[^'\s]{2,}'", "'...'", text)
    text = f"invalid YAML: {' '.join(text.split())}"
    if mark is None:
        return ParseError(text)
    return ParseError(text, mark.line + 1, mark.column + 1)


def yaml_documents(source: str | BinaryStream, limits: Limits = FILE) -> Iterator[Any]:
    """The value of each document of a YAML stream (None for an empty one), one at a time.

    ``source`` is a text or a binary stream (read in chunks; UTF-8 or UTF-16 with a BOM).
    ``ParseError`` (``OverLimit`` for a limit) names the line and column where reading stopped.
    """
    if isinstance(source, str):
        if len(source) > limits.max_bytes:
            raise _too_large(len(source), limits)
        loader = _Loader(source)
    else:
        loader = _Loader(_Counted(source, limits))
    try:
        builder = _DocumentBuilder(loader, limits)
        loader.get_event()  # StreamStartEvent
        count = 0
        while not loader.check_event(yaml.StreamEndEvent):
            loader.get_event()  # DocumentStartEvent
            count += 1
            if count > limits.max_documents:
                mark = loader.peek_event().start_mark
                problem = f"more than {limits.max_documents:,} documents (the limit)"
                raise OverLimit(problem, mark.line + 1, mark.column + 1)
            value = builder.document()
            loader.get_event()  # DocumentEndEvent
            yield value
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except UnicodeDecodeError as error:
        raise ParseError(f"not UTF-8 (byte {error.start + 1})") from None
    finally:
        loader.dispose()


def load_yaml(text: str, limits: Limits = VALUE) -> Any:
    """The value of a single-document YAML text (None if it is empty)."""
    documents = list(yaml_documents(text, limits))
    if len(documents) > 1:
        raise ParseError(f"expected one YAML document, found {len(documents)}")
    return documents[0] if documents else None
