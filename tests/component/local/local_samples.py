"""The portable arithmetic sample, copied and varied for a test (network mode, chain edits),
and the type of the ``start_run`` fixture that runs a sample with ``kasugai up``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kasugai.adapters.local.testing import LocalRun
from kasugai.atomic_files import write_atomically
from kasugai.commands.demo_chain import CHAIN_FILE, rewired_chain

REPO = Path(__file__).resolve().parents[3]
CALC_SAMPLE = REPO / "manifests" / "samples" / "calc"
CONFIG_FILE = "cm-cpufunc-config.yaml"
NETWORK = "ethernet.swb.example.com/network"

StartRun = Callable[[Path], LocalRun]


def _set_network(entry: dict[str, Any], mode: str) -> None:
    if mode == "sriov":
        entry.update(
            additionalNetwork=True,
            virtualNetworkDeviceDriverType="sriov",
            ipam=["sriov-ipam-config"],
        )
    else:
        entry["Annotations"][NETWORK] = mode


def edit_entries(sample: Path, edit: Callable[[str, dict[str, Any]], None]) -> None:
    """Apply ``edit(config ConfigMap name, entry)`` to every config entry of the sample."""
    path = sample / CONFIG_FILE
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:
        for key, text in document["data"].items():
            entries = json.loads(text)
            for entry in entries:
                edit(document["metadata"]["name"], entry)
            document["data"][key] = json.dumps(entries, indent=2)
    write_atomically(path, yaml.safe_dump_all(documents, sort_keys=False))


def copy_calc(destination: Path, network: str = "clusterip") -> Path:
    """The calc sample in ``destination``, every function in the given network mode."""
    shutil.copytree(CALC_SAMPLE, destination)
    if network != "clusterip":
        edit_entries(destination, lambda _name, entry: _set_network(entry, network))
    return destination


def shorten_chain(sample: Path) -> None:
    """Edit the FunctionChain to send, plus, minus, rcv, replacing the file in one step."""
    write_atomically(sample / CHAIN_FILE, rewired_chain((sample / CHAIN_FILE).read_text()))
