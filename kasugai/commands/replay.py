"""``kasugai replay JOURNAL``: re-run the core over a journal and check every decision.

Each recorded event is applied to an engine, one at a time, as the writer did (a fresh engine
with the recorded options at every session line; the command-line options serve a journal
without one); the decisions it produces are compared with those recorded after that event: the
``Transitioned`` moves of the lifecycle machines and, where the session recorded them, the
digests of the plans and statuses that changed. A recorded decision that does not follow from
the events before it (edited, added or removed) is a difference.
Every decision is printed (``=`` same, ``-`` recorded only, ``+`` replayed only); the exit status
is 1 if any differs, 0 if all match, 2 if the journal cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kasugai.adapters.journal import Entry, Planned, Session, Snapshot, decisions, read_journal
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


def describe(decision: Transitioned | Planned) -> str:
    if isinstance(decision, Planned):
        key = decision.object
        outcome = f"sha256:{decision.digest[:16]}" if decision.digest else "gone"
        return f"plan {key.kind} {key.namespace}/{key.name}: {outcome}"
    subject = f" {decision.subject}" if decision.subject else ""
    return (
        f"{decision.machine} {decision.object.namespace}/{decision.object.name}{subject}: "
        f"{decision.from_state or 'New'} -> {decision.to_state} ({decision.reason}) "
        f"{decision.message}"
    )


Step = tuple[Event | Session | Snapshot, list[Transitioned | Planned]]


def _steps(entries: list[Entry]) -> list[Step]:
    """Each session start or applied event, with the decisions recorded after it."""
    steps: list[Step] = []
    for entry in entries:
        if isinstance(entry, Transitioned | Planned):
            if steps:
                steps[-1][1].append(entry)
        else:
            steps.append((entry, []))
    return steps


def run(args: argparse.Namespace) -> int:
    entries = [entry for _, entry in read_journal(args.journal)]
    engine = Engine(plan_options(args))
    plans_recorded = False
    differences = 0
    for entry, recorded in _steps(entries):
        replayed: list[Transitioned | Planned] = []
        if isinstance(entry, Session):
            engine = Engine(entry.options)
            plans_recorded = entry.plans
        elif isinstance(entry, Snapshot):  # the world a rotated journal starts from
            engine.apply(entry.event)
            continue
        else:
            replayed = decisions(engine.apply(entry))
            if not plans_recorded:  # a journal from before plans were recorded
                replayed = [d for d in replayed if isinstance(d, Transitioned)]
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
