"""Short H.264 MP4 clips for tests, benchmarks and trying a chain by hand: make one, read one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kasugai_functions.video import gst
from kasugai_functions.video.raw_frames import Frame, read_frame, start_frame_source


def make_test_clip(
    path: Path,
    seconds: float = 3.0,
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    image: Path | None = None,
) -> Path:
    """Write an MP4 of ``seconds`` of the test pattern, or of a still ``image``, to ``path``."""
    frames = round(seconds * fps)
    argv = gst.clip_encoder(path, frames, width, height, fps, image)
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"making {path} failed: {' '.join(argv)}\n{result.stderr}")
    return path


def read_clip_frames(path: Path, width: int = 640, height: int = 360) -> list[Frame]:
    """Decode every frame of the MP4 ``path``; raises if it cannot be decoded."""
    process, stream = start_frame_source(
        lambda fd: gst.clip_decoder(path, width, height, fd),
        stderr=subprocess.PIPE,
    )
    frames: list[Frame] = []
    with stream:
        while (frame := read_frame(stream, width, height)) is not None:
            frames.append(frame)
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"decoding {path} failed: {stderr.decode(errors='replace')}")
    return frames
