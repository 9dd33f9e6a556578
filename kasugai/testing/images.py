"""Build kasugai's four container images with podman, without a registry; cache and export them.

    python -m kasugai.testing.images [--export] [--base IMAGE] [NAME...]   (scripts/build-images.sh)

Each image is tagged ``localhost/kasugai/<name>:<inputs hash>``, ``localhost/kasugai/<name>:latest``
and its original name (``localhost/cpufunc_calcapp:latest``, ...). The inputs hash covers the
Dockerfile, every file its COPY steps take from the repository and the base image's ID, so a warm
run finds the tag and skips the build. The base is Debian's (see ``debian_base``) unless ``--base``
names another, e.g. ``python:3.11-slim`` where a registry can be reached.

``--export`` also writes each image as a docker archive, with all its names, to
``~/.cache/kasugai/images/<name>-<hash>.tar`` for ``ctr -n k8s.io images import``; the paths are
printed on stdout, one per line. Progress and the final size table go to stderr.

pip inside a build takes the host's route to PyPI: the settings `pip config list` shows on the
host (e.g. a CA bundle for an intercepting proxy) are handed to the build as a mounted
/etc/pip.conf, never written into a layer; the build runs on the host's network.
"""

from __future__ import annotations

import argparse
import fcntl
import fnmatch
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs

from kasugai.testing import debian_base
from kasugai.testing.podman import Podman, PodmanError, ulimit_flags

REPO = Path(__file__).resolve().parents[2]
IGNORE_FILE = ".dockerignore"
RECIPE = "kasugai-images/1"  # bump when the build command changes what an image holds


@attrs.frozen
class ImageSpec:
    name: str
    dockerfile: str  # relative to the repository, which is the build context
    original: str  # the name the original OpenKasugai samples (or manifests) use

    @property
    def repository(self) -> str:
        return f"localhost/kasugai/{self.name}"

    @property
    def names(self) -> tuple[str, str]:
        return (f"{self.repository}:latest", self.original)


IMAGES = (
    ImageSpec(
        "controller", "manifests/controller.Dockerfile", "localhost/kasugai-controller:latest"
    ),
    ImageSpec("sidecar", "sidecar/Dockerfile", "localhost/cpufunc_sidecar:latest"),
    ImageSpec("calc", "functions/calc/Dockerfile", "localhost/cpufunc_calcapp:latest"),
    ImageSpec("video", "functions/video/Dockerfile", "localhost/cpufunc_gst:latest"),
)


@attrs.frozen
class BuiltImage:
    spec: ImageSpec
    reference: str  # localhost/kasugai/<name>:<inputs hash>
    size: int  # bytes, uncompressed
    seconds: float | None  # build time; None when the cache had it
    archive: Path | None = None


class ImageBuildError(Exception):
    """An image could not be built or exported; the message says which and why."""


def default_cache_dir() -> Path:
    base = os.environ.get("KASUGAI_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "kasugai"
    )
    return Path(base) / "images"


# --- what an image is made of -------------------------------------------------------------------


def copied_sources(dockerfile: str) -> list[str]:
    """The repository paths that the Dockerfile's COPY steps take from the build context."""
    text = re.sub(r"\\\n", " ", dockerfile)
    sources = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY":
            continue
        arguments = words[1:]
        if any(word.startswith("--from=") for word in arguments):
            continue
        *paths, _destination = [word for word in arguments if not word.startswith("--")]
        sources += paths
    return sources


