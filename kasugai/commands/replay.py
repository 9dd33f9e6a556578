"""``kasugai replay JOURNAL``: re-run the core over a journal and check every decision.

Each recorded event is applied to a fresh engine, one at a time, as the writer did; the
decisions it produces are compared with the ``Transitioned`` lines recorded after that event.
Every decision is printed (``=`` same, ``-`` recorded only, ``+`` replayed only); the exit status
is 1 if any differs, 0 if all match, 2 if the journal cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kasugai.adapters.journal import read_journal
from kasugai.commands.common import add_plan_options, plan_options
from kasugai.core.engine import Engine
from kasugai.core.events import Event, Transitioned


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay", help="re-run the core over a journal and compare its decisions"
    )
    parser.add_argument("journal", metavar="JOURNAL", help="JSON-lines journal file")
    add_plan_options(parser)
    parser.set_defaults(func=run)


def describe(decision: Transitioned) -> str:
    subject = f" {decision.subject}" if decision.subject else ""
    return (
        f"{decision.machine} {decision.object.namespace}/{decision.object.name}{subject}: "
        f"{decision.from_state or 'New'} -> {decision.to_state} ({decision.reason}) "
        f"{decision.message}"
    )


def _steps(events: list[Event]) -> list[tuple[Event, list[Transitioned]]]:
    """Each applied event with the decisions recorded after it."""
    steps: list[tuple[Event, list[Transitioned]]] = []
    for event in events:
        if isinstance(event, Transitioned):
            if steps:
                steps[-1][1].append(event)
        else:
            steps.append((event, []))
    return steps


def run(args: argparse.Namespace) -> int:
    events = [event for _, event in read_journal(args.journal)]
    engine = Engine(plan_options(args))
    differences = 0
    for event, recorded in _steps(events):
        replayed = list(engine.apply(event).transitions)
        for decision in recorded:
            if decision in replayed:
                replayed.remove(decision)
                print(f"= {describe(decision)}")
            else:
                differences += 1
                print(f"- {describe(decision)}")
        for decision in replayed:
            differences += 1
            print(f"+ {describe(decision)}")
    print(
        f"{differences} decision(s) differ" if differences else "every decision reproduced",
        file=sys.stderr,
    )
    return 1 if differences else 0
