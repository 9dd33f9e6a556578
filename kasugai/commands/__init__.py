"""Subcommands of ``kasugai``: each module has ``register(subparsers)`` (see ``kasugai.cli``)."""
