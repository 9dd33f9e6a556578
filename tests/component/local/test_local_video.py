"""The video sample p1c1 (relay -> receiver) under ``kasugai up``: a clip arrives as a valid MP4.

The receiver's MP4 is only valid after end-of-stream: ``kasugai down`` stops each Pod with
SIGTERM, the receiver's wrapper turns that into SIGINT for gst-launch (``-e``: EOS), and only then
is the file read.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from kasugai_functions.video.clips import make_test_clip, read_clip_frames
from kasugai_functions.video.testing import udp_backlog, udp_port_free
from local_samples import REPO, StartRun

from kasugai.adapters.local.testing import KASUGAI, wait_until

CLIP_SECONDS, FPS = 3, 30


def _pipeline_to(events: list[dict[str, Any]], address: str) -> bool:
    """Whether the relay's wrapper started a pipeline that sends to ``address``."""
    return any(
        e.get("event") == "pipeline started" and f"host={address}" in " ".join(e["command"])
        for e in events
    )


def test_video_p1c1_delivers_a_valid_mp4(
    gstreamer: None, tmp_path: Path, start_run: StartRun
) -> None:
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=CLIP_SECONDS, fps=FPS)
    sample = Path(shutil.copytree(REPO / "manifests" / "samples" / "video-p1c1", tmp_path / "s"))
    run = start_run(sample)
    relay, receiver = run.pod("pip"), run.pod("rcv")
    wait_until(lambda: _pipeline_to(run.events("pip"), receiver["address"]), "the relay's route")
    wait_until(
        lambda: not udp_port_free(relay["address"]) and not udp_port_free(receiver["address"]),
        "both pipelines to listen",
    )

    sent = subprocess.run(
        [*KASUGAI, "send-video", str(clip), "--to", relay["address"]], timeout=120
    )
    assert sent.returncode == 0
    for pod in (relay, receiver):
        wait_until(lambda p=pod: udp_backlog(p["address"]) == 0, f"{pod['name']} to read it all")
    down = run.down()
    assert down.returncode == 0, down.stderr

    mp4 = run.state.pod_dir("cpufunc-sample", receiver["name"]) / "work" / "rcv_video.mp4"
    found = subprocess.run(["gst-discoverer-1.0", str(mp4)], capture_output=True, text=True)
    assert found.returncode == 0 and "H.264" in found.stdout, found.stdout + found.stderr
    assert len(read_clip_frames(mp4)) >= 0.95 * CLIP_SECONDS * FPS
