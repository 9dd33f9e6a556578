"""The pure core: events in, desired objects, statuses and lifecycle decisions out.

Nothing here performs I/O, reads a clock, starts a thread or imports an adapter, the kubernetes
client, grpc or watchfiles; ``tests/core/test_purity.py`` enforces it. Adapters (the kube
controller, the local runtime, the CLI) feed events and apply what comes out.

Modules, by job:

* ``events``: ``ObjectKey``, ``Observed``, ``Forgotten``, ``Transitioned``; JSON for the journal.
* ``world``: the immutable ``World``, ``fold`` / ``fold_all``, ``concerned`` (which DataFlows,
  chains and types an event touches).
* ``engine``: ``Engine`` (``apply``, ``apply_all`` -> ``Changes``; ``desired``, ``plan_of``,
  ``status_of``, ``status_objects``), the incremental driver adapters use.
* ``plan``: ``plan_dataflow`` -> ``DataFlowPlan`` (Pods, Services, ConfigMaps, status,
  connections), ``plan_status`` for FunctionChains / FunctionTypes, ``status_object``.
* ``diff``: ``diff(desired, actual)`` -> ``[Action]`` (create, patch, replace, delete).
* ``facts``: ``observed_service`` / ``observed_pod`` for adapters that play the cluster.
* ``lifecycle``: the DataFlow and connection state machines (``transitions``) and their
  per-DataFlow, per-connection models.
* ``options``: ``PlanOptions`` (MetalLB pool, SR-IOV and GPU resource names).
* Internals of planning: ``parse``, ``convert``, ``model``, ``resolve``, ``pods``, ``services``,
  ``connections``, ``status``, ``names``, ``inventory``.

Conditions carry no ``lastTransitionTime`` (no clock here): adapters stamp it when they write.
Desired objects and event bodies are read-only: plans share nested values with each other and
with the World.

This package imports none of its modules itself: importing one (``kasugai.core.bounded``, say,
from a function reading its config) loads that module and what it needs, not the planner.
"""
