"""Where the local runtime keeps its state: one directory, laid out like a tiny node.

    <state>/supervisor.pid            the running supervisor's PID
    <state>/supervisor.lock           held (flock) while a supervisor runs: one per state directory
    <state>/supervisor.log            the supervisor's output when it runs detached
    <state>/state.json                the snapshot ``kasugai status`` shows (written atomically)
    <state>/addresses.json            Pod -> loopback address, kept so addresses stay stable
    <state>/configmaps/<ns>/ethcrl.<pod>.json   connection ConfigMaps (``data.config``)
    <state>/loaded/<ns>/<pod>.config  the connection config the Pod's sidecar last signalled its
                                      function for (the runtime's "config loaded" signal)
    <state>/pods/<ns>/<pod>/pod.json  the Pod as started: argv, env, directories (for ``exec``)
    <state>/pods/<ns>/<pod>/work/     its working directory
    <state>/pods/<ns>/<pod>/volumes/<name>/   its emptyDir volumes (the one at /config: config dir)
    <state>/pods/<ns>/<pod>/logs/<container>.log

The state directory is ``--state-dir``, else ``$KASUGAI_STATE_DIR``, else ``./.kasugai``.
Every file another process reads is replaced atomically (temporary file, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import structlog

from kasugai.core import bounded

__all__ = ["STATE_DIR_ENV", "StateDir", "read_json", "state_dir"]

log = structlog.get_logger("kasugai.local")

STATE_DIR_ENV = "KASUGAI_STATE_DIR"
DEFAULT_STATE_DIR = ".kasugai"


def state_dir(cli_value: str | None = None) -> StateDir:
    """The state directory: ``--state-dir`` wins, then ``$KASUGAI_STATE_DIR``, then ./.kasugai."""
    raw = cli_value or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
    return StateDir(Path(raw).absolute())


@attrs.frozen
class StateDir:
    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def lock_file(self) -> Path:
        return self.root / "supervisor.lock"

    @property
    def log_file(self) -> Path:
        return self.root / "supervisor.log"

    @property
    def snapshot(self) -> Path:
        return self.root / "state.json"

    @property
    def addresses(self) -> Path:
        return self.root / "addresses.json"

    @property
    def configmaps(self) -> Path:
        return self.root / "configmaps"

    def configmap_file(self, namespace: str, name: str) -> Path:
        return self.configmaps / namespace / f"{name}.json"

    @property
    def loaded(self) -> Path:
        return self.root / "loaded"

    def loaded_file(self, namespace: str, pod: str) -> Path:
        return self.loaded / namespace / f"{pod}.config"

    def pod_dir(self, namespace: str, pod: str) -> Path:
        return self.root / "pods" / namespace / pod

    def pod_file(self, namespace: str, pod: str) -> Path:
        return self.pod_dir(namespace, pod) / "pod.json"


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None if there is no such file, or if it cannot be read (logged):
    these are kasugai's own files, rewritten by the supervisor, and a damaged one must not stop
    ``kasugai status`` or the next ``up``."""
    try:
        with path.open("rb") as stream:
            return bounded.load_json(stream.read(bounded.FILE.max_bytes + 1), bounded.FILE)
    except FileNotFoundError:
        return None
    except (OSError, bounded.ParseError) as error:
        log.warning("ignoring an unreadable state file", path=str(path), error=str(error))
        return None
