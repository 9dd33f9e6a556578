"""The calcapp function's Prometheus metrics (docs/operations.md lists them), in its own registry.

Names and labels are a contract: ``kasugai graph`` and the live page scrape them. The label
children are bound once, so counting a request is a few attribute lookups and no label hashing.
Every ``status`` child exists from the start (at 0), so a scrape shows the whole set.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, Info

from kasugai_functions.calc.operator_pb2 import OK, OperateResponseStatus

__all__ = ["CalcMetrics"]

_STATUSES = ("OK", "NG")


class CalcMetrics:
    """Counters and histograms of one function; ``forwards``: False for the receiver."""

    def __init__(self, forwards: bool) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kasugai_function_requests", "Operate calls received", registry=self.registry
        )
        replies = Counter(
            "kasugai_function_replies",
            "Replies sent, by status",
            ["status"],
            registry=self.registry,
        )
        self._replies = {status: replies.labels(status) for status in _STATUSES}
        self.handling = Histogram(
            "kasugai_function_handling_seconds",
            "From receiving a request to replying",
            registry=self.registry,
        )
        self._next_hop = Info(
            "kasugai_function_next_hop",
            'Where this function forwards to ("" when it does not)',
            registry=self.registry,
        )
        self.set_next_hop("")
        self._forwards: dict[str, Counter] = {}
        self.forwarding: Histogram | None = None
        if forwards:
            counter = Counter(
                "kasugai_function_forwards",
                "Forwards to the next hop, by outcome (NG too when there is no next hop)",
                ["status"],
                registry=self.registry,
            )
            self._forwards = {status: counter.labels(status) for status in _STATUSES}
            self.forwarding = Histogram(
                "kasugai_function_forwarding_seconds",
                "The forward call to the next hop alone",
                registry=self.registry,
            )

    def replied(self, status: OperateResponseStatus, started: float, now: float) -> None:
        self._replies["OK" if status == OK else "NG"].inc()
        self.handling.observe(now - started)

    def forwarded(self, ok: bool, seconds: float) -> None:
        self._forwards["OK" if ok else "NG"].inc()
        assert self.forwarding is not None  # only forwarding functions forward
        self.forwarding.observe(seconds)

    def set_next_hop(self, address: str) -> None:
        self._next_hop.info({"address": address})