def ignore_patterns(repo: Path) -> list[str]:
    path = repo / IGNORE_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: Sequence[str]) -> bool:
    """Whether .dockerignore keeps ``relative`` out of the context (the forms it uses)."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts):
                return True
        elif fnmatch.fnmatchcase(relative, pattern) or relative.startswith(pattern + "/"):
            return True
    return False


def context_files(repo: Path, sources: Sequence[str]) -> Iterator[str]:
    """Every file under the sources, relative to the repository, in a stable order."""
    patterns = ignore_patterns(repo)
    for source in sources:
        root = repo / source
        if not root.exists():
            raise ImageBuildError(f"COPY source {source} does not exist in {repo}")
        found = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in found:
            relative = path.relative_to(repo).as_posix()
            if not ignored(relative, patterns):
                yield relative


def inputs_hash(repo: Path, spec: ImageSpec, base_id: str) -> str:
    """A hash of everything the image is built from: recipe, base, Dockerfile, copied files."""
    digest = hashlib.sha256()
    dockerfile = (repo / spec.dockerfile).read_text()
    for part in (RECIPE, base_id, spec.dockerfile, dockerfile, "\n".join(ignore_patterns(repo))):
        digest.update(part.encode() + b"\0")
    for relative in context_files(repo, copied_sources(dockerfile)):
        path = repo / relative
        executable = "x" if os.access(path, os.X_OK) else "-"
        digest.update(f"{relative}\0{executable}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


# --- pip's route to PyPI ------------------------------------------------------------------------

# Settings that decide how pip reaches an index; find-links names host folders, so it stays home.
PIP_ROUTE_KEYS = ("index-url", "extra-index-url", "trusted-host", "cert", "proxy", "timeout")
PIP_CONFIG_LINE = re.compile(r"^(?P<scope>[^.]*)\.(?P<key>[\w-]+)='(?P<value>.*)'$")
BUILD_CERT = "/run/kasugai-build/pip-cert.pem"


def host_pip_settings(python: str = sys.executable) -> dict[str, str]:
    """pip's settings on this host, environment over files, as `pip config list` reports them."""
    result = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    settings: dict[str, str] = {}
    for line in result.stdout.splitlines():
        match = PIP_CONFIG_LINE.match(line.strip())
        if not match:
            continue
        key = match["key"].removeprefix("default-")  # PIP_DEFAULT_TIMEOUT is timeout
        if key in PIP_ROUTE_KEYS and (match["scope"] == ":env:" or key not in settings):
            settings[key] = match["value"]
    return settings


