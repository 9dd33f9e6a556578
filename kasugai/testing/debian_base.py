"""The images' base when ``python:3.11-slim`` cannot be pulled: Debian 12 from Debian's packages.

mmdebstrap makes a minimal root file system (python3, which is 3.11 in bookworm, python3-venv for
the build stage's pip, ca-certificates) and ``podman import`` turns it into
``localhost/kasugai/base:<recipe hash>``. Two touches make it a drop-in for python:3.11-slim, whose
layout the Dockerfiles and the /calcapp and /wrapper launchers assume: python3 is also
/usr/local/bin/python3, and pip may install into /usr/local (the interpreter belongs to the image,
so Debian's EXTERNALLY-MANAGED guard has nothing to guard).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kasugai.testing.podman import Podman, PodmanError

REPOSITORY = "localhost/kasugai/base"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
MIRROR = "http://deb.debian.org/debian"
SOURCES = (
    f"deb {MIRROR} {SUITE} main",
    f"deb {MIRROR} {SUITE}-updates main",
    f"deb {MIRROR}-security {SUITE}-security main",
)
# Documentation, manual pages and translations are dead weight in a container.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
CUSTOMIZE = (
    'ln -s /usr/bin/python3 "$1/usr/local/bin/python3"',
    'rm -f "$1"/usr/lib/python3.*/EXTERNALLY-MANAGED',
)
# Merged /usr set up by mmdebstrap's own hook, so the usrmerge package (and Perl) stay out.
MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


def mmdebstrap_argv(tarball: Path) -> list[str]:
    argv = [
        "mmdebstrap",
        "--variant=minbase",  # Essential plus apt: the video image installs GStreamer with it
        f"--include={','.join(PACKAGES)}",
        f"--hook-dir={MERGED_USR_HOOKS}",
        *[f"--dpkgopt=path-exclude={pattern}" for pattern in DPKG_EXCLUDES],
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        *[f"--customize-hook={command}" for command in CUSTOMIZE],
        SUITE,
        str(tarball),
        *SOURCES,
    ]
    return argv


def reference() -> str:
    """The base's image name: its tag is a hash of the recipe, so a changed recipe rebuilds."""
    recipe = json.dumps([mmdebstrap_argv(Path("rootfs.tar")), IMAGE_CHANGES])
    return f"{REPOSITORY}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def ensure_base(podman: Podman, work_dir: Path, say: Callable[[str], None]) -> str:
    """The base image's name, built first when the store lacks it (about a minute)."""
    wanted = reference()
    if podman.image_exists(wanted):
        return wanted
    if shutil.which("mmdebstrap") is None:
        raise PodmanError("mmdebstrap is not installed: run scripts/setup.sh")
    say(f"base: building {wanted} from Debian {SUITE} packages with mmdebstrap (about a minute)")
    started = time.monotonic()
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="base-") as scratch:
        tarball = Path(scratch) / "rootfs.tar"
        log = work_dir / "base.log"
        with log.open("w") as out:
            result = subprocess.run(
                mmdebstrap_argv(tarball), stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise PodmanError(f"mmdebstrap failed (exit {result.returncode}); log {log}:\n{tail}")
        changes = [flag for change in IMAGE_CHANGES for flag in ("--change", change)]
        podman.run("import", *changes, str(tarball), wanted)
    for old in podman.tags(REPOSITORY):
        if old != wanted:
            podman.run("rmi", old, check=False)
    say(f"base: built in {time.monotonic() - started:.0f} s")
    return wanted
