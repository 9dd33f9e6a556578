"""The wrapper's /metrics: its own pipeline counts, plus what its pipeline serves, if anything.

The wrapper holds the Pod's metrics port (9464) for its whole life, since pipelines come and go
with every reload. It hands its pipeline a private port in ``KASUGAI_METRICS_PORT``; a pipeline
with metrics of its own (``kasugai-infer``: frames in, out, latency) serves them there, and each
scrape of the wrapper fetches them and passes them on. A gst-launch pipeline ignores the variable
(no frame passes through Python there), and a scrape shows the wrapper's counts alone.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

__all__ = ["PipelineMetrics", "private_port"]

FETCH_TIMEOUT_SECONDS = 2.0
MAX_BODY_BYTES = 1 << 20  # a pipeline's metrics are a few kB; more is not passed on


def private_port(host: str) -> int:
    """A port of ``host`` that is free now, for the pipeline's own /metrics."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _PipelineCollector(Collector):
    """The metric families the running pipeline serves at ``url`` (none when it serves none)."""

    def __init__(self, url: str) -> None:
        self._url = url

    def collect(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self._url, timeout=FETCH_TIMEOUT_SECONDS) as response:
                body = response.read(MAX_BODY_BYTES + 1)
        except OSError:
            return  # a gst-launch pipeline, or one that is (re)starting
        if len(body) > MAX_BODY_BYTES:
            return
        try:
            yield from text_string_to_metric_families(body.decode("utf-8"))
        except ValueError:
            return  # not Prometheus text: not ours to pass on


class PipelineMetrics:
    """The wrapper's registry: pipeline starts, plus the pipeline's own metrics at ``url``."""

    def __init__(self, pipeline_url: str) -> None:
        # No auto-describe: it would fetch from the pipeline at registration.
        self.registry = CollectorRegistry(auto_describe=False)
        self.starts = Counter(
            "kasugai_video_pipeline_starts",
            "Pipelines started: the first, after each config change, after each death",
            registry=self.registry,
        )
        self.registry.register(_PipelineCollector(pipeline_url))
