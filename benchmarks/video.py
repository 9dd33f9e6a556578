"""Frames per second and end-to-end latency per frame through the CPU inference function, 640x360.

This process plays both ends of the chain around a real ``kasugai-infer`` on loopback: it encodes
frames (the astronaut photo with the frame number written as a 16-bit bar code along the bottom)
and sends them as RTP/H.264 to the inference function, and it receives and decodes what comes out,
reads each frame's number back and takes the time. Latency therefore spans encode, the inference
function (decode, detect, draw, re-encode) and decode, as a receiver would see it.

Two phases: frames offered at the real-time rate (latency), then as fast as the encoder takes them
(throughput; UDP may drop what the function cannot keep up with, and the loss is reported).

    .venv/bin/python benchmarks/video.py [--frames 300] [--burst-frames 600] [--fps 30]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from kasugai_functions.video import gst
from kasugai_functions.video.raw_frames import Frame, read_frame, start_frame_source
from kasugai_functions.video.testing import SCRIPTS, read_events, udp_port_free, wait_until
from skimage import data

WIDTH, HEIGHT = 640, 360
BITS = 16
BAR_HEIGHT = 24
WARMUP_FRAMES = 30  # the first second includes the pipelines' start-up
QUIET_SECONDS = 2.0  # no output for this long: a phase is over


def base_frame() -> Frame:
    """The astronaut photo letterboxed into 640x360 (BGR), as the function would see a person."""
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    side = HEIGHT
    left = (WIDTH - side) // 2
    frame[:, left : left + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    return frame


def stamp(frame: Frame, number: int) -> Frame:
    out = frame.copy()
    width = WIDTH // BITS
    for bit in range(BITS):
        value = 255 if number >> bit & 1 else 0
        out[HEIGHT - BAR_HEIGHT :, bit * width : (bit + 1) * width] = value
    return out


def read_stamp(frame: Frame) -> int:
    width = WIDTH // BITS
    rows = frame[HEIGHT - BAR_HEIGHT + 4 : HEIGHT - 4]
    bits = [rows[:, b * width + 6 : (b + 1) * width - 6].mean() > 128 for b in range(BITS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


class Sink:
    """Receives the function's output and records when each numbered frame first arrived."""

    def __init__(self, host: str) -> None:
        self.arrived: dict[int, float] = {}
        self.last_arrival = time.monotonic()
        self.process, self._stream = start_frame_source(
            lambda fd: gst.rtp_decoder(host, gst.RTP_PORT, WIDTH, HEIGHT, fd),
            stdout=subprocess.DEVNULL,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self._stream:
            while (frame := read_frame(self._stream, WIDTH, HEIGHT)) is not None:
                now = time.monotonic()
                self.arrived.setdefault(read_stamp(frame), now)
                self.last_arrival = now

    def wait_quiet(self) -> None:
        wait_until(lambda: time.monotonic() - self.last_arrival > QUIET_SECONDS, "output to end")

    def close(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)
        self._thread.join(30)


def offer(target: str, first: int, count: int, fps: float | None) -> dict[int, float]:
    """Encode and send frames first..first+count-1; at ``fps``, or as fast as taken if None."""
    encoder = subprocess.Popen(
        gst.rtp_encoder(target, gst.RTP_PORT, WIDTH, HEIGHT, 30, 2000),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert encoder.stdin is not None
    base = base_frame()
    frames = [stamp(base, first + i) for i in range(count)]
    sent: dict[int, float] = {}
    start = time.monotonic()
    for i, frame in enumerate(frames):
        if fps is not None:
            time.sleep(max(0.0, start + i / fps - time.monotonic()))
        sent[first + i] = time.monotonic()
        encoder.stdin.write(frame.data)
    encoder.stdin.close()
    encoder.wait(60)
    return sent


def report_latency(sent: dict[int, float], sink: Sink) -> None:
    measured = [n for n in sent if n in sink.arrived][WARMUP_FRAMES:]
    lat = sorted((sink.arrived[n] - sent[n]) * 1000 for n in measured)
    pct = statistics.quantiles(lat, n=100)
    lost = len(sent) - sum(n in sink.arrived for n in sent)
    print(f"  frames offered {len(sent)}, received {len(sent) - lost}, lost {lost}")
    print(
        f"  end-to-end latency ms (after {WARMUP_FRAMES} warm-up frames): "
        f"p50 {pct[49]:.1f}  p90 {pct[89]:.1f}  p99 {pct[98]:.1f}  max {lat[-1]:.1f}"
    )


def report_throughput(sent: dict[int, float], sink: Sink) -> None:
    got = sorted(sink.arrived[n] for n in sent if n in sink.arrived)
    offered = len(sent) / (max(sent.values()) - min(sent.values()))
    print(f"  offered {offered:.1f} frames/s, received {len(got)} of {len(sent)}")
    print(f"  output rate {(len(got) - 1) / (got[-1] - got[0]):.1f} frames/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="frames at the real-time rate")
    parser.add_argument("--burst-frames", type=int, default=600, help="frames as fast as possible")
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    subnet = f"127.{random.randint(200, 254)}.{random.randint(0, 255)}"
    function, sink_host = f"{subnet}.1", f"{subnet}.2"
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "infer.jsonl"
        with log_path.open("wb") as log:
            infer = subprocess.Popen(
                [SCRIPTS / "kasugai-infer", "--listen", function, "--to", sink_host],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "KASUGAI_LOG_FORMAT": "json"},
            )
        sink = Sink(sink_host)
        try:
            wait_until(lambda: not udp_port_free(function), "kasugai-infer to listen")
            wait_until(lambda: not udp_port_free(sink_host), "the sink to listen")
            print(f"kasugai-infer {WIDTH}x{HEIGHT}, face detector; {sys.platform}")
            print(f"real-time phase: {args.frames} frames at {args.fps:g} fps")
            sent = offer(function, 0, args.frames, args.fps)
            sink.wait_quiet()
            report_latency(sent, sink)
            print(f"burst phase: {args.burst_frames} frames as fast as the encoder takes them")
            burst = offer(function, args.frames, args.burst_frames, None)
            sink.wait_quiet()
            report_throughput(burst, sink)
        finally:
            infer.send_signal(signal.SIGINT)
            infer.wait(60)
            sink.close()
        (summary,) = [e for e in read_events(log_path) if e["event"] == "inference summary"]
        print(
            f"kasugai-infer summary: frames {summary['frames']}, detector runs "
            f"{summary['detection_runs']}, runs with a face {summary['runs_with_objects']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
