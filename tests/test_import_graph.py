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


def imported_modules(path: Path) -> set[str]:
    """Dotted modules a file imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``; string arguments of
    ``importlib.import_module`` count, since the CLI loads its commands that way)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args:
            if isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
            elif isinstance(node.args[0], ast.JoinedStr):  # f"memr2.commands.{name}"
                names.add("".join(str(v.value) for v in node.args[0].values if isinstance(v, ast.Constant)))
    return names


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports anywhere in its body (lazy imports inside functions included)."""
    return {name.split(".")[0] for name in imported_modules(path)}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_a_layer_above_it(package):
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_inside_memr2_the_commands_are_the_top_and_nothing_cycles_back_through_the_cli():
    """Issue 21 item 11: ``memr2.protocols`` imported ``memr2.commands.data`` (an up-edge), and ``memr2.cli`` <->
    ``memr2.commands.study`` formed a cycle through importlib. The library modules of memr2 never import a command
    or the CLI; a command never imports the CLI, which imports every command."""
    def reaches(modules: set[str], prefix: str) -> bool:
        return any(m == prefix or m.startswith(prefix + ".") for m in modules)

    library = {p.name: imported_modules(p) for p in (REPO / "memr2").glob("*.py")
               if p.name not in {"cli.py", "__main__.py"}}
    up_edges = {name: sorted(modules) for name, modules in library.items()
                if reaches(modules, "memr2.commands") or reaches(modules, "memr2.cli")}
    assert not up_edges, up_edges
    back_to_cli = [p.name for p in (REPO / "memr2" / "commands").glob("*.py") if reaches(imported_modules(p), "memr2.cli")]
    assert not back_to_cli, back_to_cli
    assert reaches(imported_modules(REPO / "memr2" / "cli.py"), "memr2.commands")  # the check sees importlib's string


def test_the_edge_check_sees_the_import_that_issue_21_found(tmp_path):
    old_protocols = tmp_path / "protocols.py"
    old_protocols.write_text("from memr2.commands.data import sha256_of\n")
    assert "memr2.commands.data" in imported_modules(old_protocols)
