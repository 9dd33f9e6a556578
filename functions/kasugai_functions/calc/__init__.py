"""calcapp: the arithmetic functions of the demo chain, wire-compatible with the original Go.

A server computes its operator's value over a request, appends it to the results, forwards the
request to the next hop named in ``<config dir>/config.yaml`` and replies; the receiver logs the
outcome. ``kasugai-calc`` (``/calcapp`` in the image) is the command line; ``testing`` runs chains
of real processes on loopback for tests and benchmarks.
"""
