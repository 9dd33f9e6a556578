"""The controller process: watches, the reconcile loop, leader election, probes; start to stop.

``Controller.run()`` wires the parts, runs until ``stop`` is set (SIGTERM), then shuts down in
the order that keeps the rules: the loop and the Event recorder stop writing first, then the
Lease is released (another replica takes over at once, and nothing is written after the
release), then the watches end. It returns the exit status: 0 after a clean stop, 1 when the
reconcile loop died of a bug (logged with its traceback; the probes report it meanwhile).

What is watched: DataFlows, FunctionChains and FunctionTypes, in every namespace or in the given
ones; the objects kasugai writes (Pods, Services, ConfigMaps, ServiceAccounts, Roles and
RoleBindings) only with kasugai's managed-by label; and, each by name, the ConfigMaps the world
refers to (config, functioninfo, user requirement: ``NamedWatches``). A ConfigMap nothing refers
to is never read.

Probes: ``/healthz`` says whether the process works (its reconcile loop runs), so that a
liveness probe never restarts a healthy controller during an API server outage; ``/readyz``
also says whether the watches are connected and have listed.

The live page of each DataFlow (``/``, ``/dataflows/<ns>/<name>``; read only, GET only) has a
server of its own, on loopback by default (``view_bind_address``): it shows every namespace's
DataFlows, so it is reached with ``kubectl port-forward`` (which needs ``pods/portforward`` in the
controller's namespace), not by any Pod that can reach the probes' port. It shows the DataFlows as
the watch delivers them (with the statuses the leader wrote), and the Events this replica
recorded.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Sequence

import attrs
import structlog

from kasugai.adapters.journal import JournalWriter
from kasugai.adapters.kube.access_checks import AccessChecks
from kasugai.adapters.kube.api import KubeApi, load_api_client
from kasugai.adapters.kube.leader import LeaseElector, LeaseTiming
from kasugai.adapters.kube.loop import LeaderChanged, Reconciler
from kasugai.adapters.kube.named_watches import NamedWatches
from kasugai.adapters.kube.observability import HealthServer, Metrics, parse_bind_address
from kasugai.adapters.kube.pacing import TokenBucket
from kasugai.adapters.kube.recorder import EventRecorder
from kasugai.adapters.kube.watchers import Delivery, Watcher, WatchTimeouts, watch_name
from kasugai.adapters.kube.writer import Writer
from kasugai.core import names
from kasugai.core.diff import Action
from kasugai.core.engine import Engine
from kasugai.core.events import Forgotten
from kasugai.core.options import PlanOptions
from kasugai.health_server import ProbeServer
from kasugai.view.page import Board, FigureSampler, mount_page
from kasugai.view.page.pod_hosts import PodHosts

__all__ = ["Controller", "ControllerSettings", "default_identity", "watched"]

log = structlog.get_logger("kasugai.controller")

INVENTORY_SELECTOR = f"{names.MANAGED_BY_LABEL}={names.MANAGER}"


def default_identity() -> str:
    """Unique per process, readable in the Lease: ``<hostname>_<random>`` as client-go does."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@attrs.frozen
class ControllerSettings:
    kubeconfig: str | None = None  # None: in-cluster
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    dry_run: bool = False
    journal: str | None = None
    leader_elect: bool = True
    lease_name: str = "kasugai-controller"
    lease_namespace: str = "kasugai-system"
    identity: str = attrs.field(factory=default_identity)
    metrics_bind_address: str = ":8080"
    write_qps: float = 50.0
    write_burst: int = 100
    max_named_watches: int = 1000
    watch_timeouts: WatchTimeouts = attrs.field(factory=WatchTimeouts)
    lease_timing: LeaseTiming = attrs.field(factory=LeaseTiming)
    plan_options: PlanOptions = attrs.field(factory=PlanOptions)
    view_bind_address: str = "127.0.0.1:8081"  # the live page; "": none


WRITTEN_KINDS = ("ConfigMap", "Pod", "Service", "ServiceAccount", "Role", "RoleBinding")


def watched(namespaces: tuple[str, ...]) -> list[tuple[str, str | None, str]]:
    """(kind, namespace or None for all, label selector) of every fixed watch."""
    scopes: list[str | None] = list(dict.fromkeys(namespaces)) or [None]
    found: list[tuple[str, str | None, str]] = []
    for kind in ("DataFlow", "FunctionChain", "FunctionType"):
        found.extend((kind, scope, "") for scope in scopes)
    for kind in WRITTEN_KINDS:
        found.extend((kind, scope, INVENTORY_SELECTOR) for scope in scopes)
    return found


