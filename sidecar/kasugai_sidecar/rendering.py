"""Renders every ``X.tmpl`` of the config directory to ``X``, atomically, only when it changed.

A reader (the function) must never see a half-written file, so each output is written to a
temporary file in the same directory, then renamed over the old one. It is not fsynced: the
sidecar renders every output again when it starts, and on a busy disk the flush took 3-7 ms of
each reload. An output whose
bytes would not change is not written at all, which is how the sidecar knows whether the
function needs a SIGHUP. A template that fails leaves its previous output in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from kasugai.atomic_files import write_atomically
from kasugai.core import bounded
from kasugai_sidecar.gotemplate import Template, TemplateError, TemplateParseError

TEMPLATE_SUFFIX = ".tmpl"


@attrs.frozen
class RenderFailure:
    template: Path
    reason: str


@attrs.frozen
class RenderResult:
    changed: tuple[Path, ...] = ()  # outputs whose content changed (and were written)
    failures: tuple[RenderFailure, ...] = ()


def templates_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*" + TEMPLATE_SUFFIX) if p.is_file())


def output_path(template: Path) -> Path:
    return template.with_name(template.name[: -len(TEMPLATE_SUFFIX)])


def render_template(template: Path, data: Any) -> str:
    """Render one template file; ``TemplateError`` (or ``OSError``, ``UnicodeError``) on failure.

    A template is at most ``kasugai.core.bounded.TEMPLATE_BYTES`` long.
    """
    limit = bounded.TEMPLATE_BYTES
    with template.open("rb") as stream:
        text = stream.read(limit + 1)
    if len(text) > limit:
        size = bounded.describe_size(limit)
        raise TemplateParseError(f"template: {template.name}: larger than {size} (the limit)")
    return Template(template.name, text.decode("utf-8")).execute(data)


def render_directory(directory: Path, data: Any) -> RenderResult:
    """Render every template in ``directory``; write only the outputs that changed."""
    changed: list[Path] = []
    failures: list[RenderFailure] = []
    for template in templates_in(directory):
        try:
            content = render_template(template, data).encode("utf-8")
        except (TemplateError, OSError, UnicodeError) as err:
            failures.append(RenderFailure(template, str(err)))
            continue
        except Exception as err:  # a renderer bug costs this template, never the sidecar
            reason = f"internal error of the template renderer ({type(err).__name__})"
            failures.append(RenderFailure(template, reason))
            continue
        target = output_path(template)
        try:
            if target.read_bytes() == content:
                continue
        except FileNotFoundError:
            pass  # first render
        try:
            write_atomically(target, content, durable=False)
        except OSError as err:
            failures.append(RenderFailure(template, f"writing {target}: {err}"))
            continue
        changed.append(target)
    return RenderResult(tuple(changed), tuple(failures))
