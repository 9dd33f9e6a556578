"""Causes in the inputs: a missing FunctionChain, FunctionType or config, an invalid field, an
object someone else owns (read from the DataFlow's conditions, as the controller words them)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kasugai.explain.model import (
    MESSAGE_LIMIT,
    Cause,
    clean,
    conditions_of,
)

_MORE = re.compile(r" \(and (\d+) more\)$")
_NAME = r"[A-Za-z0-9][-A-Za-z0-9_.]*"
_CHAIN_WAIT = re.compile(rf"^waiting for FunctionChain ({_NAME})/({_NAME})(?: not found|: (.*))$")
_TYPE_MISSING = re.compile(
    rf"^(spec\.functions\.{_NAME}): FunctionType with functionName '([^']*)' and version "
    rf"'([^']*)' not found in namespace '({_NAME})'$"
)
_CONFIG_MISSING = re.compile(
    rf"^waiting for function '([^']*)': config ConfigMap '({_NAME})' not found in "
    rf"'({_NAME})'(?: or '({_NAME})')?$"
)
_NOT_FOUND = re.compile(rf"^(?:(.*?): )?(\w+) ({_NAME})/({_NAME}) not found$")
_CONFLICT = re.compile(rf"^(\w+) ({_NAME})/({_NAME}) already exists and is not this DataFlow's")
_OBJECT = re.compile(rf"(ConfigMap|FunctionType|FunctionChain|DataFlow) ({_NAME})/({_NAME}):? ")


def _split(message: str) -> tuple[list[str], int]:
    """The problems of a summarized message, and how many more it left out."""
    more = _MORE.search(message)
    if more:
        message = message[: more.start()]
    return [p for p in message.split("; ") if p], int(more.group(1)) if more else 0


def _missing(problem: str, namespace: str) -> Cause | None:
    chain = _CHAIN_WAIT.match(problem)
    if chain:
        chain_ns, chain_name, rest = chain.groups()
        where = f"FunctionChain {chain_ns}/{chain_name}"
        if rest is None:
            return Cause(
                f"FunctionChain {chain_name} in namespace {chain_ns}",
                "MissingInput",
                f"{where} does not exist",
                f"create FunctionChain {chain_name} in namespace {chain_ns}, or point the "
                "DataFlow's spec.functionChainRef at an existing one",
            )
        wanted = _TYPE_MISSING.match(rest)
        if wanted:
            field, function_name, version, type_ns = wanted.groups()
            return Cause(
                f"FunctionType {function_name} (version {version}) in namespace {type_ns}",
                "MissingInput",
                f"{where}: {rest}",
                f"create a FunctionType with spec.functionName {function_name!r} and "
                f"spec.version {version!r} in namespace {type_ns}, or fix {field} of {where}",
            )
        found = _missing(rest, chain_ns)
        if found is not None:
            return attrs.evolve(found, message=f"{where}: {found.message}")
        return Cause(
            where, "InvalidConfig", rest, f"fix {where} as the message says; {_field_hint(rest)}"
        )
    config = _CONFIG_MISSING.match(problem)
    if config:
        function, name, first, second = config.groups()
        places = f"namespace {first}" + (f" (or {second})" if second else "")
        return Cause(
            f"ConfigMap {name} in {places}",
            "MissingInput",
            f"function {function!r} needs its config ConfigMap {name}, which does not exist",
            f"create ConfigMap {name} in namespace {first} (kubectl apply -n {first} -f ...)",
        )
    gone = _NOT_FOUND.match(problem)
    if gone:
        context, kind, object_ns, name = gone.groups()
        why = f" ({context})" if context else ""
        return Cause(
            f"{kind} {name} in namespace {object_ns}",
            "MissingInput",
            f"{kind} {object_ns}/{name} does not exist{why}",
            f"create {kind} {name} in namespace {object_ns}",
        )
    return None


def _field_hint(problem: str) -> str:
    """The field a validation problem names, as the place to fix it."""
    found = _OBJECT.search(problem)
    rest = problem[found.end() :] if found else problem
    field, _, why = rest.partition(": ")
    return f"the field is {field} ({why})" if why else "the message names the field"


def _invalid(problem: str, namespace: str, name: str) -> Cause:
    found = _OBJECT.search(problem)
    if found:
        kind, object_ns, object_name = found.groups()
        about = f"{kind} {object_ns}/{object_name}"
        rest = problem[found.end() :]
    else:
        about, rest = f"DataFlow {namespace}/{name}", problem
    field, _, why = rest.partition(": ")
    if why:
        action = f"fix {field} in {about}: {why}; the DataFlow is planned again on the next edit"
    else:
        action = f"fix {about} as the message says; the DataFlow is planned again on the next edit"
    return Cause(about, "InvalidConfig", problem, action)


def input_causes(status: Mapping[str, Any], namespace: str, name: str) -> list[Cause]:
    resolved = conditions_of(status).get("Resolved")
    if resolved is None or resolved.get("status") != "False":
        return []
    reason = str(resolved.get("reason") or "")
    problems, more = _split(clean(resolved.get("message"), 4 * MESSAGE_LIMIT))
    causes = []
    for problem in problems:
        if reason == "Conflict" or _CONFLICT.match(problem):
            owned = _CONFLICT.match(problem)
            kind, object_ns, object_name = owned.groups() if owned else ("object", namespace, "?")
            causes.append(
                Cause(
                    f"{kind} {object_ns}/{object_name}",
                    "Conflict",
                    problem,
                    f"kubectl delete -n {object_ns} {kind.lower()} {object_name} if it is a "
                    "leftover; else rename the DataFlow or the function so the names differ",
                )
            )
            continue
        missing = _missing(problem, namespace)
        if missing is not None:
            causes.append(missing)
        elif reason == "AccessDenied":
            causes.append(
                Cause(
                    f"DataFlow {namespace}/{name}",
                    "AccessDenied",
                    problem,
                    "grant kasugai's account in this namespace what the message names "
                    "(kubectl apply -k manifests/tenant -n NAMESPACE)",
                )
            )
        else:
            causes.append(_invalid(problem, namespace, name))
    if more:
        causes.append(
            Cause(
                f"DataFlow {namespace}/{name}",
                causes[-1].reason if causes else "WaitingForInputs",
                f"and {more} more problem(s) like these",
                "kubectl get functionchain,functiontype -n NAMESPACE -o yaml shows every "
                "problem in their status",
            )
        )
    return unique(causes)


def unique(causes: Iterable[Cause]) -> list[Cause]:
    seen: dict[tuple[str, str], Cause] = {}
    for cause in causes:
        seen.setdefault((cause.about, cause.reason), cause)
    return list(seen.values())
