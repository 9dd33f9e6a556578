"""Reading a structlog JSON log file that a running process is still writing.

Every program logs one JSON object per line; other lines (e.g. GStreamer's own output) are left
out, and so is the last line until its newline is written, since it may be incomplete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["read_json_log"]


def read_json_log(path: Path | str) -> list[dict[str, Any]]:
    """The complete JSON lines of ``path`` so far; none if the file is not there yet."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.split("\n")[:-1]  # the part after the last newline may be incomplete
    return [json.loads(line) for line in lines if line.startswith("{")]
