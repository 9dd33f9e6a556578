"""``kasugai graph [DATAFLOW] [-f PATH... | --cluster | --state-dir DIR] [-o FORMAT]``: draw chains.

Functions are nodes with their phase; connections are edges with the destination address, the
protocol, and the state unless Published. The DataFlows come from one of three places, as in the
other commands: the plan of some files (``-f``, what ``kasugai plan`` prints), the local
runtime's ``state.json`` (the default, as ``kasugai status``), or the API server (``--cluster``).
``--metrics`` scrapes each function's ``/metrics`` (its status address, port 9464) twice, a
second apart, and puts the source's request rate and NG count on each edge.

Exit status: 0, 1 if the named DataFlow does not exist (or the cluster cannot be read), 2 on a
usage or input error (an input in Error is drawn, reported on stderr, and exits 2 like
``kasugai plan``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kasugai.adapters.files import InputError
from kasugai.commands.common import add_plan_options, plan_options, report_errors
from kasugai.core import names
from kasugai.view.chain import Chain, chain_from_dataflow, chain_to_json
from kasugai.view.figures import METRICS_PORT, HopSampler, metrics_url, scrape
from kasugai.view.render_dot import render_dot
from kasugai.view.render_mermaid import render_mermaid
from kasugai.view.render_svg import render_svg
from kasugai.view.render_tree import render_tree

__all__ = ["sample_figures"]

_DEFAULT_KUBECONFIG = os.path.expanduser("~/.kube/config")
_SAMPLE_INTERVAL = 1.0
_RENDERERS: Mapping[str, Callable[[Sequence[Chain]], str]] = {
    "mermaid": render_mermaid,
    "dot": render_dot,
    "svg": render_svg,
}
FORMATS = ("tree", "mermaid", "dot", "svg", "json")


class NotFound(Exception):
    """The named DataFlow is not where we looked; the message says so in the source's terms."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "graph", help="draw the chain of one or all DataFlows (tree, Mermaid, DOT, SVG, JSON)"
    )
    parser.add_argument("dataflow", nargs="?", metavar="DATAFLOW", help="(default: all)")
    parser.add_argument(
        "-f",
        "--filename",
        action="extend",
        nargs="+",
        metavar="PATH",
        help="draw the plan of these files or directories (as `kasugai plan`); repeatable",
    )
    parser.add_argument(
        "--state-dir", metavar="DIR", help="the local runtime's state (default: ./.kasugai)"
    )
    parser.add_argument("--cluster", action="store_true", help="read DataFlows from the cluster")
    parser.add_argument(
        "-n",
        "--namespace",
        help="only this namespace (--cluster: default the context's, else default)",
    )
    parser.add_argument(
        "--kubeconfig",
        help="with --cluster: kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)",
    )
    parser.add_argument("--context", help="with --cluster: the kubeconfig context to use")
    parser.add_argument("-o", "--output", choices=FORMATS, default="tree")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help=f"put each hop's rate and NG count on its edge (scrapes :{METRICS_PORT}/metrics)",
    )
    add_plan_options(parser)
    parser.set_defaults(func=run)


def _check_sources(args: argparse.Namespace) -> None:
    if args.cluster and args.filename:
        raise InputError(
            "-f and --cluster exclude each other: draw the plan of files, or the cluster"
        )
    if args.state_dir and (args.cluster or args.filename):
        raise InputError(
            "--state-dir is the local runtime's: it goes with neither -f nor --cluster"
        )
    if (args.context or args.kubeconfig) and not args.cluster:
        raise InputError("--kubeconfig and --context need --cluster")
    # Both go into the API's URL path with --cluster: only a name may, nothing like "../x".
    for what, value in (("DATAFLOW", args.dataflow), ("--namespace", args.namespace)):
        problem = value is not None and names.dns1123_subdomain_problem(what, value)
        if problem:
            raise InputError(problem)


def _from_files(args: argparse.Namespace) -> tuple[list[dict[str, Any]], bool]:
    from kasugai.commands.plan import planned

    engine, loaded = planned(args.filename, plan_options(args))
    failed = report_errors(engine, loaded)
    return [o for o in engine.status_objects() if o.get("kind") == "DataFlow"], failed


def _from_state_dir(args: argparse.Namespace) -> list[dict[str, Any]]:
    from kasugai.adapters.local.layout import state_dir
    from kasugai.adapters.local.lock import holder
    from kasugai.adapters.local.snapshot import read_snapshot

    state = state_dir(args.state_dir)
    snapshot = read_snapshot(state)
    if snapshot is None:
        raise NotFound(
            f"error: no local runtime has run with state directory {state.root}; start one with "
            "`kasugai up DIR`, or draw files with -f or the cluster with --cluster"
        )
    supervisor = snapshot.get("supervisor")
    phase = supervisor.get("phase") if isinstance(supervisor, dict) else None
    stopped = False
    if holder(state) is None:
        print(f"no supervisor running (state {state.root}): last known state", file=sys.stderr)
        # As `kasugai status`: after `down` nothing runs, whatever the last plan said.
        stopped = phase in ("Stopped", "Failed")
    found = []
    for entry in snapshot.get("dataflows") or []:
        if not isinstance(entry, dict):
            continue
        status = entry.get("status")
        if stopped and isinstance(status, dict):
            status = {**status, "status": "Stopped", "message": "no supervisor running"}
        meta = {"namespace": entry.get("namespace"), "name": entry.get("name")}
        found.append({"kind": "DataFlow", "metadata": meta, "status": status})
    return found


