"""The layering of docs/design.md: memenv <- agents <- algorithms <- memr2 <- engines, never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGINES = {"engines", "memory_r2", "openenv", "verifiers", "trl"}  # optional extras (docs/engines.md): a layer above all
FORBIDDEN = {
    "memenv": {"agents", "algorithms", "memr2", "torch", "transformers", "vllm"} | ENGINES,
    "agents": {"algorithms", "memr2"} | ENGINES,
    "algorithms": {"memr2"} | ENGINES,
    "memr2": ENGINES,
}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports anywhere in its body (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_a_layer_above_it(package):
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders
