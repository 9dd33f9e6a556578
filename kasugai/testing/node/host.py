"""The host-wide state a node tier changes, read from the kernel, and put back.

A kubelet, kube-proxy, containerd and CNI plugins change more than their own folders: sysctls,
iptables chains, cgroups, mounts, a bridge and network namespaces, and containers outlive the
processes that started them. :class:`HostRecord` keeps on disk, before anything is changed, what
the tier will change and how it was; :func:`restore` undoes all of it from that record alone, so
it also cleans up after a run that was killed (the next start finds the record).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs
import cattrs

from kasugai.testing.node.configs import NETWORK_NAME

# Where the record lives: /run is emptied by a reboot, exactly like the state it describes.
STATE_DIR = Path("/run/kasugai-node")
RECORD = STATE_DIR / "tier.json"
LOCK = STATE_DIR / "lock"

# Host-wide sysctls the kubelet sets (its "kernel tunables"), and those kube-proxy and CNI may set
# (the tier's configuration asks them not to; they are put back all the same).
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.ipv6.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
# iptables chains of these prefixes belong to the tier: kube-proxy's and the kubelet's, and the
# tier's own guard. Other tools' chains (podman's, CNI's) are never touched.
OWNED_CHAIN_PREFIXES = ("KUBE-", "KASUGAI-")
IPTABLES = ("iptables", "ip6tables")
TABLES = ("filter", "nat", "mangle", "raw")
CGROUP_ROOT = Path("/sys/fs/cgroup")
POD_CGROUP = "kubepods"  # the kubelet's cgroup for Pods, under each hierarchy's root
# Files the daemons write outside the tier's folder whatever they are told: libcni's result
# cache, the kubelet's device-plugin socket and its log links, the containerd shims' sockets.
CNI_RESULTS = Path("/var/lib/cni/results")
DEVICE_PLUGINS = Path("/var/lib/kubelet/device-plugins")
CONTAINER_LOGS = Path("/var/log/containers")
SHIM_SOCKETS = Path("/run/containerd/s")
# Made by them when missing; removed again when the tier made them (and they are empty).
HOST_FOLDERS = (
    Path("/var/lib/cni"),
    CNI_RESULTS,
    Path("/var/lib/kubelet"),
    DEVICE_PLUGINS,
    CONTAINER_LOGS,
    Path("/run/containerd"),
    SHIM_SOCKETS,
)


class HostRestoreError(RuntimeError):
    """Some host state could not be put back; the message lists each failure."""


@attrs.define
class HostRecord:
    """What a running tier changes, written before it changes it."""

    workdir: str
    bridge: str
    sysctls: dict[str, str]  # name -> value before the tier started (only those that exist)
    chains: list[str]  # "iptables filter CHAIN" of owned prefixes that existed before
    pod_cgroups: list[str]  # hierarchies that had a kubepods cgroup before
    new_folders: list[str]  # of HOST_FOLDERS, those missing before
    shim_sockets: list[str]  # the shim sockets there were before

    @classmethod
    def take(cls, workdir: Path, bridge: str) -> HostRecord:
        """Read the current values of everything the tier will change."""
        sysctls = {name: value for name in SYSCTLS if (value := read_sysctl(name)) is not None}
        return cls(
            workdir=str(workdir),
            bridge=bridge,
            sysctls=sysctls,
            chains=sorted(c for c in iptables_chains() if _owned_chain(c)),
            pod_cgroups=sorted(h.name for h in cgroup_hierarchies() if (h / POD_CGROUP).is_dir()),
            new_folders=[str(f) for f in HOST_FOLDERS if not f.exists()],
            shim_sockets=sorted(_names(SHIM_SOCKETS)),
        )

    def save(self) -> None:
        STATE_DIR.mkdir(mode=0o700, exist_ok=True)
        partial = RECORD.with_suffix(".partial")
        partial.write_text(json.dumps(cattrs.unstructure(self), indent=2))
        partial.replace(RECORD)  # never half a record

    @staticmethod
    def load() -> HostRecord | None:
        """The record a tier left, or None when the last one stopped cleanly."""
        try:
            return cattrs.structure(json.loads(RECORD.read_text()), HostRecord)
        except FileNotFoundError:
            return None


@contextlib.contextmanager
def exclusive_host() -> Iterator[None]:
    """Hold the machine-wide lock of the node tier: a kubelet and kube-proxy own host-wide
    state, so two tiers must never run at once. Released when the holder exits, even killed."""
    STATE_DIR.mkdir(mode=0o700, exist_ok=True)
    with LOCK.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(
                f"another node tier runs on this machine (it holds {LOCK}); stop it first"
            ) from None
        yield


def restore(record: HostRecord) -> None:
    """Stop whatever the tier left running and put the host back as ``record`` says. Every step
    runs even when one before it failed; the failures are raised together at the end."""
    failures: list[str] = []
    steps = (
        ("kill the tier's daemons", lambda: _kill_naming(Path(record.workdir))),
        ("kill Pod processes", lambda: _kill_pod_processes(record.pod_cgroups)),
        ("unmount", lambda: _unmount_under(Path(record.workdir))),
        ("remove Pod cgroups", lambda: _remove_pod_cgroups(record.pod_cgroups)),
        ("remove iptables chains", lambda: _remove_chains(record.chains)),
        ("delete the bridge", lambda: _delete_bridge(record.bridge)),
        ("restore sysctls", lambda: _restore_sysctls(record.sysctls)),
        ("remove files outside the tier's folder", lambda: _remove_host_files(record)),
    )
    for what, step in steps:
        try:
            step()
        except (OSError, subprocess.SubprocessError, RuntimeError) as error:
            failures.append(f"{what}: {error}")
    if failures:
        raise HostRestoreError("the host is not fully restored:\n" + "\n".join(failures))
    RECORD.unlink(missing_ok=True)


# --- reading the host -------------------------------------------------------------------------


def read_sysctl(name: str) -> str | None:
    """A sysctl's value (whitespace normalised), or None where it does not exist."""
    try:
        return " ".join(_sysctl_path(name).read_text().split())
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    _sysctl_path(name).write_text(value)


