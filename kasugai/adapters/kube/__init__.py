"""The Kubernetes adapter: the controller that runs the core against a real API server.

Split by job: ``api`` (kinds, plain-JSON requests), ``watchers`` (list + watch into core
events), ``loop`` (the one thread that owns the engine: diff, write, fold answers back),
``writer`` (Server-Side Apply, deletes, statuses, paced by ``pacing``), ``statuses``
(condition times), ``recorder`` (Kubernetes Events), ``leader`` (Lease election),
``observability`` (metrics, probes), ``controller`` (wiring and shutdown) and ``cluster_diff``
(``kasugai diff --cluster``). Import it lazily: it pulls in the ``kubernetes`` client, which
``kasugai plan`` does not need.
"""
