"""The wrapper's config file: ``command: [argv...]``, rendered by the sidecar from a template.

A config that cannot be run is an error naming the field and the fix, never a crash: the wrapper
keeps its last good pipeline. Every ``host=`` and ``port=`` property on the command line must be
an IP literal or a port number, so a bad destination can never smuggle shell words into
``bash -c`` (the sidecar validates too; this is the last check before anything runs).
"""

from __future__ import annotations

import re

import attrs
import yaml

from kasugai_functions.video.addresses import AddressError, validate_ip, validate_port

# A GStreamer property as its own word: `host=...`, not `multicast-host=` or `rtphost=`.
_HOST_PROPERTY = re.compile(r"(?<![\w-])host=(\S*)")
_PORT_PROPERTY = re.compile(r"(?<![\w-])port=(\S*)")

_EXAMPLE = "command: [gst-launch-1.0, -e, udpsrc, ...]"


class ConfigError(ValueError):
    """A config file the wrapper refuses to run."""


@attrs.frozen
class PipelineConfig:
    """What to run: the argv of the pipeline (no shell is added)."""

    command: tuple[str, ...]


def parse_pipeline_config(text: str, source: str) -> PipelineConfig:
    """Parse and validate the YAML ``text`` of config file ``source``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc}); expected `{_EXAMPLE}`") from None
    if not isinstance(data, dict) or "command" not in data:
        raise ConfigError(f"{source}: missing field 'command'; expected `{_EXAMPLE}`")
    command = data["command"]
    if not isinstance(command, list) or not command:
        raise ConfigError(f"{source}: command must be a non-empty list of strings: `{_EXAMPLE}`")
    argv = tuple(_argument(source, i, arg) for i, arg in enumerate(command))
    for i, arg in enumerate(argv):
        _check_addresses(source, i, arg)
    return PipelineConfig(command=argv)


def _argument(source: str, index: int, arg: object) -> str:
    # An unquoted port in a template renders as a YAML int; that is still a fine argument.
    if isinstance(arg, str) and arg:
        return arg
    if isinstance(arg, int) and not isinstance(arg, bool):
        return str(arg)
    raise ConfigError(
        f"{source}: command[{index}] must be a non-empty string, got {arg!r}; "
        "quote it in the template"
    )


def _check_addresses(source: str, index: int, arg: str) -> None:
    try:
        for host in _HOST_PROPERTY.findall(arg):
            validate_ip(host, f"{source}: command[{index}] host=")
        for port in _PORT_PROPERTY.findall(arg):
            validate_port(port, f"{source}: command[{index}] port=")
    except AddressError as exc:
        raise ConfigError(str(exc)) from None
