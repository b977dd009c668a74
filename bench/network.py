"""`make bench BENCH_ARGS="--only network"`: calls over impaired networks (issue 19).

One call per profile, beside a clean one in the same run. The user's aiortc peer is behind the
user-space impairment harness (`backend/tests/netem.py`), both directions, from the end of the
greeting; it asks the QUESTIONS one after another. Per profile:
- what the bot heard: the word error rate of the user's lines the bot sent back (its
  transcript, as stored) against the questions spoken, and how many it heard word for word;
- voice to voice: the end of each question to the first sound of its answer, p50 and p95;
- what the user heard: the share of the bot's RTP packets that reached the peer;
- whether the call survived (every question answered, the conversation still active).
`--fec-sender` makes the peers send Opus in-band FEC, as a browser does when our SDP asks for
it (aiortc's own encoder sends none).
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from bench.peers import ask, until_quiet
from bench.stt import normalise, word_errors
from tests import netem
from tests.voice.peer import Peer

Connect = Any  # run.py's `_connected(client, auth)`: (Peer, start body)
End = Any  # run.py's `_end(client, auth, body)`

_BURSTY = netem.GilbertElliott.bursts(loss=0.05, burst=3)


@dataclass(frozen=True)
class NetworkProfile:
    name: str
    link: netem.Profile  # each direction
    blackout: float = 0.0  # seconds, after the first answer


PROFILES = (
    NetworkProfile("clean", netem.Profile()),
    NetworkProfile("1 % loss", netem.Profile(loss=0.01)),
    NetworkProfile("3 % loss, 40 +- 15 ms", netem.Profile(loss=0.03, delay=0.04, jitter=0.015)),
    NetworkProfile("5 % bursty loss", netem.Profile(bursty=_BURSTY)),
    NetworkProfile("10 % loss, 60 +- 30 ms", netem.Profile(loss=0.1, delay=0.06, jitter=0.03)),
    NetworkProfile("150 ms RTT", netem.Profile(delay=0.075)),
    NetworkProfile("5 s blackout", netem.Profile(), blackout=5.0),
)


def send_fec(expected_loss: int = 10) -> None:
    """Have aiortc's Opus encoder (the peers') send in-band FEC, as browsers do."""
    from aiortc.codecs import opus

    original = opus.OpusEncoder.__init__

    def with_fec(self: Any) -> None:
        original(self)
        self.codec.options = {"application": "voip", "fec": "1", "packet_loss": str(expected_loss)}

    opus.OpusEncoder.__init__ = with_fec  # type: ignore[method-assign]


class _Packets:
    """The RTP sequence numbers of the bot's audio as they reach the peer."""

    def __init__(self, peer: Peer) -> None:
        self.sequences: list[int] = []
        receiver = peer.pc.getTransceivers()[0].receiver
        handle = receiver._handle_rtp_packet

        async def record(packet: Any, arrival_time_ms: int) -> None:
            self.sequences.append(packet.sequence_number)
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = record

    def received_share(self, since: int) -> float | None:
        got = self.sequences[since:]
        if len(got) < 2:
            return None
        # 16-bit numbers, reordered: unwrap each against the first, either way.
        unwrapped = {((s - got[0] + 32768) % 65536) - 32768 for s in got}
        return len(unwrapped) / (max(unwrapped) - min(unwrapped) + 1)


async def _call(
    client: httpx.AsyncClient,
    user: dict[str, str],
    profile: NetworkProfile,
    questions: list[tuple[str, np.ndarray]],
    connect: Connect,
    end: End,
    seed: int,
) -> dict[str, Any]:
    peer, body = await connect(client, user)
    packets = _Packets(peer)
    link = netem.impair(peer.pc, seed=seed)
    answers: list[float | None] = []
    try:
        await peer.utterance(peer.offer_sent_at, within=20, quiet=0.5)
        await until_quiet([peer])
        link.up.profile = link.down.profile = profile.link
        mark, heard_before = len(packets.sequences), len(peer.messages)
        for i, (_text, audio) in enumerate(questions):
            if i == 1 and profile.blackout:
                # Between two questions: the call goes on after it.
                link.blackout(profile.blackout)
                await asyncio.sleep(profile.blackout + 0.5)
            answers.append(await ask(peer, audio))
        status = (
            await client.get(f"/api/v1/conversations/{body['conversation_id']}", headers=user)
        ).json()["status"]
    finally:
        await peer.close()
        await end(client, user, body)
    heard = [m["text"] for m in peer.messages[heard_before:] if m.get("role") == "user"]
    spoken = [text for text, _ in questions]
    reference = [w for text in spoken for w in normalise(text)]
    errors = word_errors(reference, [w for text in heard for w in normalise(text)])
    times = sorted(a for a in answers if a is not None)
    return {
        "profile": profile.name,
        "heard": heard,
        "word_error_rate": errors / len(reference),
        "heard_right": sum(normalise(h) in [normalise(s) for s in spoken] for h in heard),
        "questions": len(spoken),
        "voice_to_voice_p50_ms": statistics.median(times) * 1000 if times else None,
        "voice_to_voice_p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] * 1000
        if times
        else None,
        "bot_packets_received": packets.received_share(mark),
        "dropped_up": link.up.counts.dropped,
        "dropped_down": link.down.counts.dropped,
        "answered": sum(a is not None for a in answers),
        "survived": status == "active" and all(a is not None for a in answers),
    }


async def network_profiles(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    questions: list[tuple[str, np.ndarray]],
    connect: Connect,
    end: End,
    profiles: tuple[NetworkProfile, ...] = PROFILES,
) -> list[dict[str, Any]]:
    """One call per profile, clean first."""
    rows = []
    for i, profile in enumerate(profiles):
        row = await _call(client, users[i % len(users)], profile, questions, connect, end, seed=i)
        rows.append(row)
        print(
            f"  network, {profile.name}: heard {row['heard_right']}/{row['questions']} right "
            f"(WER {row['word_error_rate']:.0%}), voice to voice p50 "
            f"{row['voice_to_voice_p50_ms'] or 0:.0f} ms; {row['heard']}",
            flush=True,
        )
        await asyncio.sleep(2)  # the call's bot finishes ending
    return rows


def print_network(rows: list[dict[str, Any]]) -> None:
    print("\ncalls over impaired networks (both directions, from the greeting's end)")
    print(
        f"{'profile':<24}{'heard right':>12}{'WER':>6}{'v2v p50':>9}{'p95':>7}"
        f"{'bot pkts':>10}{'survived':>10}"
    )
    for row in rows:
        share = row["bot_packets_received"]
        p50, p95 = row["voice_to_voice_p50_ms"], row["voice_to_voice_p95_ms"]
        received = "-" if share is None else f"{share:.1%}"
        survived = "yes" if row["survived"] else "no"
        print(
            f"{row['profile']:<24}{row['heard_right']:>8}/{row['questions']:<3}"
            f"{row['word_error_rate']:>6.0%}{p50 or 0:>9.0f}{p95 or 0:>7.0f}"
            f"{received:>10}{survived:>10}"
        )
