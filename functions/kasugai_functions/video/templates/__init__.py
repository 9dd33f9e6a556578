"""The packaged pipeline templates a video function's Pod installs into its config directory.

Each is a Go text/template the sidecar renders into ``config.yaml`` with the next hop's address
(``{{index .ips 0}}``, ``{{(index .ports 0).port}}``). Receiving pipelines bind to the Pod's own
address (``${KASUGAI_POD_IP:-0.0.0.0}``, expanded by the template's ``bash -c``) so that several
functions can share UDP 5678 on one machine under the local runtime.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from kasugai.atomic_files import install_file

TEMPLATE_FILE = "config.yaml.tmpl"
NAMES = ("relay", "receiver", "inference", "dsa")


def template_text(name: str) -> str:
    """The text of the packaged template ``name`` (one of NAMES)."""
    if name not in NAMES:
        raise ValueError(f"unknown template {name!r}; choose one of {', '.join(NAMES)}")
    return (importlib.resources.files(__name__) / f"{name}.yaml.tmpl").read_text()


def install_template(name: str, config_dir: Path) -> bool:
    """Copy template ``name`` to ``config_dir/config.yaml.tmpl`` unless one is there already.

    Returns True when it was copied. An existing template wins: the user may have put their own.
    """
    return install_file(config_dir / TEMPLATE_FILE, template_text(name))
