"""The calcapp configuration: the next hop, read from ``<config dir>/config.yaml``.

The sidecar renders ``config.yaml`` from the template this function installs (``config.yaml.tmpl``),
so the file holds ``next: {host, port}``. Everything read here is checked before anyone dials it:
a host is an IP address or a DNS name, never a string that would smuggle a scheme, a port or
options into a gRPC target. Errors name the field and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import attrs
import structlog

# kasugai.core (bounded, convert) is imported where a config is read or a value refused: importing
# any of it loads the whole planner, which the client given -host never needs. The same for what
# only installing the template needs (importlib.resources, kasugai.atomic_files).

log = structlog.get_logger(__name__)

CONFIG_FILE = "config.yaml"
TEMPLATE_FILE = "config.yaml.tmpl"
# What the template renders when the connection config is empty (``{}``): "no successor".
PLACEHOLDER_HOST = "localhost"

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*\.?", re.IGNORECASE)
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the file, the field and the fix."""


class ConfigMissing(ConfigError):
    """config.yaml is not there (yet): normal until the sidecar first renders it."""


def validate_host(host: object) -> str:
    """``host`` if it is an IP address or a DNS name; ValueError saying what is wrong otherwise."""
    if not isinstance(host, str):
        from kasugai.core.convert import json_type

        raise ValueError(f"expected a string, got {json_type(host)}")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    # All-numeric labels would make "999.1.1.1" a DNS name; such a host is a mistyped IP address.
    if len(host) > 253 or not _DNS_NAME.fullmatch(host) or all(x.isdigit() for x in labels):
        raise ValueError(
            f"neither an IP address nor a DNS name (a string of {len(host)} characters); "
            "give an address such as 10.96.0.10 or a name such as calc-plus.default.svc"
        )
    return host


def validate_port(port: object) -> int:
    """``port`` if it is an integer from 1 to 65535; ValueError otherwise."""
    if isinstance(port, bool) or not isinstance(port, int):
        from kasugai.core.convert import json_type

        raise ValueError(f"expected an integer from 1 to 65535, got {json_type(port)}")
    if not 1 <= port <= 65535:
        raise ValueError("expected an integer from 1 to 65535, got a number out of range")
    return port


def _check_host(_instance: object, _attribute: object, host: str) -> None:
    try:
        validate_host(host)
    except ValueError as error:
        raise ConfigError(f"next.host: {error}") from None


def _check_port(_instance: object, _attribute: object, port: int) -> None:
    try:
        validate_port(port)
    except ValueError as error:
        raise ConfigError(f"next.port: {error}") from None


def grpc_target(host: str, port: int) -> str:
    """A gRPC target or listen address, ``host:port`` (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@attrs.frozen
class NextHop:
    """Where a function sends its requests: a validated host and port."""

    host: str = attrs.field(validator=_check_host)
    port: int = attrs.field(validator=_check_port)

    @property
    def target(self) -> str:
        """The gRPC target of the next hop."""
        return grpc_target(self.host, self.port)


def parse_config(text: str, source: str) -> NextHop:
    """The next hop in a config.yaml text; ``source`` names the file in errors."""
    from kasugai.core import bounded

    try:
        document = bounded.load_yaml(text, bounded.VALUE)
    except bounded.ParseError as error:
        raise ConfigError(f"{source}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("next"), dict):
        raise ConfigError(
            f"{source}: no 'next' mapping; expected 'next: {{host: <address>, port: <port>}}' "
            f"as rendered from {TEMPLATE_FILE}"
        )
    fields = document["next"]
    missing = [name for name in ("host", "port") if name not in fields]
    if missing:
        raise ConfigError(f"{source}: next.{missing[0]} is missing; set it in 'next'")
    try:
        return NextHop(host=fields["host"], port=fields["port"])
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def read_config(directory: Path) -> NextHop:
    """The next hop from ``<directory>/config.yaml``; ConfigError if missing or invalid."""
    from kasugai.core import bounded

    path = directory / CONFIG_FILE
    limit = bounded.VALUE.max_bytes
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise ConfigError(f"{path}: larger than {bounded.describe_size(limit)} (the limit)")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigMissing(
            f"{path} does not exist yet; the sidecar renders it from {TEMPLATE_FILE} "
            "when the connection config of this Pod is published"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({error})") from None
    return parse_config(text, str(path))


def is_own_address(hop: NextHop, listen_host: str, listen_port: int) -> bool:
    """Whether forwarding to ``hop`` would send the request back to this very server.

    ``localhost`` on our own port is the template's rendering of an empty connection config
    (the last function of a chain), so it counts as ourselves wherever we listen.
    """
    if hop.port != listen_port:
        return False
    if hop.host == PLACEHOLDER_HOST or hop.host == listen_host:
        return True
    if listen_host in _WILDCARD_HOSTS:
        try:
            return ipaddress.ip_address(hop.host).is_loopback
        except ValueError:
            return False
    return False


def install_template(directory: Path) -> bool:
    """Put the shipped config.yaml.tmpl into ``directory`` unless one is there; True if written.

    The sidecar renders every ``*.tmpl`` it finds there, so Pods need no copy step. The file is
    written to a temporary name and renamed, so the sidecar never reads half a template.
    Raises OSError when the directory is missing or not writable.
    """
    if not directory.is_dir():  # an emptyDir that is not mounted: say so, do not create it
        raise FileNotFoundError(f"config directory {directory} does not exist")
    from importlib import resources

    from kasugai.atomic_files import install_file

    content = resources.files(__package__).joinpath(TEMPLATE_FILE).read_bytes()
    return install_file(directory / TEMPLATE_FILE, content)


def ensure_template(directory: Path) -> bool:
    """Install the template (see ``install_template``), logging the outcome; False on failure.

    Failure is logged with the fix; the caller decides whether it can run on without it.
    """
    try:
        written = install_template(directory)
    except OSError as error:
        log.error(
            "cannot install the config template",
            directory=str(directory),
            error=str(error),
            fix="mount the config directory, or pass --config-dir / set KASUGAI_CONFIG_DIR",
        )
        return False
    if written:
        log.info("installed the config template", directory=str(directory))
    return True
