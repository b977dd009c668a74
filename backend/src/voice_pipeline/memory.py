"""What the bot says of the user's earlier conversations: the returning user's greeting, the
answer to "what did we talk about last time?", and the same facts for an LLM's system prompt.

The facts come with the bot's job (`contract.bot.Memory`, computed by the conversations service
at the start): this module only words them. No memory (None) means the user turned
remembering off; an empty one, that this is their first conversation.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from src.contract.bot import Memory, PastConversation
from src.numerology.kinds import NumberKind

# "what did we talk about last time", "what did we discuss before", "do you remember me",
# "our last conversation", "where did we leave off" (normalised text: lower case, no commas).
ASKED = re.compile(
    r"\b(?:last time|(?:our|the) (?:last|previous|earlier) (?:conversation|call|chat|session)s?"
    r"|(?:talk|talked|speak|spoke|discuss|discussed|look|looked|cover|covered) (?:about |at )?"
    r"(?:before|previously|earlier)|do you remember|did you remember|remember me"
    r"|where (?:did )?we (?:left|leave) off)\b"
)
# At most this many earlier conversations are told about in one answer.
TOLD = 2


def asks_about_past(text: str) -> bool:
    """Whether a (normalised) utterance asks about the earlier conversations."""
    return bool(ASKED.search(text))


def topic_words(topics: tuple[str, ...]) -> str:
    """The topics for the ear: "your life path and soul urge numbers"."""
    words = [_words(t) for t in topics]
    if not words:
        return ""
    listed = f"{', '.join(words[:-1])} and {words[-1]}" if len(words) > 1 else words[0]
    return f"your {listed} number{'s' if len(words) > 1 else ''}"


def when(ended_at: datetime, today: date) -> str:
    """When a conversation was, for the ear: "earlier today", "yesterday", "on Monday",
    "on the 3rd of November"."""
    day = ended_at.date()
    days = (today - day).days
    if days <= 0:
        return "earlier today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"on {day.strftime('%A')}"
    return f"on the {_ordinal(day.day)} of {day.strftime('%B')}"


def greeting(first_name: str, memory: Memory | None) -> str | None:
    """The greeting of a returning user; None for a first conversation or with no memory."""
    if memory is None or not memory.past:
        return None
    last = memory.past[0]
    if not last.topics:
        return (
            f"Welcome back, {first_name}. Good to talk again! Ask me about your life path, "
            "your name's numbers, or what this year holds for you."
        )
    looked = topic_words(last.topics)
    return f"Welcome back, {first_name}. Last time we looked at {looked}; shall we go on?"


def recall(memory: Memory | None, today: date) -> str:
    """The answer to "what did we talk about last time?"."""
    if memory is None:
        return (
            "I don't keep our earlier conversations: remembering them is turned off in your "
            "account settings. What would you like to look at today?"
        )
    if not memory.past:
        return "This is our first conversation, so there's nothing to look back on yet. " + (
            "Would you like to start with your life path number?"
        )
    told = [_told(p, today) for p in memory.past[:TOLD]]
    first = f"Last time, {told[0]}."
    before = f" Before that, {told[1]}." if len(told) > 1 else ""
    return f"{first}{before} Would you like to go on from there?"


def prompt_facts(memory: Memory | None, today: date) -> str:
    """The facts for an LLM's system prompt (appended to the persona)."""
    if memory is None:
        return (
            "\n\nThe user turned off remembering earlier conversations: you know nothing of "
            "them; if asked, say so."
        )
    if not memory.past:
        return "\n\nThis is the user's first conversation with you."
    lines = [
        f"- {p.ended_at.date().isoformat()}: "
        + (", ".join(_words(t) for t in p.topics) if p.topics else "no numbers discussed")
        for p in memory.past
    ]
    return (
        "\n\nThe user's earlier conversations with you (newest first; the number kinds "
        "discussed). Greet them as a returning user, and use these facts if they ask what you "
        "talked about before:\n" + "\n".join(lines)
    )


def _told(past: PastConversation, today: date) -> str:
    if not past.topics:
        return f"{when(past.ended_at, today)}, we only said hello"
    return f"{when(past.ended_at, today)}, we talked about {topic_words(past.topics)}"


def _words(topic: str) -> str:
    try:
        return NumberKind(topic).words
    except ValueError:  # a kind this version does not know
        return topic.replace("_", " ")


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
