"""Shared pytest configuration. Tier folders (core, component, cluster) hold their own fixtures."""

from hypothesis import HealthCheck, settings

# Tests do not time things: on a loaded 2-core machine an example may take long, which is no
# failure. Per-test settings still choose their example counts.
settings.register_profile("kasugai", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kasugai")
