"""Per-hop figures from the functions' own ``/metrics``: totals, and rates between two scrapes.

A function exports ``kasugai_function_requests_total``, ``kasugai_function_replies_total{status}``,
``kasugai_function_handling_seconds`` and ``kasugai_function_next_hop_info`` (docs/operations.md).
A scrape that fails or returns something else leaves that function without figures: a page or a
graph then shows the chain without numbers for that hop, never an error. Bodies are read up to a
limit, because a function's address came from a status anyone in the namespace could have written.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import attrs
from prometheus_client.parser import text_string_to_metric_families

from kasugai.view.chain import HopFigures

__all__ = ["METRICS_PORT", "Counts", "HopSampler", "metrics_url", "parse_counts", "scrape"]

METRICS_PORT = 9464  # every kasugai function serves /metrics here unless told otherwise
_MAX_BODY = 1 << 20
_TIMEOUT_SECONDS = 1.0


@attrs.frozen
class Counts:
    """The counters of one scrape of one function."""

    requests: float = 0.0
    errors: float = 0.0  # replies with status NG
    latency_sum: float = 0.0
    latency_count: float = 0.0
    next_hop: str = ""


def parse_counts(text: str) -> Counts | None:
    """The counters in a Prometheus text body; None if it has none of a function's metrics."""
    found: dict[str, float] = {}
    next_hop = ""
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                name, labels = sample.name, sample.labels
                if name == "kasugai_function_requests_total":
                    found["requests"] = sample.value
                elif name == "kasugai_function_replies_total" and labels.get("status") == "NG":
                    found["errors"] = sample.value
                elif name == "kasugai_function_handling_seconds_sum":
                    found["latency_sum"] = sample.value
                elif name == "kasugai_function_handling_seconds_count":
                    found["latency_count"] = sample.value
                elif name == "kasugai_function_next_hop_info":
                    next_hop = labels.get("address", "")
    except ValueError:  # not Prometheus text
        return None
    if "requests" not in found:
        return None
    return Counts(next_hop=next_hop, **found)


def metrics_url(address: str, port: int = METRICS_PORT) -> str | None:
    """The metrics URL of a function at ``address``, or None if unusable.

    ``address`` is an IP, or a status's function address as the core writes it,
    ``IP[,IP...]:PORT/PROTOCOL[,...]`` (its data ports), an IPv6 one possibly in brackets: the
    first IP is taken. Only an IP literal makes a URL, never a host name: the status may have
    been written by anyone.
    """
    if not address or len(address) > 256:
        return None
    ips = address.rsplit(":", 1)[0] if "/" in address else address  # ports hold no ":"
    first = ips.split(",")[0]
    if first.startswith("[") and first.endswith("]"):
        first = first[1:-1]
    try:
        ip = ipaddress.ip_address(first)
    except ValueError:
        return None
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"http://{host}:{port}/metrics"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A metrics endpoint that redirects is not one of ours: never follow it elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _fetch(url: str) -> Counts | None:
    try:
        with _opener.open(url, timeout=_TIMEOUT_SECONDS) as reply:
            body = reply.read(_MAX_BODY + 1)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    if len(body) > _MAX_BODY:
        return None
    return parse_counts(body.decode("utf-8", "replace"))


def scrape(urls: Mapping[str, str]) -> dict[str, Counts]:
    """Each function's counts, fetched in parallel; functions that did not answer are left out."""
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        results = dict(zip(urls, pool.map(_fetch, urls.values()), strict=True))
    return {key: counts for key, counts in results.items() if counts is not None}


@attrs.define
class HopSampler:
    """Turns successive scrapes into figures; rates need two samples of the same function."""

    clock: Callable[[], float]
    _last: dict[str, tuple[float, Counts]] = attrs.field(factory=dict)

    def figures(self, counts: Mapping[str, Counts]) -> dict[str, HopFigures]:
        now = self.clock()
        figures = {}
        for key, current in counts.items():
            previous = self._last.get(key)
            rate = error_rate = 0.0
            if previous is not None:
                elapsed = now - previous[0]
                before = previous[1]
                # A restarted function starts its counters again: no rate for that interval.
                if elapsed > 0 and current.requests >= before.requests:
                    rate = (current.requests - before.requests) / elapsed
                    error_rate = max(0.0, current.errors - before.errors) / elapsed
            mean = (
                current.latency_sum / current.latency_count * 1000
                if current.latency_count
                else None
            )
            figures[key] = HopFigures(
                requests_per_second=rate,
                errors_per_second=error_rate,
                requests_total=current.requests,
                errors_total=current.errors,
                mean_latency_ms=mean,
                next_hop=current.next_hop,
            )
        self._last = {k: (now, c) for k, c in counts.items()}
        return figures
