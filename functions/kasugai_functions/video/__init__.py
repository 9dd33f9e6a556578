"""The video functions: a wrapper that keeps a GStreamer pipeline running as the sidecar's rendered
config says, the relay and receiver pipelines it runs, and a CPU inference function.

All hops speak RTP/H.264 on UDP 5678 (docs/compatibility.md section 11).
"""
