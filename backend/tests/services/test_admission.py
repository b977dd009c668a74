"""Admission: slots against the capacity, the measured load, and a close."""

from __future__ import annotations

import pytest

from src.contract.bot import BotCapacityReached
from src.services.bots.admission import Admission
from src.services.bots.load import LoadMonitor

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once


class TestReserve:
    def test_a_slot_is_held_until_released_once(self) -> None:
        admission = Admission(2)
        first = admission.reserve()
        admission.reserve()
        assert admission.held == 2
        with pytest.raises(BotCapacityReached):
            admission.reserve()
        first.release()
        first.release()
        assert admission.held == 1
        admission.reserve()

    def test_nothing_is_reserved_once_closed(self) -> None:
        admission = Admission(2)
        admission.close()
        assert not admission.has_room
        with pytest.raises(BotCapacityReached):
            admission.reserve()

    def test_the_load_stops_new_work_but_not_work_already_taken(self) -> None:
        load = LoadMonitor()
        admission = Admission(2, load=load, load_threshold=0.5)
        for _ in range(5):
            load.add(0.9)
        assert not admission.has_room
        assert admission.reserve() is not None
        for _ in range(5):
            load.add(0.1)
        assert admission.has_room


def test_a_threshold_of_one_ignores_the_load() -> None:
    load = LoadMonitor()
    admission = Admission(1, load=load, load_threshold=1.0)
    for _ in range(5):
        load.add(1.0)
    assert admission.has_room
