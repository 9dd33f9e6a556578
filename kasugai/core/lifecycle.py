"""Lifecycle machines: where each DataFlow and each of its connections stands, and how it moves.

Two ``transitions`` machines, built once, hold the rules: which states exist, which triggers
lead from one to another, and the guard of a move that needs more than a state. Every DataFlow
has a model (a ``DataFlowLifecycle``, a plain object), and so does each of its connections
(``ConnectionLifecycle``). When the engine re-plans a DataFlow, the plan is the world's verdict
on it (``dataflow_state`` picks its state from the facts, the planner picks each connection's
state and address), and the engine hands that verdict to the models with ``advance``. The
trigger the facts call for is the one the machine has from the model's state to the verdict (its
name says where the subject comes from: ``Resolved``, ``Reconfiguring`` and ``Recovering`` all
lead to ``Deploying``); it is fired on the model, the machine checks its guard (``Rewired``
needs an address other than the one published), moves the model, and its ``after`` callback
records the move as a ``Transitioned`` event whose ``reason`` is the trigger name. Adapters turn
that into a Kubernetes Event and a log line.

A move the machine does not have is not taken: the subject stays where it is. ``Terminating``
is a final state (no trigger leaves it); ``New`` is the state before the first pass. No DataFlow
trigger leads from a state to itself: a verdict equal to the current state is no move.

The machines follow the library's documented pattern for many models: one machine per kind,
built with ``model=None`` and never told about the models; a trigger is fired with
``machine.events[name].trigger(model, ...)``. Binding every trigger onto every model
(``add_model``) costs more than planning a DataFlow, and a model needs nothing from the machine
between passes but its ``state`` attribute; a model that goes is simply dropped. The untyped
part of ``transitions`` (event data, callbacks) stays in this module.

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
"""

from __future__ import annotations

from typing import Any, cast

from transitions import EventData, Machine, Transition

from kasugai.core.events import ObjectKey, Transitioned

