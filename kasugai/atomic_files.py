"""Writing files that other processes read while we write them.

The sidecar renders configs that functions read on SIGHUP, functions install templates that the
sidecar watches, and the local runtime writes connection files that sidecars watch. A reader must
see the old file or the new one, whole: each write goes to a temporary file in the same directory
(so the rename cannot cross file systems), is flushed to disk, then renamed over the target. The
flush is what makes the new file survive a crash of the machine; a writer that recreates the file
after any restart anyway (the sidecar's rendered configs) may skip it with ``durable=False``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o644  # readable by the function, which may run as another user than the writer


def write_atomically(path: Path, content: bytes | str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``content`` in one step (text is written as UTF-8)."""
    _publish(path, content, replace=True, durable=durable)


def install_file(path: Path, content: bytes | str) -> bool:
    """Create ``path`` with ``content`` unless it exists; True when this call created it.

    An existing file wins (a user may have put their own there); creation is still atomic, so a
    watcher never renders half a template.
    """
    return _publish(path, content, replace=False)


def _publish(path: Path, content: bytes | str, *, replace: bool, durable: bool = True) -> bool:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), FILE_MODE)
            if durable:
                os.fsync(stream.fileno())
        if replace:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # fails if path exists: no clobbering, no race
        except FileExistsError:
            return False
        return True
    finally:
        Path(temporary).unlink(missing_ok=True)
