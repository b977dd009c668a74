"""Whether the user's turn now on cut the bot short, as pipecat's user aggregator judged it.

`LLMUserAggregator` decides at each turn's start whether the turn interrupted the bot (it was
not waiting for the user: it was thinking or speaking) and, for such a turn that ends with no
transcript, runs its empty-turn recovery (`EmptyUserTurnConfig.interrupted_prompt`). A stop
strategy that answers a wordless turn of its own must not answer one that recovery answers;
the aggregator keeps its verdict in a private attribute only.
"""

from __future__ import annotations

from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator

from src.compat import Private

PRIVATE_NAMES = (Private(LLMUserAggregator, "_user_turn_interrupted_bot"),)


def turn_interrupted_bot(aggregator: LLMUserAggregator) -> bool:
    """Whether the user turn now on (started, not yet stopped) cut the bot short."""
    return bool(aggregator._user_turn_interrupted_bot)
