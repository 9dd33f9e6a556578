"""A snapshot of the host state a node tier may touch, read before and after it, and the
difference: :class:`HostSnapshot`.

It reads everything of each kind (every sysctl, every iptables chain and rule, every mount,
cgroup, interface and the files of the folders the kubelet and CNI use outside the tier's own),
not only what the tier is known to change, so that an unexpected leftover shows too. Two things
are left out, each said where it is: values the kernel changes by itself (counters, random
numbers), and the objects of podman, which other work on this machine may run at the same time
(its chains, bridges and mounts have names of its own, which the tier never uses).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import attrs

from kasugai.testing.node.host import (
    POD_CGROUP,
    cgroup_hierarchies,
    cgroup_procs,
    iptables_chains,
    iptables_rules,
    mount_points,
    process_cmdline,
)

# Sysctls the kernel changes on its own, not state anybody set.
_VOLATILE_SYSCTLS = re.compile(
    r"^(kernel\.random\.|kernel\.ns_last_pid$|kernel\.pty\.nr$|kernel\.tainted$|"
    r"fs\.(dentry-state|inode-nr|inode-state|file-nr|aio-nr|quota\.)|"
    r"net\.netfilter\.nf_conntrack_count$|net\.netfilter\.nf_conntrack_buckets$|"
    r"net\.ipv4\.tcp_(mem|rmem|wmem)$|"
    r"kernel\.sched_domain\.|vm\.stat_refresh$|vm\.drop_caches$|kernel\.sched_rt_)"
)
_FORWARDING = re.compile(r"^net\.ipv4\.ip_forward$|^net\.ipv[46]\.conf\.[^.]+\.forwarding$")
# Other tools' objects, by their own names: podman and buildah (netavark or CNI), mmdebstrap.
_FOREIGN = re.compile(
    r"NETAVARK|CNI-|podman|netns-|libpod|buildah|mmdebstrap|"
    r"/var/lib/containers|/run/containers|/var/tmp/"
)
# Folders outside the tier's own where the kubelet, containerd and CNI write regardless.
WATCHED_FOLDERS = (
    Path("/var/lib/kubelet"),
    Path("/var/log/containers"),
    Path("/var/log/pods"),
    Path("/var/lib/cni"),
    Path("/run/containerd"),
    Path("/run/netns"),
    Path("/etc/cni"),
)


@attrs.frozen
class HostSnapshot:
    sysctls: dict[str, str]
    iptables: frozenset[str]  # chains and rules
    mounts: Counter[str]
    cgroups: frozenset[str]
    interfaces: dict[str, str]  # name -> master ("" when none)
    processes: dict[int, str]  # the tier's: pid -> command line
    files: frozenset[str]
    foreign_bridges: frozenset[str] = frozenset()  # podman's, which turn on forwarding

    @classmethod
    def read(cls, marker: Path) -> HostSnapshot:
        """Read the host now. ``marker`` is the tier's folder: a process naming it on its
        command line, or in a Pod cgroup, is the tier's."""
        return cls(
            sysctls=_sysctls(),
            iptables=frozenset(
                line for line in iptables_chains() | iptables_rules() if not _FOREIGN.search(line)
            ),
            mounts=Counter(p for p in mount_points() if not _FOREIGN.search(p)),
            cgroups=frozenset(_cgroups()),
            interfaces=_interfaces(),
            processes=_tier_processes(marker),
            files=frozenset(_files()),
            foreign_bridges=frozenset(
                p.parent.name
                for p in Path("/sys/class/net").glob("*/bridge")
                if _FOREIGN.search(p.parent.name)
            ),
        )

    def differences(self, after: HostSnapshot) -> list[str]:
        """What changed from this snapshot to ``after``, one line each; empty when nothing."""
        lines = []
        both = set(self.interfaces) & set(after.interfaces)
        before_sysctls = _common_interfaces_only(self.sysctls, both)
        after_sysctls = _common_interfaces_only(after.sysctls, both)
        # A podman network made meanwhile turns on forwarding host-wide (its CNI bridge plugin
        # does); the tier never does (it forwards on its own bridge only).
        podman_started = bool(after.foreign_bridges - self.foreign_bridges)
        for name in sorted(set(before_sysctls) | set(after_sysctls)):
            was, now = before_sysctls.get(name), after_sysctls.get(name)
            if podman_started and _FORWARDING.match(name):
                continue
            if was != now:
                lines.append(f"sysctl {name}: {was} -> {now}")
        lines += _set_changes("iptables", self.iptables, after.iptables)
        lines += _set_changes("mount", set(self.mounts.elements()), set(after.mounts.elements()))
        for point in sorted(set(self.mounts) | set(after.mounts)):
            if point in self.mounts and self.mounts[point] != after.mounts[point]:
                lines.append(f"mount {point}: {self.mounts[point]} -> {after.mounts[point]} times")
        lines += _set_changes("cgroup", self.cgroups, after.cgroups)
        lines += _set_changes(
            "interface",
            {f"{n} (master {m or '-'})" for n, m in self.interfaces.items()},
            {f"{n} (master {m or '-'})" for n, m in after.interfaces.items()},
        )
        lines += _set_changes(
            "process",
            {f"{p} {c}" for p, c in self.processes.items()},
            {f"{p} {c}" for p, c in after.processes.items()},
        )
        lines += _set_changes("file", self.files, after.files)
        return lines


