"""The video image (localhost/cpufunc_gst:latest): GStreamer, the inference dependencies, and the
original relay Pod, whose /wrapper runs the pipeline its sidecar renders and really relays RTP."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from image_containers import Containers

VIDEO = "localhost/cpufunc_gst:latest"
SIDECAR = "localhost/cpufunc_sidecar:latest"
# The elements the original templates and kasugai's pipelines (kasugai_functions.video.gst) use.
ELEMENTS = (
    "udpsrc", "udpsink", "rtph264depay", "rtph264pay", "h264parse", "mp4mux", "qtdemux",
    "filesrc", "filesink", "fdsrc", "fdsink", "rawvideoparse", "avdec_h264", "x264enc",
    "videoconvert", "videoscale", "videotestsrc", "decodebin", "imagefreeze",
)  # fmt: skip
# The original relay Pod's app command (tests/fixtures/openkasugai/cpugpu-func/p1c1).
RELAY_COMMAND = "cp /config-pip.yaml.tmpl /config/config.yaml.tmpl; /wrapper"
NEXT_PORT = 5679
# Runs in the relay's network namespace: listens where the relay sends, streams a clip made in
# the image into the relay's port 5678, and prints how many RTP datagrams came out the other side.
RELAY_PROBE = textwrap.dedent(f"""
    import socket, subprocess
    from pathlib import Path
    from kasugai_functions.video.clips import make_test_clip
    clip = make_test_clip(Path("/tmp/clip.mp4"), seconds=2)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind(("127.0.0.1", {NEXT_PORT}))
    out.settimeout(3)
    send = ["kasugai", "send-video", str(clip), "--to", "127.0.0.1"]
    subprocess.run(send, check=True, stdout=subprocess.DEVNULL)
    count = 0
    try:
        while True:
            out.recv(65536)
            count += 1
    except TimeoutError:
        pass
    print(count)
""")


def test_gst_launch_runs(containers: Containers) -> None:
    result = containers.run(VIDEO, "gst-launch-1.0", "--version")
    assert result.returncode == 0, result.stderr
    assert "GStreamer 1." in result.stdout


def test_the_pipelines_elements_are_installed(containers: Containers) -> None:
    check = 'for e in "$@"; do gst-inspect-1.0 --exists "$e" || echo "$e"; done'
    result = containers.run(VIDEO, "bash", "-c", check, "check", *ELEMENTS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [], f"GStreamer elements missing from {VIDEO}"


def test_the_inference_dependencies_import(containers: Containers) -> None:
    probe = "import cv2, numpy, kasugai_functions.video.inference; print(cv2.__version__)"
    result = containers.run(VIDEO, "python3", "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4.")


def test_the_original_relay_pod_relays_rtp(containers: Containers, tmp_path: Path) -> None:
    config, connection = tmp_path / "config", tmp_path / "connection"
    config.mkdir()
    connection.mkdir()
    next_hop = {"ips": ["127.0.0.1"], "ports": [{"port": NEXT_PORT, "protocol": "UDP"}]}
    (connection / "config.json.partial").write_text(json.dumps(next_hop))
    os.replace(connection / "config.json.partial", connection / "config.json")
    pod = {"K8S_POD_NAME": "relay"}
    containers.start(
        "relay", VIDEO, "bash", "-c", RELAY_COMMAND, env=pod, volumes={config: "/config"}
    )
    containers.start(
        "relay-sidecar",
        SIDECAR,
        *("/sidecar", "--source", "file:/connection/config.json"),
        network_of="relay",
        pid_of="relay",
        env={**pod, "SIDECAR_MNG_PROSESS_NAME": "wrapper"},
        volumes={config: "/config", connection: "/connection"},
    )
    started = containers.wait_for_event("relay", "pipeline started", timeout=90)
    command = " ".join(started["command"])
    assert command.startswith("/bin/bash -c gst-launch-1.0 -e -v udpsrc")
    assert f"udpsink host=127.0.0.1 port={NEXT_PORT}" in command

    probe = containers.exec("relay", "python3", "-c", RELAY_PROBE, timeout=180)
    assert probe.returncode == 0, probe.stderr
    assert int(probe.stdout.strip()) > 10, "the relay passed (almost) no RTP packets on"
