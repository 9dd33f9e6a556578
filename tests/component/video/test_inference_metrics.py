"""Video metrics, scraped from real wrappers on their own addresses at port 9464.

The wrapper serves the Pod's /metrics: its pipeline starts, plus the frame metrics of a
``kasugai-infer`` pipeline, which it fetches from the pipeline's private port. A clip goes straight
into the inference function, then on to a receiver; once every frame that came in has gone out,
the metrics must agree with the summary the function logs when it stops.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from kasugai_functions.metrics_endpoint import DEFAULT_METRICS_PORT
from kasugai_functions.video.testing import LocalVideo, VideoFunction
from prometheus_client.parser import text_string_to_metric_families
from test_chain import CLIP_FRAMES, send, start_chain, stop_in_order


def scrape(function: VideoFunction) -> dict[str, float]:
    url = f"http://{function.host}:{DEFAULT_METRICS_PORT}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return {}  # kasugai-infer is not up yet
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def test_frames_in_out_and_latency_match_what_the_function_logs(
    video: LocalVideo, pattern_clip: Path
) -> None:
    inference, receiver = start_chain(video, "inference", "receiver")
    inference.wait_for(
        lambda: "kasugai_video_frames_in_total" in scrape(inference), "kasugai-infer's metrics"
    )
    assert send(pattern_clip, inference.host).wait(120) == 0

    def all_through() -> dict[str, float] | None:
        metrics = scrape(inference)
        frames_in = metrics.get("kasugai_video_frames_in_total", 0)
        frames_out = metrics.get("kasugai_video_frames_out_total", 0)
        return metrics if frames_in >= 0.95 * CLIP_FRAMES and frames_out == frames_in else None

    inference.wait_for(all_through, "every frame through")
    metrics = scrape(inference)
    frames = metrics["kasugai_video_frames_out_total"]
    assert metrics["kasugai_video_frame_latency_seconds_count"] == frames
    assert metrics["kasugai_video_pipeline_starts_total"] == 1
    stop_in_order([inference, receiver])
    (summary,) = inference.events("inference summary")
    assert summary["frames"] >= frames  # frames still inside the decoder may follow the scrape
    assert summary["frames"] <= CLIP_FRAMES


def test_a_gst_launch_pipeline_shows_its_starts_only(video: LocalVideo) -> None:
    relay, first, second = start_chain(video, "relay", "receiver", "receiver")
    metrics = scrape(relay)
    assert metrics["kasugai_video_pipeline_starts_total"] == 1
    assert "kasugai_video_frames_in_total" not in metrics  # gst-launch: nothing to count in
    relay.connect(second.host)  # a rewire restarts the pipeline
    relay.wait_for(lambda: len(relay.events("pipeline started")) == 2, "the restart")
    assert scrape(relay)["kasugai_video_pipeline_starts_total"] == 2
    stop_in_order([relay, first, second])
