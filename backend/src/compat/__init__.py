"""The fence around pipecat's and aiortc's internals: every private name we rely on is used here.

pipecat moves fast and aiortc's internals are not an API: a private attribute renamed in an
upgrade would break a bot silently (an override never called, a buffer never read). So the
modules of this package are the only ones in `src` that touch a private name of a third-party
library, each declares the names it relies on in a module-level `PRIVATE_NAMES`, and
`tests/compat/test_contract.py` checks every one of them against the installed versions,
naming each one that is missing. This package imports only third-party code.

Two kinds of reliance are declared:
- `Private(owner, name)`: a private attribute, method or module global we read, write, call or
  override. An instance attribute counts as present when a class of the owner's MRO assigns it
  to `self` in its source (name-mangled `__x` as `_Class__x`).
- `SkippedInit(owner, assigns)`: a class whose `__init__` we skip (it loads a model we share),
  and the `self` attributes that `__init__` assigns, which we set ourselves instead. The
  contract fails when the installed `__init__` assigns a different set.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from dataclasses import dataclass
from types import ModuleType


def _qualified(owner: type | ModuleType) -> str:
    if isinstance(owner, ModuleType):
        return owner.__name__
    return f"{owner.__module__}.{owner.__qualname__}"


@functools.cache
def _assigned(function_or_class: object, class_name: str) -> frozenset[str]:
    """The attributes of `self` that a class's (or one function's) source assigns."""
    try:
        source = textwrap.dedent(inspect.getsource(function_or_class))  # type: ignore[arg-type]
    except (OSError, TypeError):  # no source (a compiled module): nothing is known assigned
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            name = node.attr
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{class_name.lstrip('_')}{name}"  # Python's name mangling
            names.add(name)
    return frozenset(names)


@dataclass(frozen=True)
class Private:
    """A private name of `owner` (a class or a module) that a compat module relies on."""

    owner: type | ModuleType
    name: str

    def __str__(self) -> str:
        return f"{_qualified(self.owner)}.{self.name}"

    def problems(self) -> list[str]:
        """What the installed version lacks: this name, or nothing."""
        if hasattr(self.owner, self.name):
            return []
        if isinstance(self.owner, type) and any(
            self.name in _assigned(cls, cls.__name__) for cls in self.owner.__mro__
        ):
            return []
        return [f"{self} is missing"]


@dataclass(frozen=True)
class SkippedInit:
    """A class whose `__init__` a compat class skips, and the `self` attributes it assigns."""

    owner: type
    assigns: tuple[str, ...]

    def __str__(self) -> str:
        return f"{_qualified(self.owner)}.__init__"

    def problems(self) -> list[str]:
        """Attributes the installed `__init__` assigns that we do not, and those it no longer
        assigns (each named `<owner>.<attr>`)."""
        if "__init__" not in vars(self.owner):
            return [f"{self} is missing"]
        assigned = _assigned(vars(self.owner)["__init__"], self.owner.__name__)
        owner = _qualified(self.owner)
        new = [f"{owner}.{n} is now set by __init__" for n in sorted(assigned - set(self.assigns))]
        gone = [
            f"{owner}.{n} is no longer set by __init__" for n in self.assigns if n not in assigned
        ]
        return new + gone


Reliance = Private | SkippedInit


def problems(relied_on: tuple[Reliance, ...]) -> list[str]:
    """Every problem of every declared reliance, each naming `<owner>.<attr>`."""
    return [problem for reliance in relied_on for problem in reliance.problems()]