def _api_client(kubeconfig: str, context: str | None) -> Any:
    """A client of ``kubeconfig``'s ``context`` (the current one if None), and its namespace."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(kubeconfig, context=context, client_configuration=configuration)
    contexts, current = config.list_kube_config_contexts(kubeconfig)
    chosen = (
        next((c for c in contexts if c.get("name") == context), current) if context else current
    )
    namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    return client.ApiClient(configuration), namespace


def _reason(error: Any) -> str:
    """The reason of the API server's Status (``Forbidden``), as kubectl shows it."""
    from kasugai.core import bounded

    try:
        reason = bounded.load_json(error.body or "{}").get("reason")
    except (ValueError, AttributeError):
        reason = None
    return reason if isinstance(reason, str) and reason.isalpha() else str(error.reason)


def _from_cluster(args: argparse.Namespace) -> list[dict[str, Any]]:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException

    from kasugai.adapters.kube.api import RESOURCES, KubeApi, error_message
    from kasugai.adapters.kube.pacing import REQUEST_ERRORS

    try:
        api_client, context_namespace = _api_client(
            args.kubeconfig or os.environ.get("KUBECONFIG") or _DEFAULT_KUBECONFIG, args.context
        )
    except ConfigException as error:
        raise InputError(f"kubeconfig: {error}") from error
    namespace = args.namespace or context_namespace
    try:
        with api_client:
            api = KubeApi(api_client)
            if args.dataflow:
                found = api.get("DataFlow", namespace, args.dataflow)
                if found is None:
                    resource = RESOURCES["DataFlow"]
                    raise NotFound(
                        f"Error from server (NotFound): {resource.plural}.{resource.group} "
                        f'"{args.dataflow}" not found'
                    )
                return [found]
            return api.list("DataFlow", namespace)[0]
    except ApiException as error:
        raise NotFound(f"Error from server ({_reason(error)}): {error_message(error)}") from error
    except REQUEST_ERRORS as error:
        raise NotFound(f"error: the cluster: {error_message(error)}") from error


def _pick(objects: Sequence[dict[str, Any]], args: argparse.Namespace) -> list[Chain]:
    chains = [chain_from_dataflow(o) for o in objects]
    if args.namespace:
        chains = [c for c in chains if c.namespace == args.namespace]
    if args.dataflow:
        chains = [c for c in chains if c.name == args.dataflow]
        if not chains:
            where = f" in namespace {args.namespace}" if args.namespace else ""
            source = "the files given" if args.filename else "the local runtime's state"
            raise NotFound(f'error: DataFlow "{args.dataflow}" not found{where} in {source}')
    return chains


def sample_figures(
    chains: Sequence[Chain],
    port: int = METRICS_PORT,
    interval: float = _SAMPLE_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Chain]:
    """The chains with each function's figures from two scrapes ``interval`` apart; a function
    without an address, or that does not answer, keeps none."""
    urls = {}
    for number, chain in enumerate(chains):
        for node in chain.nodes:
            url = metrics_url(node.address, port)
            if url is not None:
                urls[f"{number}/{node.key}"] = url
    if not urls:  # nothing to ask (a plan has no addresses): no figures, and no wait
        return list(chains)
    sampler = HopSampler(clock=time.monotonic)
    sampler.figures(scrape(urls))
    sleep(interval)
    figures = sampler.figures(scrape(urls))
    return [
        chain.with_figures(
            {
                n.key: figures[f"{number}/{n.key}"]
                for n in chain.nodes
                if f"{number}/{n.key}" in figures
            }
        )
        for number, chain in enumerate(chains)
    ]


def render(chains: Sequence[Chain], output: str, colour: bool = False, one: bool = False) -> str:
    """``chains`` in the format ``output``; JSON is one chain if ``one`` (a name was given, as
    ``kubectl get KIND NAME``), else ``{"items": [...]}``."""
    if output == "tree":
        return render_tree(chains, colour=colour)
    if output == "json":
        data = [chain_to_json(c) for c in chains]
        return json.dumps(data[0] if one else {"items": data}, indent=2) + "\n"
    return _RENDERERS[output](chains)


def run(args: argparse.Namespace) -> int:
    _check_sources(args)
    failed = False
    try:
        if args.filename:
            objects, failed = _from_files(args)
        elif args.cluster:
            objects = _from_cluster(args)
        else:
            objects = _from_state_dir(args)
        chains = _pick(objects, args)
    except NotFound as error:
        print(error, file=sys.stderr)
        return 1
    if not chains:
        print("No resources found.", file=sys.stderr)
        return 2 if failed else 0
    if args.metrics:
        chains = sample_figures(chains)
    colour = args.output == "tree" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    sys.stdout.write(render(chains, args.output, colour, one=bool(args.dataflow)))
    return 2 if failed else 0
