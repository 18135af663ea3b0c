"""The demo's calendar: month ends, working days, runs of months."""
from __future__ import annotations

from datetime import date, timedelta


def last_day(y: int, m: int) -> date:
    return (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1))


def working_day(d: date) -> date:
    """Meetings fall on working days: Saturday moves to Friday, Sunday to Monday."""
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


def each_month(start: date, end: date):
    """(year, month) of every month from start's to end's, both included."""
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def months_later(d: date, n: int) -> tuple[int, int]:
    """(year, month) n months after d's month."""
    k = d.year * 12 + d.month - 1 + n
    return k // 12, k % 12 + 1
