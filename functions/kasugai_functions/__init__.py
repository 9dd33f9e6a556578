"""The function programs of the two demo scenarios (arithmetic gRPC chain, video RTP chain)."""
