"""Raw BGR frames between gst-launch and Python, through a pipe of their own.

gst-launch prints progress on stdout, so frames never travel there: the decoder writes to an extra
pipe passed to it as a file descriptor (``fdsink fd=N``).
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]


def start_frame_source(
    argv_for_fd: Callable[[int], Sequence[str]], **popen: object
) -> tuple[subprocess.Popen[bytes], io.RawIOBase]:
    """Start the pipeline ``argv_for_fd(fd)`` writing frames to fd; return it and the read end."""
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(argv_for_fd(write_fd), pass_fds=(write_fd,), **popen)  # type: ignore[call-overload]
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return process, io.FileIO(read_fd, "rb")


def read_frame(stream: io.RawIOBase, width: int, height: int) -> Frame | None:
    """Read one whole frame; None at end of stream (a partial last frame is dropped)."""
    buffer = bytearray(width * height * 3)
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        count = stream.readinto(view[filled:])
        if not count:
            return None
        filled += count
    return np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3)
