"""The podman command line that works on this kind of machine, for building and running images.

Every call names the runtime and the cgroup manager: crun fails on the hybrid cgroup hierarchy
here, and systemd is not running the show, so runc with cgroupfs. Containers get explicit
rlimits, because podman's defaults (1048576 open files, 4194304 processes) are above what this
sandbox lets runc set and every start fails with "error setting rlimit ... operation not
permitted". An optional storage root keeps a benchmark's cold build away from the real image store.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
from pathlib import Path

import attrs

GLOBAL_FLAGS = ("--runtime", "runc", "--cgroup-manager", "cgroupfs")
PID_MAX = Path("/proc/sys/kernel/pid_max")


class PodmanError(Exception):
    """podman is missing or a command failed; the message says which and why."""


def ulimit_flags() -> tuple[str, ...]:
    """``--ulimit`` flags with the host's hard limits, which runc may always set.

    The process limit is also kept at or below pid_max: the sandbox refuses more (seen: 32768
    works, 40000 does not), and no container could use more anyway.
    """
    _, files = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, processes = resource.getrlimit(resource.RLIMIT_NPROC)
    pid_max = int(PID_MAX.read_text())
    processes = pid_max if processes == resource.RLIM_INFINITY else min(processes, pid_max)
    files = 1048576 if files == resource.RLIM_INFINITY else files
    return ("--ulimit", f"nofile={files}:{files}", "--ulimit", f"nproc={processes}:{processes}")


@attrs.frozen
class Podman:
    """podman with this machine's flags; ``root`` and ``runroot`` select a separate image store."""

    root: Path | None = None
    runroot: Path | None = None

    def argv(self, *args: str) -> list[str]:
        executable = shutil.which("podman")
        if executable is None:
            raise PodmanError(
                "podman is not installed: run scripts/setup.sh (it installs podman, buildah, "
                "runc and mmdebstrap from Debian)"
            )
        storage = []
        if self.root is not None:
            storage += ["--root", str(self.root)]
        if self.runroot is not None:
            storage += ["--runroot", str(self.runroot)]
        return [executable, *GLOBAL_FLAGS, *storage, *args]

    def run(
        self, *args: str, check: bool = True, timeout: float | None = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run a podman command, capturing its output; PodmanError with stderr when it fails."""
        result = subprocess.run(
            self.argv(*args), capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and result.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args[:3])}... failed (exit {result.returncode}): "
                f"{result.stderr.strip()[-2000:]}"
            )
        return result

    def image_exists(self, reference: str) -> bool:
        return self.run("image", "exists", reference, check=False).returncode == 0

    def image_id(self, reference: str) -> str:
        return self.run("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()

    def image_size(self, reference: str) -> int:
        """The image's size in bytes, as `podman images` counts it (all layers, uncompressed)."""
        return int(self.run("image", "inspect", "--format", "{{.Size}}", reference).stdout)

    def tags(self, repository: str) -> list[str]:
        """Every ``repository:tag`` of that repository in the store."""
        out = self.run(
            "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference={repository}"
        ).stdout
        return [line for line in out.split() if line.startswith(f"{repository}:")]