def iptables_chains() -> set[str]:
    """Every chain of every table, as "iptables filter CHAIN" (and ip6tables)."""
    chains = set()
    for family, table, line in _iptables_lines():
        if line.startswith(":"):
            chains.add(f"{family} {table} {line[1:].split()[0]}")
    return chains


def iptables_rules() -> set[str]:
    """Every rule of every table, as "iptables filter -A CHAIN ...". Counters are not kept."""
    return {f"{f} {t} {line}" for f, t, line in _iptables_lines() if line.startswith("-A ")}


def cgroup_hierarchies() -> list[Path]:
    """The mounted cgroup hierarchies (v1 controllers, and the v2 one of a hybrid host)."""
    return sorted(p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink())


def cgroup_procs(cgroup: Path) -> set[int]:
    """The processes in a cgroup and in every cgroup below it."""
    pids: set[int] = set()
    for folder, _dirs, files in os.walk(cgroup):
        if "cgroup.procs" in files:
            with contextlib.suppress(FileNotFoundError):
                text = (Path(folder) / "cgroup.procs").read_text()
                pids.update(int(p) for p in text.split())
    return pids


def mount_points() -> list[str]:
    """Mount points in mount order, from /proc/self/mountinfo (octal escapes decoded)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        points.append(_unescape(line.split()[4]))
    return points


def process_cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


# --- putting it back --------------------------------------------------------------------------


def kill_and_wait(pids: Iterable[int], what: str, timeout: float = 20.0) -> None:
    """SIGKILL ``pids`` and wait until none of them runs any more."""
    pids = set(pids) - {os.getpid()}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while alive := {pid for pid in pids if _running(pid)}:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} still running after SIGKILL: {sorted(alive)}")
        time.sleep(0.05)


def _kill_naming(workdir: Path) -> None:
    """Every daemon of the tier names a path in its folder on its command line (etcd's data,
    the apiserver's certificates, each config file, the shims' containerd socket); a folder of
    one run's own. containerd's shims daemonize out of its process group: this finds them too."""
    marker = f"{workdir}/"
    kill_and_wait([pid for pid in _all_pids() if marker in process_cmdline(pid)], "daemons")


def _kill_pod_processes(existed_before: Iterable[str]) -> None:
    """Containers outlive the kubelet and containerd: kill everything in the kubepods cgroups
    the tier made."""
    keep = set(existed_before)
    for _ in range(5):  # a process may fork while its siblings are killed
        pids = set()
        for hierarchy in cgroup_hierarchies():
            if hierarchy.name not in keep:
                pids |= cgroup_procs(hierarchy / POD_CGROUP)
        if not pids:
            return
        kill_and_wait(pids, "Pod processes")
    raise RuntimeError("Pod processes keep appearing in the kubepods cgroups")


def _unmount_under(workdir: Path) -> None:
    """Every mount below the tier's folder (the kubelet's root, Pod volumes, container root
    filesystems, network namespaces), deepest first. A busy one is detached lazily."""
    prefix = f"{workdir}/"
    for point in reversed(mount_points()):
        if point.startswith(prefix):
            result = subprocess.run(["umount", point], capture_output=True, text=True)
            if result.returncode != 0 and point in mount_points():
                _run(["umount", "--lazy", point])


def _remove_pod_cgroups(existed_before: Iterable[str]) -> None:
    keep = set(existed_before)
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / POD_CGROUP
        if hierarchy.name in keep or not top.is_dir():
            continue
        # A cgroup is removed with rmdir once empty; children first.
        for folder, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            _rmdir_cgroup(Path(folder))


def _rmdir_cgroup(folder: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY while a killed process is still being torn down
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _remove_chains(existed_before: Iterable[str]) -> None:
    keep = set(existed_before)
    doomed = {c for c in iptables_chains() if _owned_chain(c) and c not in keep}
    if not doomed:
        return
    doomed_names = {(c.split()[0], c.split()[1], c.split()[2]) for c in doomed}
    # First every rule that jumps to a doomed chain (from any chain), then the chains.
    for rule in sorted(iptables_rules()):
        family, table, spec = rule.split(" ", 2)
        words = spec.split()
        target = words[words.index("-j") + 1] if "-j" in words else None
        if target and (family, table, target) in doomed_names:
            _iptables(family, table, ["-D", *_rule_args(spec)])
    for family, table, chain in sorted(doomed_names):
        _iptables(family, table, ["-F", chain])
    for family, table, chain in sorted(doomed_names):
        _iptables(family, table, ["-X", chain])


def _delete_bridge(bridge: str) -> None:
    if Path(f"/sys/class/net/{bridge}").exists():
        # Ports first: a veth whose Pod namespace is gone has already vanished with it.
        for port in Path(f"/sys/class/net/{bridge}/brif").iterdir():
            subprocess.run(["ip", "link", "delete", port.name], capture_output=True)
        _run(["ip", "link", "delete", bridge])


def _restore_sysctls(before: dict[str, str]) -> None:
    for name, value in before.items():
        if read_sysctl(name) != value:
            write_sysctl(name, value)


def _remove_host_files(record: HostRecord) -> None:
    """The tier's files in folders it shares with the host, then those folders if the tier
    made them. Another tool's files there (podman's CNI results) are left alone."""
    ours = [p for p in _paths(CNI_RESULTS) if p.name.startswith(f"{NETWORK_NAME}-")]
    # containerd attaches a loopback network to each sandbox too: its results name the sandbox.
    sandboxes = {p.name.split("-")[-2] for p in ours}
    ours += [
        p
        for p in _paths(CNI_RESULTS)
        if p.name.startswith("cni-loopback-") and p.name.split("-")[-2] in sandboxes
    ]
    logs = f"{record.workdir}/"
    ours += [
        p for p in _paths(CONTAINER_LOGS) if p.is_symlink() and os.readlink(p).startswith(logs)
    ]
    ours += [SHIM_SOCKETS / n for n in _names(SHIM_SOCKETS) - set(record.shim_sockets)]
    ours += [DEVICE_PLUGINS / "kubelet.sock"]
    for path in ours:
        path.unlink(missing_ok=True)
    for folder in sorted(record.new_folders, key=len, reverse=True):  # children first
        try:
            Path(folder).rmdir()
        except FileNotFoundError:
            pass
        except OSError as error:
            if error.errno != errno.ENOTEMPTY:
                raise
            # Not empty: another tool's files are there now (podman's CNI results); keep it.


# --- helpers ----------------------------------------------------------------------------------


def _owned_chain(chain: str) -> bool:
    return chain.split()[2].startswith(OWNED_CHAIN_PREFIXES)


def _iptables_lines() -> Iterator[tuple[str, str, str]]:
    for family in IPTABLES:
        for table in TABLES:
            result = subprocess.run(
                [f"{family}-save", "-t", table], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                continue  # the table does not exist in this family
            for line in result.stdout.splitlines():
                yield family, table, line.strip()


def _rule_args(spec: str) -> list[str]:
    """iptables-save's "-A CHAIN args" as arguments after -D: "CHAIN args"."""
    return shlex.split(spec)[1:]


def _iptables(family: str, table: str, args: list[str]) -> None:
    _run([family, "-w", "-t", table, *args])


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip() or result.returncode}")


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape") if "\\" in field else field


def _names(folder: Path) -> set[str]:
    return {p.name for p in _paths(folder)}


def _paths(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").glob("[0-9]*")]


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
