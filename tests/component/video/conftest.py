"""Fixtures for the video tests: real GStreamer, real wrappers on loopback, clips made here."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from kasugai_functions.video.clips import make_test_clip
from kasugai_functions.video.testing import LocalVideo
from skimage import data

GST_ELEMENTS = [
    "udpsrc",
    "udpsink",
    "rtph264pay",
    "rtph264depay",
    "h264parse",
    "avdec_h264",
    "x264enc",
    "mp4mux",
    "qtdemux",
    "rawvideoparse",
    "fdsrc",
    "fdsink",
    "videotestsrc",
    "imagefreeze",
    "videoconvert",
    "videoscale",
]


@pytest.fixture(scope="session", autouse=True)
def gstreamer() -> None:
    """The video tests need GStreamer; say how to get it instead of skipping."""
    missing = [
        t
        for t in ("gst-launch-1.0", "gst-inspect-1.0", "gst-discoverer-1.0")
        if shutil.which(t) is None
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `bash scripts/setup.sh`")
    absent = [
        e
        for e in GST_ELEMENTS
        if subprocess.run(["gst-inspect-1.0", e], capture_output=True).returncode != 0
    ]
    if absent:
        pytest.fail(f"GStreamer elements missing: {', '.join(absent)}: run `bash scripts/setup.sh`")


@pytest.fixture
def video(tmp_path: Path) -> Iterator[LocalVideo]:
    """Wrappers on a loopback subnet of their own; every process group is killed afterwards."""
    with LocalVideo(tmp_path / "functions") as local:
        yield local


@pytest.fixture(scope="session")
def pattern_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of the moving test pattern, 640x360 at 30 fps: 90 frames."""
    return make_test_clip(tmp_path_factory.mktemp("clips") / "pattern.mp4", seconds=3)


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real photo of a person (scikit-image's bundled astronaut), as a PNG file."""
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="session")
def astronaut_clip(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> Path:
    """2 s of the astronaut photo, letterboxed into 640x360."""
    path = tmp_path_factory.mktemp("clips") / "astronaut.mp4"
    return make_test_clip(path, seconds=2, image=astronaut_png)
