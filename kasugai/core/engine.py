"""The incremental engine: holds the World and the last plan of every DataFlow.

``Engine.apply(event)`` folds the event into the world, re-plans only the DataFlows (and the
FunctionChain / FunctionType statuses) the event concerns (``world.concerned``), and returns
the ``Changes``: plans that differ from the previous ones and the ``Transitioned`` decisions of
the lifecycle machines. Every DataFlow it plans has a model in the DataFlow machine (and one per
connection in the connection machine); each re-plan hands the plan's verdict to those models,
which move if their machine allows it and record the move. Adapters drive it: the kube adapter
with watch events, the local runtime with its own facts, ``kasugai plan`` with the objects of
some files, ``kasugai replay`` with a journal. The engine does no I/O; it is a plain object
owned by one thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kasugai.core import lifecycle
from kasugai.core.events import Event, Forgotten, ObjectKey, Observed, Transitioned
from kasugai.core.options import PlanOptions
from kasugai.core.plan import DataFlowPlan, StatusPlan, plan_dataflow, plan_status, status_object
from kasugai.core.world import Concern, World, concerned, fold_all

__all__ = ["Changes", "Engine"]


@attrs.frozen
class Changes:
    """What one ``apply`` changed.

    ``replanned``: every DataFlow planned again (changed or not). ``plans``: the new plans that
    differ from the previous ones. ``removed``: DataFlows that no longer exist. ``statuses``:
    FunctionChain / FunctionType statuses that changed (None: the object is gone).
    ``transitions``: lifecycle decisions, in order.
    """

    replanned: frozenset[ObjectKey] = frozenset()
    plans: Mapping[ObjectKey, DataFlowPlan] = attrs.field(factory=dict)
    removed: frozenset[ObjectKey] = frozenset()
    statuses: Mapping[ObjectKey, StatusPlan | None] = attrs.field(factory=dict)
    transitions: tuple[Transitioned, ...] = ()


class Engine:
    """World + last plans; feed it events, read desired objects and statuses."""

    def __init__(self, options: PlanOptions | None = None) -> None:
        self.options = options or PlanOptions()
        self._world = World()
        self._plans: dict[ObjectKey, DataFlowPlan] = {}
        self._lifecycles: dict[ObjectKey, lifecycle.DataFlowLifecycle] = {}
        self._statuses: dict[ObjectKey, StatusPlan] = {}

    @property
    def world(self) -> World:
        return self._world

    def apply(self, event: Event) -> Changes:
        """Fold one event and re-plan what it concerns."""
        return self.apply_all((event,))

    def preview(self, events: Iterable[Event]) -> World:
        """The world ``events`` would make, without taking them in."""
        return fold_all(self._world, events)

    def apply_all(self, events: Iterable[Event], folded: World | None = None) -> Changes:
        """Fold a batch of events (e.g. an initial list) and re-plan what any of them concerns.

        ``folded``: ``preview(events)`` if the caller made it already (folding parses bodies).
        """
        events = list(events)
        before = self._world
        after = folded if folded is not None else fold_all(before, events)
        self._world = after
        keys = {e.key for e in events if isinstance(e, Observed | Forgotten)}
        if not before.objects:  # first load: everything is concerned
            concern = Concern(
                frozenset(after.keys("DataFlow")),
                frozenset(after.keys("FunctionChain")),
                frozenset(after.keys("FunctionType")),
            )
        else:
            found = [concerned(before, after, key) for key in keys]
            concern = Concern(
                frozenset().union(*(c.dataflows for c in found)),
                frozenset().union(*(c.chains for c in found)),
                frozenset().union(*(c.types for c in found)),
            )
        return self._replan(concern)

    def _replan(self, concern: Concern) -> Changes:
        plans: dict[ObjectKey, DataFlowPlan] = {}
        removed = set()
        transitions: list[Transitioned] = []
        for key in sorted(concern.dataflows):
            plan = plan_dataflow(self._world, key, self.options)
            previous = self._plans.get(key)
            if plan is None:
                if previous is not None:
                    removed.add(key)
                    del self._plans[key]
                    gone = self._lifecycles.pop(key)
                    transitions.extend(gone.advance(lifecycle.TERMINATING, "deleted"))
                continue
            model = self._lifecycles.get(key)
            if model is None:
                model = self._lifecycles[key] = lifecycle.DataFlowLifecycle(key)
            transitions.extend(model.advance(plan.state, plan.message))
            transitions.extend(_connection_moves(model, plan))
            if plan != previous:
                plans[key] = plan
                self._plans[key] = plan
        statuses: dict[ObjectKey, StatusPlan | None] = {}
        for key in sorted(concern.chains | concern.types):
            status = plan_status(self._world, key, self.options)
            if status != self._statuses.get(key):
                statuses[key] = status
                if status is None:
                    self._statuses.pop(key, None)
                else:
                    self._statuses[key] = status
        return Changes(
            frozenset(concern.dataflows), plans, frozenset(removed), statuses, tuple(transitions)
        )

    def plan_of(self, key: ObjectKey) -> DataFlowPlan | None:
        return self._plans.get(key)

    def status_of(self, key: ObjectKey) -> StatusPlan | None:
        return self._statuses.get(key)

    def state_of(self, key: ObjectKey) -> str | None:
        """The lifecycle state of a DataFlow as its machine last accepted it (None: not planned)."""
        model = self._lifecycles.get(key)
        return model.state if model is not None else None

    def plans(self) -> list[DataFlowPlan]:
        return [self._plans[key] for key in sorted(self._plans)]

    def desired(self) -> list[dict[str, Any]]:
        """Every desired object: identities, Pods, Services, then ConfigMaps, by DataFlow."""
        plans = self.plans()
        return [
            obj
            for part in ("identities", "pods", "services", "configmaps")
            for plan in plans
            for obj in getattr(plan, part)
        ]

    def conflicting(self) -> frozenset[ObjectKey]:
        """Foreign objects some plan collides with (an adapter watches them by name, so that
        their removal is seen)."""
        return frozenset(key for plan in self._plans.values() for key in plan.conflicts)

    def status_objects(self) -> list[dict[str, Any]]:
        """The status of every DataFlow, then FunctionChain, then FunctionType, as objects."""
        objects = [status_object(plan.key, plan.status) for plan in self.plans()]
        for kind in ("FunctionChain", "FunctionType"):
            objects.extend(
                status_object(key, status.status)
                for key, status in sorted(self._statuses.items())
                if key.kind == kind
            )
        return objects


def _connection_moves(model: lifecycle.DataFlowLifecycle, plan: DataFlowPlan) -> list[Transitioned]:
    """Each planned connection's move; a connection the plan no longer has is forgotten (if it
    comes back, it starts from ``New``)."""
    moves = []
    kept = {}
    for connection in plan.connections:
        subject = connection.subject
        wire = kept[subject] = model.connection(subject)
        message = (
            f"-> {connection.destination}"
            if connection.state == lifecycle.PUBLISHED
            else connection.reason
        )
        moves += wire.advance(connection.state, connection.destination, message)
    model.connections = kept
    return moves
