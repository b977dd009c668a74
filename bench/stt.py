"""`make bench BENCH_ARGS="--only stt"`: the offline speech recognisers side by side.

Ten questions on the bot's topics, spoken by Piper, padded as pipecat segments them (0.4 s of
audio before the VAD fires, 0.5 s of trailing silence), clean and with white noise at 10 dB
SNR. Piper speaks differently at every synthesis (its model samples noise), so each question is
synthesised several times ("takes") and every engine hears the same takes. Each engine runs as
the app runs it (Whisper tiny.en: faster-whisper int8, greedy, two threads; Moonshine base-en
converted: one thread per question). Latency is one call's wall time after a warm-up; the word
error rate is over all the words of all the takes, after lowercasing, dropping punctuation and
spelling numbers out ("1990" = "nineteen ninety"); an ordinal counts as its number ("3rd" =
"third" = "3"): the bot's date parser reads "March 3rd" and "March 3" alike.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from src.core.settings import Settings
from src.voice_pipeline import moonshine, speech

RATE = 16_000
BEFORE, AFTER = 0.4, 0.5
NOISE_SNR_DB = 10.0
QUESTIONS = [
    "What is my life path number?",
    "What is my soul urge number?",
    "What is my expression number?",
    "What is my personal year number?",
    "What does my life path number mean?",
    "What is the expression number for John Smith?",
    "What is the soul urge number for Maria Garcia?",
    "What about someone born on March 3rd, 1990?",
    "What is the life path number for July 5th, 1984?",
    "How did you work out my personal year?",
]

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
# Ordinal words read as their numbers: "March third" = "March 3rd" = "March 3".
_IRREGULAR = {"first": "one", "second": "two", "third": "three", "fifth": "five"}
_IRREGULAR |= {"eighth": "eight", "ninth": "nine", "twelfth": "twelve"}
_ORDINAL_WORDS = _IRREGULAR | {w + "th": w for w in _ONES[4:20] if w not in _IRREGULAR.values()}
_ORDINAL_WORDS |= {w[:-1] + "ieth": w for w in _TENS[2:]}


def _cardinal(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if 1100 <= n < 2000 or 2010 <= n < 2100:  # years, as they are said
        return _cardinal(n // 100) + " " + ("hundred" if n % 100 == 0 else _cardinal(n % 100))
    if 2000 <= n < 2010:
        return "two thousand" + ("" if n == 2000 else " " + _ONES[n - 2000])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _cardinal(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def normalise(text: str) -> list[str]:
    """The words of a transcript, for scoring (lowercase, no punctuation, numbers spelled)."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"\d+", lambda m: " " + _cardinal(int(m[0])) + " ", text)
    return [_ORDINAL_WORDS.get(w, w) for w in re.sub(r"[^a-z' ]+", " ", text).split()]


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions, insertions and deletions turning `reference` into `hypothesis`."""
    previous = list(range(len(hypothesis) + 1))
    for i, word in enumerate(reference, 1):
        current = [i]
        for j, heard in enumerate(hypothesis, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != heard))
            )
        previous = current
    return previous[-1]


def _clip(models: speech.SpeechModels, text: str) -> Any:
    """Piper speech at 16 kHz, padded as pipecat segments it."""
    import soxr

    voice = models.piper_voice
    pcm = np.frombuffer(b"".join(c.audio_int16_bytes for c in voice.synthesize(text)), np.int16)
    said = soxr.resample(pcm.astype(np.float32) / 32768, voice.config.sample_rate, RATE)
    before, after = (
        np.zeros(int(BEFORE * RATE), np.float32),
        np.zeros(int(AFTER * RATE), np.float32),
    )
    return np.concatenate([before, said, after])


def _noisy(audio: Any, noise: np.random.Generator) -> Any:
    """The clip with white noise NOISE_SNR_DB below the speech (the padding left out of it)."""
    said = audio[int(BEFORE * RATE) : audio.size - int(AFTER * RATE)]
    power = float(np.mean(said**2)) / 10 ** (NOISE_SNR_DB / 10)
    return (audio + noise.normal(0, np.sqrt(power), audio.size)).astype(np.float32)


def _whisper(models: speech.SpeechModels) -> Callable[[Any], str]:
    def run(audio: Any) -> str:
        # As SharedWhisperSTTService calls it.
        segments, _ = models.whisper.transcribe(
            audio, language="en", beam_size=1, condition_on_previous_text=False
        )
        return " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.6)

    return run


def stt_benchmark(models: speech.SpeechModels, settings: Settings, takes: int) -> dict[str, Any]:
    """Latency and word error rate of each offline engine on `takes` takes of each question."""
    print(f"  synthesising {takes} takes of {len(QUESTIONS)} questions", flush=True)
    spoken = [(q, _clip(models, q)) for _ in range(takes) for q in QUESTIONS]
    noise = np.random.default_rng(10)
    clips = {"clean": spoken, "noisy": [(q, _noisy(a, noise)) for q, a in spoken]}
    engines: dict[str, Callable[[Any], str]] = {
        "whisper tiny.en int8": _whisper(models),
        "moonshine base-en converted": moonshine.shared_model(settings.model_cache_dir).transcribe,
    }
    results: dict[str, Any] = {}
    for name, transcribe in engines.items():
        transcribe(spoken[0][1])  # warm-up
        timings: list[float] = []
        row: dict[str, Any] = {}
        for condition, pairs in clips.items():
            print(f"  {name}: {condition}, {len(pairs)} questions", flush=True)
            errors, words, misheard = 0, 0, []
            for question, audio in pairs:
                started = time.perf_counter()
                heard = transcribe(audio)
                timings.append(time.perf_counter() - started)
                reference = normalise(question)
                wrong = word_errors(reference, normalise(heard))
                errors, words = errors + wrong, words + len(reference)
                if wrong:
                    misheard.append(heard)
            row[condition] = {"wer_percent": 100 * errors / words, "misheard": misheard}
        row["latency_ms"] = {
            "median": statistics.median(timings) * 1000,
            "max": max(timings) * 1000,
            "n": len(timings),
        }
        results[name] = row
    return results


def print_stt(results: dict[str, Any]) -> None:
    """The table of `stt_benchmark`'s figures, then what each engine misheard."""
    print(
        f"\nspeech recognition, {len(QUESTIONS)} topic questions (Piper) x "
        f"{_takes(results)} takes, clean and with {NOISE_SNR_DB:.0f} dB noise"
    )
    print(f"{'engine':<30}{'median ms':>10}{'max ms':>8}{'WER clean':>11}{'WER noisy':>11}")
    for name, row in results.items():
        print(
            f"{name:<30}{row['latency_ms']['median']:>10.0f}{row['latency_ms']['max']:>8.0f}"
            f"{row['clean']['wer_percent']:>10.1f}%{row['noisy']['wer_percent']:>10.1f}%"
        )
    for name, row in results.items():
        for condition in ("clean", "noisy"):  # what was misheard, to judge the errors
            for heard, times in Counter(row[condition]["misheard"]).most_common():
                print(f"  {name}, {condition}: {heard!r}" + (f" (x{times})" if times > 1 else ""))


def _takes(results: dict[str, Any]) -> int:
    first = next(iter(results.values()))
    return int(first["latency_ms"]["n"]) // (2 * len(QUESTIONS))
