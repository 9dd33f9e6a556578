"""The calc sample's DataFlow as ``kasugai plan`` writes it: the chain every view test draws."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CALC = Path(__file__).parents[1] / "fixtures" / "openkasugai" / "calc-func"


def planned_dataflow(path: Path = CALC) -> dict[str, Any]:
    """The first DataFlow of ``kasugai plan -f path -o json``, run as a user would."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("kasugai")), "plan", "-f", str(path), "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(i for i in json.loads(out)["items"] if i["kind"] == "DataFlow")
