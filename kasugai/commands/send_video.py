"""``kasugai send-video FILE --to ADDRESS [--port 5678]``: stream an MP4 into a chain's entry.

The sender lives with the video functions (``kasugai_functions.video.sender``); this module only
gives it its place under the one ``kasugai`` entry point.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "send-video",
        help="stream an MP4's H.264 track as RTP to the first function of a video chain",
        add_help=False,  # the sender's own parser answers --help
    )
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kasugai_functions.video import sender  # GStreamer helpers load only for this command

    return sender.main(args.args)
