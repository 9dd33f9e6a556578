"""kasugai.core stays pure: it imports only an allow-list of modules and calls no I/O builtins.

Walks the AST of every module of the package, so an import hidden in a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "kasugai" / "core"

# Standard library and chosen libraries with no I/O, clock or threads of their own.
ALLOWED = {
    "__future__",
    "attrs",
    "cattrs",
    "collections",
    "difflib",
    "graphlib",
    "hashlib",  # rewiring: the digest of a loaded connection config
    "immutables",  # world: persistent maps
    "json",
    "re",
    "transitions",
    "typing",
    "yaml",
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "compile", "__import__"}


def modules() -> list[Path]:
    found = sorted(CORE.rglob("*.py"))
    assert len(found) > 10, f"kasugai/core looks empty: {found}"
    return found


def imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "use absolute imports (kasugai.core....)"
            names.append(node.module or "")
    return names


def impurities(source: str) -> list[str]:
    """What makes a module's source impure: disallowed imports and I/O builtin calls."""
    tree = ast.parse(source)
    found = []
    for name in imported(tree):
        top = name.split(".")[0]
        if top == "kasugai" and not name.startswith("kasugai.core"):
            found.append(f"imports {name}: core imports only core")
        elif top not in ALLOWED | {"kasugai"}:
            found.append(f"imports {name}: not allowed in the pure core")
    for node in ast.walk(tree):
        called = (
            node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else ""
        )
        if called in FORBIDDEN_CALLS:
            found.append(f"calls {called}()")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    assert impurities(path.read_text()) == []


def test_the_check_catches_impure_code() -> None:
    impure = (
        "import os\n"
        "from kasugai.adapters import files\n"
        "def later():\n"
        "    import time\n"
        "    print(open('x'))\n"
    )
    assert impurities(impure) == [
        "imports os: not allowed in the pure core",
        "imports kasugai.adapters: core imports only core",
        "imports time: not allowed in the pure core",
        "calls print()",
        "calls open()",
    ]
