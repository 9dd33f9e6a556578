"""``kasugai logs POD [-c CONTAINER] [-f]``: a container's output, like ``kubectl logs``.

Without ``-c`` the first container is shown (and a note says so when there are several). With
``-f`` new output is printed as it is written (watchfiles, no polling) until Ctrl-C or until the
supervisor stops. A container's log spans its restarts; a re-created Pod starts a new one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import watchfiles

from kasugai.adapters.local.layout import StateDir, state_dir
from kasugai.adapters.local.lock import holder
from kasugai.adapters.local.lookup import find_container, find_pod

FOLLOW_CHECK_MS = 1_000  # how often -f checks that the supervisor still runs


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "logs", help="print the output of a container of a local Pod"
    )
    parser.add_argument("pod", metavar="POD")
    parser.add_argument("-c", "--container", help="container name (default: the first)")
    parser.add_argument("-n", "--namespace", help="the Pod's namespace, if the name is ambiguous")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    parser.add_argument("--state-dir", metavar="DIR", help="(default: ./.kasugai)")
    parser.set_defaults(func=run)


def _copy_from(path: Path, offset: int) -> int:
    """Print what ``path`` holds after ``offset``; the new offset (0 if the file was truncated)."""
    try:
        with path.open("rb") as stream:
            size = stream.seek(0, 2)
            if size < offset:
                offset = 0
            stream.seek(offset)
            data = stream.read()
    except FileNotFoundError:
        return 0
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return offset + len(data)


def _follow(path: Path, offset: int, state: StateDir) -> None:
    for _ in watchfiles.watch(
        path.parent,
        watch_filter=lambda _change, changed: Path(changed).name == path.name,
        debounce=50,
        step=10,
        rust_timeout=FOLLOW_CHECK_MS,
        yield_on_timeout=True,
    ):
        offset = _copy_from(path, offset)
        if holder(state) is None:
            return


def run(args: argparse.Namespace) -> int:
    state = state_dir(args.state_dir)
    pod = find_pod(state, args.pod, args.namespace)
    container, note = find_container(pod, args.container)
    if note:
        print(note, file=sys.stderr)
    path = Path(container.log)
    offset = _copy_from(path, 0)
    if args.follow:
        try:
            _follow(path, offset, state)
        except KeyboardInterrupt:
            return 0
    return 0
