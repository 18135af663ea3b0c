"""What a member's points booklet (积分手册) shows for one year: its months with their entries and figures,
the type history, self-records waiting or rejected. Read for the booklet's pages (booklet.py), which add
what depends on who reads it.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field as dc_field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import current_app
from flask_babel import format_date, get_locale, gettext, lazy_gettext as _l
from sqlalchemy import bindparam, select

from . import ledger
from .db import db, read_columns
from .models import Branch, Community, Member, MemberType, PointEntry, Publication, SelfRecord, User
from .review import decisions_for_member
from .scheme_versions import scheme_for_year
from .scoring import MemberLedger, PeriodPoints, score_member, year_score
from .self_records import published_periods
from .templating import local_time, localized, points, signed

SOURCE_LABELS = {
    "inline": _l("Entered by the branch"),
    "meeting": _l("Meeting register"),
    "self_record": _l("Self-recorded, confirmed"),
    "opening_balance": _l("Opening balance"),
    "correction": _l("Correction"),
    "query": _l("Resident's query"),
    "post": _l("Volunteer post"),
    "dues": _l("Dues register"),
    "demo": _l("Demo data"),
}


class EntryText(NamedTuple):
    """What the booklet's table writes of an entry or a correction beside its row's fields, made once in
    Python: a filter or a method call per cell costs the page more than the cell itself."""

    points: str  # "+1", "-2"
    hours: str   # "2.5 小时", or "" without hours
    who: str     # who recorded it, "—" if unknown
    when: str    # when, in the street's time zone


@dataclass
class Line:
    """An entry of the booklet, with the correction that struck it out, if any (rows of ENTRY_COLUMNS)."""

    entry: Any
    correction: Any = None
    text: EntryText | None = None
    correction_text: EntryText | None = None


class Named(NamedTuple):
    """The member's branch or community as the booklet shows it: its name."""

    name: str


# What the booklet shows of an entry and what the year's score needs of it: read once, as plain rows.
ENTRY_COLUMNS = (PointEntry.id, PointEntry.indicator_code, PointEntry.category, PointEntry.points,
                 PointEntry.quantity, PointEntry.earned_on, PointEntry.note, PointEntry.source,
                 PointEntry.host_branch_id, PointEntry.recorded_by_id, PointEntry.recorded_at,
                 PointEntry.corrects_id, PointEntry.adjusts_publication_id)


class Figure(NamedTuple):
    """A figure as the booklet shows it: the template writes ``<span class="{{ f.css }}">{{ f.text }}</span>``."""

    css: str   # "neg", "zero" or ""
    text: str

    @classmethod
    def of(cls, value, signed_: bool = False) -> "Figure":
        if not value:
            return _ZERO
        return cls("neg" if value < 0 else "", signed(value) if signed_ else points(value))


_ZERO = Figure("zero", "0")


class MonthFigures(NamedTuple):
    j: Figure
    z: Figure
    k: Figure
    total: Figure


@dataclass
class MonthPage:
    month: int
    label: str                    # "5月" / "May"
    title: str                    # "2026年5月" / "May 2026"
    points: PeriodPoints          # earned points of the month (after month and quarter caps)
    year_score: Decimal | None    # the capped year score at the month's end (or today)
    lines: list[Line]
    # Made once per month in Python, written inline by the templates: every month shows them twice, and a
    # template macro call per figure costs more than the figure itself.
    figures: MonthFigures = dc_field(init=False)

    def __post_init__(self) -> None:
        p = self.points
        self.figures = MonthFigures(Figure.of(p.j), Figure.of(p.z), Figure.of(p.k), Figure.of(p.total, True))


_MONTH_LABELS: dict[tuple[str, int, int], tuple[str, str]] = {}


def _month_labels(year: int, month: int, locale) -> tuple[str, str]:
    """A month's short label and title in ``locale`` ("5月", "2026年5月"), formatted once per process."""
    key = (str(locale), year, month)
    labels = _MONTH_LABELS.get(key)
    if labels is None:
        first_day = date(year, month, 1)
        labels = _MONTH_LABELS[key] = (format_date(first_day, "LLL"),
                                       format_skeleton("yMMM", first_day, locale=locale))
    return labels


def years(member: Member, day: date) -> list[int]:
    """Years the booklet can show: this year, last year if on the roll then, and any year with entries."""
    years = set(read_columns(_YEARS, {"member_id": member.id}).scalars())
    years.add(day.year)
    if member.on_roll_since.year < day.year:
        years.add(day.year - 1)
    return sorted((y for y in years if y <= day.year), reverse=True)


_USER_NAMES = select(User.id, User.display_name, User.username).where(User.id.in_(bindparam("ids", expanding=True)))


