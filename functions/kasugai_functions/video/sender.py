"""``kasugai send-video FILE --to ADDRESS [--port 5678]``: stream an MP4 into a video chain.

Runs the contract's sender pipeline (``filesrc ! qtdemux ! video/x-h264 ! h264parse !
rtph264pay config-interval=-1 seqnum-offset=1 ! udpsink``) at the clip's real-time rate, so that
no hop has to buffer a burst, and returns when the whole clip has been sent.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kasugai_functions.video import gst
from kasugai_functions.video.addresses import AddressError, validate_ip, validate_port

DESCRIPTION = "Stream the H.264 track of an MP4 as RTP to the first function of a chain."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="an MP4 file with an H.264 video track")
    parser.add_argument("--to", required=True, metavar="ADDRESS", help="first function's IP")
    parser.add_argument("--port", default=str(gst.RTP_PORT), help="UDP port (default 5678)")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate the address and the file, then stream; usage errors exit 2 through ``parser``."""
    try:
        host = validate_ip(args.to, "--to")
        port = validate_port(args.port, "--port")
    except AddressError as exc:
        parser.error(str(exc))
    if not args.file.is_file():
        parser.error(f"{args.file}: no such file; give the path of an MP4 to send")
    return subprocess.run(gst.mp4_sender(args.file.resolve(), host, port), check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kasugai send-video", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)
