"""Benchmark of the container image build: cold, warm, export, and the images' sizes.

    .venv/bin/python benchmarks/images.py [--keep]

Cold: an empty image store of its own (``podman --root``) and an empty cache folder, so the Debian
base is made by mmdebstrap and every image is built from nothing: what CI's first `make test` on
a fresh machine pays. Warm: the same build again, which finds every image by its inputs hash.
Export: the docker archives for ``ctr images import``, written once. The real image store and
~/.cache/kasugai are not touched. Prints figures; asserts nothing. Takes 4 to 7 minutes on
2 cores (downloads from Debian and PyPI included); ``--keep`` leaves the store for a look.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kasugai.testing import debian_base
from kasugai.testing.images import BuiltImage, build_images, default_cache_dir
from kasugai.testing.podman import Podman

T = TypeVar("T")


def timed(label: str, action: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    print(f"{label:<44}{seconds:8.1f} s", flush=True)
    return result, seconds


def quiet(_message: str) -> None:
    """Build progress is not a figure; the podman logs are in the cache folder."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the image store and cache")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-images-", dir=default_cache_dir().parent))
    podman = Podman(root=scratch / "storage", runroot=scratch / "run")
    cache = scratch / "cache"
    print(f"image store {podman.root}, cache {cache}\n", flush=True)
    try:
        _, base_s = timed(
            "cold: Debian base (mmdebstrap + import)",
            lambda: debian_base.ensure_base(podman, cache, quiet),
        )
        cold, images_s = timed(
            "cold: four images on that base",
            lambda: build_images(podman=podman, cache_dir=cache, say=quiet),
        )
        for image in cold:
            print(f"  {image.spec.name:<42}{image.seconds or 0:8.1f} s")
        print(f"{'cold: total':<44}{base_s + images_s:8.1f} s\n")
        timed(
            "warm: all four found by inputs hash",
            lambda: build_images(podman=podman, cache_dir=cache, say=quiet),
        )
        exported, _ = timed(
            "export: four docker archives",
            lambda: build_images(podman=podman, cache_dir=cache, say=quiet, export=True),
        )
        timed(
            "export again: archives found",
            lambda: build_images(podman=podman, cache_dir=cache, say=quiet, export=True),
        )
        print_sizes(exported, podman.image_size(debian_base.reference()))
    finally:
        if args.keep:
            print(f"\nkept {scratch}")
        else:
            podman.run("rmi", "--all", "--force", check=False)
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def print_sizes(images: list[BuiltImage], base_size: int) -> None:
    print(f"\n{'image':<12}{'size':>10}{'archive':>12}")
    print(f"{'base':<12}{base_size / 1e6:>7.0f} MB")
    for image in images:
        archive = image.archive.stat().st_size / 1e6 if image.archive else 0
        print(f"{image.spec.name:<12}{image.size / 1e6:>7.0f} MB{archive:>9.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
