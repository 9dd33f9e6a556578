"""Connection ConfigMaps as files: ``configmaps/<ns>/ethcrl.<pod>.json`` holds ``data.config``.

This is what each Pod's sidecar reads in file-source mode. A file is replaced atomically and only
when its content changes, so an unchanged connection never wakes a sidecar (the core already
writes nothing when nothing changed; this also holds after a restart of the runtime).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kasugai.adapters.local.layout import StateDir
from kasugai.atomic_files import write_atomically

__all__ = ["ConfigMapFiles"]


class ConfigMapFiles:
    def __init__(self, state: StateDir) -> None:
        self._state = state

    def path(self, namespace: str, name: str) -> Path:
        return self._state.configmap_file(namespace, name)

    def clear(self) -> None:
        """Forget every file of an earlier run: its addresses are not this run's facts."""
        if self._state.configmaps.exists():
            shutil.rmtree(self._state.configmaps)

    def write(self, configmap: Mapping[str, Any]) -> bool:
        """Write the ConfigMap's ``data.config``; False if the file already held it."""
        meta = configmap.get("metadata") or {}
        path = self.path(str(meta.get("namespace", "")), str(meta.get("name", "")))
        text = str((configmap.get("data") or {}).get("config", ""))
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except FileNotFoundError:
            pass  # first write
        write_atomically(path, text)
        return True

    def delete(self, namespace: str, name: str) -> None:
        self.path(namespace, name).unlink(missing_ok=True)
