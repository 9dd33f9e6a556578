"""Helpers shared by the core tests: sample inputs as events, and a stand-in API server.

``ApiServerStandIn`` plays the API server, MetalLB, Multus and the kubelet for the pure core tier:
it applies diff actions and reports the objects back the way Kubernetes would, with every
server-populated field filled in (uid, resourceVersion, managedFields, clusterIP, nodePorts,
ingress IPs, Pod defaults, the service-account volume, VF addresses, status). It exists because
this tier is pure and fast by design; the cluster tier checks the same round trip against a real
kube-apiserver.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kasugai.adapters.files import load_objects
from kasugai.core.diff import Action, diff
from kasugai.core.engine import Engine
from kasugai.core.events import Event, Forgotten, ObjectKey, Observed

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "fixtures" / "openkasugai"
FACTS = REPO / "tests" / "fixtures" / "facts"
CALC = SAMPLES / "calc-func" / "basic"
P1C1 = SAMPLES / "cpugpu-func" / "p1c1"
P2C1 = SAMPLES / "cpugpu-func" / "p2c1"
P3C1 = SAMPLES / "cpugpu-func" / "p3c1"


def bodies(*paths: Path) -> list[dict[str, Any]]:
    """Deep copies of every object in the files, safe to edit."""
    return [copy.deepcopy(dict(item.body)) for item in load_objects(paths)]


def observed(items: Iterable[Mapping[str, Any]]) -> list[Event]:
    return [Observed.of(body) for body in items]


def engine_with(*paths: Path, extra: Iterable[Mapping[str, Any]] = ()) -> Engine:
    engine = Engine()
    engine.apply_all(observed([*bodies(*paths), *extra]))
    return engine


def find(items: Iterable[Any], kind: str, name: str) -> dict[str, Any]:
    """The object itself (not a copy): editing it edits the list."""
    for item in items:
        if item["kind"] == kind and item["metadata"]["name"] == name:
            return item  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} {name} in {[i['metadata']['name'] for i in items]}")


def config_entries(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON entries of a config ConfigMap (its single data key)."""
    (text,) = body["data"].values()
    entries: list[dict[str, Any]] = json.loads(text)
    return entries


def set_config_entries(body: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    (key,) = body["data"]
    body["data"] = {key: json.dumps(entries, indent=2)}
    return body


class ApiServerStandIn:
    """Applies actions and reports objects back with the fields a real cluster would add."""

    def __init__(self) -> None:
        self.objects: dict[ObjectKey, dict[str, Any]] = {}
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def apply(self, actions: Iterable[Action]) -> list[Event]:
        """Perform the writes; return the watch events they cause."""
        events: list[Event] = []
        for action in actions:
            key = action.key
            if action.verb in ("delete", "replace"):
                del self.objects[key]
                events.append(Forgotten(key.kind, key.namespace, key.name))
            if action.verb in ("create", "replace"):
                assert action.desired is not None
                self.objects[key] = self._populate(copy.deepcopy(dict(action.desired)))
                events.append(Observed.of(self.objects[key]))
            if action.verb == "patch":
                assert action.desired is not None
                current = self.objects[key]
                _merge(current, copy.deepcopy(dict(action.desired)))
                current["metadata"]["resourceVersion"] = str(self._next())
                events.append(Observed.of(current))
        return events

    def _populate(self, obj: dict[str, Any]) -> dict[str, Any]:
        serial = self._next()
        meta = obj["metadata"]
        meta.update(
            uid=f"00000000-0000-0000-0000-{serial:012d}",
            resourceVersion=str(serial),
            generation=1,
            creationTimestamp="2026-01-01T00:00:00Z",
            managedFields=[{"manager": "kasugai", "operation": "Apply"}],
        )
        if obj["kind"] == "Service":
            spec = obj["spec"]
            ip = f"10.96.{serial // 250}.{serial % 250 + 1}"
            spec.update(
                clusterIP=ip,
                clusterIPs=[ip],
                ipFamilies=["IPv4"],
                ipFamilyPolicy="SingleStack",
                sessionAffinity="None",
                internalTrafficPolicy="Cluster",
            )
            status: dict[str, Any] = {"loadBalancer": {}}
            if spec["type"] == "LoadBalancer":
                for port in spec["ports"]:
                    port["nodePort"] = 30000 + serial % 2000
                spec["externalTrafficPolicy"] = "Cluster"
                status = {"loadBalancer": {"ingress": [{"ip": f"172.18.255.{serial % 250}"}]}}
            obj["status"] = status
        if obj["kind"] == "Pod":
            self._populate_pod(obj, serial)
        return obj

    @staticmethod
    def _populate_pod(obj: dict[str, Any], serial: int) -> None:
        spec = obj["spec"]
        spec.update(
            dnsPolicy="ClusterFirst",
            schedulerName="default-scheduler",
            terminationGracePeriodSeconds=30,
            tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
        )
        spec.setdefault("serviceAccountName", "default")
        for field in ("hostNetwork", "hostIPC", "hostPID"):  # bools the server omits when false
            if spec.get(field) is False:
                del spec[field]
        spec.setdefault("volumes", []).append(
            {"name": f"kube-api-access-{serial}", "projected": {}}
        )
        for container in spec["containers"]:
            container.update(terminationMessagePath="/dev/termination-log")
            container.setdefault("volumeMounts", []).append(
                {
                    "name": f"kube-api-access-{serial}",
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                }
            )
            for item in container.get("env", []):
                if "valueFrom" in item:
                    item["valueFrom"]["fieldRef"]["apiVersion"] = "v1"
        annotations = obj["metadata"].setdefault("annotations", {})
        if annotations.get("ethernet.swb.example.com/network") == "sriov":
            vf = {
                "name": "sriov",
                "interface": "net1",
                "ips": [f"192.174.90.{serial % 250}"],
                "mac": "02:00:00:00:00:01",
                "device-info": {"type": "pci"},
            }
            annotations["k8s.v1.cni.cncf.io/network-status"] = json.dumps([vf])
        obj["status"] = {"phase": "Running", "podIP": f"10.244.0.{serial % 250}"}


def _merge(into: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for field, value in patch.items():
        if isinstance(value, Mapping) and isinstance(into.get(field), dict):
            _merge(into[field], value)
        else:
            into[field] = value


def converge(engine: Engine, server: ApiServerStandIn, rounds: int = 10) -> int:
    """Diff, apply, observe until nothing is left to do; the number of rounds it took."""
    for round_number in range(1, rounds + 1):
        actions = diff(engine.desired(), server.objects.values())
        if not actions:
            return round_number
        engine.apply_all(server.apply(actions))
    raise AssertionError(
        f"no convergence in {rounds} rounds: {diff(engine.desired(), server.objects.values())}"
    )
