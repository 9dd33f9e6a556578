"""What several commands share: plan options as flags, loading inputs, reporting Errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from kasugai.adapters.files import Loaded
from kasugai.core.engine import Engine
from kasugai.core.events import ObjectKey
from kasugai.core.options import PlanOptions

__all__ = ["add_filename_option", "add_plan_options", "plan_options", "report_errors"]


def add_filename_option(parser: argparse.ArgumentParser, help: str) -> None:
    """kubectl's required, repeatable ``-f/--filename PATH``; one ``-f`` may also take several."""
    parser.add_argument(
        "-f", "--filename", action="extend", nargs="+", required=True, metavar="PATH", help=help
    )


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    defaults = PlanOptions()
    parser.add_argument(
        "--lb-pool",
        default=defaults.load_balancer_pool,
        help="MetalLB address pool of entry-point Services (default: %(default)s)",
    )
    parser.add_argument(
        "--sriov-resource",
        default=defaults.sriov_resource,
        help="SR-IOV VF resource name (default: %(default)s)",
    )
    parser.add_argument(
        "--gpu-resource",
        default=defaults.gpu_resource,
        help="GPU resource name (default: %(default)s)",
    )


def plan_options(args: argparse.Namespace) -> PlanOptions:
    return PlanOptions(args.lb_pool, args.sriov_resource, args.gpu_resource)


def report_errors(engine: Engine, loaded: Iterable[Loaded]) -> bool:
    """Print every object in Error to stderr, naming its file; True if there was any."""
    sources = {item.key: item.source for item in loaded}
    errors = []
    for status in engine.status_objects():
        body: dict[str, Any] = status["status"]
        if body.get("status") != "Error":
            continue
        meta = status["metadata"]
        key = ObjectKey(status["kind"], meta["namespace"], meta["name"])
        where = sources.get(key, "(input)")
        errors.append(f"error: {where}: {key.kind} {key.namespace}/{key.name}: {body['message']}")
    for line in errors:
        print(line, file=sys.stderr)
    return bool(errors)
