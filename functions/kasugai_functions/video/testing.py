"""Video functions as real processes on loopback: for tests, benchmarks and trying a chain by hand.

Each function is a real ``kasugai-wrapper`` process group with its own loopback address
(127.a.b.c in ``KASUGAI_POD_IP``, as the local runtime gives each Pod, so every one keeps UDP
5678), its own config directory, working directory and JSON log file. The wrapper installs its
packaged template; ``connect`` then does what the sidecar does: renders the template with the
sidecar's own renderer from the connection JSON, replaces ``config.yaml`` atomically, sends SIGHUP.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
from kasugai_sidecar.connection import parse_connection_config
from kasugai_sidecar.rendering import render_template

from kasugai.atomic_files import write_atomically
from kasugai.json_logs import read_json_log as read_events
from kasugai.testing.polling import wait_until
from kasugai_functions.video import gst
from kasugai_functions.video.templates import TEMPLATE_FILE
from kasugai_functions.video.wrapper import CONFIG_FILE

DEFAULT_TIMEOUT_SECONDS = 60.0  # generous: tests run on loaded two-core machines
Event = dict[str, Any]
SCRIPTS = Path(sys.executable).parent  # this environment's console scripts


def connection_json(host: str | None, port: int = gst.RTP_PORT) -> str:
    """The ``ethcrl.<pod>`` ConfigMap's ``data.config``: the next hop, or ``{}`` for the last."""
    if host is None:
        return "{}"
    return json.dumps({"ips": [host], "ports": [{"port": port, "protocol": "UDP"}]}, indent=2)


def udp_port_free(host: str, port: int = gst.RTP_PORT) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def udp_backlog(host: str, port: int = gst.RTP_PORT) -> int | None:
    """Bytes waiting unread in the IPv4 UDP socket bound to host:port; None if none is bound."""
    local = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local:
            return int(fields[4].split(":")[1], 16)
    return None


@attrs.define
class VideoFunction:
    """One running wrapper: its address, directories, log and process group."""

    name: str
    host: str
    config_dir: Path
    work_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def config_path(self) -> Path:
        return self.config_dir / CONFIG_FILE

    def events(self, event: str | None = None) -> list[Event]:
        found = read_events(self.log_path)
        return [e for e in found if event is None or e.get("event") == event]

    def connect(self, host: str | None, port: int = gst.RTP_PORT) -> None:
        """Render the installed template for next hop ``host`` (None: last hop), then SIGHUP."""
        template = self.config_dir / TEMPLATE_FILE
        wait_until(template.exists, f"{self.name}'s template {template}")
        data, _ = parse_connection_config(connection_json(host, port))
        write_atomically(self.config_path, render_template(template, data).encode())
        self.process.send_signal(signal.SIGHUP)

    def wait_for(
        self, condition: Callable[[], object], what: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        """``wait_until``, with the end of this function's log in the error if it times out."""
        try:
            wait_until(condition, f"{self.name}: {what}", timeout)
        except TimeoutError as exc:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])
            raise TimeoutError(f"{exc}\n--- end of {self.log_path} ---\n{tail}") from None

    def listening(self) -> bool:
        """Whether this function's pipeline has bound its UDP port."""
        return not udp_port_free(self.host)

    def drain(self) -> None:
        """Wait until every datagram sent to this function has been read by its pipeline."""
        self.wait_for(lambda: udp_backlog(self.host) == 0, "its pipeline to read all its input")

    def stop(self, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> int:
        """SIGTERM the wrapper (it stops its pipeline with SIGINT first) and wait for it."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """Kill what is left of the wrapper's and its pipeline's process groups."""
        pipeline_groups = {e["pid"] for e in self.events("pipeline started")}
        for pgid in (self.process.pid, *pipeline_groups):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        self.process.wait()


class LocalVideo:
    """Starts video functions on a loopback subnet of its own; kills them all on exit."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = env or {}
        # A random 127.a.b.0/24 keeps concurrent runs (and the local runtime) apart.
        self.subnet = f"127.{random.randint(200, 254)}.{random.randint(0, 255)}"
        self._next_host = 1
        self.functions: list[VideoFunction] = []

    def __enter__(self) -> LocalVideo:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for function in self.functions:
            function.kill()

    def address(self) -> str:
        """A fresh loopback address of this subnet whose UDP 5678 is free."""
        while True:
            host = f"{self.subnet}.{self._next_host}"
            self._next_host += 1
            if udp_port_free(host):
                return host

    def start(self, name: str, template: str | None, *wrapper_args: str) -> VideoFunction:
        """Start a wrapper that installs packaged ``template``; ``connect`` it to run it.

        Without a template, write ``config.yaml`` yourself.
        """
        host = self.address()
        base = self.root / name
        config_dir, work_dir = base / "config", base / "work"
        work_dir.mkdir(parents=True)
        config_dir.mkdir()  # a Pod's emptyDir exists before its containers start
        log_path = base / "log.jsonl"
        env = {
            **os.environ,
            # The inference template runs `kasugai-infer`: this environment's, whatever PATH says.
            "PATH": os.pathsep.join((str(SCRIPTS), os.environ["PATH"])),
            "KASUGAI_POD_IP": host,
            "KASUGAI_CONFIG_DIR": str(config_dir),
            "KASUGAI_LOG_FORMAT": "json",
            "K8S_POD_NAME": name,
            **self.env,
        }
        install = ["--install-template", template] if template else []
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [SCRIPTS / "kasugai-wrapper", *install, *wrapper_args],
                cwd=work_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        function = VideoFunction(name, host, config_dir, work_dir, log_path, process)
        self.functions.append(function)
        return function
