"""kasugai on a real single node: the controller installed by ``kubectl apply -k manifests/`` runs
as Pods of its image, and the original samples, unchanged, run as Pods of kasugai's images.

The tests run in this order on one tier and build on each other's state (each also works alone,
with -k: the module's fixtures deploy what it needs). Only one thing is played: with no MetalLB,
the test writes the LoadBalancer Services' ingress address, which kube-proxy then routes.
"""

from __future__ import annotations

import http.client
import itertools
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from e2e_cluster import (
    APP,
    CALC,
    CONTROLLER,
    ENFORCE,
    MANIFESTS,
    SIDECAR,
    SYSTEM,
    VIDEO,
    Kube,
    Sample,
    wait,
)
from kasugai_functions.video.clips import make_test_clip, read_clip_frames
from prometheus_client.parser import text_string_to_metric_families

from kasugai.testing.node import EphemeralNode
from kasugai.testing.rewire_load import (
    BASE,
    TYPE_VERSION_ENV,
    Edit,
    Load,
    add_second_type_version,
    chain_text,
    check,
    function_key,
    rounds_of_edits,
    type_version,
)

pytestmark = pytest.mark.timeout(900)  # the first test also starts the tier and the samples

# Ingress addresses the test gives the LoadBalancers, as MetalLB would: inside the tier's Pod
# network (10.244.0.0/16, on its bridge, so they route nowhere else), far above the addresses
# host-local hands to Pods (10.244.0.2 upwards).
CALC_INGRESS = "10.244.255.250"
VIDEO_INGRESS = "10.244.255.251"
# OPENKASUGAI.md section 6: inputs 1 2 3 4 5 through plus, minus, multiply, divide, average.
INPUTS = (1.0, 2.0, 3.0, 4.0, 5.0)
RESULTS = [
    ("plus", 15.0),
    ("minus", -13.0),
    ("multiply", 120.0),
    ("divide", 0.008333333333333333),
    ("average", 30.502083333333335),
]
CLIP_FRAMES = 90  # 3 s at 30 fps
KASUGAI = Path(sys.executable).with_name("kasugai")


@pytest.fixture(scope="module")
def kube(node: EphemeralNode) -> Iterator[Kube]:
    with node.api_client() as api:
        yield Kube(node, api)


@pytest.fixture(scope="module")
def controller(kube: Kube) -> str:
    """``kubectl apply -k manifests/``, until both replicas are Ready and one holds the Lease;
    kubectl's output."""
    applied = kube.kubectl("apply", "-k", str(MANIFESTS))
    wait(lambda: len(kube.controller_pods()) == 2, "both controller replicas to be Ready")
    wait(kube.lease_holder, "a controller replica to take the Lease")
    return applied


@attrs.frozen
class Deployment:
    refusal: dict[str, Any]  # the Applied condition while the namespace enforced baseline
    refusal_events: list[str]  # the Warning Events' messages meanwhile


@pytest.fixture(scope="module")
def calc(kube: Kube, controller: str) -> Deployment:
    """The original calc sample applied unchanged (configs in ``default``, the rest in
    cpufunc-calcapp): refused while its namespace enforces baseline, then relabelled privileged
    as SECURITY.md says, until every function loaded its next hop."""
    kube.apply_file(CALC.folder)
    refusal = wait(
        lambda: kube.condition(CALC, "Applied"), "the DataFlow to say its Pods were refused"
    )

    def warnings() -> list[str]:
        events = kube.core.list_namespaced_event(
            CALC.namespace, field_selector=f"involvedObject.name={CALC.dataflow}"
        )
        return [e.message for e in events.items if e.reason == "ApplyFailed"]

    refusal_events = wait(warnings, "an ApplyFailed Event on the DataFlow")
    kube.kubectl("label", "namespace", CALC.namespace, f"{ENFORCE}=privileged", "--overwrite")
    wait(lambda: kube.deployed(CALC), "the calc DataFlow to be Deployed, every Pod Running")
    wait_for_calc_wiring(kube)
    return Deployment(refusal, refusal_events)


@pytest.fixture(scope="module")
def video(kube: Kube, controller: str) -> dict[str, Any]:
    """The original p1c1 sample applied unchanged into cpufunc-sample (baseline); its
    DataFlow's status once every Pod runs its pipeline towards the next hop."""
    kube.apply_file(VIDEO.folder)
    status = wait(lambda: kube.deployed(VIDEO), "the p1c1 DataFlow to be Deployed")
    rcv_ip = kube.cluster_ip(VIDEO.namespace, VIDEO.service("rcv"))
    wait(
        lambda: f"udpsink host={rcv_ip} port=5678" in _pipeline(kube, VIDEO.pod("pip")),
        "the relay's pipeline to send to the receiver's Service",
    )
    wait(lambda: "filesink" in _pipeline(kube, VIDEO.pod("rcv")), "the receiver's pipeline")
    return status


