"""``kasugai exec POD [-c CONTAINER] -- COMMAND...``: run a command in a Pod, like ``kubectl exec``.

The command gets the container's environment (``K8S_POD_NAME``, ``KASUGAI_POD_IP``,
``KASUGAI_CONFIG_DIR``...) and working directory, and replaces this process, so its output and
exit status are the command's own: ``kasugai exec df-calcapp-wbfunction-send-cpu-pod --
kasugai-calc 1 2 3`` sends 1 2 3 into the chain from its first function. No shell is involved.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from kasugai.adapters.files import InputError
from kasugai.adapters.local.layout import state_dir
from kasugai.adapters.local.lookup import find_container, find_pod, pod_is_running

NOT_FOUND = 127


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--container", help="container name (default: the first)")
    parser.add_argument("-n", "--namespace", help="the Pod's namespace, if the name is ambiguous")
    parser.add_argument("--state-dir", metavar="DIR", help="(default: ./.kasugai)")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "exec", help="run a command in a local Pod's environment"
    )
    parser.add_argument("pod", metavar="POD")
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND...")
    _add_options(parser)
    parser.set_defaults(func=run)


def _split(args: argparse.Namespace) -> list[str]:
    """The command after ``--``; options written between POD and ``--`` go into ``args``.

    (argparse hands everything after POD to the remainder, options included.)
    """
    if "--" not in args.argv:
        return list(args.argv)
    cut = args.argv.index("--")
    options = argparse.ArgumentParser(prog="kasugai exec", add_help=False)
    _add_options(options)
    options.parse_args(args.argv[:cut], namespace=args)
    return list(args.argv[cut + 1 :])


def run(args: argparse.Namespace) -> int:
    command = _split(args)
    if not command:
        raise InputError("no command: give one after --, e.g. kasugai exec POD -- kasugai-calc 1 2")
    state = state_dir(args.state_dir)
    pod = find_pod(state, args.pod, args.namespace)
    container, _ = find_container(pod, args.container)
    if not pod_is_running(state, pod):
        raise InputError(f"pod {pod.name} is not running (see `kasugai status`)")
    os.chdir(container.cwd)
    sys.stdout.flush()
    try:
        os.execvpe(command[0], command, dict(container.env))
    except FileNotFoundError:
        print(
            f'kasugai exec: "{command[0]}": executable file not found in the Pod\'s $PATH',
            file=sys.stderr,
        )
        return NOT_FOUND
    except PermissionError as error:
        print(f"kasugai exec: {command[0]}: {error.strerror}", file=sys.stderr)
        return 126
