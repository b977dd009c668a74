"""`make bench BENCH_ARGS="--only synthesis"`: the CPU one answer's speech costs, with and
without the process's cache of synthesised sentences (`voice_pipeline/synthesis_cache.py`).

Users with birth dates drawn at random (seeded) each ask the four readings; each answer is
synthesised as the bot's Piper service does it (sentence by sentence, the first cut at its
first clause, through the "piper" gate, sentences with the user's name never cached), in this
process, one answer after another. The figure is the process's CPU time (every thread) per
answer, once with TTS_CACHE_MB=0 and once with the default size, and the cache's hit rate.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import Any

from src.core.settings import SpeechSettings
from src.voice_pipeline import clauses, piper_tts, speech
from src.voice_pipeline.dialogue import Numerologist

QUESTIONS = (
    "What is my life path number?",
    "What is my soul urge number?",
    "What is my expression number?",
    "What is my personal year number?",
)
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Maria Garcia", "John Smith", "Li Wei")


def _answers(users: int) -> list[tuple[str, str]]:
    """(first name, answer) for each user's four questions, in the order they are asked."""
    rng = random.Random(20)
    answers = []
    for i in range(users):
        full = NAMES[i % len(NAMES)]
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        dialogue = Numerologist(full, full.split()[0], born)
        answers += [(dialogue.first_name, dialogue.reply(q).text) for q in QUESTIONS]
    return answers


async def _speak(voice: Any, answers: list[tuple[str, str]]) -> float:
    """CPU-seconds of this process to synthesise every answer as the bot would."""
    started = time.process_time()
    for personal, text in answers:
        for n, sentence in enumerate(clauses.sentences(text)):
            for part in clauses.first_clause(sentence) if n == 0 else [sentence]:
                if personal in part:
                    await piper_tts.synthesise(voice, part)
                else:
                    await piper_tts.synthesise_shared(voice, part)
    return time.process_time() - started


async def synthesis_benchmark(models: speech.SpeechModels, users: int) -> dict[str, Any]:
    """CPU-seconds per answer without and with the cache, and the cache's hit rate."""
    answers = _answers(users)
    voice = models.piper_voice
    await piper_tts.synthesise(voice, "A warm-up sentence.")
    cache = piper_tts.cache
    size = cache.max_bytes
    figures: dict[str, Any] = {"users": users, "answers": len(answers)}
    try:
        for label, mb in (("off", 0), ("on", SpeechSettings.model_fields["tts_cache_mb"].default)):
            cache.resize(mb * piper_tts.MB)
            cache.clear()
            hits, misses = cache.hits, cache.misses
            cpu = await _speak(voice, answers)
            asked = cache.hits - hits + cache.misses - misses
            figures[label] = {
                "cache_mb": mb,
                "cpu_seconds_per_answer": cpu / len(answers),
                "hit_rate": (cache.hits - hits) / asked if asked else 0.0,
                "kept_mb": cache.bytes / piper_tts.MB,
            }
    finally:
        cache.clear()
        cache.resize(size)
    figures["cpu_saved"] = 1 - figures["on"]["cpu_seconds_per_answer"] / max(
        figures["off"]["cpu_seconds_per_answer"], 1e-9
    )
    return figures


def report(figures: dict[str, Any]) -> str:
    """The synthesis figures as a table."""
    lines = [
        f"speech synthesis: {figures['users']} users x {len(QUESTIONS)} readings "
        f"({figures['answers']} answers), one after another, in one process",
        f"{'cache':<14}{'CPU s / answer':>16}{'hit rate':>10}{'kept MB':>9}",
    ]
    for label in ("off", "on"):
        row = figures[label]
        lines.append(
            f"{label + ' (' + str(row['cache_mb']) + ' MB)':<14}"
            f"{row['cpu_seconds_per_answer']:>16.3f}{row['hit_rate']:>10.0%}{row['kept_mb']:>9.1f}"
        )
    lines.append(f"CPU saved by the cache: {figures['cpu_saved']:.0%}")
    return "\n".join(lines)
