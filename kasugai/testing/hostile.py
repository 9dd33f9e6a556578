"""Inputs a hostile tenant would write, for tests that every kasugai program survives them.

Every payload that carries data carries ``MARKER``, a stand-in for a secret: tests assert it
never shows in any output, status or log, since errors name fields and types, not values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

MARKER = "sk-TOPSECRET-4f1c9a"

# JSON texts that once crashed a parser (RecursionError, ValueError) or cost minutes.
JSON_TEXTS: Mapping[str, str] = {
    "int digits": "1" * 5000,
    "deep lists": "[" * 100_000,
    "deep closed lists": "[" * 5000 + "]" * 5000,
    "deep objects": '{"a":' * 5000 + "1" + "}" * 5000,
    "deep in a string": '"' + "[" * 100_000 + '"',  # fine: brackets inside a string
    "long float": "0." + "1" * 5000,
    "huge exponent": "1e99999",
    "NaN": "[NaN]",
    "unterminated deep": "[" * 5000 + '"' + MARKER,
    "marker in a wrong type": json.dumps([{"rxProtocol": {"x": MARKER}, "imageURI": [MARKER]}]),
    "marker as a number key": json.dumps({MARKER: 1}),
    # The leak once found: "expected ..., got a string ('<the secret>')".
    "marker where another type belongs": json.dumps(
        [
            {
                "additionalNetwork": MARKER,
                "regionType": [MARKER],
                "configName": {"x": MARKER},
                "template": {"spec": {"containers": [{"ports": [{"containerPort": MARKER}]}]}},
            }
        ]
    ),
    "over 3 MiB": json.dumps([MARKER * 1000] * 200),
    "not JSON": MARKER + " {",
}

_LAUGHS = (
    "a: &a ["
    + ",".join([f'"{MARKER}"'] * 10)
    + "]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(8)
    )
)

# YAML texts: the same, plus what only YAML has (aliases, tags, timestamps, documents).
YAML_TEXTS: Mapping[str, str] = {
    "int digits": "n: " + "1" * 5000,
    "hex digits": "n: 0x" + "f" * 5000,
    "sexagesimal": "n: " + ":".join(["59"] * 3000),
    "deep flow": "[" * 100_000,
    "deep block": "".join("  " * i + "a:\n" for i in range(3000)) + "  " * 3000 + "b: 1\n",
    "billion laughs": _LAUGHS,
    "alias to itself": f"a: &x [{MARKER}, *x]\n",
    "undefined alias": f"a: *{MARKER}\n",
    "python tag": f"a: !!python/object/apply:os.system [{MARKER}]\n",
    "custom tag": f"a: !{MARKER} x\n",
    "set": f"a: !!set {{{MARKER}: null}}\n",
    "bad timestamp": "a: 2020-13-45\n",
    "unhashable key": f"? [{MARKER}]\n: x\n",
    "bad int tag": f"a: !!int {MARKER}\n",
    "tab": f"a:\n\t- {MARKER}\n",
    "merge of a scalar": f"a:\n  <<: {MARKER}\n",
    "not UTF-8": "a: \udcff",  # written with surrogateescape: the byte 0xff
}


def hostile_bytes(text: str) -> bytes:
    """A payload as the bytes of a file (``surrogateescape`` keeps invalid bytes invalid)."""
    return text.encode("utf-8", "surrogateescape")


def configmap(name: str, data: Mapping[str, str], namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def pod_with_network_status(name: str, status: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"k8s.v1.cni.cncf.io/network-status": status},
        },
        "status": {"phase": "Running"},
    }


def as_yaml(*bodies: Mapping[str, Any]) -> str:
    return yaml.safe_dump_all([dict(b) for b in bodies], sort_keys=False)
