"""In a cluster, tells the controller which connection config the function has loaded.

Once a SIGHUP reached the function (or it needed none), the sidecar patches its own Pod's status
with the condition ``kasugai.io/ConnectionLoaded``, built by the core's ``loaded_condition`` (the
digest of ``data.config``, as the local runtime reports it). The controller rewires an upstream
towards this Pod only once it has loaded its own next hop (``kasugai/core/rewiring.py``).

Reporting never holds a reload back: it runs on its own task, and the blocking client call in a
thread. Only the newest config counts: a failed patch is logged, counted and retried with
jittered backoff, each time with the newest config, until one gets through.

A config the sidecar could not render (rejected, or a template that failed) is reported too: the
condition turns False with reason ``RenderFailed`` and the error as its message, so that
``kasugai explain`` and ``kubectl describe pod`` say why the function did not get its next hop.
The controller reads a False condition as "nothing loaded" and keeps the upstream where it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import structlog

from kasugai.backoff import Backoff
from kasugai.core import names
from kasugai.core.rewiring import loaded_condition
from kasugai.core.status import condition
from kasugai_sidecar.kube_http import Api
from kasugai_sidecar.observability import LOADED_REPORTS

log = structlog.get_logger("kasugai_sidecar.loaded_report")

RETRY = Backoff(initial=0.5, maximum=30.0, jitter=0.2)
REQUEST_TIMEOUT_S = (10, 30)  # connect, read

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
Patch = Callable[[dict[str, Any]], None]  # sends one Pod status patch; raises on failure
RENDER_FAILED = "RenderFailed"
MESSAGE_LIMIT = 1024  # of the error in the condition: a Pod status is no place for a log


def render_failed_condition(error: str) -> dict[str, str]:
    """The Pod condition saying the sidecar could not render the function's config."""
    text = " ".join(error.split())
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 3] + "..."
    return condition(names.CONNECTION_LOADED_CONDITION, False, RENDER_FAILED, text)


def status_patch(config: str) -> dict[str, Any]:
    """A strategic merge patch of the Pod's status: its conditions merge by ``type``, so this
    one replaces only kasugai's own condition and leaves the kubelet's alone."""
    return condition_patch(loaded_condition(config))


def condition_patch(found: dict[str, str]) -> dict[str, Any]:
    return {"status": {"conditions": [found]}}


def pod_status_patcher(api: Callable[[], Api], namespace: str, pod: str) -> Patch:
    """Patches ``pods/status`` of Pod ``pod``; the client is made on the first call (in the
    reporter's thread), so that a client that cannot be made is one more failure to retry."""
    made: list[Api] = []
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/status"

    def patch(body: dict[str, Any]) -> None:
        if not made:
            made.append(api())
        made[0].request(
            "PATCH",
            path,
            body=body,
            content_type=STRATEGIC_MERGE_PATCH,
            timeout=REQUEST_TIMEOUT_S,
        )

    return patch


class LoadedReporter:
    """Reports the newest loaded config through ``patch``, retrying until it is through."""

    def __init__(self, patch: Patch, retry: Backoff = RETRY) -> None:
        self._patch = patch
        self._retry = retry
        self._wanted: dict[str, str] | None = None  # the condition to report
        self._reported: dict[str, str] | None = None
        self._changed = asyncio.Event()

    def report(self, config: str) -> None:
        """The function runs with ``config`` (``data.config``, exactly) now."""
        self._wanted = loaded_condition(config)
        self._changed.set()

    def report_failure(self, error: str) -> None:
        """The newest config could not be rendered (``error`` says why)."""
        self._wanted = render_failed_condition(error)
        self._changed.set()

    async def run(self) -> None:
        failures = 0
        while True:
            await self._changed.wait()
            self._changed.clear()
            wanted = self._wanted
            if wanted is None or wanted == self._reported:
                continue
            body = condition_patch(wanted)
            try:
                await asyncio.to_thread(self._patch, body)
            except Exception as err:  # any failure is retried; the sidecar goes on reloading
                failures += 1
                delay = self._retry.delay(failures)
                LOADED_REPORTS.labels("failed").inc()
                log.error(
                    "cannot report the loaded config on the Pod; retrying",
                    error=" ".join(str(err).split())[:500],
                    retry_in_s=round(delay, 2),
                    hint="the Pod's ServiceAccount needs patch on pods/status of this Pod",
                )
                await asyncio.sleep(delay)
                self._changed.set()  # retry, with the newest config by then
                continue
            failures = 0
            self._reported = wanted
            LOADED_REPORTS.labels("reported").inc()
            log.info("reported the loaded config", condition=body["status"]["conditions"][0])
