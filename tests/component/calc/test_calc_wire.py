"""Wire compatibility: the checked-in stubs are fresh, our proto equals the contract's, and peers
built only from the contract's proto (the original's operator.proto, below) talk to our functions
both ways: a foreign client sends into our chain and a foreign receiver ends it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from kasugai_functions.calc import operator_pb2
from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.testing import PORT, LocalCalc, wait_until

REPO = Path(__file__).resolve().parents[3]
PROTO = "kasugai_functions/calc/operator.proto"
STUBS = ("operator_pb2.py", "operator_pb2_grpc.py", "operator_pb2.pyi")
REGENERATE = (
    ".venv/bin/python -m grpc_tools.protoc -I functions --python_out=functions "
    f"--grpc_python_out=functions --pyi_out=functions functions/{PROTO}"
)
# The original's api/operator/operator.proto (docs/compatibility.md section 10), written out
# here so that this test does not depend on ours.
CONTRACT_PROTO = """\
syntax = "proto3";
package calcapp.grpc.operator;
option go_package = "calcapp/api/operator";
service OperatorService {
  rpc Operate(OperateRequest) returns (OperateResponse) {}
}
message OperateRequest {
  repeated double inputs = 1;
  repeated OperateResult results = 2;
}
message OperateResponse {
  OperateResponseStatus status = 1;
}
message OperateResult {
    string operator = 1;
    double value = 2;
}
enum OperateResponseStatus {
    UNKNOWN = 0;
    OK = 1;
    NG = 2;
}
"""
# A peer that knows only the stubs generated next to it: "send HOST PORT VALUES..." prints the
# reply status; "receive HOST PORT LOG" serves Operate, appending each request to LOG as JSON.
FOREIGN_PEER = textwrap.dedent(
    """\
    import json, sys, threading
    from concurrent import futures
    sys.path.insert(0, sys.argv[1])
    import grpc, operator_pb2, operator_pb2_grpc

    mode, host, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "send":
        request = operator_pb2.OperateRequest(inputs=[float(v) for v in sys.argv[5:]])
        with grpc.insecure_channel(f"{host}:{port}") as channel:
            reply = operator_pb2_grpc.OperatorServiceStub(channel).Operate(request, timeout=60)
        print(operator_pb2.OperateResponseStatus.Name(reply.status))
    else:
        log = open(sys.argv[5], "a")
        class Receiver(operator_pb2_grpc.OperatorServiceServicer):
            def Operate(self, request, context):
                results = [[r.operator, r.value] for r in request.results]
                log.write(json.dumps({"inputs": list(request.inputs), "results": results}) + "\\n")
                log.flush()
                return operator_pb2.OperateResponse(status=operator_pb2.OK)
        server = grpc.server(futures.ThreadPoolExecutor(4))
        operator_pb2_grpc.add_OperatorServiceServicer_to_server(Receiver(), server)
        server.add_insecure_port(f"{host}:{port}")
        server.start()
        print("ready", flush=True)
        server.wait_for_termination()
    assert "kasugai_functions" not in sys.modules
    """
)


def protoc(include: Path, proto: str, out: Path, *outputs: str) -> None:
    command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{include}"]
    command += [f"--{kind}_out={out}" for kind in outputs]
    subprocess.run([*command, str(include / proto)], check=True, capture_output=True)


def version_neutral(code: str) -> str:
    """Generated code without the tool versions it records, which say nothing about staleness."""
    code = re.sub(r"Protobuf Python Version: \S+", "", code)
    code = re.sub(r"ValidateProtobufRuntimeVersion\([^)]*\)", "", code)
    return re.sub(r"GRPC_GENERATED_VERSION = '[^']*'", "", code)


def test_the_checked_in_stubs_are_generated_from_the_proto(tmp_path: Path) -> None:
    protoc(REPO / "functions", PROTO, tmp_path, "python", "grpc_python", "pyi")
    for name in STUBS:
        fresh = (tmp_path / "kasugai_functions" / "calc" / name).read_text()
        checked_in = (REPO / "functions" / "kasugai_functions" / "calc" / name).read_text()
        assert version_neutral(checked_in) == version_neutral(fresh), (
            f"{name} is stale: regenerate with `{REGENERATE}`"
        )


def test_our_proto_describes_the_contract(tmp_path: Path) -> None:
    (tmp_path / "operator.proto").write_text(CONTRACT_PROTO)
    descriptor_set = tmp_path / "contract.pb"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path}",
         f"--descriptor_set_out={descriptor_set}", str(tmp_path / "operator.proto")],
        check=True,
    )  # fmt: skip
    [contract] = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    ours = descriptor_pb2.FileDescriptorProto.FromString(operator_pb2.DESCRIPTOR.serialized_pb)
    for descriptor in (contract, ours):
        descriptor.ClearField("name")  # the file's path, not on the wire
        for field in (f for message in descriptor.message_type for f in message.field):
            field.ClearField("json_name")  # derived from the name; only protoc's output has it
    assert ours == contract


@pytest.fixture
def contract_stubs(tmp_path: Path) -> Path:
    directory = tmp_path / "contract"
    directory.mkdir()
    (directory / "operator.proto").write_text(CONTRACT_PROTO)
    protoc(directory, "operator.proto", directory, "python", "grpc_python")
    (directory / "peer.py").write_text(FOREIGN_PEER)
    return directory


def foreign(stubs: Path, *args: str) -> list[str]:
    return [sys.executable, str(stubs / "peer.py"), str(stubs), *args]


def test_peers_built_from_the_contract_interoperate(
    calc: LocalCalc, contract_stubs: Path, tmp_path: Path
) -> None:
    receiver_host, received = f"{calc.subnet}.250", tmp_path / "received.jsonl"
    receiver = subprocess.Popen(
        foreign(contract_stubs, "receive", receiver_host, str(PORT), str(received)),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        average = calc.start("average", Operator.AVERAGE_RESULTS, next_host=receiver_host)
        divide = calc.start("divide", Operator.DIVIDE, next_host=average.host)

        sent = subprocess.run(
            foreign(contract_stubs, "send", divide.host, str(PORT), "1", "2", "3"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (sent.returncode, sent.stdout.strip()) == (0, "OK"), sent.stderr
        wait_until(lambda: received.exists() and received.read_text().endswith("\n"), "a request")
        [request] = [json.loads(line) for line in received.read_text().splitlines()]
        sixth = 0.16666666666666666
        assert request == {"inputs": [1, 2, 3], "results": [["divide", sixth], ["average", sixth]]}
    finally:
        os.killpg(receiver.pid, signal.SIGKILL)
        receiver.communicate()
