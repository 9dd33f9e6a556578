"""The floor under a calc function's start and memory: Python, grpcio and the calcapp stubs alone.

It takes calcapp's command line (``-server -port P ...`` or ``-host H -port P VALUES...``) so that
``benchmarks/startup.py --calc "python benchmarks/grpc_floor.py"`` measures it like the real
program. The server answers every Operate with OK (no logging, metrics, config or forwarding); the
client sends the values once and prints the status. No function can start faster or use less
memory than this while it uses grpcio's asyncio server.
"""

import asyncio
import sys

import grpc
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc


class Floor(operator_pb2_grpc.OperatorServiceServicer):
    async def Operate(
        self, request: operator_pb2.OperateRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.OperateResponse:
        return operator_pb2.OperateResponse(status=operator_pb2.OK)


async def serve(port: str) -> None:
    server = grpc.aio.server()
    operator_pb2_grpc.add_OperatorServiceServicer_to_server(Floor(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def send(host: str, port: str, values: list[str]) -> None:
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        request = operator_pb2.OperateRequest(inputs=[float(v) for v in values])
        reply = operator_pb2_grpc.OperatorServiceStub(channel).Operate(request, timeout=30)
    print(operator_pb2.OperateResponseStatus.Name(reply.status))


def main(args: list[str]) -> None:
    port = args[args.index("-port") + 1]
    if "-server" in args:
        asyncio.run(serve(port))
    else:
        send(args[args.index("-host") + 1], port, args[args.index("-port") + 2 :])


if __name__ == "__main__":
    main(sys.argv[1:])
