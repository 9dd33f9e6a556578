"""Validation of the addresses and ports that end up on a pipeline's command line.

Everything that is rendered into a command comes from the cluster (a Service address, a port), so
it is checked to be a plain IP literal or port number first: never a host name, never anything a
shell or gst-launch could read as more than one token.
"""

from __future__ import annotations

import ipaddress


class AddressError(ValueError):
    """An address or port that must not be put on a command line."""


def validate_ip(value: str, field: str) -> str:
    """Return ``value`` if it is an IPv4 or IPv6 literal, else raise naming ``field``."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise AddressError(
            f"{field}: {value!r} is not an IP address; give an IPv4 or IPv6 literal such as "
            "10.96.0.12 (host names are not accepted)"
        ) from None


def validate_port(value: str | int, field: str) -> int:
    """Return ``value`` as an int if it is a port number 1-65535, else raise naming ``field``."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise AddressError(f"{field}: {value!r} is not a port number; give an integer 1-65535")
    return int(text)
