"""URL converters: an id in a URL fits the database's integer columns, or the URL matches nothing (404)."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

# PostgreSQL's INTEGER (and so every id column here) holds up to 2^31 - 1; a larger number in a URL
# reached the database and answered 500 there. Out of range, the rule does not match: 404.
ID_MAX = 2**31 - 1


class BoundedInt(IntegerConverter):
    """``<int:...>`` for every rule: 0 to 2^31 - 1, at most 10 digits."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 0, max: int | None = ID_MAX, signed: bool = False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
