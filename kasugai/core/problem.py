"""``Problem``: why a DataFlow, FunctionChain or FunctionType cannot go on, in one message."""

from __future__ import annotations

import attrs

__all__ = ["Problem"]


@attrs.frozen
class Problem:
    """A message naming the object and field; ``waiting``: an input may still appear."""

    message: str
    waiting: bool = False
    reason: str = ""  # the condition reason, when it is not InvalidSpec / WaitingForInputs