class Controller:
    """One controller process's parts; ``run`` it once."""

    def __init__(
        self, settings: ControllerSettings, render: Callable[[Sequence[Action]], str]
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.api = KubeApi(load_api_client(settings.kubeconfig))
        self.stop = threading.Event()
        self.journal = JournalWriter(settings.journal) if settings.journal else None
        self.elector: LeaseElector | None = None
        may_write: Callable[[], bool] = lambda: True  # noqa: E731 - the Lease decides when electing
        if settings.leader_elect and not settings.dry_run:
            self.elector = LeaseElector(
                self.api,
                settings.lease_namespace,
                settings.lease_name,
                settings.identity,
                self.metrics,
                lambda leading: self.reconciler.queue.put(LeaderChanged(leading)),
                settings.lease_timing,
            )
            may_write = self.elector.is_leader
        elif not settings.dry_run:
            self.metrics.leader.set(1)
        writer = None
        if not settings.dry_run:
            bucket = TokenBucket(settings.write_qps, settings.write_burst)
            writer = Writer(self.api, self.metrics, bucket, may_write, self.stop)
        specs = watched(settings.namespaces)
        self.recorder = EventRecorder(writer, settings.identity, self.metrics)
        self.named = NamedWatches(
            self.api,
            lambda delivery: self.reconciler.queue.put(delivery),
            self.metrics,
            settings.watch_timeouts,
            limit=settings.max_named_watches,
        )
        # In a cluster, references across namespaces are followed only where allowed.
        options = attrs.evolve(settings.plan_options, check_access=True)
        self.reconciler = Reconciler(
            Engine(options),
            api=self.api,
            writer=writer,
            recorder=self.recorder,
            metrics=self.metrics,
            watches=[watch_name(kind, namespace) for kind, namespace, _ in specs],
            leader=may_write,
            render=render,
            journal=self.journal,
            named=self.named,
            access=AccessChecks(self.api),
        )
        self.watchers = [
            Watcher(
                self.api,
                kind,
                namespace,
                {"DataFlow": self._deliver, "Pod": self._deliver_pods}.get(
                    kind, self.reconciler.queue.put
                ),
                self.metrics,
                label_selector=selector,
                timeouts=settings.watch_timeouts,
            )
            for kind, namespace, selector in specs
        ]
        self.health = HealthServer(
            settings.metrics_bind_address, self.metrics, self.problems, self.unready
        )
        self.pod_hosts = PodHosts()
        self.board = Board(self.recorder.recent, hosts=self.pod_hosts.of)
        self.sampler = FigureSampler(self.board)
        self.view: ProbeServer | None = None
        if settings.view_bind_address:
            self.view = ProbeServer(*parse_bind_address(settings.view_bind_address), {}, "view")
            mount_page(self.view, self.board)
        self._loop = threading.Thread(target=self._run_loop, name="reconcile")

    def _deliver(self, delivery: Delivery) -> None:
        """DataFlow watch events: to the page's board, then to the reconcile loop."""
        for event in delivery.events:
            if isinstance(event, Forgotten):
                self.board.forget(event.namespace, event.name)
            else:
                self.board.observe(event.body)
        self.reconciler.queue.put(delivery)

    def _deliver_pods(self, delivery: Delivery) -> None:
        """Pod watch events: their IPs to the page's figures, then to the reconcile loop."""
        self.pod_hosts.see(delivery.events)
        self.reconciler.queue.put(delivery)

    def problems(self) -> list[str]:
        """What /healthz reports: whether the process works (its reconcile loop runs).

        Not the API connection: a restart would not bring the API server back.
        """
        return [] if self._loop.is_alive() or not self._loop.ident else ["reconcile loop: dead"]

    def unready(self) -> list[str]:
        """What /readyz reports: the problems, watches that are down or have not listed yet."""
        found = self.problems()
        found.extend(
            f"watch {w.name}: down ({w.state.reason}), {w.state.restarts} restart(s)"
            for w in [*self.watchers, *self.named.watchers]
            if w.state.restarts and not w.state.up
        )
        waiting = self.reconciler.waiting_for()
        if waiting:
            found.append(f"waiting for the first list of {', '.join(waiting)}")
        return found

    def run(self) -> int:
        """Until ``self.stop`` is set or the loop dies; the exit status."""
        settings = self.settings
        log.info(
            "controller starting",
            identity=settings.identity,
            namespaces=list(settings.namespaces) or "all",
            dry_run=settings.dry_run,
            leader_elect=self.elector is not None,
            journal=settings.journal,
        )
        self.health.start()
        if self.view is not None:
            self.view.start()
            host, port = self.view.address
            log.info("serving the live page", address=f"{host}:{port}", port=port)
            self.sampler.start()
        self.recorder.start()
        for watcher in self.watchers:
            watcher.start()
        if self.elector is not None:
            self.elector.start()
        self._loop.start()
        while not self.stop.wait(0.5):
            if not self._loop.is_alive():
                break
        return self._shutdown()

    def _run_loop(self) -> None:
        try:
            self.reconciler.run(self.stop)
        except Exception:
            log.exception("reconcile loop died")

    def _shutdown(self) -> int:
        failed = not self.stop.is_set()
        self.stop.set()
        self._loop.join(30)
        self.recorder.stop()
        if self.elector is not None:
            self.elector.stop()
        for watcher in self.watchers:
            watcher.stop()
        self.named.stop()
        for watcher in self.watchers:
            watcher.join(10)
        self.named.join(10)
        if self.journal is not None:
            self.journal.close()
        self.board.close()
        self.sampler.stop()
        if self.view is not None:
            self.view.stop()
        self.health.stop()
        log.info("controller stopped", clean=not failed)
        return 1 if failed else 0
