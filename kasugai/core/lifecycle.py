"""Lifecycle rules: the states of a DataFlow and of a connection, and the moves between them.

The state is derived from the world on every pass (level-triggered: ``dataflow_state`` and the
connection states computed by the planner); the machines, defined with ``transitions``, say
which moves exist and name them. Each move the engine sees becomes a ``Transitioned`` event
(whose ``reason`` is the trigger name), which adapters turn into a Kubernetes Event and a log
line. A move the machine does not allow is not taken: the subject stays where it is (the only
such moves leave ``Terminating``, which is final). ``New`` is the state before the first pass.

DataFlow states:
  Pending      an input (FunctionChain, FunctionType, functioninfo, config, user requirement) is
               missing; the DataFlow waits for it.
  Error        an input is invalid; a user must fix it.
  Deploying    planned; some Pod is not observed yet or some connection waits for an address.
  Deployed     every Pod exists and every connection is published.
  Degraded     a Pod failed (phase Failed, Succeeded or Unknown) or a connection is Stale.
  Terminating  the DataFlow is being deleted.
Connection states:
  Waiting      the next function's address is unknown and nothing was published yet.
  Published    the source's ConfigMap carries the next function's current address.
  Stale        the address is unknown now; the last published ConfigMap content is kept.
  Rewiring     the next function changed and is not ready yet (its Pod Ready, its own next hop
               loaded); the last published ConfigMap content is kept until it is
               (make before break, ``rewiring``).

The machines are built once; only their transition tables are consulted per pass (building a
``transitions`` model per object per pass would cost more than planning it).
"""

from __future__ import annotations

from transitions import Machine

__all__ = [
    "CONNECTION_STATES",
    "DATAFLOW_STATES",
    "connection_move",
    "dataflow_move",
    "dataflow_state",
]

NEW = "New"
PENDING, ERROR, DEPLOYING, DEPLOYED, DEGRADED, TERMINATING = (
    "Pending",
    "Error",
    "Deploying",
    "Deployed",
    "Degraded",
    "Terminating",
)
DATAFLOW_STATES = (PENDING, ERROR, DEPLOYING, DEPLOYED, DEGRADED, TERMINATING)
WAITING, PUBLISHED, STALE, REWIRING = "Waiting", "Published", "Stale", "Rewiring"
CONNECTION_STATES = (WAITING, PUBLISHED, STALE, REWIRING)

_ALIVE = [NEW, PENDING, ERROR, DEPLOYING, DEPLOYED, DEGRADED]

_DATAFLOW_MACHINE = Machine(
    states=[NEW, *DATAFLOW_STATES],
    initial=NEW,
    auto_transitions=False,
    transitions=[
        {"trigger": "InputsMissing", "source": _ALIVE, "dest": PENDING},
        {"trigger": "InvalidInput", "source": _ALIVE, "dest": ERROR},
        {"trigger": "Resolved", "source": [NEW, PENDING, ERROR], "dest": DEPLOYING},
        {"trigger": "Reconfiguring", "source": DEPLOYED, "dest": DEPLOYING},
        {"trigger": "Recovering", "source": DEGRADED, "dest": DEPLOYING},
        {"trigger": "AllReady", "source": _ALIVE, "dest": DEPLOYED},
        {"trigger": "FunctionFailed", "source": _ALIVE, "dest": DEGRADED},
        {"trigger": "Deleted", "source": _ALIVE, "dest": TERMINATING},
    ],
)

_CONNECTION_MACHINE = Machine(
    states=[NEW, *CONNECTION_STATES],
    initial=NEW,
    auto_transitions=False,
    transitions=[
        {"trigger": "AwaitingAddress", "source": [NEW, STALE, PUBLISHED], "dest": WAITING},
        {"trigger": "AddressKnown", "source": [NEW, WAITING, STALE, REWIRING], "dest": PUBLISHED},
        {"trigger": "NextHopNotReady", "source": [NEW, PUBLISHED, STALE], "dest": REWIRING},
        {"trigger": "Rewired", "source": PUBLISHED, "dest": PUBLISHED},
        {"trigger": "AddressLost", "source": [NEW, PUBLISHED, WAITING, REWIRING], "dest": STALE},
    ],
)


def _table(machine: Machine) -> dict[tuple[str, str], str]:
    """(source, dest) -> trigger name, read from the machine's events."""
    table: dict[tuple[str, str], str] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                table[(source, str(transition.dest))] = trigger
    return table


_DATAFLOW_MOVES = _table(_DATAFLOW_MACHINE)
_CONNECTION_MOVES = _table(_CONNECTION_MACHINE)


def dataflow_move(source: str | None, dest: str) -> str | None:
    """The trigger taking a DataFlow from ``source`` (None: first pass) to ``dest``, if any."""
    return _DATAFLOW_MOVES.get((source or NEW, dest))


def connection_move(source: str | None, dest: str) -> str | None:
    """The trigger taking a connection from ``source`` to ``dest`` (same state: ``Rewired``)."""
    return _CONNECTION_MOVES.get((source or NEW, dest))


def dataflow_state(
    *,
    deleting: bool,
    invalid: bool,
    waiting: bool,
    pods_failed: bool,
    connections_stale: bool,
    pods_missing: bool,
    connections_waiting: bool,
) -> str:
    """The state the world puts a DataFlow in; the first matching rule wins."""
    if deleting:
        return TERMINATING
    if invalid:
        return ERROR
    if waiting:
        return PENDING
    if pods_failed or connections_stale:
        return DEGRADED
    if pods_missing or connections_waiting:
        return DEPLOYING
    return DEPLOYED