# --- helpers ---------------------------------------------------------------------------------


def wait_for_calc_wiring(kube: Kube, keys: tuple[str, ...] = CALC.keys) -> None:
    """Until each function of the chain ``keys`` has loaded the address of the next one's
    Service: the send Pod's sidecar has rendered it (its client reads it at each run), each
    server has logged ``load config`` with it."""
    namespace = CALC.namespace
    for key, after in itertools.pairwise(keys):
        ip = kube.cluster_ip(namespace, CALC.service(after))
        if key == "send":
            wait(
                lambda ip=ip: f'host: "{ip}"' in _rendered(kube),
                f"the send Pod's /config/config.yaml to name {after} ({ip})",
            )
            continue

        def loaded(key: str = key, ip: str = ip) -> bool:
            found = kube.events(namespace, CALC.pod(key), APP, "load config")
            return bool(found) and (found[-1].get("next") or {}).get("host") == ip

        wait(loaded, f"{key} to load {after}'s address {ip}")


def _rendered(kube: Kube) -> str:
    """The send Pod's /config/config.yaml, which its client reads; empty until rendered."""
    argv = ("exec", CALC.pod("send"), "-c", APP, "--", "cat", "/config/config.yaml")
    return kube.node.kubectl("-n", CALC.namespace, *argv).stdout


def _exec(kube: Kube, sample: Sample, key: str, *argv: str, container: str = APP) -> str:
    return kube.kubectl(
        "-n", sample.namespace, "exec", sample.pod(key), "-c", container, "--", *argv
    )


def _pipeline(kube: Kube, pod: str) -> str:
    """The command line of the last pipeline the wrapper started in ``pod``."""
    started = kube.events(VIDEO.namespace, pod, APP, "pipeline started")
    return " ".join(started[-1]["command"]) if started else ""


def calculate(kube: Kube) -> list[tuple[str, float]]:
    """``kubectl exec <send Pod> -- /calcapp 1 2 3 4 5``, then the receiver's new result line."""
    rcv = CALC.pod("rcv")
    before = len(kube.events(CALC.namespace, rcv, APP, "result"))
    reply = _exec(kube, CALC, "send", "/calcapp", *(f"{v:g}" for v in INPUTS))
    assert reply.strip() == "OK", reply
    results = wait(
        lambda: kube.events(CALC.namespace, rcv, APP, "result")[before:],
        "the receiver to log the result",
    )
    (result,) = results
    assert result["inputs"] == list(INPUTS)
    return [(r["operator"], r["value"]) for r in result["results"]]


def expected(operators: list[str]) -> list[tuple[str, float]]:
    """What the chain of ``operators`` computes for INPUTS, as OPENKASUGAI.md section 6 says."""
    out: list[tuple[str, float]] = []
    for operator in operators:
        if operator == "average":
            total = 0.0
            for _, value in out:
                total += value
            out.append((operator, total / len(out)))
            continue
        value = INPUTS[0]
        for number in INPUTS[1:]:
            if operator == "plus":
                value += number
            elif operator == "minus":
                value -= number
            elif operator == "multiply":
                value *= number
            else:
                value /= number
        out.append((operator, value))
    return out


