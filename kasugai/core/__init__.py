"""The pure core: events in, desired objects and status out.

Nothing here performs I/O, reads a clock, starts a thread or imports an adapter, the kubernetes
client, grpc or watchfiles. ``tests/core/test_purity.py`` enforces that.
"""
