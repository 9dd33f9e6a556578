"""What a calc process imports: only what its path needs, so that it starts fast and stays small.

Each test runs the real program under ``python -X importtime`` (which lists every module a process
imports, on stderr) and checks the list. rich is never used by a function (structlog would import
it for pretty tracebacks); the client given ``-host`` reads no config, so it needs neither YAML,
nor kasugai.core (which loads the whole planner), nor prometheus-client.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.testing import PORT, LocalCalc

PROGRAM = (sys.executable, "-X", "importtime", "-m", "kasugai_functions.calc")


def imported_modules(stderr: str) -> set[str]:
    """The modules named by ``-X importtime`` lines ("import time: self | total | name")."""
    prefix = "import time:"
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith(prefix) and not line.endswith("| imported package")
    }


def loaded(modules: set[str], package: str) -> set[str]:
    """The submodules of ``package`` in ``modules``: a package that really loads imports some.

    (The listing also names imports that failed, such as structlog's try of an absent rich.)"""
    return {module for module in modules if module.startswith(f"{package}.")}


def test_a_server_does_not_import_rich(calc: LocalCalc) -> None:
    receiver = calc.start("receiver", Operator.RECEIVER, program=PROGRAM)
    plus = calc.start("plus", Operator.PLUS, next_host=receiver.host, program=PROGRAM)
    for function in (receiver, plus):
        modules = imported_modules(function.log_path.read_text(encoding="utf-8"))
        assert loaded(modules, "grpc") and loaded(modules, "structlog")  # the listing is real
        assert not loaded(modules, "rich")


def test_the_client_given_a_host_imports_no_config_reader_and_no_metrics(
    calc: LocalCalc, tmp_path: Path
) -> None:
    receiver = calc.start("receiver", Operator.RECEIVER)
    env = {**os.environ, "KASUGAI_LOG_FORMAT": "json", "KASUGAI_CONFIG_DIR": str(tmp_path)}
    sent = subprocess.run(
        [*PROGRAM, "-host", receiver.host, "-port", str(PORT), "1", "2", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (sent.returncode, sent.stdout) == (0, "OK\n"), sent.stderr[-2000:]
    modules = imported_modules(sent.stderr)
    assert loaded(modules, "grpc") and "kasugai_functions.calc.client" in modules
    for package in ("rich", "yaml", "prometheus_client", "kasugai.core"):
        assert not loaded(modules, package), package