def metrics(pod_ip: str) -> dict[str, float]:
    """A controller Pod's /metrics, scraped from the node as Prometheus would: name -> sum."""
    conn = http.client.HTTPConnection(pod_ip, 8080, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def uids(kube: Kube, sample: Sample) -> dict[str, str]:
    found = kube.kasugai_objects(sample.namespace)
    return {name: obj["metadata"]["uid"] for (kind, name), obj in found.items() if kind == "Pod"}


def edited_chain(without: str) -> dict[str, Any]:
    """The calc chain with function ``without`` dropped and its neighbours joined."""
    chain = CALC.chain()
    del chain["spec"]["functions"][without]
    connections = chain["spec"]["connections"]
    (onward,) = [c for c in connections if c["from"]["functionKey"] == without]
    kept = [c for c in connections if c is not onward]
    for connection in kept:
        if connection["to"]["functionKey"] == without:
            connection["to"] = onward["to"]
    chain["spec"]["connections"] = kept
    return chain


# --- the tests -------------------------------------------------------------------------------


def test_the_controller_runs_from_its_manifests_and_one_replica_leads(
    kube: Kube, controller: str, e2e_inputs: Any
) -> None:
    for made in ("customresourcedefinition.apiextensions.k8s.io/dataflows.example.com created",
                 "deployment.apps/kasugai-controller created"):  # fmt: skip
        assert made in controller
    pods = kube.controller_pods()
    assert len(pods) == 2
    image = e2e_inputs.images["controller"]
    for pod in pods:
        (container,) = pod.spec.containers
        assert container.image == "localhost/kasugai-controller:latest"
        assert container.readiness_probe.http_get.path == "/readyz"
        assert container.liveness_probe.http_get.path == "/healthz"
        (status,) = pod.status.container_statuses
        assert status.image_id == image.image_id, "not the image built from this tree"
        assert status.ready and status.restart_count == 0
    holder = kube.lease_holder()
    assert holder in {pod.metadata.name for pod in pods}
    leading = {pod.metadata.name: metrics(pod.status.pod_ip) for pod in pods}
    assert {name: found["kasugai_controller_leader"] for name, found in leading.items()} == {
        name: (1.0 if name == holder else 0.0) for name in leading
    }


def test_the_original_calc_sample_is_refused_under_baseline_and_deploys_when_privileged(
    kube: Kube, calc: Deployment
) -> None:
    refusal = calc.refusal
    assert (refusal["status"], refusal["reason"]) == ("False", "ApplyFailed")
    assert 'violates PodSecurity "baseline:latest"' in refusal["message"]
    assert 'must not include "SYS_PTRACE"' in refusal["message"]
    for key in CALC.keys:
        assert f"create Pod {CALC.pod(key)}:" in refusal["message"]
    assert any("violates PodSecurity" in message for message in calc.refusal_events)

    namespace = kube.core.read_namespace(CALC.namespace)
    assert namespace.metadata.labels[ENFORCE] == "privileged"
    status = kube.deployed(CALC)
    assert status is not None
    assert "Applied" not in {c["type"] for c in status["conditions"]}
    assert [f["key"] for f in status["functions"]] == list(CALC.keys)


def test_every_function_pod_runs_kasugais_images_under_the_original_names(
    kube: Kube, calc: Deployment, e2e_inputs: Any
) -> None:
    calcapp, sidecar = e2e_inputs.images["calc"], e2e_inputs.images["sidecar"]
    for key in CALC.keys:
        name = CALC.pod(key)
        pod = kube.running(CALC.namespace, name)
        assert pod is not None, name
        images = {c.name: c.image for c in pod.spec.containers}
        assert images == {
            APP: "localhost/cpufunc_calcapp:latest",
            SIDECAR: "localhost/cpufunc_sidecar:latest",
        }
        ids = {s.name: s.image_id for s in pod.status.container_statuses}
        assert ids == {APP: calcapp.image_id, SIDECAR: sidecar.image_id}, name
        # The sidecar as the sample starts it (/sidecar, no flags): the API source, in-cluster,
        # with the token of the Pod's own account.
        assert [c.command for c in pod.spec.containers if c.name == SIDECAR] == [["/sidecar"]]
        assert pod.spec.service_account_name == name
        (started,) = kube.events(CALC.namespace, name, SIDECAR, "sidecar started")
        assert (started["source"], started["pod"]) == ("kubernetes", name)
        assert kube.events(CALC.namespace, name, SIDECAR, "config accepted"), name


def test_calcapp_in_the_send_pod_reaches_the_receiver_through_every_function(
    kube: Kube, calc: Deployment
) -> None:
    assert calculate(kube) == RESULTS
    assert expected([op for op, _ in RESULTS]) == RESULTS  # the helper the next tests trust


def test_the_entry_service_is_a_load_balancer_routed_once_it_has_an_ingress(
    kube: Kube, calc: Deployment
) -> None:
    name = CALC.service("send")
    service = kube.core.read_namespaced_service(name, CALC.namespace)
    assert service.spec.type == "LoadBalancer"
    assert kube.dataflow_status(CALC)["functions"][0]["address"] == ""
    # What MetalLB would write.
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": CALC_INGRESS}]}}}
    kube.core.patch_namespaced_service_status(name, CALC.namespace, ingress)

    def entry_address() -> str:
        return str(kube.dataflow_status(CALC)["functions"][0]["address"])

    wait(lambda: entry_address() == f"{CALC_INGRESS}:8080/TCP", "the entry's address in status")

    def routed() -> bool:
        rules = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True)
        return f"-d {CALC_INGRESS}/32" in rules.stdout and name in rules.stdout

    wait(routed, "kube-proxy's rule for the ingress address")


