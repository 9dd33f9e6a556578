"""A desired Pod turned into processes this machine can run: argv, env, directories.

What a kubelet would give each container, done locally:
  * env: the container's ``env`` (``value``, ``valueFrom.fieldRef``; ``$(VAR)`` references
    expanded as Kubernetes does), plus ``KASUGAI_POD_IP`` (the Pod's loopback address) and
    ``KASUGAI_CONFIG_DIR``. The base is a small allow-list of the host's variables (PATH with this
    Python's scripts directory first, HOME, locale...), not the supervisor's whole environment, so
    a Pod sees what it would see in a cluster and nothing of the shell that started ``up``.
    ``KASUGAI_RUNTIME_ID`` marks every process of this runtime, so that ``down`` can prove none is
    left, even one that left its process group.
  * volumes: each ``emptyDir`` is a directory of the Pod; the one mounted at ``/config`` is the
    Pod's config directory (``KASUGAI_CONFIG_DIR``). A Pod without one still gets its own.
  * the reload sidecar (``kasugai-sidecar``) reads its connection config from the ConfigMap
    file: the runtime adds ``--source file:PATH``, and ``--loaded-file PATH`` where the sidecar
    reports the config its function was signalled for (the Pod's ``ConnectionLoaded`` fact).
Anything that cannot run here (a program inside an image, an unsupported env source) is a
``NotRunnable`` naming the Pod, the container, the reason and the fix; nothing has started then.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs

from kasugai.adapters.local.layout import StateDir
from kasugai.adapters.local.runnable import command_problem
from kasugai.runtime_env import CONFIG_DIR_ENV, DEFAULT_CONFIG_DIR, POD_IP_ENV

__all__ = [
    "RUNTIME_ID_ENV",
    "ContainerSpec",
    "NotRunnable",
    "PodSpec",
    "create_directories",
    "load_pod_spec",
    "pod_spec_json",
    "prepare_pod",
]

RUNTIME_ID_ENV = "KASUGAI_RUNTIME_ID"
SIDECAR_PROGRAM = "kasugai-sidecar"
DEFAULT_GRACE_SECONDS = 30.0  # terminationGracePeriodSeconds' Kubernetes default
_HOST_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH")
_HOST_ENV_PREFIXES = ("LC_", "GST_")
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_FIELD_LABEL = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


class NotRunnable(Exception):
    """The Pod cannot run here; ``problems`` say why, one line each, naming the container."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@attrs.frozen
class ContainerSpec:
    name: str
    image: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str
    log: str


@attrs.frozen
class PodSpec:
    """One Pod as this machine runs it (also written to ``pod.json`` for ``kasugai exec``)."""

    namespace: str
    name: str
    address: str
    directory: str
    config_dir: str
    restart_policy: str
    grace_seconds: float
    containers: tuple[ContainerSpec, ...]
    empty_dirs: tuple[str, ...] = ()
    loaded_file: str = ""  # where its sidecar reports the loaded config; "" no sidecar

    def container(self, name: str | None) -> ContainerSpec | None:
        """The named container; the first one when ``name`` is None (as kubectl defaults)."""
        if name is None:
            return self.containers[0] if self.containers else None
        return next((c for c in self.containers if c.name == name), None)


_converter = cattrs.Converter()


def pod_spec_json(spec: PodSpec) -> dict[str, Any]:
    data: dict[str, Any] = _converter.unstructure(spec)
    return data


def load_pod_spec(data: Any) -> PodSpec:
    return _converter.structure(data, PodSpec)


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: known variables replaced, ``$$`` escapes a ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)


def host_path() -> str:
    """PATH for Pods: this Python's scripts first, so ``kasugai-calc`` is the installed one."""
    scripts = sysconfig.get_path("scripts")
    rest = os.environ.get("PATH") or os.defpath
    return os.pathsep.join([scripts, *(p for p in rest.split(os.pathsep) if p != scripts)])


def _base_env() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _HOST_ENV or name.startswith(_HOST_ENV_PREFIXES)
    }
    env["PATH"] = host_path()
    return env


@attrs.frozen
class _PodFacts:
    """What ``fieldRef`` can read of the Pod."""

    body: Mapping[str, Any]
    address: str

    def field(self, path: str) -> str | None:
        meta = self.body.get("metadata") or {}
        simple = {
            "metadata.name": meta.get("name"),
            "metadata.namespace": meta.get("namespace"),
            "metadata.uid": meta.get("uid", ""),
            "status.podIP": self.address,
            "status.podIPs": self.address,
            "status.hostIP": "127.0.0.1",
            "spec.nodeName": socket.gethostname(),
            "spec.serviceAccountName": "default",
        }
        if path in simple:
            return str(simple[path])
        match = _FIELD_LABEL.fullmatch(path)
        if match:
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        return None


