"""What several benchmarks compute for their figures: latency percentiles, resident memory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def percentile(values: Iterable[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values``: ``fraction`` 0.5 is the median, 0.99 the p99."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def memory_mib(pid: int) -> dict[str, float]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak) of a running process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # /proc reports kB
    return fields
