"""One function Pod on this machine, for the sidecar's component tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import goparity
from kasugai_sidecar.testing import (
    FunctionStandIn,
    SidecarProcess,
    start_function,
    start_sidecar,
)

TEMPLATES = goparity.TEMPLATES
POD = "calc-wbfunction-plus-cpu-pod"


@attrs.define
class Rig:
    """One Pod on this machine: its config directory, its file source, its processes."""

    workdir: Path
    config_dir: Path
    source: Path
    started: list[Any] = attrs.field(factory=list)

    def function(self, name: str = "function", pod: str | None = POD) -> FunctionStandIn:
        fn = start_function(self.workdir, name, pod, self.config_dir / "config.yaml")
        self.started.append(fn.process)
        return fn

    def sidecar(
        self, *args: str, pod: str | None = POD, source: str = "", **kwargs: Any
    ) -> SidecarProcess:
        """``kasugai-sidecar`` for this Pod; the file source unless ``source`` says otherwise."""
        sidecar = start_sidecar(
            self.workdir,
            source=source or f"file:{self.source}",
            config_dir=self.config_dir,
            pod=pod,
            args=args,
            **kwargs,
        )
        self.started.append(sidecar.process)
        return sidecar

    def template(self, name: str = "calcapp-config.yaml.tmpl", as_name: str = "") -> Path:
        """Copy a shipped template into the config directory, as a function does at start."""
        target = self.config_dir / (as_name or name.replace("calcapp-", ""))
        target.write_text((TEMPLATES / name).read_text())
        return target
