"""``kasugai-sidecar``: run the reload sidecar, or render one template as it would.

    kasugai-sidecar [--source kubernetes|file:PATH] [--config-dir DIR] [--kubeconfig FILE]
                    [--metrics-port N] [--metrics-host ADDR] [--loaded-file FILE]
    kasugai-sidecar render TEMPLATE --data FILE

Environment (contract section 4): ``K8S_POD_NAME``, ``K8S_POD_NAMESPACE`` and
``SIDECAR_MNG_PROSESS_NAME`` (sic; ``SIDECAR_MNG_PROCESS_NAME`` is accepted too) name the Pod,
its namespace and the process to SIGHUP. ``KASUGAI_CONFIG_DIR`` and ``KUBECONFIG`` are the
defaults of ``--config-dir`` and ``--kubeconfig``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from kasugai.runtime_env import config_dir, configure_logging, listen_host
from kasugai_sidecar.connection import InvalidConnectionConfig, parse_connection_config
from kasugai_sidecar.gotemplate import TemplateError
from kasugai_sidecar.rendering import render_template
from kasugai_sidecar.sidecar import Settings, Sidecar

PROCESS_NAME_ENVS = ("SIDECAR_MNG_PROSESS_NAME", "SIDECAR_MNG_PROCESS_NAME")


class UsageError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kasugai-sidecar",
        description="Render config templates from the connection ConfigMap and SIGHUP the "
        "function when they change. Subcommand: `render TEMPLATE --data FILE`.",
        epilog="The function is every process of this Pod (same K8S_POD_NAME in its "
        "environment) whose argv[0] or its basename is the name, whose command line starts "
        "with it, or, for a console script, whose argv[0] is a python and argv[1] or its "
        "basename is the name. Only processes with a SIGHUP handler are signalled.",
    )
    parser.add_argument(
        "--source",
        default="kubernetes",
        help="where the connection config comes from: `kubernetes` (ConfigMap "
        "ethcrl.$K8S_POD_NAME, the default) or `file:PATH` (a JSON file)",
    )
    parser.add_argument("--config-dir", help="templates and outputs (default: /config)")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument(
        "--loaded-file",
        type=Path,
        help="after the function was signalled for a connection config (or needed no signal), "
        "write that config here: how a runtime learns the function loaded it (default: off)",
    )
    parser.add_argument(
        "--metrics-port", type=int, help="serve /healthz and /metrics on this port (default: off)"
    )
    parser.add_argument(
        "--metrics-host",
        default=None,
        help="address for --metrics-port (default: $KASUGAI_POD_IP, else 0.0.0.0)",
    )
    tuning = parser.add_argument_group("tuning (the defaults suit a function reload)")
    tuning.add_argument(
        "--coalesce-ms",
        type=float,
        default=0.0,
        help="wait this long after a change to take a burst in one render (default: 0; "
        "changes that arrived together are rendered together anyway)",
    )
    tuning.add_argument(
        "--min-signal-interval-ms",
        type=float,
        default=100.0,
        help="at most one SIGHUP per interval; a burst costs at most two (default: 100)",
    )
    tuning.add_argument(
        "--signal-retry-seconds",
        type=float,
        default=15.0,
        help="how long to wait for a function that is not running (yet) (default: 15)",
    )
    return parser


def _render_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kasugai-sidecar render",
        description="Print TEMPLATE rendered with the connection config in --data, after the "
        "checks the sidecar applies.",
    )
    parser.add_argument("template", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="JSON, as data.config holds it")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    process_name = next((os.environ[e] for e in PROCESS_NAME_ENVS if os.environ.get(e)), "")
    if not process_name:
        raise UsageError(
            "SIDECAR_MNG_PROSESS_NAME is not set: set it to the function's program name "
            "(e.g. /calcapp or kasugai-calc)"
        )
    pod_name = os.environ.get("K8S_POD_NAME") or None
    namespace = os.environ.get("K8S_POD_NAMESPACE") or None
    config_file = None
    if args.source.startswith("file:"):
        config_file = Path(args.source.removeprefix("file:"))
        if not config_file.name:
            raise UsageError("--source file:PATH needs a file path")
    elif args.source != "kubernetes":
        raise UsageError(f"--source {args.source!r}: use `kubernetes` or `file:PATH`")
    elif not (pod_name and namespace):
        raise UsageError(
            "K8S_POD_NAME and K8S_POD_NAMESPACE must be set to watch ConfigMap ethcrl.<pod> "
            "(the downward API sets them in a Pod)"
        )
    return Settings(
        config_dir=config_dir(args.config_dir),
        process_name=process_name,
        pod_name=pod_name,
        namespace=namespace,
        config_file=config_file,
        kubeconfig=args.kubeconfig,
        metrics_host=args.metrics_host or listen_host(),
        metrics_port=args.metrics_port,
        coalesce=args.coalesce_ms / 1000,
        min_signal_interval=args.min_signal_interval_ms / 1000,
        signal_retry_for=args.signal_retry_seconds,
        loaded_file=args.loaded_file,
    )


def render_command(argv: list[str]) -> int:
    args = _render_parser().parse_args(argv)
    try:
        data, _ = parse_connection_config(args.data.read_text(encoding="utf-8"))
        sys.stdout.write(render_template(args.template, data))
    except InvalidConnectionConfig as err:
        for problem in err.problems:
            print(f"kasugai-sidecar: {args.data}: {problem}", file=sys.stderr)
        return 1
    except (TemplateError, OSError, UnicodeError) as err:
        print(f"kasugai-sidecar: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["render"]:
        return render_command(argv[1:])
    args = _run_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except UsageError as err:
        print(f"kasugai-sidecar: {err}", file=sys.stderr)
        return 2
    configure_logging()
    asyncio.run(Sidecar(settings).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
