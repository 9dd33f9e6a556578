"""Invalid inputs become status conditions whose text names the object, the field and the fix;
nothing raises. Each test breaks one thing in the calc sample."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core_helpers import CALC, P2C1, bodies, config_entries, find, observed, set_config_entries

from kasugai.core.engine import Engine
from kasugai.core.events import ObjectKey

DF = ObjectKey("DataFlow", "cpufunc-calcapp", "df-calcapp")
CHAIN = ObjectKey("FunctionChain", "cpufunc-calcapp", "calcapp-chain")

Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def planned(edit: Edit, scenario: Any = CALC) -> Engine:
    engine = Engine()
    engine.apply_all(observed(edit(bodies(scenario))))
    return engine


def dataflow_error(engine: Engine, key: ObjectKey = DF) -> tuple[str, str]:
    plan = engine.plan_of(key)
    assert plan is not None
    return plan.state, plan.message


def chain_status(engine: Engine, key: ObjectKey = CHAIN) -> dict[str, Any]:
    status = engine.status_of(key)
    assert status is not None
    return status.status


def chain(items: list[dict[str, Any]]) -> dict[str, Any]:
    return find(items, "FunctionChain", "calcapp-chain")


def test_missing_function_type_waits_and_chain_reports_it() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if i["metadata"]["name"] != "functype-calcapp-minus"]

    engine = planned(edit)
    expected = (
        "spec.functions.minus: FunctionType with functionName 'calcapp-minus' and version "
        "'1.0.0' not found in namespace 'cpufunc-calcapp'"
    )
    assert chain_status(engine)["status"] == "Error"
    assert chain_status(engine)["message"] == expected
    state, message = dataflow_error(engine)
    assert state == "Pending"
    assert message == f"waiting for FunctionChain cpufunc-calcapp/calcapp-chain: {expected}"
    assert engine.desired() == []


def test_version_mismatch_lists_the_versions_found() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        chain(items)["spec"]["functions"]["plus"]["version"] = "2.0.0"
        return items

    engine = planned(edit)
    assert chain_status(engine)["message"] == (
        "spec.functions.plus: FunctionType with functionName 'calcapp-plus' and version '2.0.0' "
        "not found in namespace 'cpufunc-calcapp' (found versions: 1.0.0)"
    )


def test_unknown_function_key_in_a_connection() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        chain(items)["spec"]["connections"][2]["to"]["functionKey"] = "x"
        return items

    engine = planned(edit)
    expected = (
        "FunctionChain cpufunc-calcapp/calcapp-chain: spec.connections[2].to.functionKey: "
        "unknown function 'x' (known: average, divide, minus, multiply, plus, rcv, send)"
    )
    assert dataflow_error(engine) == ("Error", expected)
    assert chain_status(engine)["status"] == "Error"
    assert chain_status(engine)["conditions"][0]["reason"] == "InvalidSpec"


def test_a_port_used_twice() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        connections = chain(items)["spec"]["connections"]
        connections[3]["from"] = {"functionKey": "plus", "port": 0}
        return items

    state, message = dataflow_error(planned(edit))
    assert state == "Error"
    assert (
        "spec.connections[3].from: port 0 of 'plus' is already used by spec.connections[2].from"
        in message
    )


def test_too_many_outputs() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        connections = chain(items)["spec"]["connections"]
        connections.append(
            {"from": {"functionKey": "send", "port": 1}, "to": {"functionKey": "rcv", "port": 1}}
        )
        return items

    state, message = dataflow_error(planned(edit))
    assert state == "Error"
    assert (
        "spec.connections: function 'send' has 2 outputs; its FunctionType allows 1 "
        "(maxOutputNum)" in message
    )
    assert "function 'rcv' has 2 inputs; its FunctionType allows 1 (maxInputNum)" in message


def test_a_cycle_is_named() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        connections = chain(items)["spec"]["connections"]
        # multiply -> divide becomes multiply -> plus: plus -> minus -> multiply -> plus.
        connections[4]["to"]["functionKey"] = "plus"
        connections[4]["to"]["port"] = 1
        for item in items:
            if item["metadata"]["name"] == "funcinfo-calcapp-plus":
                item["data"]["spec"] = item["data"]["spec"].replace(
                    '"maxInputNum": 1', '"maxInputNum": 2'
                )
        return items

    state, message = dataflow_error(planned(edit))
    assert state == "Error"
    assert message.endswith("spec.connections: cycle plus -> minus -> multiply -> plus")


def test_malformed_json_in_a_config_configmap() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-divide")
        config["data"] = {"divide.json": '[{"rxProtocol": "TCP",}]'}
        return items

    assert dataflow_error(planned(edit)) == (
        "Error",
        "function 'divide': ConfigMap default/cpufunc-config-calcapp-divide: data[divide.json]: "
        "invalid JSON: Expecting property name enclosed in double quotes (line 1 column 23)",
    )


def test_a_bad_field_type_in_a_config_entry_names_its_path() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
        entries = config_entries(config)
        entries[0]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
        set_config_entries(config, entries)
        return items

    state, message = dataflow_error(planned(edit))
    assert state == "Error"
    assert message == (
        "function 'plus': ConfigMap default/cpufunc-config-calcapp-plus: "
        "data[cpufunc-config-calcapp-plus.json][0].template.spec.containers[0].ports[0]"
        ".containerPort: expected an integer, got a string"
    )


def test_no_matching_config_entry() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-minus")
        entry = config_entries(config)[0]
        set_config_entries(
            config,
            [
                {**entry, "rxProtocol": "RTP", "txProtocol": "RTP"},
                {**entry, "rxProtocol": "RTP", "txProtocol": "TCP"},
            ],
        )
        return items

    assert dataflow_error(planned(edit)) == (
        "Error",
        "function 'minus': ConfigMap default/cpufunc-config-calcapp-minus: no entry for "
        "rxProtocol=TCP txProtocol=TCP (entries: RTP/RTP, RTP/TCP)",
    )


def test_an_fpga_region_type_is_unsupported() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        info = find(items, "ConfigMap", "funcinfo-gpu-p2c1-dsa")
        info["data"]["deployableItems"] = info["data"]["deployableItems"].replace(
            "a100", "alveou250"
        )
        return items

    engine = planned(edit, P2C1)
    dsa = engine.status_of(ObjectKey("FunctionType", "cpufunc-sample", "functype-gpu-p2c1-dsa"))
    assert dsa is not None
    expected = (
        "spec.functionInfoCMRef: ConfigMap cpufunc-sample/funcinfo-gpu-p2c1-dsa: regionType "
        "alveou250 is an FPGA; FPGA functions are unsupported"
    )
    assert dsa.status["status"] == "Error"
    assert dsa.status["message"] == expected
    state, message = dataflow_error(engine, ObjectKey("DataFlow", "cpufunc-sample", "df-cpu-p2c1"))
    assert state == "Error"
    assert expected in message


def test_an_over_long_name_is_an_error_not_a_truncation() -> None:
    long_name = "df-" + "a" * 40

    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        find(items, "DataFlow", "df-calcapp")["metadata"]["name"] = long_name
        return items

    engine = planned(edit)
    state, message = dataflow_error(engine, ObjectKey("DataFlow", "cpufunc-calcapp", long_name))
    assert state == "Error"
    pod = f"{long_name}-wbfunction-send-cpu-pod"
    assert (
        f"function 'send': label swb/func-name (the Pod name) {pod!r} is {len(pod)} characters "
        "long; Kubernetes allows at most 63 (shorten the DataFlow name or the function key)"
    ) in message
    assert engine.desired() == []


def test_an_unknown_network_annotation() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-rcv")
        entries = config_entries(config)
        entries[0]["Annotations"]["ethernet.swb.example.com/network"] = "macvlan"
        set_config_entries(config, entries)
        return items

    assert dataflow_error(planned(edit)) == (
        "Error",
        "function 'rcv': annotation ethernet.swb.example.com/network: unknown value "
        "(expected clusterip, loadbalancer, sriov)",
    )


def test_garbage_bodies_never_raise() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in items:
            if item["kind"] in ("DataFlow", "FunctionChain", "FunctionType"):
                item["spec"] = ["not", "an", "object"]
            elif item["kind"] == "ConfigMap":
                item["data"] = {"deployableItems": 7}
        return items

    engine = planned(edit)
    state, message = dataflow_error(engine)
    assert state == "Error"
    assert message == "DataFlow cpufunc-calcapp/df-calcapp: spec: expected an object, got a list"
    assert chain_status(engine)["message"] == "spec: expected an object, got a list"


def test_a_misspelt_field_is_an_error_that_suggests_the_right_one() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        spec = chain(items)["spec"]
        spec["conections"] = spec.pop("connections")
        return items

    engine = planned(edit)
    message = chain_status(engine)["message"]
    assert "spec: unknown field 'conections' (did you mean 'connections'?)" in message
    assert dataflow_error(engine)[0] == "Error"


def test_the_originals_unused_dataflow_fields_are_accepted() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        flow = find(items, "DataFlow", "df-calcapp")["spec"]
        flow.update(startPoint={"x": 1}, endPoint={}, functionUserParameter=[])
        return items

    assert dataflow_error(planned(edit))[0] != "Error"


def test_a_port_out_of_range_or_an_unknown_protocol_is_an_error() -> None:
    def edit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
        entries = config_entries(config)
        ports = entries[-1]["template"]["spec"]["containers"][0]["ports"]
        ports[0]["containerPort"] = 1.0e300
        ports.append({"containerPort": 8081, "protocol": "FOO"})
        set_config_entries(config, entries)
        return items

    state, message = dataflow_error(planned(edit))
    assert state == "Error"
    assert "containers[0].ports[0].containerPort: not a port (1 to 65535)" in message
    assert "containers[0].ports[1].protocol: 'FOO' is not TCP, UDP or SCTP" in message
