"""Containers a test starts with podman, looked into, and removed when the test ends.

Containers get no network (``--network none``: a network namespace with loopback only) or join
another container's, as the containers of one Pod do; ``pid`` shares a process namespace the same
way (shareProcessNamespace). Logs are the programs' JSON lines (KASUGAI_LOG_FORMAT=json).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kasugai.testing import wait_until
from kasugai.testing.podman import Podman, ulimit_flags

JSON_LOGS = {"KASUGAI_LOG_FORMAT": "json"}


@attrs.define
class Containers:
    podman: Podman
    prefix: str = attrs.field(factory=lambda: f"kasugai-test-{secrets.token_hex(3)}")
    started: list[str] = attrs.field(factory=list)

    def _options(
        self,
        *,
        network_of: str | None,
        pid_of: str | None,
        env: Mapping[str, str],
        volumes: Mapping[Path, str],
        cap_add: Sequence[str],
        entrypoint: str | None,
        user: str | None,
        read_only: bool,
    ) -> list[str]:
        options = [*ulimit_flags(), "--pull=never"]
        options.append(
            f"--network=container:{self.name(network_of)}" if network_of else "--network=none"
        )
        if pid_of:
            options.append(f"--pid=container:{self.name(pid_of)}")
        options += [f"--env={key}={value}" for key, value in {**JSON_LOGS, **env}.items()]
        options += [f"--volume={host}:{inside}" for host, inside in volumes.items()]
        options += [f"--cap-add={cap}" for cap in cap_add]
        if entrypoint is not None:
            options.append(f"--entrypoint={entrypoint}")
        if user is not None:
            options.append(f"--user={user}")
        if read_only:
            options.append("--read-only")
        return options

    def name(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def run(
        self,
        image: str,
        *command: str,
        network_of: str | None = None,
        pid_of: str | None = None,
        env: Mapping[str, str] | None = None,
        volumes: Mapping[Path, str] | None = None,
        cap_add: Sequence[str] = (),
        entrypoint: str | None = None,
        user: str | None = None,
        read_only: bool = False,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in a new container to its end; its output, whatever the exit status."""
        options = self._options(
            network_of=network_of,
            pid_of=pid_of,
            env=env or {},
            volumes=volumes or {},
            cap_add=cap_add,
            entrypoint=entrypoint,
            user=user,
            read_only=read_only,
        )
        argv = self.podman.argv("run", "--rm", *options, image, *command)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def start(
        self,
        short: str,
        image: str,
        *command: str,
        network_of: str | None = None,
        pid_of: str | None = None,
        env: Mapping[str, str] | None = None,
        volumes: Mapping[Path, str] | None = None,
        cap_add: Sequence[str] = (),
    ) -> str:
        """Start a long-running container named ``<prefix>-<short>``; ``network_of`` and
        ``pid_of`` name a started container whose namespace it joins, as in one Pod."""
        options = self._options(
            network_of=network_of,
            pid_of=pid_of,
            env=env or {},
            volumes=volumes or {},
            cap_add=cap_add,
            entrypoint=None,
            user=None,
            read_only=False,
        )
        name = self.name(short)
        self.started.append(name)
        self.podman.run("run", "--detach", f"--name={name}", *options, image, *command)
        return name

    def exec(
        self, short: str, *command: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        argv = self.podman.argv("exec", self.name(short), *command)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def logs(self, short: str) -> str:
        return self.podman.run("logs", self.name(short)).stdout

    def events(self, short: str) -> list[dict[str, Any]]:
        """The container's JSON log lines (other output, such as pip's or bash's, is skipped)."""
        events = []
        result = self.podman.run("logs", self.name(short))
        for line in (result.stdout + result.stderr).splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return events

    def wait_for_event(
        self, short: str, event: str, timeout: float = 60, **fields: Any
    ) -> dict[str, Any]:
        """The first log event named ``event`` whose fields include ``fields``."""

        def found() -> dict[str, Any] | None:
            for entry in self.events(short):
                if entry.get("event") == event and all(
                    entry.get(k) == v for k, v in fields.items()
                ):
                    return entry
            return None

        try:
            return wait_until(
                found, f"{short}: log event {event!r} {fields}", timeout=timeout, interval=0.2
            )
        except TimeoutError as error:
            raise AssertionError(
                f"{error}\n--- {short} logs:\n{self.logs(short)[-3000:]}"
            ) from None

    def running(self, short: str) -> bool:
        result = self.podman.run(
            "container", "inspect", "--format", "{{.State.Running}}", self.name(short), check=False
        )
        return result.stdout.strip() == "true"

    def remove_all(self) -> None:
        """Remove every container this test started, running or not; fails if one stays."""
        for name in reversed(self.started):  # joiners first, then the namespaces' owners
            self.podman.run("rm", "--force", "--time=0", name, check=False)
        left = [
            name
            for name in self.started
            if self.podman.run("container", "exists", name, check=False).returncode == 0
        ]
        self.started.clear()
        assert not left, f"containers still there after podman rm: {left}"