def _sysctls() -> dict[str, str]:
    values = {}
    for folder, _dirs, files in os.walk("/proc/sys"):
        for file in files:
            path = Path(folder) / file
            name = str(path.relative_to("/proc/sys")).replace("/", ".")
            if _VOLATILE_SYSCTLS.match(name):
                continue
            try:
                values[name] = " ".join(path.read_text().split())
            except OSError:  # write-only, or not readable here
                continue
    return values


def _common_interfaces_only(sysctls: dict[str, str], interfaces: set[str]) -> dict[str, str]:
    """Per-interface sysctls (net.ipv4.conf.IF.*) come and go with their interface, which the
    interface comparison already reports."""
    kept = {}
    for name, value in sysctls.items():
        parts = name.split(".")
        if (
            len(parts) > 3
            and parts[0] == "net"
            and parts[2] in ("conf", "neigh")
            and parts[3] not in ("all", "default")
            and parts[3] not in interfaces
        ):
            continue
        kept[name] = value
    return kept


def _cgroups() -> set[str]:
    """Each hierarchy's top-level cgroups (where the kubelet makes kubepods), and everything
    below kubepods."""
    found = set()
    for hierarchy in cgroup_hierarchies():
        for child in hierarchy.iterdir():
            if child.is_dir() and not _FOREIGN.search(child.name):
                found.add(f"{hierarchy.name}/{child.name}")
        for folder, _dirs, _files in os.walk(hierarchy / POD_CGROUP):
            found.add(f"{hierarchy.name}/{Path(folder).relative_to(hierarchy)}")
    return found


def _interfaces() -> dict[str, str]:
    interfaces = {}
    for link in Path("/sys/class/net").iterdir():
        master = link / "master"
        master_name = master.resolve().name if master.exists() else ""
        if _FOREIGN.search(link.name) or _FOREIGN.search(master_name):
            continue
        interfaces[link.name] = master_name
    return interfaces


def _tier_processes(marker: Path) -> dict[int, str]:
    in_pods: set[int] = set()
    for hierarchy in cgroup_hierarchies():
        in_pods |= cgroup_procs(hierarchy / POD_CGROUP)
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        cmdline = process_cmdline(pid)
        if pid in in_pods or f"{marker}/" in cmdline:
            found[pid] = cmdline
    return found


def _files() -> set[str]:
    found = set()
    for top in WATCHED_FOLDERS:
        if top.exists():
            found.add(str(top))
        for folder, dirs, files in os.walk(top):
            for name in [*dirs, *files]:
                path = f"{folder}/{name}"
                if not _FOREIGN.search(path):
                    found.add(path)
    return found


def _set_changes(
    kind: str, before: set[str] | frozenset[str], after: set[str] | frozenset[str]
) -> list[str]:
    return [f"{kind} left behind: {x}" for x in sorted(after - before)] + [
        f"{kind} gone: {x}" for x in sorted(before - after)
    ]
