"""Tools to test the sidecar, or a function with it, using real processes and real signals.

:func:`start_function` runs a stand-in function that records every SIGHUP it gets (and what it
then reads from its config file); :func:`start_sidecar` runs ``kasugai-sidecar`` itself. Both
run in their own process group through :func:`kasugai.testing.start_process`, so a test's
teardown stops them with ``.process.stop()``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kasugai.atomic_files import write_atomically
from kasugai.json_logs import read_json_log
from kasugai.testing import ManagedProcess, start_process

COUNTER_SCRIPT = Path(__file__).with_name("sighup_counter.py")
COUNTER_NAME = COUNTER_SCRIPT.name  # what SIDECAR_MNG_PROSESS_NAME names to reach it
SIDECAR_PROGRAM = Path(sys.executable).with_name("kasugai-sidecar")


def write_config(path: Path, config: Any) -> None:
    """Replace the file source's JSON atomically, as the local runtime does."""
    text = config if isinstance(config, str) else json.dumps(config, indent=2)
    write_atomically(path, text.encode())


@attrs.define
class FunctionStandIn:
    process: ManagedProcess
    record: Path

    def is_ready(self) -> bool:
        return self.record.exists() and self.record.read_text().startswith("ready\n")

    def signals(self) -> list[str]:
        """For each SIGHUP received so far, the config text the function then read."""
        if not self.record.exists():
            return []
        lines = self.record.read_text().splitlines()[1:]
        return [line.partition(" ")[2].replace("\\n", "\n") for line in lines]


def start_function(
    workdir: Path, name: str, pod: str | None, config_file: Path | None = None
) -> FunctionStandIn:
    """A function stand-in (process name ``sighup_counter.py``) in Pod ``pod``."""
    record = workdir / f"{name}.signals"
    record.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "K8S_POD_NAME"}
    if pod is not None:
        env["K8S_POD_NAME"] = pod
    argv = [sys.executable, str(COUNTER_SCRIPT), str(record)]
    if config_file is not None:
        argv.append(str(config_file))
    process = start_process(name, argv, workdir / f"{name}.log", env=env)
    return FunctionStandIn(process, record)


@attrs.define
class SidecarProcess:
    process: ManagedProcess

    def events(self) -> list[dict[str, Any]]:
        """The sidecar's structured log so far (one JSON object per line)."""
        return read_json_log(self.process.log_path)

    def count(self, event: str) -> int:
        return sum(1 for e in self.events() if e.get("event") == event)


def start_sidecar(
    workdir: Path,
    *,
    source: str,
    config_dir: Path,
    pod: str | None,
    namespace: str | None = "default",
    process_name: str = COUNTER_NAME,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    name: str = "sidecar",
) -> SidecarProcess:
    """``kasugai-sidecar --source SOURCE --config-dir DIR ARGS`` with the contract's env."""
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("K8S_POD_NAME", "K8S_POD_NAMESPACE")
    }
    full_env.update(
        {"SIDECAR_MNG_PROSESS_NAME": process_name, "KASUGAI_LOG_FORMAT": "json", **(env or {})}
    )
    if pod is not None:
        full_env["K8S_POD_NAME"] = pod
    if namespace is not None:
        full_env["K8S_POD_NAMESPACE"] = namespace
    argv = [str(SIDECAR_PROGRAM), "--source", source, "--config-dir", str(config_dir), *args]
    return SidecarProcess(start_process(name, argv, workdir / f"{name}.log", env=full_env))
