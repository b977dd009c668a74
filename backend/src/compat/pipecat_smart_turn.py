"""smart-turn v3 on an ONNX session loaded once per process, its runs bounded by a gate.

pipecat's `LocalSmartTurnAnalyzerV3.__init__` loads its own session (no argument takes one), so
it is skipped and its attributes set here; the model's run is the private `_predict_endpoint`,
the only place to hold a slot of the process's inference gate for exactly the run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

from src.compat import Private, SkippedInit

PRIVATE_NAMES = (
    SkippedInit(LocalSmartTurnAnalyzerV3, ("_log_data", "_session")),
    Private(LocalSmartTurnAnalyzerV3, "_predict_endpoint"),
)


class SessionSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """LocalSmartTurnAnalyzerV3 with its own audio buffer on a shared session.

    Args:
        session: The process's smart-turn ONNX Runtime session.
        stop_secs: Its silence fallback.
        slot: Held around each run of the model (each bot runs its analyzer on a thread of its
            own: the slot bounds the runs across bots).
    """

    def __init__(
        self, session: Any, stop_secs: float, slot: Callable[[], AbstractContextManager[Any]]
    ) -> None:
        BaseSmartTurn.__init__(self, params=SmartTurnParams(stop_secs=stop_secs))
        self._log_data = False
        self._session = session
        self._slot = slot

    def _predict_endpoint(self, audio_array: np.ndarray) -> dict[str, Any]:
        with self._slot():
            return dict(super()._predict_endpoint(audio_array))

    def predict_endpoint(self, audio_array: np.ndarray) -> dict[str, Any]:
        """One run of the model on a turn's audio, as the pipeline runs it (in a slot)."""
        return self._predict_endpoint(audio_array)