def test_a_chain_edit_rewires_the_live_pods_and_the_results_follow(
    kube: Kube, calc: Deployment, tmp_path: Path
) -> None:
    before = uids(kube, CALC)
    kube.apply_objects([edited_chain(without="minus")], tmp_path / "chain-without-minus.yaml")
    wait(lambda: kube.pod(CALC.namespace, CALC.pod("minus")) is None, "the minus Pod to go")
    shorter = tuple(key for key in CALC.keys if key != "minus")
    wait_for_calc_wiring(kube, shorter)
    assert calculate(kube) == expected(["plus", "multiply", "divide", "average"])
    after = uids(kube, CALC)
    assert after == {name: uid for name, uid in before.items() if "-minus-" not in name}

    kube.apply_file(CALC.folder / "functionchain.yaml")  # the sample's own chain again
    wait(lambda: kube.running(CALC.namespace, CALC.pod("minus")), "a new minus Pod")
    wait_for_calc_wiring(kube)
    assert calculate(kube) == RESULTS
    restored = uids(kube, CALC)
    assert {name: restored[name] for name in after} == after  # only minus is new


def test_a_deleted_function_pod_is_recreated_by_the_controller_and_rewired(
    kube: Kube, calc: Deployment
) -> None:
    name = CALC.pod("multiply")
    before = uids(kube, CALC)
    kube.kubectl("-n", CALC.namespace, "delete", "pod", name, "--wait=false")

    def recreated() -> Any:
        pod = kube.running(CALC.namespace, name)
        return pod if pod is not None and pod.metadata.uid != before[name] else None

    pod = wait(recreated, "the multiply Pod to be created again, and run")
    (owner,) = pod.metadata.owner_references
    dataflow = kube.get("DataFlow", CALC.namespace, CALC.dataflow)
    assert dataflow is not None
    assert (owner.kind, owner.uid, owner.controller) == (
        "DataFlow",
        dataflow["metadata"]["uid"],
        True,
    )
    wait_for_calc_wiring(kube)
    assert calculate(kube) == RESULTS
    assert {n: u for n, u in uids(kube, CALC).items() if n != name} == {
        n: u for n, u in before.items() if n != name
    }


def test_the_sidecar_reads_its_own_connection_configmap_and_no_other(
    kube: Kube, calc: Deployment
) -> None:
    own, other = CALC.pod("plus"), CALC.pod("minus")
    reply = _exec(
        kube, CALC, "plus", "python3", "-c", ACCESS_PROBE,
        f"ethcrl.{own}", f"ethcrl.{other}", "cpufunc-config-calcapp-plus",
        container=SIDECAR,
    )  # fmt: skip
    assert json.loads(reply) == {
        "user": f"system:serviceaccount:{CALC.namespace}:{own}",
        "own": 200,
        "own by field selector": 200,
        "own, changed": 403,
        "another Pod's": 403,
        "every ConfigMap": 403,
        "a config in default": 403,
        "Pods": 403,
        "Secrets": 403,
    }


ACCESS_PROBE = """
import json, sys
import kubernetes
from kubernetes.client.exceptions import ApiException
own, other, config = sys.argv[1:4]
kubernetes.config.load_incluster_config()  # the Pod's own token, as the sidecar uses it
api = kubernetes.client.ApiClient()
core = kubernetes.client.CoreV1Api(api)
namespace = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
def status(call):
    try:
        call()
        return 200
    except ApiException as error:
        return error.status
review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
user = kubernetes.client.AuthenticationV1Api(api).create_self_subject_review(review)
print(json.dumps({
    "user": user.status.user_info.username,
    "own": status(lambda: core.read_namespaced_config_map(own, namespace)),
    "own by field selector": status(
        lambda: core.list_namespaced_config_map(namespace, field_selector="metadata.name=" + own)
    ),
    "own, changed": status(
        lambda: core.patch_namespaced_config_map(
            own, namespace, {"metadata": {"annotations": {"kasugai-test/probe": "x"}}}
        )
    ),
    "another Pod's": status(lambda: core.read_namespaced_config_map(other, namespace)),
    "every ConfigMap": status(lambda: core.list_namespaced_config_map(namespace)),
    "a config in default": status(lambda: core.read_namespaced_config_map(config, "default")),
    "Pods": status(lambda: core.list_namespaced_pod(namespace)),
    "Secrets": status(lambda: core.list_namespaced_secret(namespace)),
}))
"""


