"""The images a node tier needs, built on this machine: the pause image (a static C program)
and a small test image (Debian's static busybox). Both are OCI archives for ``ctr import``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from kasugai.testing.node.oci import write_image_archive

BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static
BUSYBOX_IMAGE = "localhost/kasugai/busybox:1"


def build_pause_image(source: Path, cache: Path, reference: str) -> Path:
    """Compile ``source`` statically and package it as ``reference``; cached by the source's
    and the reference's hash, so a warm run only finds the archive."""
    key = hashlib.sha256(source.read_bytes() + reference.encode()).hexdigest()[:12]
    archive = cache / f"pause-{key}.tar"
    if archive.is_file():
        return archive
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc is missing: run scripts/setup.sh (it installs gcc and libc6-dev)")
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / f"pause-{key}"
    result = subprocess.run(
        ["gcc", "-static", "-Os", "-s", "-Wall", "-Werror", "-o", str(binary), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"gcc could not build {source}:\n{result.stderr}")
    write_image_archive(archive, reference, files={"/pause": binary}, entrypoint=["/pause"])
    binary.unlink()
    return archive


def build_busybox_image(cache: Path) -> Path:
    """Debian's static busybox with a link for each of its applets (sh, httpd, nc, ...)."""
    if not BUSYBOX.is_file():
        raise RuntimeError(f"{BUSYBOX} is missing: run scripts/setup.sh (busybox-static)")
    applets = subprocess.run(
        [str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    key = hashlib.sha256(BUSYBOX.read_bytes()).hexdigest()[:12]
    archive = cache / f"busybox-{key}.tar"
    if not archive.is_file():
        links = {f"/{path}": "/bin/busybox" for path in applets if path != "bin/busybox"}
        write_image_archive(
            archive, BUSYBOX_IMAGE, files={"/bin/busybox": BUSYBOX}, links=links, cmd=["sh"]
        )
    return archive
