"""What several benchmarks compute for their figures: latency percentiles, resident and
proportional memory, CPU time of a process, and the environment line every benchmark prints."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def smaps_mib(pid: int) -> dict[str, float]:
    """``Rss`` and ``Pss`` (shared pages split between the processes that map them) of a running
    process, from ``/proc/<pid>/smaps_rollup``, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("Rss", "Pss"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a running process has used so far (``/proc/<pid>/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces: count the fields after its closing ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _CLOCK_TICKS


def environment() -> str:
    """CPU count, Python version and the load averages, for the head of a benchmark's output."""
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load}"
        " (a shared machine: other work runs beside the benchmark)"
    )
