"""Where a sentence can be cut so its first clause is spoken while the rest is synthesised.

Pure functions. Piper synthesises a sentence in one run, so the bot's first sound waits for the
whole first sentence; cut at its first clause boundary, the first sound waits only for the
clause. A cut is made only where a speaker pauses anyway (after `,` `;` `:` or a dash), keeps
the punctuation with the clause (Piper then gives it a clause's intonation, not a full stop's),
and never leaves a fragment of one or two words, nor parts a date from its year ("March 3rd,
1990").
"""

from __future__ import annotations

import re

# Sentences shorter than this are quick to synthesise whole: no cut.
MIN_WORDS = 7
# Neither side of a cut has fewer words than this.
MIN_SIDE_WORDS = 3

_BOUNDARY = re.compile(r"(?:[,;:]|\s[-\u2013\u2014])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def sentences(text: str) -> list[str]:
    """The text's sentences, split after `.`, `!` or `?` followed by a space (kept whole)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def first_clause(sentence: str) -> list[str]:
    """The sentence as [first clause, the rest], or [sentence] when no good cut exists."""
    text = sentence.strip()
    if len(text.split()) < MIN_WORDS:
        return [text]
    for boundary in _BOUNDARY.finditer(text):
        head, tail = text[: boundary.end()].strip(), text[boundary.end() :].strip()
        if len(head.split()) < MIN_SIDE_WORDS:
            continue
        if len(tail.split()) < MIN_SIDE_WORDS:
            break  # later cuts only leave less
        if tail[0].isdigit():
            continue  # "March 3rd, 1990", "1, 2 and 3": the number belongs to what precedes
        return [head, tail]
    return [text]
