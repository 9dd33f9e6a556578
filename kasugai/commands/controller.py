"""``kasugai controller``: reconcile DataFlows against a Kubernetes API server until SIGTERM.

Flags follow kube-controller-manager's where one exists (``--kubeconfig``,
``--leader-elect``, ``--leader-elect-resource-name``, ``--kube-api-qps``...). Without
``--kubeconfig`` (or ``$KUBECONFIG``) it uses the Pod's service account. ``--dry-run`` logs the
diffs it would apply and writes nothing (and takes no Lease). The kube adapter is imported only
here, when the command runs, so that ``kasugai plan`` starts fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from kasugai.commands.common import add_plan_options, plan_options
from kasugai.runtime_env import configure_logging

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _boolean(value: str) -> bool:
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "controller", help="run the controller against a Kubernetes API server"
    )
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="kubeconfig file (default: $KUBECONFIG, else the in-cluster service account)",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable; ConfigMaps also in 'default'); "
        "default: every namespace",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="log the diffs it would apply; write nothing"
    )
    parser.add_argument(
        "--journal", metavar="FILE", help="append events and decisions to FILE (kasugai replay)"
    )
    election = parser.add_argument_group("leader election (only the Lease holder writes)")
    election.add_argument(
        "--leader-elect",
        type=_boolean,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="elect a leader among replicas (default: true)",
    )
    election.add_argument("--leader-elect-resource-name", default="kasugai-controller")
    election.add_argument("--leader-elect-resource-namespace", default="kasugai-system")
    election.add_argument("--leader-elect-lease-duration", type=_positive, default=15.0)
    election.add_argument("--leader-elect-renew-deadline", type=_positive, default=10.0)
    election.add_argument("--leader-elect-retry-period", type=_positive, default=2.0)
    election.add_argument(
        "--identity", help="this replica's name in the Lease (default: <hostname>_<random>)"
    )
    parser.add_argument(
        "--metrics-bind-address",
        default=":8080",
        metavar="HOST:PORT",
        help="serve /healthz, /readyz and /metrics here (default: %(default)s; port 0: any)",
    )
    parser.add_argument(
        "--view-bind-address",
        default="127.0.0.1:8081",
        metavar="HOST:PORT",
        help="serve the live page of every DataFlow here; it shows all namespaces, so keep it on "
        "loopback and reach it with kubectl port-forward (default: %(default)s; 'off': none)",
    )
    parser.add_argument(
        "--kube-api-qps",
        type=_positive,
        default=50.0,
        help="writes per second to the API server, steady (default: %(default)s)",
    )
    parser.add_argument(
        "--kube-api-burst",
        type=int,
        default=100,
        help="writes allowed at once before --kube-api-qps applies (default: %(default)s)",
    )
    parser.add_argument(
        "--watch-timeout",
        type=_positive,
        default=300.0,
        metavar="SECONDS",
        help="server-side length of each watch request, jittered up to twice (default: 300)",
    )
    add_plan_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    # Imported here: the kubernetes client is slow to import and only this command needs it.
    from kubernetes.config import ConfigException

    from kasugai.adapters.kube.controller import Controller, ControllerSettings, default_identity
    from kasugai.adapters.kube.leader import LeaseTiming
    from kasugai.adapters.kube.watchers import WatchTimeouts
    from kasugai.commands.diff import render_diff

    try:
        settings = ControllerSettings(
            kubeconfig=args.kubeconfig,
            namespaces=tuple(args.namespace),
            dry_run=args.dry_run,
            journal=args.journal,
            leader_elect=args.leader_elect,
            lease_name=args.leader_elect_resource_name,
            lease_namespace=args.leader_elect_resource_namespace,
            identity=args.identity or default_identity(),
            metrics_bind_address=args.metrics_bind_address,
            view_bind_address="" if args.view_bind_address == "off" else args.view_bind_address,
            write_qps=args.kube_api_qps,
            write_burst=args.kube_api_burst,
            watch_timeouts=WatchTimeouts(watch=args.watch_timeout),
            lease_timing=LeaseTiming(
                args.leader_elect_lease_duration,
                args.leader_elect_renew_deadline,
                args.leader_elect_retry_period,
            ),
            plan_options=plan_options(args),
        )
        controller = Controller(settings, render_diff)
    except (ValueError, OSError, ConfigException) as error:
        print(f"kasugai controller: error: {error}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: controller.stop.set())
    return controller.run()