def pip_route_flags(settings: dict[str, str], scratch: Path) -> list[str]:
    """``--volume`` flags that give the build's pip the host's settings as /etc/pip.conf."""
    if not settings:
        return []
    flags = []
    settings = dict(settings)
    if "cert" in settings:
        flags += ["--volume", f"{settings['cert']}:{BUILD_CERT}:ro"]
        settings["cert"] = BUILD_CERT
    conf = scratch / "pip.conf"
    conf.write_text("[global]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(settings.items())))
    return [*flags, "--volume", f"{conf}:/etc/pip.conf:ro"]


# --- building -----------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """One build at a time per cache: a second caller waits, then finds the first one's images."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _export(podman: Podman, spec: ImageSpec, archive: Path) -> None:
    """The image as a docker archive holding both its names (what `ctr images import` reads)."""
    if not archive.exists():
        partial = archive.with_suffix(".partial")  # never a half-written archive under its name
        partial.unlink(missing_ok=True)  # podman save refuses to overwrite
        podman.run(
            "save", "--format", "docker-archive", "--multi-image-archive",
            "--output", str(partial), *spec.names,
        )  # fmt: skip
        partial.rename(archive)


def build_images(
    names: Sequence[str] = (),
    *,
    base: str | None = None,
    export: bool = False,
    podman: Podman | None = None,
    cache_dir: Path | None = None,
    say: Callable[[str], None] = _say,
) -> list[BuiltImage]:
    """Build (or find in the cache) the named images, all four by default, in a stable order."""
    podman = podman or Podman()
    cache_dir = cache_dir or default_cache_dir()
    unknown = sorted(set(names) - {spec.name for spec in IMAGES})
    if unknown:
        known = ", ".join(spec.name for spec in IMAGES)
        raise ImageBuildError(f"unknown image {', '.join(unknown)}: choose from {known}")
    specs = [spec for spec in IMAGES if not names or spec.name in names]
    with _locked(cache_dir), tempfile.TemporaryDirectory(prefix="kasugai-build-") as scratch:
        base = base or debian_base.ensure_base(podman, cache_dir, say)
        if not podman.image_exists(base):
            say(f"base: pulling {base}")
            podman.run("pull", base, timeout=1800)
        route = pip_route_flags(host_pip_settings(), Path(scratch))
        builder = _Builder(podman, base, podman.image_id(base), route, say)
        images = [builder.ensure(spec, cache_dir, export) for spec in specs]
        if any(image.seconds is not None for image in images):
            # The build stages left untagged: they served this run's images, and a later run
            # with other inputs cannot use them (about 0.8 GB each time).
            podman.run("image", "prune", "--force")
        return images


@attrs.frozen
class _Builder:
    podman: Podman
    base: str
    base_id: str
    route: list[str]  # --volume flags that give the build's pip the host's route to PyPI
    say: Callable[[str], None]

    def ensure(self, spec: ImageSpec, cache_dir: Path, export: bool) -> BuiltImage:
        """The image under all its names, built unless its inputs hash is already tagged."""
        podman = self.podman
        reference = f"{spec.repository}:{inputs_hash(REPO, spec, self.base_id)}"
        seconds = None
        if podman.image_exists(reference):
            self.say(f"{spec.name}: cached as {reference}")
        else:
            self.say(f"{spec.name}: building {reference} from {spec.dockerfile}")
            started = time.monotonic()
            self.build(spec, reference, cache_dir / "logs" / f"{spec.name}.log")
            seconds = time.monotonic() - started
            self.say(f"{spec.name}: built in {seconds:.0f} s")
        podman.run("tag", reference, *spec.names)
        for old in podman.tags(spec.repository):  # earlier builds: only layers worth keeping
            if old not in (reference, spec.names[0]):
                podman.run("rmi", old, check=False)
        archive = cache_dir / f"{spec.name}-{reference.rsplit(':', 1)[1]}.tar"
        for stale in cache_dir.glob(f"{spec.name}-*.tar"):  # archives of earlier inputs
            if stale != archive:
                stale.unlink()
        if export:
            _export(podman, spec, archive)
        size = podman.image_size(reference)
        return BuiltImage(spec, reference, size, seconds, archive if export else None)

    def build(self, spec: ImageSpec, reference: str, log: Path) -> None:
        argv = self.podman.argv(
            "build",
            *ulimit_flags(),
            "--network=host",  # pip and apt reach their registries as the host does
            "--layers",  # the build stage is shared: the second image finds it done
            *("--build-arg", f"BASE_IMAGE={self.base}"),
            *("--label", f"io.kasugai.inputs={reference.rsplit(':', 1)[1]}"),
            *self.route,
            *("--file", str(REPO / spec.dockerfile), "--tag", reference, str(REPO)),
        )
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with (
            log.open("w") as out,
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ) as process,
        ):
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                if "STEP " in line:  # one progress line per Dockerfile step
                    elapsed = time.monotonic() - started
                    self.say(f"  {spec.name} {elapsed:4.0f} s: {line.strip()[:110]}")
        if process.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise ImageBuildError(
                f"{spec.name}: podman build failed (exit {process.returncode}); log {log}:\n{tail}"
            )


def size_table(images: Sequence[BuiltImage]) -> str:
    rows = [f"{'image':<12}{'size':>10}  {'build':>8}  names"]
    for image in images:
        took = "cached" if image.seconds is None else f"{image.seconds:.0f} s"
        names = ", ".join(image.spec.names)
        rows.append(f"{image.spec.name:<12}{image.size / 1e6:>7.0f} MB  {took:>8}  {names}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build-images",
        description="Build kasugai's container images with podman (cached by their inputs).",
    )
    names = [spec.name for spec in IMAGES]
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"{', '.join(names)} (all)")
    parser.add_argument(
        "--base", help="base image (default: a Debian 12 base built here with mmdebstrap)"
    )
    parser.add_argument(
        "--export",
        action="store_true",
        help="also save each image as a docker archive in the cache; prints the paths",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"unknown image {', '.join(unknown)}: choose from {', '.join(names)}")
    started = time.monotonic()
    try:
        images = build_images(args.names, base=args.base, export=args.export)
    except (ImageBuildError, PodmanError) as error:
        _say(f"build-images: {error}")
        return 1
    _say(size_table(images))
    _say(f"build-images: done in {time.monotonic() - started:.0f} s")
    for image in images:
        if image.archive is not None:
            print(image.archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
