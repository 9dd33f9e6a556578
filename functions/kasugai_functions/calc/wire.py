"""Helpers at the wire: request logging, status names, and the NG reason in trailing metadata.

The proto has no field for why a reply is NG, and changing the contract's messages is not ours to
do. The reason travels as trailing metadata instead (``kasugai-calc-reason``), which the original
Go programs ignore, so both stay interoperable. The request id (``x-request-id``) rides in the
invocation metadata the same way: every hop logs it and passes it on.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from kasugai_functions.calc import operator_pb2

REASON_KEY = "kasugai-calc-reason"
REQUEST_ID_KEY = "x-request-id"
# What a hop accepts as an id from its caller: short and plain, so it is safe in every log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_RULE = "1 to 128 characters of letters, digits, '.', '_', ':' and '-'"


def new_request_id() -> str:
    return uuid.uuid4().hex


def is_valid_request_id(value: str) -> bool:
    return _REQUEST_ID.fullmatch(value) is not None


def request_id_from(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The caller's request id, if it sent a usable one (None: none, or one not to be trusted)."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY:
            text = value if isinstance(value, str) else value.decode("ascii", "replace")
            return text if is_valid_request_id(text) else None
    return None


def describe_request(request: operator_pb2.OperateRequest) -> dict[str, Any]:
    """The whole request as plain values, for one structured log line."""
    return {"inputs": list(request.inputs), "results": describe_results(request)}


def describe_results(request: operator_pb2.OperateRequest) -> list[dict[str, Any]]:
    """The results so far, as ``{operator, value}`` mappings in chain order."""
    return [{"operator": result.operator, "value": result.value} for result in request.results]


_STATUS_NAMES = {number: name for name, number in operator_pb2.OperateResponseStatus.items()}


def status_name(status: int) -> str:
    """``OK``, ``NG``, ``UNKNOWN``, or the number of a status this proto does not know."""
    return _STATUS_NAMES.get(status) or str(status)


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
