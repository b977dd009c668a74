"""The engine's one error type."""


class NumerologyInputError(ValueError):
    """A name or date the engine cannot work with; the message is for a person."""
