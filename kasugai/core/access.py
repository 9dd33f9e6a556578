"""References across namespaces: followed only where the referring namespace may read the target.

kasugai's controller can read every namespace; a tenant cannot. So that a reference never lends
the controller's eyes to a tenant (a FunctionType naming another namespace's ConfigMap would put
that ConfigMap's contents into its own status), every object a DataFlow, FunctionChain or
FunctionType reads in **another** namespace is first checked: may the referring namespace's
ServiceAccount read it? Same-namespace references need no check (the tenant wrote them).

The core cannot ask the API server; it asks the adapter. A plan lists the ``AccessQuestion``s it
needs; the adapter answers each by acting as that ServiceAccount and feeds the answer back as an
``Observed`` event of kind ``AccessReview`` (a fact like any other, so ``kasugai replay`` sees
the same answers). Until then the reference waits; a denied one is an error that names the
field, the account and the target, and nothing of the target is read. Offline (files, the local
runtime) there is one user and no check (``PlanOptions.check_access`` is off).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from kasugai.core.events import ObjectKey
from kasugai.core.problem import Problem

__all__ = [
    "ACCESS_KIND",
    "AccessAnswer",
    "AccessQuestion",
    "Read",
    "access_body",
    "gate",
    "parse_access",
]

ACCESS_KIND = "AccessReview"

# kind -> (API group, resource) of what may be referenced across namespaces.
RESOURCES: Mapping[str, tuple[str, str]] = {
    "FunctionChain": ("example.com", "functionchains"),
    "FunctionType": ("example.com", "functiontypes"),
    "ConfigMap": ("", "configmaps"),
}


@attrs.frozen(order=True)
class AccessQuestion:
    """May ServiceAccount ``namespace/service_account`` read the target?

    ``name`` empty: every object of ``kind`` in ``target_namespace`` (FunctionTypes are found by
    their functionName, which means reading them all).
    """

    namespace: str
    service_account: str
    kind: str
    target_namespace: str
    name: str = ""

    @property
    def key(self) -> ObjectKey:
        # ':' appears in no Kubernetes name, so the name is unambiguous.
        parts = (self.service_account, self.kind, self.target_namespace, self.name or "*")
        return ObjectKey(ACCESS_KIND, self.namespace, ":".join(parts))

    @property
    def verb(self) -> str:
        return "get" if self.name else "list"

    @property
    def target(self) -> str:
        if self.name:
            return f"{self.kind} {self.target_namespace}/{self.name}"
        return f"{self.kind}s in namespace {self.target_namespace}"

    @property
    def account(self) -> str:
        return f"ServiceAccount {self.namespace}/{self.service_account}"


@attrs.frozen
class AccessAnswer:
    """An answered question: allowed or not, and the API server's reason when it gave one."""

    allowed: bool
    reason: str = ""


def access_body(question: AccessQuestion, allowed: bool, reason: str = "") -> dict[str, Any]:
    """The object an adapter observes as the answer to ``question``."""
    key = question.key
    return {
        "apiVersion": "kasugai.io/v1",
        "kind": ACCESS_KIND,
        "metadata": {"namespace": key.namespace, "name": key.name},
        "spec": {
            "serviceAccount": question.service_account,
            "verb": question.verb,
            "kind": question.kind,
            "namespace": question.target_namespace,
            "name": question.name,
        },
        "status": {"allowed": allowed, "reason": reason},
    }


def parse_access(body: Mapping[str, Any]) -> AccessAnswer:
    status = body.get("status")
    status = status if isinstance(status, Mapping) else {}
    reason = status.get("reason")
    return AccessAnswer(status.get("allowed") is True, reason if isinstance(reason, str) else "")


@attrs.frozen
class Read:
    """One object (or every object of a kind in a namespace) that planning reads, and the field
    of the referring object that leads to it."""

    field: str
    kind: str
    namespace: str
    name: str = ""


def gate(
    answer_of: Callable[[ObjectKey], object],
    namespace: str,
    service_account: str,
    reads: Iterable[Read],
) -> tuple[tuple[Problem, ...], tuple[AccessQuestion, ...]]:
    """The problems of reading ``reads`` as ``namespace/service_account``, and the questions.

    ``answer_of`` looks up an observed answer by question key (``World.value``). The questions
    are every cross-namespace read (answered or not, so the adapter can ask again when
    permissions change); the problems are those of the first read not allowed (yet), since what
    comes after it was found by reading it.
    """
    questions: list[AccessQuestion] = []
    problems: tuple[Problem, ...] = ()
    for read in reads:
        if read.namespace == namespace:
            continue
        question = AccessQuestion(namespace, service_account, read.kind, read.namespace, read.name)
        questions.append(question)
        if problems:
            continue
        answer = answer_of(question.key)
        if not isinstance(answer, AccessAnswer):
            problems = (
                Problem(
                    f"{read.field}: waiting for an access check: may {question.account} "
                    f"{question.verb} {question.target}",
                    waiting=True,
                ),
            )
        elif not answer.allowed:
            problems = (
                Problem(
                    f"{read.field}: {question.account} may not {question.verb} "
                    f"{question.target}; a reference to another namespace needs that right "
                    "(grant it with a Role in that namespace, or keep the object in this one)",
                    reason="AccessDenied",
                ),
            )
    return problems, tuple(dict.fromkeys(questions))