__all__ = [
    "CONNECTION_MACHINE",
    "CONNECTION_STATES",
    "DATAFLOW_MACHINE",
    "DATAFLOW_STATES",
    "ConnectionLifecycle",
    "DataFlowLifecycle",
    "allowed_moves",
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

_ALIVE = (NEW, PENDING, ERROR, DEPLOYING, DEPLOYED, DEGRADED)


def _readdressed(event: EventData) -> bool:
    """Guard of ``Rewired``: the next function's address is not the one last published."""
    return bool(event.kwargs["destination"] != cast(ConnectionLifecycle, event.model).destination)


def _remember_address(event: EventData) -> None:
    """After a connection's move: the address it now points to (empty unless Published)."""
    cast(ConnectionLifecycle, event.model).destination = event.kwargs["destination"]


def _record(event: EventData) -> None:
    """After every move: the decision, as the ``Transitioned`` event the engine reports."""
    model = cast(Lifecycle, event.model)
    transition = _transition(event)
    source = str(transition.source)
    event.kwargs["decisions"].append(
        Transitioned(
            model.key,
            model.MACHINE,
            model.subject,
            None if source == NEW else source,
            str(transition.dest),
            str(event.event.name if event.event else ""),
            event.kwargs["message"],
        )
    )


def _transition(event: EventData) -> Transition:
    assert event.transition is not None  # transitions sets it before any guard or callback
    return event.transition


def _moves(trigger: str, sources: tuple[str, ...], dest: str) -> dict[str, Any]:
    """A trigger from ``sources`` to ``dest``, never from ``dest`` itself (no move in place)."""
    return {"trigger": trigger, "source": [s for s in sources if s != dest], "dest": dest}


DATAFLOW_MACHINE = Machine(
    model=None,
    states=[
        NEW,
        PENDING,
        ERROR,
        DEPLOYING,
        DEPLOYED,
        DEGRADED,
        {"name": TERMINATING, "final": True},
    ],
    initial=NEW,
    auto_transitions=False,
    send_event=True,
    after_state_change=_record,
    transitions=[
        _moves("InputsMissing", _ALIVE, PENDING),
        _moves("InvalidInput", _ALIVE, ERROR),
        _moves("Resolved", (NEW, PENDING, ERROR), DEPLOYING),
        _moves("Reconfiguring", (DEPLOYED,), DEPLOYING),
        _moves("Recovering", (DEGRADED,), DEPLOYING),
        _moves("AllReady", _ALIVE, DEPLOYED),
        _moves("FunctionFailed", _ALIVE, DEGRADED),
        _moves("Deleted", _ALIVE, TERMINATING),
    ],
)

CONNECTION_MACHINE = Machine(
    model=None,
    states=[NEW, *CONNECTION_STATES],
    initial=NEW,
    auto_transitions=False,
    send_event=True,
    after_state_change=[_remember_address, _record],
    transitions=[
        _moves("AwaitingAddress", (NEW, STALE, PUBLISHED), WAITING),
        _moves("AddressKnown", (NEW, WAITING, STALE, REWIRING), PUBLISHED),
        _moves("NextHopNotReady", (NEW, PUBLISHED, STALE), REWIRING),
        {
            "trigger": "Rewired",
            "source": PUBLISHED,
            "dest": PUBLISHED,
            "conditions": _readdressed,
        },
        _moves("AddressLost", (NEW, PUBLISHED, WAITING, REWIRING), STALE),
    ],
)


def _triggers(machine: Machine) -> dict[tuple[str, str], str]:
    """(state, verdict) -> the trigger the facts call for: the first one ``machine`` has from
    ``state`` to ``verdict``. Read from the machine once, not on each of the many re-plans."""
    table: dict[tuple[str, str], str] = {}
    for name, event in machine.events.items():
        for source, moves in event.transitions.items():
            for move in moves:
                table.setdefault((source, str(move.dest)), name)
    return table


_DATAFLOW_TRIGGERS = _triggers(DATAFLOW_MACHINE)
_CONNECTION_TRIGGERS = _triggers(CONNECTION_MACHINE)


def _advance(
    machine: Machine,
    triggers: dict[tuple[str, str], str],
    model: Lifecycle,
    verdict: str,
    **facts: Any,
) -> list[Transitioned]:
    """Fire on ``model`` the trigger that leads to ``verdict``, if the machine has one; the
    decision its ``after`` callback recorded (none if no move was taken)."""
    decisions: list[Transitioned] = []
    trigger = triggers.get((model.state, verdict))
    if trigger is not None:
        machine.events[trigger].trigger(model, decisions=decisions, **facts)
    return decisions


class DataFlowLifecycle:
    """One DataFlow's model in ``DATAFLOW_MACHINE``, and the models of its connections."""

    MACHINE = "DataFlow"
    __slots__ = ("connections", "key", "state")
    subject = ""

    def __init__(self, key: ObjectKey) -> None:
        self.key = key
        self.state = NEW  # the machine's attribute: set by transitions on every move
        self.connections: dict[str, ConnectionLifecycle] = {}

    def advance(self, verdict: str, message: str) -> list[Transitioned]:
        """Move toward the state the facts put the DataFlow in, if the machine allows it."""
        return _advance(DATAFLOW_MACHINE, _DATAFLOW_TRIGGERS, self, verdict, message=message)

    def connection(self, subject: str) -> ConnectionLifecycle:
        """The model of one of its connections (a new one starts in ``New``)."""
        found = self.connections.get(subject)
        return found if found is not None else ConnectionLifecycle(self.key, subject)


class ConnectionLifecycle:
    """One connection's model in ``CONNECTION_MACHINE``: its state and last published address."""

    MACHINE = "Connection"
    __slots__ = ("destination", "key", "state", "subject")

    def __init__(self, key: ObjectKey, subject: str) -> None:
        self.key = key
        self.subject = subject
        self.state = NEW
        self.destination = ""

    def advance(self, verdict: str, destination: str, message: str) -> list[Transitioned]:
        """Move toward the connection's planned state (and address), if the machine allows it."""
        return _advance(
            CONNECTION_MACHINE,
            _CONNECTION_TRIGGERS,
            self,
            verdict,
            destination=destination,
            message=message,
        )


Lifecycle = DataFlowLifecycle | ConnectionLifecycle


def allowed_moves(machine: Machine) -> frozenset[tuple[str, str, str]]:
    """Every (source, trigger, destination) ``machine`` has, read from the machine itself."""
    return frozenset(
        (source, name, str(transition.dest))
        for name, event in machine.events.items()
        for source, transitions in event.transitions.items()
        for transition in transitions
    )


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
