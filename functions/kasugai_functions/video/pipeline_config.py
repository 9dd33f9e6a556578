"""The wrapper's config file: ``command: [argv...]``, rendered by the sidecar from a template.

A config that cannot be run is an error naming the field and the fix, never a crash: the wrapper
keeps its last good pipeline. Every ``host=`` and ``port=`` property on the command line must be
an IP literal or a port number, so a bad destination can never smuggle shell words into
``bash -c`` (the sidecar validates too; this is the last check before anything runs).
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from kasugai.core import bounded
from kasugai.core.convert import json_type
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
        data = bounded.load_yaml(text, bounded.VALUE)
    except bounded.ParseError as exc:
        raise ConfigError(f"{source}: {exc}; expected `{_EXAMPLE}`") from None
    if not isinstance(data, dict) or "command" not in data:
        raise ConfigError(f"{source}: missing field 'command'; expected `{_EXAMPLE}`")
    command = data["command"]
    if not isinstance(command, list) or not command:
        raise ConfigError(f"{source}: command must be a non-empty list of strings: `{_EXAMPLE}`")
    argv = tuple(_argument(source, i, arg) for i, arg in enumerate(command))
    for i, arg in enumerate(argv):
        _check_addresses(source, i, arg)
    return PipelineConfig(command=argv)


def read_pipeline_config(path: Path) -> PipelineConfig:
    """The config in ``path``: ``FileNotFoundError`` if there is none yet, ``ConfigError`` if it
    cannot be read (too large, not UTF-8, unreadable) or used."""
    limit = bounded.VALUE.max_bytes
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: larger than {bounded.describe_size(limit)} (the limit)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start + 1})") from None
    return parse_pipeline_config(text, str(path))


def _argument(source: str, index: int, arg: object) -> str:
    # An unquoted port in a template renders as a YAML int; that is still a fine argument.
    if isinstance(arg, str) and arg:
        return arg
    if isinstance(arg, int) and not isinstance(arg, bool):
        return str(arg)
    got = "an empty string" if arg == "" else json_type(arg)
    raise ConfigError(
        f"{source}: command[{index}] must be a non-empty string, got {got}; "
        "quote it in the template"
    )


def _check_addresses(source: str, index: int, arg: str) -> None:
    # The messages name the argument, not its text: it was rendered from cluster data.
    where = f"{source}: command[{index}]"
    for host in _HOST_PROPERTY.findall(arg):
        try:
            validate_ip(host, where)
        except AddressError:
            raise ConfigError(
                f"{where} host=: not an IP address; give an IPv4 or IPv6 literal such as "
                "10.96.0.12 (host names are not accepted)"
            ) from None
    for port in _PORT_PROPERTY.findall(arg):
        try:
            validate_port(port, where)
        except AddressError:
            raise ConfigError(
                f"{where} port=: not a port number; give an integer 1-65535"
            ) from None