def test_the_video_sample_turns_a_clip_sent_to_its_load_balancer_into_a_valid_mp4(
    kube: Kube, video: dict[str, Any], tmp_path: Path
) -> None:
    # The original p1c1 adds no capability (unlike calc): baseline admits it as it is.
    namespace = kube.core.read_namespace(VIDEO.namespace)
    assert namespace.metadata.labels[ENFORCE] == "baseline"
    assert "Applied" not in {c["type"] for c in video["conditions"]}

    relay = VIDEO.service("pip")
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": VIDEO_INGRESS}]}}}
    kube.core.patch_namespaced_service_status(relay, VIDEO.namespace, ingress)

    def routed() -> bool:
        rules = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True)
        return f"-d {VIDEO_INGRESS}/32" in rules.stdout

    wait(routed, "kube-proxy's rule for the relay's ingress address")
    for key in VIDEO.keys:
        wait(lambda key=key: _udp_backlog(kube, key) is not None, f"{key} to listen on UDP 5678")

    clip = make_test_clip(tmp_path / "clip.mp4", seconds=CLIP_FRAMES / 30)
    sent = subprocess.run(
        [str(KASUGAI), "send-video", str(clip), "--to", VIDEO_INGRESS],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    for key in VIDEO.keys:  # every datagram read by its pipeline
        wait(lambda key=key: _udp_backlog(kube, key) == 0, f"{key} to read all it was sent")

    # As the original's guide says: stop the receiver's pipeline with SIGINT (end-of-stream
    # finalises the MP4), then copy the file.
    rcv = VIDEO.pod("rcv")
    (pipeline,) = kube.events(VIDEO.namespace, rcv, APP, "pipeline started")
    _exec(kube, VIDEO, "rcv", "kill", "-INT", str(int(pipeline["pid"])))
    wait(
        lambda: kube.events(VIDEO.namespace, rcv, APP, "pipeline finished"), "the receiver to stop"
    )
    received = tmp_path / "rcv_video.mp4"
    received.write_bytes(
        kube.kubectl_bytes(
            "-n", VIDEO.namespace, "exec", rcv, "-c", APP, "--", "cat", "rcv_video.mp4"
        )
    )
    discovered = subprocess.run(
        ["gst-discoverer-1.0", str(received)], capture_output=True, text=True, check=False
    )
    assert discovered.returncode == 0 and "H.264" in discovered.stdout, discovered.stdout
    frames = len(read_clip_frames(received))
    assert 0.95 * CLIP_FRAMES <= frames <= CLIP_FRAMES


def _udp_backlog(kube: Kube, key: str) -> int | None:
    """Bytes waiting in the Pod's UDP 5678 socket; None while nothing is bound to it."""
    table = _exec(kube, VIDEO, key, "cat", "/proc/net/udp")
    for line in table.splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(":162E"):  # 5678
            return int(fields[4].split(":")[1], 16)
    return None


def test_killing_the_leader_hands_over_and_nothing_that_did_not_change_is_rewritten(
    kube: Kube, controller: str, calc: Deployment, video: dict[str, Any]
) -> None:
    namespaces = (CALC.namespace, VIDEO.namespace)

    def settled() -> dict[Any, str] | None:
        """resourceVersions, once unchanged over a few seconds."""
        first = kube.resource_versions(namespaces)
        time.sleep(3)
        return first if first == kube.resource_versions(namespaces) else None

    versions = wait(settled, "kasugai's objects and statuses to settle")
    leader = kube.lease_holder()
    pods = {pod.metadata.name: pod for pod in kube.controller_pods()}
    assert leader in pods
    kube.kubectl("-n", SYSTEM, "delete", "pod", leader, "--wait=false")

    successor = wait(
        lambda: (holder := kube.lease_holder()) not in ("", leader) and holder,
        "another replica to take the Lease",
    )
    wait(lambda: len(kube.controller_pods()) == 2, "the Deployment's two replicas again")
    by_name = {pod.metadata.name: pod for pod in kube.controller_pods()}
    assert successor in by_name
    found = wait(
        lambda: (
            (m := metrics(by_name[successor].status.pod_ip))["kasugai_controller_leader"] == 1 and m
        ),
        "the successor to say it leads",
    )
    time.sleep(20)  # the window a rewrite would show in, not a timing assertion
    assert kube.lease_holder() == successor
    now = kube.resource_versions(namespaces)
    changed = [key for key in versions.keys() | now.keys() if versions.get(key) != now.get(key)]
    assert not changed, kube.writers(changed)
    assert metrics(by_name[successor].status.pod_ip).get("kasugai_controller_writes_total", 0) == 0
    assert found["kasugai_controller_reconciles_total"] >= 2  # it compared both DataFlows
    assert kube.deployed(CALC) and kube.deployed(VIDEO)
    assert CONTROLLER in successor


def _runs_chain(kube: Kube, keys: tuple[str, ...]) -> bool:
    """The DataFlow Deployed and Rewired along send, ``keys``, rcv; each of their Pods running
    (not terminating) the type version asked for; no Pod left of the other functions."""
    status = kube.dataflow_status(CALC)
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    chain = ("send", *map(function_key, keys), "rcv")
    hops = [(c["from"], c["to"]) for c in status.get("connections") or []]
    if status.get("status") != "Deployed" or conditions.get("Rewired") != "True":
        return False
    if hops != list(itertools.pairwise(chain)):
        return False
    versions = {function_key(k): type_version(k) for k in keys}
    for key in CALC.keys:
        pod = kube.pod(CALC.namespace, CALC.pod(key))
        if key not in chain:
            if pod is not None:
                return False
            continue
        if pod is None or pod.metadata.deletion_timestamp or pod.status.phase != "Running":
            return False
        envs = {e.name for c in pod.spec.containers for e in c.env or []}
        if (TYPE_VERSION_ENV in envs) != (versions.get(key) == "2.0.0"):
            return False
    return True


def _chain_state(kube: Kube) -> str:
    """What a failed wait for a chain found: the DataFlow's status and the calc Pods."""
    status = kube.dataflow_status(CALC)
    conditions = {c["type"]: (c["status"], c["message"]) for c in status.get("conditions") or []}
    pods = {}
    for key in CALC.keys:
        pod = kube.pod(CALC.namespace, CALC.pod(key))
        if pod is not None:
            envs = sorted(e.name for c in pod.spec.containers for e in c.env or [])
            deleting = bool(pod.metadata.deletion_timestamp)
            pods[key] = (pod.status.phase, "deleting" if deleting else "", envs)
    return json.dumps({"status": status.get("status"), "conditions": conditions, "pods": pods})


def test_topology_edits_on_real_pods_under_load_lose_no_request(
    kube: Kube, calc: Deployment, tmp_path: Path
) -> None:
    """4 clients on persistent gRPC connections into plus's Pod while the chain is edited 20
    times (remove divide, insert it again, swap minus and multiply, swap them back, replace
    multiply's type by another version; four rounds): 0 NG, 0 errors, and every answer
    computed by a chain in force while it was under way (the receiver's log)."""
    sample = tmp_path / "sample"
    shutil.copytree(CALC.folder, sample)
    add_second_type_version(sample)
    kube.apply_file(sample / "functiontype-multiply-v2.yaml")
    full = (sample / "functionchain.yaml").read_text()
    plus = kube.running(CALC.namespace, CALC.pod("plus"))
    assert plus is not None
    load = Load(f"{plus.status.pod_ip}:8080", 4).start()
    edits: list[Edit] = []
    try:
        wait(lambda: len(load.sent) >= 20, "the load to flow")
        for number, keys in enumerate(rounds_of_edits(4)):
            started = time.time()
            path = tmp_path / f"chain-{number}.yaml"
            path.write_text(chain_text(full, keys))
            kube.apply_file(path)
            try:
                wait(lambda keys=keys: _runs_chain(kube, keys), f"the chain {' -> '.join(keys)}")
            except TimeoutError as error:
                raise AssertionError(f"{error}; now: {_chain_state(kube)}") from error
            edits.append(Edit(keys, started, time.time()))
        wait(lambda: load.sent[-1].sent > edits[-1].completed, "requests on the last chain")
    finally:
        load.stop()
    results = kube.events(CALC.namespace, CALC.pod("rcv"), APP, "result")
    assert len(edits) == 20
    assert len(load.sent) > 100
    problems = check(load.sent, results, BASE, edits)
    assert problems == [], "\n".join(problems[:40])
    kube.apply_file(CALC.folder / "functionchain.yaml")  # the sample's own chain again
    wait_for_calc_wiring(kube)
    assert calculate(kube) == RESULTS
