"""Errors raised by the pure rules; callers map them to HTTP answers."""


class InvalidMessage(ValueError):
    """A Segment message that cannot be applied; ``str(exc)`` is shown to the sender."""


class UnsupportedType(InvalidMessage):
    """A message type Promoter does not handle at that endpoint."""
