"""``kasugai demo``: the arithmetic chain end to end on this machine, then rewired live.

One command, nothing to prepare: it copies the portable sample (``manifests/samples/calc``) to a
temporary directory, runs it with the local runtime (its own temporary state directory), waits
until the DataFlow is Deployed and every function has loaded its next hop, sends ``1 2 3 4 5``
from the send Pod (as ``kubectl exec ... /calcapp 1 2 3 4 5`` did) and prints what the receiver
logged. Then it edits the FunctionChain to send, plus, minus, rcv (the original's customisation
procedure), waits for the rewiring, measures how long it took, sends again and prints the new
result. Everything is stopped at the end, also on Ctrl-C or a failure, and the demo checks that
no process is left. Exit status 1 if a result is wrong or a step fails.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import kasugai
from kasugai.adapters.files import InputError
from kasugai.adapters.local import Settings, StartError, Supervisor, state_dir
from kasugai.adapters.local.leftovers import find_leftovers
from kasugai.adapters.local.lookup import find_pod
from kasugai.adapters.local.podspec import PodSpec
from kasugai.atomic_files import write_atomically
from kasugai.commands.demo_chain import (
    CHAIN_FILE,
    DATAFLOW,
    EXPECTED_FIRST,
    EXPECTED_SECOND,
    INPUTS,
    REWIRED_KEYS,
    ChainProbe,
    Results,
    rewired_chain,
)
from kasugai.runtime_env import configure_logging

SAMPLE = Path(kasugai.__file__).resolve().parent.parent / "manifests" / "samples" / "calc"


class DemoFailed(Exception):
    """A step did not complete; the message says which and where to look."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="run the arithmetic chain locally, send numbers, rewire it live"
    )
    parser.add_argument(
        "--sample", metavar="DIR", default=str(SAMPLE), help="the sample (default: %(default)s)"
    )
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds each step may take (default: 180)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sample = Path(args.sample)
    if not (sample / CHAIN_FILE).is_file():
        raise InputError(
            f"{sample}: not the arithmetic sample (no {CHAIN_FILE}); give --sample DIR, e.g. "
            "manifests/samples/calc of the kasugai repository"
        )
    workdir = Path(tempfile.mkdtemp(prefix="kasugai-demo-"))
    console = Console(highlight=False)
    try:
        return asyncio.run(_demo(sample, workdir, args.timeout, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        if args.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir)


async def _demo(sample: Path, workdir: Path, timeout: float, console: Console) -> int:
    source = workdir / "sample"
    shutil.copytree(sample, source)
    state = state_dir(str(workdir / "state"))
    state.root.mkdir(parents=True)
    log_file = (state.root / "supervisor.log").open("w")
    configure_logging(logging.INFO, stream=log_file)  # the display stays readable
    supervisor = Supervisor(Settings(source, state))
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        with console.status("Starting the arithmetic sample (7 functions)..."):
            try:
                await supervisor.start()
            except StartError as error:
                raise DemoFailed("; ".join(error.problems)) from None
        console.print(f"[green]✔[/] Started {DATAFLOW} from {sample} (state in {state.root})")
        probe = ChainProbe(state)
        ok = await _steps(probe, source, timeout, console)
    except DemoFailed as error:
        console.print(f"[red]✘ {error}[/]")
        console.print(f"  supervisor log: {state.log_file}")
        ok = False
    finally:  # also on Ctrl-C or SIGTERM (the task is cancelled)
        with console.status("Stopping..."):
            await supervisor.close()
        log_file.close()
        clean = _check_nothing_left(supervisor.runtime_id, console)
    return 0 if ok and clean else 1


def _check_nothing_left(runtime_id: str, console: Console) -> bool:
    left = find_leftovers(runtime_id)
    for process in left:
        console.print(f"[red]✘ left behind: pid {process.pid}: {process.command}[/]")
    if not left:
        console.print("[green]✔[/] Stopped; no process left")
    return not left


async def _wait(what: str, check: Callable[[], Any], timeout: float, console: Console) -> Any:
    """Poll ``check`` until it returns something true; DemoFailed after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with console.status(what + "..."):
        while True:
            found = check()
            if found:
                return found
            if loop.time() > deadline:
                raise DemoFailed(f"{what}: not done after {timeout:.0f}s")
            await asyncio.sleep(0.05)


async def _run_client(command: list[str], pod: PodSpec, timeout: float) -> tuple[int, str]:
    """Run the client in the send Pod's environment (as ``kasugai exec`` does): status, output."""
    container = pod.containers[0]
    process = await asyncio.create_subprocess_exec(
        *command,
        env=dict(container.env),
        cwd=container.cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def _send(probe: ChainProbe, timeout: float, console: Console) -> list[tuple[str, float]]:
    """Send the inputs from the send Pod; the receiver's result."""
    sent_after = probe.results_count()
    pod = find_pod(probe.state, probe.pod_name("send"))
    command = ["kasugai-calc", *INPUTS]
    with console.status(f"Sending {' '.join(INPUTS)}..."):
        code, output = await _run_client(command, pod, timeout)
    if code != 0:
        raise DemoFailed(
            f"kasugai exec {pod.name} -- {' '.join(command)} failed ({code}): {output[-2000:]}"
        )
    reply = output.strip().splitlines()[-1]
    console.print(
        f"[green]✔[/] Sent {' '.join(INPUTS)}: kasugai exec {pod.name} -- "
        f"{' '.join(command)} -> {reply}"
    )
    result: list[tuple[str, float]] = await _wait(
        "Reading the receiver's result", lambda: probe.result_after(sent_after), timeout, console
    )
    return result


def _show(result: list[tuple[str, float]], expected: Results, console: Console) -> bool:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("OPERATOR", "RESULT", "EXPECTED", ""):
        table.add_column(column)
    ok = [name for name, _ in result] == [name for name, _ in expected]
    for index, (name, value) in enumerate(expected):
        got = result[index][1] if index < len(result) else math.nan
        same = index < len(result) and result[index][0] == name and got == value
        ok = ok and same
        table.add_row(name, repr(got), repr(value), "[green]✔[/]" if same else "[red]✘[/]")
    console.print(table)
    return ok


async def _steps(probe: ChainProbe, source: Path, timeout: float, console: Console) -> bool:
    await _wait(f"Waiting for DataFlow {DATAFLOW} to be Deployed", probe.deployed, timeout, console)
    console.print(f"[green]✔[/] DataFlow {DATAFLOW} is Deployed")
    await _wait("Waiting for every function to load its next hop", probe.wired, timeout, console)
    console.print("[green]✔[/] Every function loaded its next hop")
    first = _show(await _send(probe, timeout, console), EXPECTED_FIRST, console)

    started = probe.now()
    write_atomically(source / CHAIN_FILE, rewired_chain((source / CHAIN_FILE).read_text()))
    chain = " -> ".join(REWIRED_KEYS)
    rewired_at = await _wait(
        f"Rewiring the chain to {chain}", lambda: probe.rewired_since(started), timeout, console
    )
    console.print(
        f"[green]✔[/] Rewired the chain to {chain}: minus reloaded its next hop "
        f"{(rewired_at - started) * 1000:.0f} ms after the edit"
    )
    second = _show(await _send(probe, timeout, console), EXPECTED_SECOND, console)
    if not (first and second):
        raise DemoFailed("a result differs from the expected value")
    return True
