"""The fence holds: outside src/compat no module reaches a private name of pipecat, aiortc or
daily-python through a subclass or an import (`src/compat/__init__.py`).

Checked: a class of ours deriving from theirs uses (reads, sets, overrides) no `_name` that one
of their classes in its MRO defines; no module imports a `_name` from their packages. An
attribute reached on another object (`transport._client`) is left to review: whose attribute
it is cannot be told from the source.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from src.compat import Private
from tests.compat.test_contract import compat_modules

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

SRC = Path(__file__).resolve().parents[2] / "src"
THIRD_PARTY = ("pipecat", "aiortc", "daily")


def _outside_compat() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "compat" not in p.relative_to(SRC).parts]


def _private_imports(path: Path) -> list[str]:
    found = []
    where = path.relative_to(SRC.parent) if path.is_relative_to(SRC) else path
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(THIRD_PARTY):
            found += [
                f"{where} imports {node.module}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_")
            ]
    return found


def _private_names_used(cls: type) -> set[str]:
    """The `_names` a class's own body uses on `self`, or defines as methods."""
    tree = ast.parse(inspect.getsource(cls).lstrip())
    names = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == "self"
        and n.attr.startswith("_")
        and not n.attr.startswith("__")
    }
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    names |= {
        f.name
        for f in body
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        and f.name.startswith("_")
        and not f.name.startswith("__")
    }
    return names


def _their_names_used(cls: type) -> list[str]:
    """`<class> uses <name>` for each private name of theirs a class of ours uses."""
    theirs = [base for base in cls.__mro__ if base.__module__.startswith(THIRD_PARTY)]
    return sorted(
        f"{cls.__module__}.{cls.__qualname__} uses {name}"
        for name in _private_names_used(cls)
        if any(not Private(base, name).problems() for base in theirs)
    )


def _classes_of_ours_on_theirs() -> list[type]:
    classes = []
    for path in _outside_compat():
        if not any(lib in path.read_text() for lib in THIRD_PARTY):
            continue
        module = importlib.import_module(
            ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        )
        classes += [
            cls
            for cls in vars(module).values()
            if inspect.isclass(cls)
            and cls.__module__ == module.__name__
            and any(b.__module__.startswith(THIRD_PARTY) for b in cls.__mro__)
        ]
    return classes


def test_no_private_name_of_theirs_is_imported_outside_compat() -> None:
    assert [found for path in _outside_compat() for found in _private_imports(path)] == []


def test_no_class_of_ours_uses_a_private_name_of_theirs_outside_compat() -> None:
    classes = _classes_of_ours_on_theirs()
    assert classes, "no class of ours derives from pipecat's or aiortc's: the check sees nothing"
    assert [used for cls in classes for used in _their_names_used(cls)] == []


def test_the_checks_see_a_private_name_used(tmp_path: Path) -> None:
    from pipecat.processors.frameworks.rtvi.processor import RTVIProcessor

    class Sneaky(RTVIProcessor):
        async def _send_error_frame(self, frame: object) -> None:
            self._client_ready = True

    assert _their_names_used(Sneaky) == [
        f"{__name__}.{Sneaky.__qualname__} uses _client_ready",
        f"{__name__}.{Sneaky.__qualname__} uses _send_error_frame",
    ]
    module = tmp_path / "m.py"
    module.write_text("from pipecat.transports.smallwebrtc.transport import _SOURCES_BY_RECEIVER\n")
    assert _private_imports(module) != []


TESTS, BENCH = SRC.parent / "tests", SRC.parents[1] / "bench"
# Names a compat module declares that some other object of ours, or of the standard library's,
# has too: reached there, they are not pipecat's, aiortc's or aioice's.
NOT_THEIRS = {
    "tests/voice/test_media.py: waiting._queue",  # asyncio.Queue's deque (the track's queue)
    "tests/voice/test_synthesis_cache.py: gate._executor",  # our InferenceGate's pool
}


def _declared_private_names() -> set[str]:
    return {
        reliance.name
        for module in compat_modules()
        for reliance in module.PRIVATE_NAMES
        if isinstance(reliance, Private) and reliance.name.startswith("_")
    }


def _reached_on_another_object(path: Path, names: set[str]) -> list[str]:
    """`<path>: <expression>` for each use of one of `names` on anything but `self` or `cls`."""
    root = SRC.parents[1]
    where = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    where = where.removeprefix("backend/")
    return [
        f"{where}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr in names
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]


def _outside_compat_everywhere() -> list[Path]:
    """The service's modules outside src/compat, every test module but the compat tests (they
    look at the names themselves), and the bench's."""
    tests = [p for p in sorted(TESTS.rglob("*.py")) if p.parent.name != "compat"]
    return [*_outside_compat(), *tests, *sorted(BENCH.rglob("*.py"))]


def test_no_module_reaches_a_private_name_of_theirs_but_through_compat() -> None:
    """Each private name a compat module declares is reached on another object (`x._name`,
    `self._transport._client`) only in src/compat: the service, the tests and the bench call
    the compat module's function instead, so the contract test covers every use."""
    names = _declared_private_names()
    assert "_handle_rtp_packet" in names  # the declarations were read
    found = [
        reached
        for path in _outside_compat_everywhere()
        for reached in _reached_on_another_object(path, names)
    ]
    assert sorted(set(found) - NOT_THEIRS) == []


def test_a_private_name_reached_on_another_object_is_seen(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f(pc):\n    self._handle_rtp_packet = 1\n    return pc.receiver._handle_rtp_packet\n"
    )
    assert _reached_on_another_object(module, {"_handle_rtp_packet"}) == [
        "m.py: pc.receiver._handle_rtp_packet"
    ]
    # The service's, the tests' and the bench's modules are read.
    read = _outside_compat_everywhere()
    assert SRC / "rooms" / "daily" / "transport.py" in read
    assert TESTS / "kit" / "load.py" in read
    assert BENCH / "peers.py" in read
    assert not any("compat" in p.relative_to(SRC.parents[1]).parts for p in read)


def _nested_classes(path: Path) -> list[str]:
    """Classes defined inside a function (a new class per call: per bot, for a factory)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [
                f"{path.name}: {inner.name} in {node.name}"
                for inner in ast.walk(node)
                if isinstance(inner, ast.ClassDef)
            ]
    return found


def test_every_class_is_defined_at_module_level(tmp_path: Path) -> None:
    assert [found for path in sorted(SRC.rglob("*.py")) for found in _nested_classes(path)] == []
    module = tmp_path / "m.py"
    module.write_text("def factory():\n    class Made:\n        pass\n    return Made()\n")
    assert _nested_classes(module) == ["m.py: Made in factory"]
