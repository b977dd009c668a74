"""Each unit of src imports only the units below it (README "Layout").

A unit is a top-level package of src, or, inside the packages split further (`rooms`,
`services`), one of their subpackages or modules: `services.conversations` ranks above
`services.bots`, which ranks above `rooms`, so an import loop between them fails here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

SRC = Path(__file__).resolve().parents[2] / "src"

# A unit may import a unit of a lower rank only (and itself).
RANKS = {
    "compat": 0,
    "core": 0,
    "models": 1,
    "numerology": 1,
    "rooms.base": 1,
    "contract": 2,
    "rooms.local": 2,
    "rooms.daily": 2,
    "schemas": 2,
    # rooms/__init__.py: `create_room_provider` picks a provider package.
    "rooms": 3,
    "voice_pipeline": 4,
    "services": 5,
    "services.daily_service": 5,
    "services.ice": 5,
    "services.throttling": 5,
    "services.users": 5,
    "services.webhooks": 5,
    "services.bots": 6,
    "services.conversations": 7,
    # services/host.py: the bot host assembles conversations' and bots' parts for a process.
    "services.host": 8,
    "api": 8,
    "main": 9,
    "worker": 9,
}

# The packages whose subpackages and modules are ranked one by one.
SPLIT = ("rooms", "services")

# Imports allowed upward, each with its reason: (importing module, imported unit).
EXEMPTIONS = {
    ("core.deps", "api"): "story 3.4 (AC7) imports get_current_user from src/core/deps.py; it "
    "lives in api/deps.py, beside the user model and the throttle it needs",
}

# The names story 3.4 imports, where it imports them from (thin entry points; README "Layout").
STORY_NAMES = {
    "src.services.daily_service": ("create_room",),
    "src.voice_pipeline.pipecat_bot": ("run_bot",),
    "src.core.deps": ("get_current_user", "get_session"),
}


def unit_of(dotted: str) -> str:
    """The ranked unit a module (``rooms.local.media``) belongs to: its longest ranked prefix."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in RANKS:
            return ".".join(parts[:end])
    raise KeyError(f"src.{dotted} has no rank: give it one in RANKS")


def _imports(source: str) -> set[str]:
    """The src modules a module's source imports (at module level or inside functions), without
    `src.`; ``from src.x import y`` counts as ``x.y`` (y may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found |= {name.removeprefix("src.") for name in names if name.startswith("src.")}
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _upward(module: str, source: str) -> list[str]:
    """The imports of `module` (its `source`) that go to its own rank or above, unless exempted."""
    unit = unit_of(module)
    wrong = []
    for imported in sorted(_imports(source)):
        target = unit_of(imported)
        if target == unit or (module, target) in EXEMPTIONS:
            continue
        if RANKS[target] >= RANKS[unit]:
            wrong.append(f"src.{module} ({unit}) imports src.{imported} ({target})")
    return wrong


def test_every_unit_has_a_rank() -> None:
    units = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    units |= {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    for package in SPLIT:
        children = {p.name for p in (SRC / package).iterdir() if (p / "__init__.py").exists()}
        children |= {p.stem for p in (SRC / package).glob("*.py") if p.stem != "__init__"}
        units |= {f"{package}.{child}" for child in children}
    assert units == set(RANKS), "give a new package or module its rank here"


def test_imports_go_only_downward() -> None:
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        if module := _module_name(path):
            upward += _upward(module, path.read_text())
    assert upward == []


def test_the_check_sees_an_upward_import() -> None:
    source = "def f():\n    from src.services.conversations.lifecycle import X\n"
    assert _imports(source) == {"services.conversations.lifecycle.X"}
    # Made by a module of services.bots, which ranks below services.conversations.
    assert _upward("services.bots.m", source) == [
        "src.services.bots.m (services.bots) imports src.services.conversations.lifecycle.X "
        "(services.conversations)"
    ]
    assert _upward("services.conversations.m", source) == []


def test_the_exemptions_are_few_and_give_their_reason() -> None:
    assert len(EXEMPTIONS) <= 5
    assert all(len(reason) > 40 for reason in EXEMPTIONS.values())
    for module, target in EXEMPTIONS:
        # An exemption no longer used goes.
        source = (SRC / (module.replace(".", "/") + ".py")).read_text()
        assert any(unit_of(name) == target for name in _imports(source)), (module, target)


def test_the_storys_names_are_where_the_story_imports_them() -> None:
    for module, names in STORY_NAMES.items():
        loaded = importlib.import_module(module)
        for name in names:
            assert callable(getattr(loaded, name)), f"{module}.{name}"
    run_bot = importlib.import_module("src.voice_pipeline.pipecat_bot").run_bot
    assert list(inspect.signature(run_bot).parameters)[:2] == ["room_url", "token"]
    create_room = importlib.import_module("src.services.daily_service").create_room
    assert list(inspect.signature(create_room).parameters)[:1] == ["conversation_id"]
