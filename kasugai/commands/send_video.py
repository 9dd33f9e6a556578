"""``kasugai send-video FILE --to ADDRESS [--port 5678]``: stream an MP4 into a chain's entry.

The sender lives with the video functions (``kasugai_functions.video.sender``); this module only
gives it its place under the one ``kasugai`` entry point.
"""

from __future__ import annotations

import argparse
from typing import Any

from kasugai_functions.video import sender


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "send-video", help="stream an MP4 as RTP to a video chain", description=sender.DESCRIPTION
    )
    sender.add_arguments(parser)
    parser.set_defaults(func=lambda args: sender.run(args, parser))
