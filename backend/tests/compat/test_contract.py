"""The compat layer's contract: every private name it relies on exists in the installed pipecat
and aiortc, and the check names the one that does not."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.services.tts_service import TTSService

import src.compat
from src.compat import Private, Reliance, SkippedInit, problems

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once


def compat_modules() -> list[ModuleType]:
    """Every module of src/compat (its package's own module holds no private name)."""
    return [
        importlib.import_module(f"src.compat.{info.name}")
        for info in pkgutil.iter_modules(src.compat.__path__)
    ]


def check(modules: list[ModuleType]) -> None:
    """Fail naming every `<owner>.<attr>` a compat module relies on that is missing."""
    found = [problem for module in modules for problem in problems(module.PRIVATE_NAMES)]
    assert found == [], "pipecat or aiortc changed under src/compat:\n" + "\n".join(found)


def test_every_compat_module_declares_what_it_relies_on() -> None:
    modules = compat_modules()
    assert modules, "src/compat has no module"
    for module in modules:
        declared: tuple[Reliance, ...] = module.PRIVATE_NAMES
        assert declared, f"{module.__name__} declares no private name: it belongs elsewhere"
        assert all(isinstance(r, Private | SkippedInit) for r in declared)


def test_the_installed_versions_have_every_private_name() -> None:
    check(compat_modules())


def test_a_missing_method_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if pipecat had renamed the method (the class, not an instance, is what is checked).
    monkeypatch.delattr(TTSService, "_stream_audio_frames_from_iterator")
    with pytest.raises(AssertionError) as failed:
        check(compat_modules())
    assert (
        "pipecat.services.tts_service.TTSService._stream_audio_frames_from_iterator is missing"
        in str(failed.value)
    )


class _Owner:
    """A stand-in for a library class: one attribute set in `__init__`, one method."""

    def __init__(self) -> None:
        self._kept = 1
        self.__hidden = 2

    def _method(self) -> int:
        return self._kept + self.__hidden


def test_an_instance_attribute_is_found_in_the_source_and_its_absence_named() -> None:
    assert problems((Private(_Owner, "_kept"), Private(_Owner, "_method"))) == []
    # Name-mangled: `self.__hidden` in `_Owner` is `_Owner__hidden`.
    assert problems((Private(_Owner, "_Owner__hidden"),)) == []
    assert problems((Private(_Owner, "_gone"),)) == [f"{__name__}._Owner._gone is missing"]


def test_a_skipped_init_fails_when_it_sets_something_new() -> None:
    assert problems((SkippedInit(_Owner, ("_kept", "_Owner__hidden")),)) == []
    assert problems((SkippedInit(_Owner, ("_Owner__hidden",)),)) == [
        f"{__name__}._Owner._kept is now set by __init__"
    ]
    assert problems((SkippedInit(_Owner, ("_kept", "_Owner__hidden", "_old")),)) == [
        f"{__name__}._Owner._old is no longer set by __init__"
    ]


def test_a_pipecat_init_setting_one_more_attribute_is_named() -> None:
    declared = next(
        r
        for r in importlib.import_module("src.compat.pipecat_vad").PRIVATE_NAMES
        if isinstance(r, SkippedInit) and r.owner is SileroVADAnalyzer
    )
    # What we set is one attribute short of what SileroVADAnalyzer.__init__ sets: as if the
    # next pipecat set one more there.
    one_short = SkippedInit(SileroVADAnalyzer, declared.assigns[:-1])
    assert problems((one_short,)) == [
        f"pipecat.audio.vad.silero.SileroVADAnalyzer.{declared.assigns[-1]} is now set by __init__"
    ]
