"""A Go ``text/template`` renderer whose output is byte-identical to Go's.

The original sidecar rendered its templates with Go; functions ship Go templates. This package
renders them the same way from Python, for the data a Go program gets from ``json.Unmarshal``
into ``any``. Parity is checked against Go itself (``tests/gotemplate``).

Supported: text and comments, trim markers, ``if``/``else if``/``else``, ``range`` (``else``,
``$i, $v :=``, ``break``, ``continue``), ``with``/``else with``, variables (``:=`` and ``=``),
pipelines, parentheses, field chains, and the functions ``and or not index len eq ne lt le gt ge
print println``. A template using another Go function or ``define``/``template``/``block`` is a
parse error naming it.
"""

from __future__ import annotations

from typing import Any

from kasugai_sidecar.gotemplate.errors import (
    TemplateError,
    TemplateExecError,
    TemplateParseError,
)
from kasugai_sidecar.gotemplate.executor import Executor
from kasugai_sidecar.gotemplate.parser import parse
from kasugai_sidecar.gotemplate.values import NO_VALUE, decode_json, format_float

__all__ = [
    "NO_VALUE",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateParseError",
    "decode_json",
    "format_float",
]


class Template:
    """A parsed template; ``execute`` renders it (both raise ``TemplateError``)."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        try:
            self.root = parse(name, text)
        except RecursionError:
            raise TemplateParseError(f"template: {name}: nested too deeply") from None

    def execute(self, data: Any) -> str:
        try:
            return Executor(self.name, self.text, data).run(self.root, data)
        except RecursionError:
            raise TemplateExecError(f"template: {self.name}: nested too deeply") from None
