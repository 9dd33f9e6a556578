"""kasugai: the OpenKasugai function-chain controller, reimplemented.

The public surface is the ``kasugai`` command (``kasugai.cli``); ``kasugai.core`` is the pure,
event-sourced planner and ``kasugai.adapters`` connect it to files, processes and Kubernetes.
"""

__version__ = "0.1.0"
