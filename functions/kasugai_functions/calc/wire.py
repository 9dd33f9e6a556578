"""Helpers at the wire: request logging, status names, and the NG reason in trailing metadata.

The proto has no field for why a reply is NG, and changing the contract's messages is not ours to
do. The reason travels as trailing metadata instead (``kasugai-calc-reason``), which the original
Go programs ignore, so both stay interoperable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kasugai_functions.calc import operator_pb2

REASON_KEY = "kasugai-calc-reason"


def describe_request(request: operator_pb2.OperateRequest) -> dict[str, Any]:
    """The whole request as plain values, for one structured log line."""
    return {"inputs": list(request.inputs), "results": describe_results(request)}


def describe_results(request: operator_pb2.OperateRequest) -> list[dict[str, Any]]:
    """The results so far, as ``{operator, value}`` mappings in chain order."""
    return [{"operator": result.operator, "value": result.value} for result in request.results]


def status_name(status: int) -> str:
    """``OK``, ``NG``, ``UNKNOWN``, or the number of a status this proto does not know."""
    if status in operator_pb2.OperateResponseStatus.values():
        return str(operator_pb2.OperateResponseStatus.Name(status))
    return str(status)


def reason_from(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The NG reason in a call's trailing metadata ("" when there is none)."""
    for key, value in metadata or ():
        if key == REASON_KEY:
            return value.decode() if isinstance(value, bytes) else value
    return ""


def reason_metadata(reason: str) -> tuple[tuple[str, str]]:
    """Trailing metadata carrying ``reason`` (metadata values must be printable ASCII)."""
    escaped = reason.encode("ascii", "backslashreplace").decode("ascii")
    printable = "".join(c if " " <= c <= "~" else " " for c in escaped)
    return ((REASON_KEY, printable),)
