"""``kasugai plan -f PATH...``: the objects and statuses the controller would write, offline.

Inputs are any mix of DataFlows, FunctionChains, FunctionTypes, ConfigMaps and observed facts
(Services with clusterIP or ingress, Pods with network-status). The output is a Kubernetes
``List``: desired Pods, Services, ConfigMaps, then the status of every DataFlow, FunctionChain
and FunctionType. Exit status 2 if any of them is in Error (each printed to stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from kasugai.adapters.files import Loaded, load_objects, write_objects
from kasugai.adapters.journal import JournalWriter
from kasugai.commands.common import (
    add_filename_option,
    add_plan_options,
    plan_options,
    report_errors,
)
from kasugai.core.engine import Engine
from kasugai.core.options import PlanOptions

log = structlog.get_logger("kasugai.plan")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan", help="print the desired objects and statuses for some files"
    )
    add_filename_option(parser, "file or directory (recursive) of YAML/JSON objects; repeatable")
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    parser.add_argument(
        "--journal", metavar="FILE", help="also append the events and decisions to FILE"
    )
    add_plan_options(parser)
    parser.set_defaults(func=run)


def planned(
    paths: Sequence[str], options: PlanOptions, journal: str | None = None
) -> tuple[Engine, list[Loaded]]:
    """The engine after planning the objects in ``paths``, and those objects (``kasugai graph``
    draws the same plan from the engine's status objects)."""
    loaded = load_objects(paths)
    engine = Engine(options)
    events = [item.event for item in loaded]
    if journal:
        with JournalWriter(journal) as writer:
            for event in events:
                writer.apply(engine, event)
    else:
        engine.apply_all(events)
    log.info("planned", objects=len(loaded), dataflows=len(engine.plans()))
    return engine, loaded


def run(args: argparse.Namespace) -> int:
    engine, loaded = planned(args.filename, plan_options(args), args.journal)
    write_objects(engine.desired() + engine.status_objects(), args.output, sys.stdout)
    return 2 if report_errors(engine, loaded) else 0
