"""The sidecar's few Kubernetes API requests, as JSON over urllib3 (the official client's own
transport): a GET, a watch stream of events, a PATCH. Each body or watch line is read within
``LIMITS``; a failed request raises ``ApiError``
with the API server's own message (its ``Status``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import urllib3

from kasugai.core import bounded
from kasugai_sidecar.kube_access import Access

LIMITS = bounded.JOURNAL_LINE  # one object (a ConfigMap, a Pod) as the API server sends it
USER_AGENT = "kasugai-sidecar"
Timeout = tuple[float, float]  # connect, read (seconds)


class ApiError(Exception):
    """The API server answered with an error; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Api:
    """Requests to one API server; safe to use from several threads."""

    def __init__(self, access: Access) -> None:
        self.access = access
        # Two connections at most: the watch's and the status patches'.
        self.pool = urllib3.PoolManager(maxsize=2, ssl_context=access.tls, retries=False)

    def _open(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None,
        timeout: Timeout,
        body: Any = None,
        content_type: str | None = None,
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        authorization = self.access.authorization()
        if authorization:
            headers["Authorization"] = authorization
        encoded = None
        if body is not None:
            encoded = json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        url = self.access.server + path + (f"?{urlencode(query)}" if query else "")
        response = self.pool.request(
            method,
            url,
            body=encoded,
            headers=headers,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            preload_content=False,
            redirect=False,
        )
        if response.status >= 300:
            try:
                raise _error(response.status, _read(response))
            finally:
                response.release_conn()
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: Timeout,
    ) -> Any:
        """The JSON answer of one request."""
        response = self._open(method, path, query, timeout, body, content_type)
        try:
            return bounded.load_api_json(_read(response), LIMITS)
        finally:
            response.release_conn()

    def watch(
        self, path: str, query: Mapping[str, Any], timeout: Timeout
    ) -> urllib3.BaseHTTPResponse:
        """The open stream of a watch (``?watch=true`` is added); read it with ``events``.
        ``shutdown()`` on it, from another thread, ends a read that waits."""
        return self._open("GET", path, {**query, "watch": "true"}, timeout)


def events(response: urllib3.BaseHTTPResponse) -> Iterator[dict[str, Any]]:
    """The watch events of ``response``, one JSON object per line, until the stream ends.
    The caller closes ``response`` (``close_watch``) however the reading ends."""
    pending: list[bytes] = []  # the start of a line still arriving
    size = 0
    for chunk in response.stream(2**16):
        *ends, rest = chunk.split(b"\n")
        for end in ends:
            line, pending, size = b"".join([*pending, end]), [], 0
            if line.strip():
                yield _event(line)
        pending.append(rest)
        size += len(rest)
        if size > LIMITS.max_bytes:
            raise bounded.OverLimit(f"a watch event over {bounded.describe_size(size)}")
    if size:
        yield _event(b"".join(pending))


def close_watch(response: urllib3.BaseHTTPResponse) -> None:
    """Close a watch's connection (it may still be streaming) and give its slot back."""
    response.close()
    response.release_conn()


def _event(line: bytes) -> dict[str, Any]:
    event = bounded.load_api_json(line, LIMITS)
    if not (isinstance(event, dict) and isinstance(event.get("object"), dict)):
        raise bounded.ParseError("a watch event without an object")
    return event


def _read(response: urllib3.BaseHTTPResponse) -> bytes:
    data = response.read(LIMITS.max_bytes + 1)
    if len(data) > LIMITS.max_bytes:
        raise bounded.OverLimit(f"an answer over {bounded.describe_size(LIMITS.max_bytes)}")
    return data


def _error(status: int, body: bytes) -> ApiError:
    """The Status object's message when the body is one, else the HTTP status."""
    try:
        found = json.loads(body)
    except ValueError:  # not JSON: a proxy's page, say; the status says enough
        found = None
    message = found.get("message") if isinstance(found, dict) else None
    text = " ".join(message.split())[:1000] if isinstance(message, str) else ""
    return ApiError(status, text or f"HTTP {status}")


def error_status(event: dict[str, Any]) -> ApiError:
    """The error a watch's ERROR event carries (its object is a ``Status``)."""
    status = event["object"]
    code = status.get("code")
    message = status.get("message")
    return ApiError(
        code if isinstance(code, int) else 500,
        message if isinstance(message, str) else "the watch failed",
    )
