"""The sidecar process given hostile connection configs and templates: it stays up, keeps the
last good rendered files, reports each problem without quoting the data, and recovers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kasugai_sidecar.testing import SidecarProcess, write_config
from sidecar_rig import Rig

from kasugai.atomic_files import write_atomically
from kasugai.core import bounded
from kasugai.testing import wait_until
from kasugai.testing.hostile import JSON_TEXTS, MARKER, hostile_bytes

GOOD = {"ips": ["10.96.12.34"], "ports": [{"port": 8080, "protocol": "TCP"}]}
NEXT = {"ips": ["10.96.7.8"], "ports": [{"port": 9090, "protocol": "TCP"}]}


def rejections(sidecar: SidecarProcess) -> list[dict[str, Any]]:
    """``config rejected`` (it does not validate) and ``config file rejected`` (unreadable)."""
    return [
        e
        for e in sidecar.events()
        if str(e["event"]).startswith(("config rejected", "config file rejected"))
    ]


def test_hostile_connection_configs_are_rejected_and_the_last_good_files_stay(rig: Rig) -> None:
    output = rig.template().with_suffix("")
    fn = rig.function()
    sidecar = rig.sidecar()
    write_config(rig.source, GOOD)
    wait_until(lambda: len(fn.signals()) == 1, "the first SIGHUP")
    good = output.read_text()

    # (A JSON object of unknown keys is a valid config: templates may read them.)
    hostile = [hostile_bytes(t) for n, t in JSON_TEXTS.items() if n != "marker as a number key"]
    hostile += [
        b'{"ips": ["' + MARKER.encode() + b'"]}',  # a secret where an address belongs
        b"\xff\xfe" + MARKER.encode(),  # not UTF-8
        b" " * (bounded.VALUE.max_bytes + 1),  # over the size limit
    ]
    for number, data in enumerate(hostile, start=1):
        write_atomically(rig.source, data)
        wait_until(lambda n=number: len(rejections(sidecar)) >= n, f"rejection {number}")
        assert output.read_text() == good
        assert not sidecar.process.exited()
    assert len(fn.signals()) == 1

    write_config(rig.source, NEXT)  # recovers at the next good config
    wait_until(lambda: len(fn.signals()) == 2, "the SIGHUP for the good config")
    assert output.read_text() != good
    log = sidecar.process.log_path.read_text(errors="replace")
    assert MARKER not in log
    assert "Traceback" not in log


def test_hostile_templates_fail_alone_and_the_others_render(rig: Rig) -> None:
    output = rig.template().with_suffix("")
    fn = rig.function()
    sidecar = rig.sidecar()
    write_config(rig.source, GOOD)
    wait_until(lambda: len(fn.signals()) == 1, "the first SIGHUP")

    templates: dict[str, bytes] = {
        "huge.yaml.tmpl": b"x" * (bounded.TEMPLATE_BYTES + 1),
        "deep.yaml.tmpl": b"{{if .ips}}" * 20_000 + b"{{end}}" * 20_000,
        "parens.yaml.tmpl": b"{{" + b"(" * 20_000 + b")" * 20_000 + b"}}",
        "bytes.yaml.tmpl": b"\xff{{.ips}}",
    }
    for name, content in templates.items():
        (rig.config_dir / name).write_bytes(content)
    failed = set(templates)
    wait_until(
        lambda: (
            failed
            <= {
                Path(str(e["template"])).name
                for e in sidecar.events()
                if e["event"] == "template failed; keeping its last output"
            }
        ),
        "every hostile template to fail",
    )
    assert not any((rig.config_dir / name[: -len(".tmpl")]).exists() for name in templates)

    write_config(rig.source, NEXT)  # the good template still renders, and the function reloads
    wait_until(lambda: len(fn.signals()) == 2, "the SIGHUP for the good config")
    assert "10.96.7.8" in output.read_text()
    assert not sidecar.process.exited()
    assert "Traceback" not in sidecar.process.log_path.read_text(errors="replace")
