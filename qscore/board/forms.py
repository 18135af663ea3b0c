"""Query parameters of the public board and its poll (GET only; a bad value reads as absent, never a 500)."""
from __future__ import annotations

from wtforms import StringField

from ..fields import ArgsForm, Id


class BoardArgs(ArgsForm):
    street = Id()        # absent or not an id: the first street


class PollArgs(BoardArgs):
    """What the page's poll URL carries: its build, the board version and day it shows, and its scope."""

    # Compared with what the server itself made (equal, or the page refreshes): never stored nor shown.
    build = StringField()
    v = StringField()
    d = StringField()
    community = Id()
    branch = Id()
