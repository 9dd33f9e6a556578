"""The connection config (``data.config`` of ConfigMap ``ethcrl.<pod>``) and its validation.

The sidecar renders addresses into command lines (the video templates build a ``gst-launch``
command), so nothing reaches a template before it is proven sane: every IP is an IP address,
every port an integer in 1..65535, every protocol TCP, UDP or SCTP, at the top level and in each
fan-out ``outputs`` entry. cattrs checks the shape and names the path of each bad field
(``config.ports[0].port: not a port number...``), never the value (a ConfigMap is read by more
people than the log). Templates receive the decoded JSON itself, exactly as a Go program would,
unknown keys included. The text is read within ``kasugai.core.bounded.VALUE``.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Any, NewType, get_origin

import attrs
import cattrs
import cattrs.v
from cattrs.cols import list_structure_factory, mapping_structure_factory
from cattrs.gen import make_dict_structure_fn

from kasugai.core import bounded
from kasugai.core.convert import json_type, refusing_other_json_types, shown
from kasugai_sidecar.gotemplate import decode_json

IPText = NewType("IPText", str)
PortNumber = NewType("PortNumber", int)
OutputPort = NewType("OutputPort", str)


class Protocol(enum.Enum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@attrs.frozen
class PortSpec:
    port: PortNumber
    protocol: Protocol


@attrs.frozen
class Destination:
    ips: list[IPText] = attrs.field(factory=list)
    ports: list[PortSpec] = attrs.field(factory=list)


@attrs.frozen
class ConnectionConfig(Destination):
    """Where this function sends its output; ``outputs`` is kasugai's fan-out, by output port."""

    outputs: dict[OutputPort, Destination] = attrs.field(factory=dict)


class InvalidConnectionConfig(ValueError):
    """The config is not JSON or not a valid connection config; ``problems`` name each field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _ip(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an IP address as a string, got {json_type(value)}")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"not an IP address (a string of {len(value)} characters)") from None
    if "%" in value:  # a scope id is free text: it must never reach a command line
        raise ValueError("an address with a zone (%...) is not accepted")
    return value


def _port_kind(value: Any) -> str:
    if isinstance(value, float) and value == value and value != int(value):
        return "a fraction"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number out of range"
    return json_type(value)


def _port(value: Any, _: type) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != int(value)
        or not 1 <= value <= 65535
    ):
        raise ValueError(
            f"not a port number: use an integer from 1 to 65535, got {_port_kind(value)}"
        )
    return int(value)


def _kind(value: Any) -> str:
    return "another string" if isinstance(value, str) else json_type(value)


def _protocol(value: Any, _: type) -> Protocol:
    try:
        return Protocol(value)
    except ValueError:
        raise ValueError(f"not a protocol: use TCP, UDP or SCTP, got {_kind(value)}") from None


def _output_port(value: Any, _: type) -> str:
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and int(value) < 65536):
        raise ValueError(f"output key {shown(value)} is not a port number (0..65535)")
    return value


def _origin(type_: Any) -> Any:
    return get_origin(type_)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    converter.register_structure_hook(IPText, _ip)
    converter.register_structure_hook(PortNumber, _port)
    converter.register_structure_hook(Protocol, _protocol)
    converter.register_structure_hook(OutputPort, _output_port)
    converter.register_structure_hook_factory(
        lambda t: _origin(t) is list,
        refusing_other_json_types(list, "a list", list_structure_factory),
    )
    converter.register_structure_hook_factory(
        lambda t: _origin(t) is dict,
        refusing_other_json_types(dict, "an object", mapping_structure_factory),
    )
    converter.register_structure_hook_factory(
        attrs.has, refusing_other_json_types(dict, "an object", make_dict_structure_fn)
    )
    return converter


_CONVERTER = _converter()


def _field_first(problem: str) -> str:
    """cattrs says "message @ path"; users read "path: message" more easily."""
    message, _, path = problem.rpartition(" @ ")
    return f"{path}: {message}" if message else problem


def _message(exc: BaseException, type_: Any) -> str:
    if type(exc) is ValueError:  # our hooks' own messages say what is wrong and how to fix it
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def parse_connection_config(text: str) -> tuple[Any, ConnectionConfig]:
    """Decode and validate; returns the data for templates and its typed view.

    Raises ``InvalidConnectionConfig`` naming every bad field.
    """
    try:
        data = decode_json(text)
    except bounded.ParseError as err:
        raise InvalidConnectionConfig([f"config: {err}"]) from None
    except ValueError as err:  # json's messages name a position, never the text
        raise InvalidConnectionConfig([f"config: not valid JSON: {err}"]) from None
    if not isinstance(data, dict):
        raise InvalidConnectionConfig([f"config: expected a JSON object, got {json_type(data)}"])
    try:
        config = _CONVERTER.structure(data, ConnectionConfig)
    except Exception as err:  # cattrs groups every field error; transform_error names them
        problems = cattrs.transform_error(err, path="config", format_exception=_message)
        raise InvalidConnectionConfig([_field_first(p) for p in problems]) from None
    return data, config
