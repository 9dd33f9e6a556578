"""Answers to the core's access questions, asked by acting as the ServiceAccount in question.

The core follows a reference into another namespace only once it knows that the referring
namespace's ServiceAccount may read the target (``kasugai.core.access``). This asks the API
server by doing exactly that read as the account (impersonation): a 2xx or a 404 means allowed,
a 403 means not. Each answer goes back into the core as an ``AccessReview`` observation.

Permissions change, so every question in use is asked again after ``refresh_s``; a question
whose read failed for another reason (no answer, a server error) is retried after ``retry_s``.
Owned by the reconcile loop's thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import structlog

from kasugai.adapters.kube.api import KubeApi, error_message, service_account_user
from kasugai.adapters.kube.pacing import REQUEST_ERRORS
from kasugai.adapters.kube.watchers import observed
from kasugai.core.access import AccessQuestion, access_body
from kasugai.core.events import ObjectKey, Observed

__all__ = ["AccessChecks"]

log = structlog.get_logger("kasugai.controller")


class AccessChecks:
    """The questions the current plans need, and when each was last asked."""

    def __init__(self, api: KubeApi, refresh_s: float = 300.0, retry_s: float = 10.0) -> None:
        self.api = api
        self.refresh_s = refresh_s
        self.retry_s = retry_s
        self._needed: dict[ObjectKey, tuple[AccessQuestion, ...]] = {}
        self._asked: dict[AccessQuestion, float] = {}

    def need(self, subject: ObjectKey, questions: Iterable[AccessQuestion]) -> None:
        """What ``subject`` (a DataFlow, chain or type) needs now; nothing once it is gone."""
        found = tuple(questions)
        if found:
            self._needed[subject] = found
        else:
            self._needed.pop(subject, None)

    def due(self, answered: set[ObjectKey]) -> list[AccessQuestion]:
        """Questions to ask now: never answered and not just tried, or answered long ago."""
        moment = time.monotonic()
        questions = {q for found in self._needed.values() for q in found}
        for stale in self._asked.keys() - questions:
            del self._asked[stale]
        due = []
        for question in sorted(questions):
            asked = self._asked.get(question)
            wait = self.refresh_s if question.key in answered else self.retry_s
            if asked is None or moment - asked >= wait:
                due.append(question)
        return due

    def ask(self, questions: Iterable[AccessQuestion]) -> list[Observed]:
        """The answers, as observations; a question the server could not answer is skipped."""
        answers = []
        for question in questions:
            self._asked[question] = time.monotonic()
            user = service_account_user(question.namespace, question.service_account)
            try:
                allowed, reason = self.api.acting_as(user).may_read(
                    question.kind, question.target_namespace, question.name
                )
            except REQUEST_ERRORS as error:
                log.warning(
                    "access check failed; asking again later",
                    account=question.account,
                    target=question.target,
                    error=error_message(error),
                )
                continue
            log.info(
                "access checked",
                account=question.account,
                verb=question.verb,
                target=question.target,
                allowed=allowed,
                reason=reason or None,
            )
            answers.append(observed(question.key.kind, access_body(question, allowed, reason)))
        return answers