def _container_env(
    container: Mapping[str, Any], facts: _PodFacts, problems: list[str], where: str
) -> dict[str, str]:
    env: dict[str, str] = {}
    for index, item in enumerate(container.get("env") or []):
        name = str(item.get("name", ""))
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        ref = (item.get("valueFrom") or {}).get("fieldRef")
        value = facts.field(str(ref.get("fieldPath", ""))) if isinstance(ref, Mapping) else None
        if value is None:
            problems.append(
                f"{where}: env[{index}] {name}: only `value` and `valueFrom.fieldRef` "
                "(metadata.name, metadata.namespace, status.podIP...) can be resolved locally; "
                "give the value directly"
            )
            continue
        env[name] = value
    if container.get("envFrom"):
        problems.append(f"{where}: envFrom is not supported locally; list the variables in env")
    return env


def _volume_dirs(
    body: Mapping[str, Any], directory: Path, problems: list[str], where: str
) -> dict[str, Path]:
    dirs = {}
    for volume in (body.get("spec") or {}).get("volumes") or []:
        name = str(volume.get("name", ""))
        if "emptyDir" in volume:
            dirs[name] = directory / "volumes" / name
        elif "hostPath" in volume:
            dirs[name] = Path(str((volume["hostPath"] or {}).get("path", "")))
        else:
            kinds = ", ".join(k for k in volume if k != "name")
            problems.append(
                f"{where} volume {name!r} ({kinds}): only emptyDir and hostPath volumes exist "
                "locally"
            )
    return dirs


def _config_dir(container: Mapping[str, Any], volumes: Mapping[str, Path], default: Path) -> Path:
    for mount in container.get("volumeMounts") or []:
        if mount.get("mountPath", "").rstrip("/") == DEFAULT_CONFIG_DIR:
            return volumes.get(str(mount.get("name")), default)
    return default


def _is_sidecar(argv: list[str]) -> bool:
    """The reload sidecar, without a source of its own (in a cluster it watches the API)."""
    return (
        bool(argv)
        and os.path.basename(argv[0]) == SIDECAR_PROGRAM
        and "render" not in argv[1:2]
        and not any(a.startswith("--source") for a in argv)
    )


def _workdir(container: Mapping[str, Any], work: Path, problems: list[str], where: str) -> Path:
    wanted = container.get("workingDir")
    if not wanted:
        return work
    path = Path(str(wanted))
    if not path.is_absolute():
        return work / path
    if not path.is_dir():
        problems.append(f"{where}: workingDir {wanted!r} is a path inside the image; remove it")
    return path


def prepare_pod(
    body: Mapping[str, Any],
    address: str,
    state: StateDir,
    connection_file: Path,
    runtime_id: str,
) -> PodSpec:
    """The Pod as local processes; ``NotRunnable`` listing every problem if it cannot run."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    spec = body.get("spec") or {}
    directory = state.pod_dir(namespace, name)
    work = directory / "work"
    problems: list[str] = []
    volumes = _volume_dirs(body, directory, problems, f"pod {name}")
    default_config = directory / "config"
    facts = _PodFacts(body, address)
    containers = []
    loaded_file = ""
    for container in spec.get("containers") or []:
        where = f"pod {name} container {container.get('name')}"
        env = _base_env()
        env.update(_container_env(container, facts, problems, where))
        config_dir = _config_dir(container, volumes, default_config)
        env.update(
            {POD_IP_ENV: address, CONFIG_DIR_ENV: str(config_dir), RUNTIME_ID_ENV: runtime_id}
        )
        argv = [expand(str(a), env) for a in (container.get("command") or [])]
        argv += [expand(str(a), env) for a in (container.get("args") or [])]
        cwd = _workdir(container, work, problems, where)
        image = str(container.get("image", ""))
        problem = command_problem(argv, env["PATH"], str(cwd), image)
        if problem:
            problems.append(f"{where}: {problem}")
        if _is_sidecar(argv):
            loaded_file = str(state.loaded_file(namespace, name))
            argv += ["--source", f"file:{connection_file}", "--loaded-file", loaded_file]
        log = directory / "logs" / f"{container.get('name')}.log"
        containers.append(
            ContainerSpec(str(container.get("name")), image, tuple(argv), env, str(cwd), str(log))
        )
    if problems:
        raise NotRunnable(problems)
    pod_config = _config_dir(spec.get("containers", [{}])[0], volumes, default_config)
    return PodSpec(
        namespace=namespace,
        name=name,
        address=address,
        directory=str(directory),
        config_dir=str(pod_config),
        restart_policy=str(spec.get("restartPolicy") or "Always"),
        grace_seconds=float(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)),
        containers=tuple(containers),
        empty_dirs=tuple(str(d) for d in volumes.values() if d.is_relative_to(directory)),
        loaded_file=loaded_file,
    )


def create_directories(spec: PodSpec) -> None:
    """The Pod's directories, emptied first: a new Pod starts with empty volumes and logs.

    Only the Pod's own directory is touched (a hostPath volume is the user's).
    """
    directory = Path(spec.directory)
    for part in ("volumes", "work", "logs", "config"):
        if (directory / part).exists():
            shutil.rmtree(directory / part)
    for path in spec.empty_dirs:
        Path(path).mkdir(parents=True, exist_ok=True)
    for container in spec.containers:
        Path(container.cwd).mkdir(parents=True, exist_ok=True)
        Path(container.log).parent.mkdir(parents=True, exist_ok=True)
        Path(container.env[CONFIG_DIR_ENV]).mkdir(parents=True, exist_ok=True)
