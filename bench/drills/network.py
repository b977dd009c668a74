"""Drills on calls over impaired networks (issue 19): one short call a profile of
`bench.network.PROFILES`, the user's aiortc peer behind the user-space impairment harness
(`backend/tests/netem.py`) both ways from the end of the greeting, rejoining by itself as the
room page does. Each passes if the call survived (the conversation still live, after a rejoin
for the 30 s blackout and the address change) and the bot understood the question asked after
the impairment began (its answer gives the user's life path number), the user saying it once
more if the bot asked to hear it again (`turns.NOT_HEARD`: what a loss burst in a word leaves
it).

The app keeps its default keep-alive and rejoin grace (BOT_IDLE_TIMEOUT_SECONDS 10,
REJOIN_GRACE_SECONDS 30): the other local drills shorten them, and a 30 s blackout would end
their calls.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bench.drills.base import Drill, Line, Scenario, call
from bench.network import PROFILES, NetworkProfile, disrupt, slug
from bench.peers import ask, until_quiet
from src.numerology import life_path_number
from src.voice_pipeline.turns import NOT_HEARD
from tests import netem

# The drills' users are born on this day (base.Drill.user).
BIRTH = date(1984, 7, 5)
SETTINGS = {"BOT_IDLE_TIMEOUT_SECONDS": "10", "REJOIN_GRACE_SECONDS": "30"}

_QUESTION: list[Any] = []


async def load_question() -> None:
    """Piper's question, synthesised once before the scenarios (it takes seconds)."""
    from src.voice_pipeline import speech
    from tests.kit.speech import LIFE_PATH_QUESTION, synthesise

    models = await speech.preload_speech_models()
    _QUESTION.append(synthesise(models, LIFE_PATH_QUESTION))


def question() -> Any:
    """The question `load_question` synthesised."""
    return _QUESTION[0]


def _drill(profile: NetworkProfile, seed: int) -> Any:
    async def run(drill: Drill) -> Line:
        injected = profile.name + (", then a question" if profile.name != "clean" else "")
        line = Line(f"network: {profile.name}", injected)
        auth, body, peer = await call(drill)
        link = netem.impair(peer.pc, seed=seed)
        token = auth["Authorization"].split()[-1]
        peer.rejoin_by_itself(drill.client, body["conversation_id"], token, network=link)
        recovered = ""
        try:
            await until_quiet([peer])
            link.up.profile = link.down.profile = profile.link
            if profile.blackout or profile.address_change:
                back = await disrupt(peer, link, profile)
                rejoined = back["connected_after_s"]
                recovered = f", rejoined {back['rejoins']}x" + (
                    f" (connected {rejoined:.1f} s after)" if rejoined is not None else ""
                )
                expected = 1 if profile.blackout > 10 or profile.address_change else 0
                line.expect(back["rejoins"] == expected, f"{back['rejoins']} rejoins: {back}")
            number = life_path_number(BIRTH).value
            said: list[str] = []
            right = asked_again = False
            for attempt in range(2):
                heard_before = len(peer.messages)
                answered = await ask(peer, _QUESTION[0], within=30) is not None
                line.expect(answered, "no answer to the question")
                said = [m["text"] for m in peer.messages[heard_before:] if m.get("role") == "bot"]
                right = any(re.search(rf"life path number is {number}\b", s) for s in said)
                # A user asked to say it again does (a burst of loss in the middle of a word
                # gives the bot nothing it can take): once.
                if right or attempt or not any(s == NOT_HEARD for s in said):
                    break
                asked_again = True
            line.expect(right, f"not understood: the bot said {said}")
            row = await drill.row(body["conversation_id"])
            line.expect(row is not None and row["status"] == "active", "the call did not survive")
            again = " (after the bot asked to hear it again)" if asked_again else ""
            line.answered = f"{'right' if right else 'wrong'} answer{again}{recovered}"
        finally:
            await drill.end(auth, body["conversation_id"])
            await peer.close()
            link.close()
        return await drill.settled(line, [body["conversation_id"]])

    return run


def scenarios() -> list[Scenario]:
    """One a profile, keyed network-<profile>."""
    return [(f"network-{slug(p.name)}", _drill(p, seed=i)) for i, p in enumerate(PROFILES)]
