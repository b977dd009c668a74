"""Each package of src imports only the layers below it (README "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# A package may import a package of a lower rank only (and itself).
RANKS = {
    "compat": 0,
    "core": 0,
    "models": 1,
    "numerology": 1,
    "schemas": 2,
    "voice_pipeline": 2,
    "services": 3,
    "api": 4,
    "main": 5,
    "worker": 5,
}


def _imports(path: Path) -> set[str]:
    """The src packages a module imports (at module level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found |= {name.split(".")[1] for name in names if name.startswith("src.")}
    return found


def test_every_package_has_a_rank() -> None:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert packages | modules == set(RANKS), "give a new package its rank here"


def test_imports_go_only_downward() -> None:
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).parts
        package = parts[0] if len(parts) > 1 else path.stem
        if package == "__init__":
            continue
        for imported in _imports(path) - {package}:
            if RANKS[imported] >= RANKS[package]:
                upward.append(f"{path.relative_to(SRC.parent)} imports src.{imported}")
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from src.services.rooms import Room\n")
    assert _imports(module) == {"services"}
