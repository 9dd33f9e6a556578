"""Hypothesis strategies for the core tests, in one place so generated inputs mean the same thing
everywhere: valid scenarios (a tree-shaped chain of 1-5 functions with their FunctionTypes,
functioninfos, config ConfigMaps and 1-2 DataFlows) and corruptions of their bodies."""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
from hypothesis import strategies as st

from kasugai.core.events import ObjectKey

NAMES = ("plus", "minus", "pip", "dsa", "rcv", "send", "x1", "relay")
REGIONS = ("cpu", "cpu", "a100", "t4")
MODES = ("clusterip", "loadbalancer", "sriov", None)


@attrs.frozen
class Scenario:
    """Inputs users would apply; ``dataflows`` are the keys of the DataFlows among them."""

    inputs: tuple[dict[str, Any], ...] = attrs.field(eq=False)
    dataflows: tuple[ObjectKey, ...]
    keys: tuple[str, ...]

    def bodies(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.inputs))


def _entry(
    rx: str, tx: str, image: str, mode: str | None, ports: list[tuple[int, str]]
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "rxProtocol": rx,
        "txProtocol": tx,
        "imageURI": image,
        "envs": {"SIDECAR_MNG_PROSESS_NAME": "app"},
        "template": {
            "apiVersion": "v1",
            "kind": "Pod",
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "command": ["run"],
                        "ports": [{"containerPort": p, "protocol": proto} for p, proto in ports],
                        "volumeMounts": [{"name": "config-dir", "mountPath": "/config"}],
                    },
                    {"name": "sidecar", "image": "sidecar:1"},
                ],
                "volumes": [{"name": "config-dir", "emptyDir": {}}],
                "restartPolicy": "Always",
            },
        },
    }
    if mode == "sriov":
        entry.update(
            additionalNetwork=True, virtualNetworkDeviceDriverType="sriov", ipam=["vf-net"]
        )
    elif mode is not None:
        entry["Annotations"] = {"ethernet.swb.example.com/network": mode}
    return entry


def _configmap(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    namespace = draw(st.sampled_from(("ns-a", "default")))
    keys = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    parents = [draw(st.integers(0, i - 1)) if i else -1 for i in range(len(keys))]
    outputs = [[j for j, p in enumerate(parents) if p == i] for i in range(len(keys))]
    connections: list[dict[str, Any]] = [
        {
            "from": {"functionKey": "wb-start-of-chain", "port": 0},
            "to": {"functionKey": keys[0], "port": 0},
        }
    ]
    for i, children in enumerate(outputs):
        for port, child in enumerate(children):
            connections.append(
                {
                    "from": {"functionKey": keys[i], "port": port},
                    "to": {"functionKey": keys[child], "port": 0},
                }
            )
        if not children:
            connections.append(
                {
                    "from": {"functionKey": keys[i], "port": 0},
                    "to": {"functionKey": "wb-end-of-chain", "port": 0},
                }
            )
    inputs: list[dict[str, Any]] = []
    for i, key in enumerate(keys):
        ports = draw(
            st.lists(
                st.tuples(st.integers(1024, 9999), st.sampled_from(("TCP", "UDP"))),
                min_size=1,
                max_size=2,
                unique_by=lambda p: p[0],
            )
        )
        mode = draw(st.sampled_from(MODES))
        rx = "RTP" if i == 0 else "TCP"
        tx = "TCP" if outputs[i] else "RTP"
        image = f"img-{key}:1"
        variant = draw(st.sampled_from(("exact", "decoy", "fallback")))
        entries = [_entry(rx, tx, image, mode, ports)]
        if variant == "decoy":
            decoy = _entry(
                "RTP", "RTP" if (rx, tx) != ("RTP", "RTP") else "TCP", "decoy:1", mode, ports
            )
            entries = draw(st.permutations([entries[0], decoy]))
        elif variant == "fallback":
            entries = [_entry("UDP", "UDP", image, mode, ports)]
        config_namespace = draw(st.sampled_from(("default", namespace)))
        inputs.append(
            _configmap(
                f"config-{key}", config_namespace, {f"{key}.json": json.dumps(entries, indent=2)}
            )
        )
        item = {
            "name": "item1",
            "regionType": draw(st.sampled_from(REGIONS)),
            "configName": f"config-{key}",
            "specName": "spec1",
        }
        limits = {"name": "spec1", "maxInputNum": 1, "maxOutputNum": max(1, len(outputs[i]))}
        inputs.append(
            _configmap(
                f"info-{key}",
                namespace,
                {"deployableItems": json.dumps([item]), "spec": json.dumps([limits])},
            )
        )
        inputs.append(
            {
                "apiVersion": "example.com/v1",
                "kind": "FunctionType",
                "metadata": {"name": f"type-{key}", "namespace": namespace},
                "spec": {
                    "functionName": f"fn-{key}",
                    "version": "1.0.0",
                    "functionInfoCMRef": {"name": f"info-{key}", "namespace": namespace},
                },
            }
        )
    inputs.append(
        {
            "apiVersion": "example.com/v1",
            "kind": "FunctionChain",
            "metadata": {"name": "chain", "namespace": namespace},
            "spec": {
                "functionTypeNamespace": namespace,
                "functions": {k: {"functionName": f"fn-{k}", "version": "1.0.0"} for k in keys},
                "connections": connections,
            },
        }
    )
    names = draw(
        st.lists(st.sampled_from(("df-one", "df-two", "flow")), min_size=1, max_size=2, unique=True)
    )
    for name in names:
        metadata: dict[str, Any] = {"name": name, "namespace": namespace}
        if draw(st.booleans()):
            metadata.update(uid=f"uid-{name}", generation=draw(st.integers(1, 5)))
        inputs.append(
            {
                "apiVersion": "example.com/v1",
                "kind": "DataFlow",
                "metadata": metadata,
                "spec": {"functionChainRef": {"name": "chain", "namespace": namespace}},
            }
        )
    dataflows = tuple(ObjectKey("DataFlow", namespace, n) for n in names)
    return Scenario(tuple(inputs), dataflows, tuple(keys))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (dict keys and list indexes), the value itself included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def corrupted(draw: st.DrawFn, scenario: Scenario) -> list[dict[str, Any]]:
    """The scenario's inputs with one value somewhere replaced by arbitrary JSON.

    JSON held in ConfigMap strings is decoded first so that corruption reaches inside it too
    (and sometimes the string itself is replaced, making it malformed).
    """
    items = scenario.bodies()
    body = draw(st.sampled_from([i for i in items if i["kind"] != "DataFlow"] + [items[-1]]))
    if body["kind"] == "ConfigMap" and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(body["data"])))
        decoded = json.loads(body["data"][key])
        path = draw(st.sampled_from(_paths(decoded)))
        decoded = _replace(decoded, path, draw(json_values))
        body["data"][key] = (
            json.dumps(decoded) if draw(st.booleans()) else draw(st.text(max_size=20))
        )
        return items
    identity = {("kind",), ("metadata",), ("metadata", "name"), ("metadata", "namespace")}
    paths = [p for p in _paths(body)[1:] if p[:1] not in identity and p[:2] not in identity]
    path = draw(st.sampled_from(paths))
    _replace(body, path, draw(json_values))
    return items


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    holder = value
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = new
    return value
