"""What a node tier needs before it can start, made (or found in the cache) once per session.

The binaries come from ``tests/apiserver/build.sh`` (shared with the cluster tier), the pause and
busybox images from :mod:`.images`. The node tests, the end-to-end tests and the benchmarks all
call :func:`prepare_node_inputs`; it raises :class:`NodeInputsError` saying what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import attrs

from kasugai.testing.node.images import build_busybox_image, build_pause_image
from kasugai.testing.node.tier import PAUSE_IMAGE

REPO = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO / "tests" / "apiserver" / "build.sh"
PAUSE_SOURCE = REPO / "tests" / "node" / "pause" / "pause.c"
# The programs the tier runs from Debian (scripts/setup.sh installs them).
HOST_PROGRAMS = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "ip", "gcc")
CNI_PLUGINS = Path("/usr/lib/cni")


@attrs.frozen
class NodeInputs:
    """The multi-call binary's folder and the image archives every tier imports."""

    bin_dir: Path
    pause_archive: Path
    busybox_archive: Path


class NodeInputsError(RuntimeError):
    """The tier cannot be had on this machine; the message says why and what to run."""


def cache_root() -> Path:
    """kasugai's cache: $KASUGAI_CACHE_DIR, else $XDG_CACHE_HOME/kasugai or ~/.cache/kasugai."""
    if explicit := os.environ.get("KASUGAI_CACHE_DIR"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kasugai"


def prepare_node_inputs() -> NodeInputs:
    """Check the host, build (or find) the binaries and the images. build.sh's progress goes to
    this process's stderr, live: a cold build takes many minutes."""
    if os.geteuid() != 0:
        raise NodeInputsError("the node tier runs a kubelet and containerd, which need root")
    missing = [p for p in HOST_PROGRAMS if shutil.which(p) is None]
    missing += [
        f"{CNI_PLUGINS}/{p}"
        for p in ("bridge", "host-local", "loopback", "portmap")
        if not (CNI_PLUGINS / p).is_file()
    ]
    if missing:
        raise NodeInputsError(
            f"missing {', '.join(missing)}: run scripts/setup.sh (it installs them from Debian)"
        )
    try:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False
        )
    except OSError as error:
        raise NodeInputsError(f"cannot run {BUILD_SCRIPT}: {error}") from error
    if result.returncode != 0:
        raise NodeInputsError(
            f"{BUILD_SCRIPT} failed (exit {result.returncode}); its messages are above"
        )
    cache = cache_root() / "node"
    try:
        pause = build_pause_image(PAUSE_SOURCE, cache, PAUSE_IMAGE)
        busybox = build_busybox_image(cache)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        raise NodeInputsError(f"cannot build the node tier's images: {error}") from error
    return NodeInputs(Path(result.stdout.strip().splitlines()[-1]), pause, busybox)
