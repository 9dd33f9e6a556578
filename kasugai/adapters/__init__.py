"""Thin adapters between the pure core and the outside world (files, processes, Kubernetes)."""