def _names(model, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    if model is User:
        return {i: d or u for i, d, u in read_columns(_USER_NAMES, {"ids": sorted(ids)})}
    return dict(read_columns(select(model.id, model.name).where(model.id.in_(ids))).all())


# The booklet's reads, built once (only their parameters change from one request to the next).
_BRANCH_AND_COMMUNITY = (select(Branch.name, Community.name).join(Community, Community.id == Branch.community_id)
                         .where(Branch.id == bindparam("branch_id")))
_TYPES = (select(MemberType.type_code, MemberType.effective_from, MemberType.reason, MemberType.own_wish,
                 MemberType.decided_by_id)
          .where(MemberType.member_id == bindparam("member_id")).order_by(MemberType.effective_from, MemberType.id))
_ENTRIES = (select(*ENTRY_COLUMNS)
            .where(PointEntry.member_id == bindparam("member_id"), PointEntry.year == bindparam("year"))
            .order_by(PointEntry.earned_on, PointEntry.id))
_SELF_RECORDS = (select(SelfRecord).where(
    SelfRecord.member_id == bindparam("member_id"),
    (SelfRecord.status == "pending")
    | ((SelfRecord.status == "rejected") & (SelfRecord.earned_on >= bindparam("start"))
       & (SelfRecord.earned_on < bindparam("end"))))
    .order_by(SelfRecord.earned_on, SelfRecord.id))
_YEARS = select(PointEntry.year).where(PointEntry.member_id == bindparam("member_id")).distinct()


def _write_texts(lines: list[Line], users: dict[int, str]) -> None:
    """Each shown line's EntryText, and its correction's."""
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    hours = gettext("%(h)s h")  # translated once, filled in per entry

    def text(e) -> EntryText:
        return EntryText(signed(e.points), "" if e.quantity is None else hours % {"h": points(e.quantity)},
                         users.get(e.recorded_by_id, "—"), local_time(e.recorded_at, tz))

    for line in lines:
        line.text = text(line.entry)
        if line.correction is not None:
            line.correction_text = text(line.correction)


def booklet_year(member: Member, year: int, day: date, shown_years: list[int] | None = None) -> dict:
    """Everything the booklet pages show for one member and year (templates never query), but what
    depends on who reads it (booklet.py adds that).

    The year's entries are read once: they are listed, and the year's ledger is summed from them in
    Python (MemberLedger.from_entries, the same rule as fetch_ledgers), not fetched again.
    """
    as_of = day if year == day.year else date(year, 12, 31)
    scheme = scheme_for_year(year)
    branch, community = (Named(n) for n in read_columns(_BRANCH_AND_COMMUNITY, {"branch_id": member.branch_id}).one())
    types = read_columns(_TYPES, {"member_id": member.id}).all()
    history = [(t.effective_from, t.type_code) for t in types]
    entries = read_columns(_ENTRIES, {"member_id": member.id, "year": year}).all()

    corrections = {e.corrects_id: e for e in entries if e.corrects_id is not None}
    lines: dict[int, list[Line]] = {m: [] for m in range(1, 13)}
    for e in entries:
        if e.corrects_id is None:  # a correction is shown beside what it corrects
            lines[e.earned_on.month].append(Line(e, corrections.get(e.id)))
    first = 1 if member.on_roll_since.year < year else member.on_roll_since.month
    shown = [m for m in range(1, as_of.month + 1) if m >= first or lines[m]]

    score, running = None, {}
    if history:
        member_ledger = MemberLedger.from_entries(entries, year=year, as_of=as_of)
        score = score_member(scheme, year, as_of, history, member_ledger, on_roll_since=member.on_roll_since,
                             left_roll_on=member.left_roll_on, status=member.status, member_id=member.id)
        for m in shown:  # the year score at each shown month's end (the last one is the score itself)
            month_end = min(date(year, m, calendar.monthrange(year, m)[1]), as_of)
            running[m] = score.detail.score if month_end == as_of else year_score(
                scheme, year, month_end, history, member_ledger).score

    locale = get_locale()
    months = [MonthPage(m, *_month_labels(year, m, locale), score.detail.months[m - 1] if score else PeriodPoints(),
                        running.get(m), lines[m]) for m in shown]

    records = db.session.scalars(_SELF_RECORDS, {"member_id": member.id, "start": date(year, 1, 1),
                                                 "end": date(year + 1, 1, 1)}).all()
    users = _names(User, [e.recorded_by_id for e in entries] + [t.decided_by_id for t in types]
                   + [r.decided_by_id for r in records])
    _write_texts([line for m in shown for line in lines[m]], users)
    pending = [r for r in records if r.status == "pending"]
    rejected = sorted((r for r in records if r.status == "rejected"), key=lambda r: r.decided_at, reverse=True)

    adjusted = {e.adjusts_publication_id for e in entries} - {None}
    publications = {p.id: ledger.period_label(p.year, p.quarter) for p in db.session.scalars(
        select(Publication).where(Publication.id.in_(adjusted)))} if adjusted else {}
    return {
        "member": member, "branch": branch, "community": community, "year": year,
        "years": shown_years if shown_years is not None else years(member, day),
        "day": day, "as_of": as_of, "scheme": scheme, "score": score, "types": types, "months": months,
        "entry_count": sum(1 for e in entries if e.corrects_id is None),
        "pending": pending, "rejected": rejected, "published": published_periods(member, pending),
        "publications": publications,
        "users": users,
        "host_branches": _names(Branch, [e.host_branch_id for e in entries if e.host_branch_id != member.branch_id]),
        "indicator_names": {code: localized(scheme.indicators[code]) if code in scheme.indicators else ""
                            for code in {e.indicator_code for e in entries}},
        # Each source of the year's entries as shown: the lazy label resolved once for the page, or the
        # source itself if it has no label.
        "source_labels": {k: str(SOURCE_LABELS[k]) if k in SOURCE_LABELS else k for k in {e.source for e in entries}},
        "k_figure": Figure.of(score.k) if score else None,  # the year's deductions, under the months' K column
        # The member sees every decision about them (grades, rectification, proposals).
        "decisions": decisions_for_member(member.id),
    }
