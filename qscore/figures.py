"""The figures a street office reads off qscore (统计): one definition per figure, computed in SQL.

qscore/scoring knows how points add up; this sibling module knows how members, meetings, posts and
households are counted. Every member figure is defined once, as a SELECT of one row per member
(``*_rows``); the count a page shows and the list of "the members behind it" are both read from
that same SELECT, so they cannot disagree. Nothing here loads the ledger row by row: the only
Python over many rows is the per-member score, which scoring.score_members computes from grouped
sums.

Definitions (shown on hover on the figures page, see DEFINITIONS):

- The roll of a scope on a day: members with a branch spell in one of the scope's branches covering
  the day (spells are half-open), on the roll since that day or earlier and not left on or before it
  (whatever their status). The *population* of a period is the roll on its as-of day: the period's
  last day, or today for the period in progress. Member figures count the population: a member who
  transferred mid-period counts in the branch they belong to at the period's end, with everything
  they did in the period; a member who left the roll before the period's end is not counted.
- Members by type: the population by the type in force on the as-of day (the last type record
  effective on or before it; before the first record, the type at joining).
- Participation rate: population members with at least one live playing-a-role (category Z) entry
  earned in the period / the population.
- Attendance rate at organisational life: over the meetings of kind org_life the scope's branches
  hosted in the period (up to the as-of day): attendees credited at those meetings with a live
  attendance-role entry (flexible attendance counts at the host; a member counts once per meeting) /
  the sum of the meetings' expected counts (the host branch's roll at the meeting less registered
  leaves, as recorded with the meeting). The same definition as the branch index's attendance_rate
  (scheme.default.json).
- Dues on-time rate: member-quarters with a live dues_paid-role entry earned in the quarter /
  member-quarters on the roll at each quarter's end; over the calendar quarters overlapping the
  period that have ended by today. The same definition as the branch index's dues_on_time_rate.
- Volunteer posts: posts of population members confirmed (or since ended) and in force on the
  as-of day (declared on or before it, not ended by it); members holding at least one. Pending
  declarations are shown beside, not counted.
- Contact households: likewise for households; relative to the population (the seed's 76 % is 189
  households / 250 members). A household's label is private and never leaves the service pages.
- Volunteer teams: teams of the scope's communities founded on or before the as-of day and not
  dissolved by it (for a branch: those with at least one of its members); a team's size is its
  memberships in force on the as-of day.
- Charity-day donation rate: population members with a live entry credited at an activity of kind
  "charity" held in the period / the population.
- Volunteer hours: the sum of the quantity of live entries of the hours indicator(s) (unit "hour")
  earned in the period by population members.
- Average score by type: the mean year score to date (as of the as-of day) of the population, by
  type in force on the as-of day; scores are qscore/scoring's.
- Grade distribution: for a branch whose review of the period's year is confirmed, its confirmed
  grades (ReviewGrade rows); for the others, the suggested grades of its population as of the as-of
  day. The page says which.
- Queries: residents' queries about the scope's branches received in the period (street time);
  answered means answered by now.
"""
from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, extract, func, literal_column, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from .names import sort_key
from .models import (BranchSpell, Household, Meeting, Member, MemberPost, MemberType, PointEntry,
                     ResidentQuery, ReviewGrade, TeamMembership, VolunteerTeam, YearReview)
from .scheme import Scheme
from .scoring import MemberScore, N_, live_entry_clause, quarter_of, round_half_up, score_members

TYPE_CODES = ("A", "B", "C", "D")
GRADE_CODES = ("advanced", "qualified", "rectify", "none")
# Score bands of the distribution chart: [low, high) with None for open ends.
SCORE_BANDS: tuple[tuple[Decimal | None, Decimal | None], ...] = (
    (None, Decimal(60)), (Decimal(60), Decimal(70)), (Decimal(70), Decimal(80)), (Decimal(80), Decimal(90)),
    (Decimal(90), None),
)
HELD = ("confirmed", "ended")  # a declaration the branch confirmed (ended ones count while in force)

# One line per figure, shown on hover (translated by the page).
DEFINITIONS: dict[str, str] = {
    "population": N_("Members on the scope's roll on the period's last day (today for the period in progress)."),
    "types": N_("Members on the roll at the period's end by the type in force on that day."),
    "participation": N_("Members on the roll at the period's end with at least one playing-a-role (Z) entry "
                        "in the period ÷ members on the roll."),
    "attendance": N_("Organisational-life meetings hosted in the period: attendees credited at the meeting "
                     "(flexible attendance counts at the host) ÷ expected members (the roll less registered "
                     "leaves)."),
    "dues": N_("Member-quarters with dues paid on time (a live dues entry in the quarter) ÷ member-quarters on "
               "the roll at each quarter's end; quarters of the period that have ended."),
    "posts": N_("Confirmed volunteer posts in force at the period's end, held by members on the roll; and how "
                "many members hold one."),
    "households": N_("Confirmed contact households in force at the period's end ÷ members on the roll."),
    "teams": N_("Volunteer teams founded by the period's end and not dissolved; size = members in the team "
                "that day."),
    "charity": N_("Members on the roll credited at a charity-day donation activity in the period ÷ members on "
                  "the roll."),
    "hours": N_("Hours of volunteer service recorded in the period (live entries of the hours indicator)."),
    "scores": N_("Mean year score to date at the period's end, by type in force that day."),
    "grades": N_("Confirmed grades where the branch's year-end review is confirmed, else the suggested grades "
                 "as of the period's end."),
    "queries": N_("Residents' queries about the scope's branches received in the period, and how many are "
                  "answered."),
}


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """A calendar month, quarter or year; ``number`` is the month or quarter (0 for a year)."""

    kind: str
    year: int
    number: int = 0

    @property
    def start(self) -> date:
        if self.kind == "month":
            return date(self.year, self.number, 1)
        if self.kind == "quarter":
            return date(self.year, 3 * self.number - 2, 1)
        return date(self.year, 1, 1)

    @property
    def last(self) -> date:
        """The period's last day (inclusive)."""
        if self.kind == "month":
            return date(self.year, self.number, calendar.monthrange(self.year, self.number)[1])
        if self.kind == "quarter":
            m = 3 * self.number
            return date(self.year, m, calendar.monthrange(self.year, m)[1])
        return date(self.year, 12, 31)

    @property
    def key(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}"

    def as_of(self, today: date) -> date | None:
        """The day the period's figures are read on: its last day, today while it runs, None if not begun."""
        if self.start > today:
            return None
        return min(self.last, today)

    def months(self) -> list[tuple[int, int]]:
        first = self.start.month
        return [(self.year, m) for m in range(first, self.last.month + 1)]

    def quarters(self) -> list[int]:
        return sorted({quarter_of(m) for _y, m in self.months()})

    def previous_year(self) -> "Period":
        return Period(self.kind, self.year - 1, self.number)

    @classmethod
    def parse(cls, text: str | None) -> "Period | None":
        """'2026', '2026-Q2' or '2026-05'; None when it is none of them."""
        text = (text or "").strip().upper()
        try:
            if len(text) == 4 and text.isdigit():
                return cls("year", int(text))
            if len(text) == 7 and text[4:6] == "-Q" and text[:4].isdigit() and text[6] in "1234":
                return cls("quarter", int(text[:4]), int(text[6]))
            if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit() \
                    and 1 <= int(text[5:]) <= 12:
                return cls("month", int(text[:4]), int(text[5:]))
        except ValueError:
            return None
        return None

    @classmethod
    def of_month(cls, day: date) -> "Period":
        return cls("month", day.year, day.month)

    @classmethod
    def of_quarter(cls, day: date) -> "Period":
        return cls("quarter", day.year, quarter_of(day.month))


def quarter_last_day(year: int, quarter: int) -> date:
    m = 3 * quarter
    return date(year, m, calendar.monthrange(year, m)[1])


def month_last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


# ---------------------------------------------------------------------------------------------
# Ratios
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ratio:
    """num / den, exact; None to show when there is nothing to measure (den 0)."""

    num: int | Decimal = 0
    den: int = 0

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.num) / self.den if self.den else None

    def percent(self) -> Decimal | None:
        """Per cent, half up to one decimal."""
        v = self.value
        return None if v is None else round_half_up(v * 100)

    def __add__(self, other: "Ratio") -> "Ratio":
        return Ratio(self.num + other.num, self.den + other.den)


def sum_ratios(ratios: Iterable[Ratio]) -> Ratio:
    total = Ratio()
    for r in ratios:
        total = total + r
    return total


# ---------------------------------------------------------------------------------------------
# The roll and the type in force
# ---------------------------------------------------------------------------------------------

def roll_on(day: date, branch_ids: Sequence[int]):
    """Subquery (member_id, branch_id): the scope's roll on ``day`` (see the module's definitions)."""
    return (select(BranchSpell.member_id.label("member_id"), BranchSpell.branch_id.label("branch_id"))
            .join(Member, Member.id == BranchSpell.member_id)
            .where(BranchSpell.branch_id.in_(list(branch_ids)), BranchSpell.starts_on <= day,
                   (BranchSpell.ends_on.is_(None)) | (BranchSpell.ends_on > day),
                   Member.on_roll_since <= day, (Member.left_roll_on.is_(None)) | (Member.left_roll_on > day))
            .distinct().subquery("roll"))


def type_in_force(member_id_column, day: date):
    """The type code in force on ``day`` for a correlated member id (scoring.type_on, in SQL)."""
    on_day = (select(MemberType.type_code)
              .where(MemberType.member_id == member_id_column, MemberType.effective_from <= day)
              .order_by(MemberType.effective_from.desc(), MemberType.id.desc()).limit(1).scalar_subquery())
    at_joining = (select(MemberType.type_code).where(MemberType.member_id == member_id_column)
                  .order_by(MemberType.effective_from, MemberType.id).limit(1).scalar_subquery())
    return func.coalesce(on_day, at_joining)


def _members_with_entries(start: date, end_incl: date, *where):
    """Subquery (member_id, n, quantity): members with live entries earned in [start, end_incl] matching
    ``where``, computed once (not per member) and joined to the roll."""
    return (select(PointEntry.member_id.label("member_id"), func.count(PointEntry.id).label("n"),
                   func.coalesce(func.sum(PointEntry.quantity), 0).label("quantity"))
            .where(PointEntry.earned_on >= start, PointEntry.earned_on <= end_incl, live_entry_clause(), *where)
            .group_by(PointEntry.member_id).subquery())


def _flag(column):
    return case((column.is_not(None), 1), else_=0)


@dataclass(frozen=True)
class Window:
    """What a member figure is computed over: the scope's branches and the period up to ``as_of``."""

    branch_ids: tuple[int, ...]
    start: date
    as_of: date

    @classmethod
    def of(cls, branch_ids: Iterable[int], period: Period, today: date) -> "Window | None":
        as_of = period.as_of(today)
        return None if as_of is None else cls(tuple(sorted(set(branch_ids))), period.start, as_of)


# ---------------------------------------------------------------------------------------------
# Member figures: one SELECT per figure, one row per member of the population
# (columns member_id, branch_id, value); counts aggregate it, the members page lists it.
# ---------------------------------------------------------------------------------------------

def type_rows(w: Window) -> Select:
    r = roll_on(w.as_of, w.branch_ids)
    return select(r.c.member_id, r.c.branch_id, type_in_force(r.c.member_id, w.as_of).label("value"))


def _rows_with(w: Window, sub, value) -> Select:
    r = roll_on(w.as_of, w.branch_ids)
    return select(r.c.member_id, r.c.branch_id, value.label("value")).outerjoin(sub, sub.c.member_id == r.c.member_id)


def participation_rows(w: Window) -> Select:
    sub = _members_with_entries(w.start, w.as_of, PointEntry.category == "Z")
    return _rows_with(w, sub, _flag(sub.c.member_id))


def charity_rows(w: Window) -> Select:
    charity = (select(Meeting.id).where(Meeting.kind == "charity", Meeting.held_on >= w.start,
                                        Meeting.held_on <= w.as_of))
    sub = _members_with_entries(w.start, w.as_of, PointEntry.meeting_id.in_(charity))
    return _rows_with(w, sub, _flag(sub.c.member_id))


def hours_rows(w: Window, scheme: Scheme) -> Select:
    codes = sorted(i.code for i in scheme.indicators.values() if i.is_hours) or ["-"]
    sub = _members_with_entries(w.start, w.as_of, PointEntry.indicator_code.in_(codes))
    return _rows_with(w, sub, func.coalesce(sub.c.quantity, 0))


def _held_on(model, day: date):
    """Subquery (member_id, n): confirmed declarations in force on ``day`` per member."""
    return (select(model.member_id.label("member_id"), func.count(model.id).label("n"))
            .where(model.status.in_(HELD), model.declared_on <= day,
                   (model.ended_on.is_(None)) | (model.ended_on > day))
            .group_by(model.member_id).subquery())


def post_rows(w: Window) -> Select:
    sub = _held_on(MemberPost, w.as_of)
    return _rows_with(w, sub, func.coalesce(sub.c.n, 0))


def household_rows(w: Window) -> Select:
    sub = _held_on(Household, w.as_of)
    return _rows_with(w, sub, func.coalesce(sub.c.n, 0))


def _team_in_force(day: date):
    return ((VolunteerTeam.founded_on <= day)
            & ((VolunteerTeam.dissolved_on.is_(None)) | (VolunteerTeam.dissolved_on > day)))


def _membership_in_force(day: date):
    return ((TeamMembership.joined_on <= day)
            & ((TeamMembership.left_on.is_(None)) | (TeamMembership.left_on > day)))


def team_member_rows(w: Window) -> Select:
    sub = (select(TeamMembership.member_id.label("member_id"),
                  func.count(func.distinct(TeamMembership.team_id)).label("n"))
           .join(VolunteerTeam, VolunteerTeam.id == TeamMembership.team_id)
           .where(_membership_in_force(w.as_of), _team_in_force(w.as_of))
           .group_by(TeamMembership.member_id).subquery())
    return _rows_with(w, sub, func.coalesce(sub.c.n, 0))


MEMBER_FIGURES = ("types", "participation", "charity", "hours", "posts", "households", "teams")


def member_rows(figure: str, w: Window, scheme: Scheme) -> Select:
    """The per-member SELECT behind a member figure."""
    if figure == "types":
        return type_rows(w)
    if figure == "participation":
        return participation_rows(w)
    if figure == "charity":
        return charity_rows(w)
    if figure == "hours":
        return hours_rows(w, scheme)
    if figure == "posts":
        return post_rows(w)
    if figure == "households":
        return household_rows(w)
    if figure == "teams":
        return team_member_rows(w)
    raise KeyError(figure)


@dataclass(frozen=True)
class Tally:
    """A member figure for one branch: members, members with a value (> 0), and the values' sum."""

    members: int = 0
    hits: int = 0
    total: Decimal = Decimal(0)

    @property
    def rate(self) -> Ratio:
        return Ratio(self.hits, self.members)

    @property
    def per_member(self) -> Ratio:
        return Ratio(self.total, self.members)

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.members + other.members, self.hits + other.hits, self.total + other.total)


def tally(session: Session, rows: Select) -> dict[int, Tally]:
    """Aggregate a member figure's SELECT per branch, in SQL."""
    s = rows.subquery("figure")
    out = {}
    for branch_id, n, hits, total in session.execute(
            select(s.c.branch_id, func.count(), func.sum(case((s.c.value > 0, 1), else_=0)),
                   func.coalesce(func.sum(s.c.value), 0)).group_by(s.c.branch_id)):
        out[int(branch_id)] = Tally(int(n), int(hits or 0), Decimal(str(total or 0)))
    return out


def members_by_type(session: Session, w: Window) -> dict[int, dict[str, int]]:
    s = type_rows(w).subquery("typed")
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for branch_id, code, n in session.execute(
            select(s.c.branch_id, s.c.value, func.count()).group_by(s.c.branch_id, s.c.value)):
        out[int(branch_id)][code or "?"] = int(n)
    return dict(out)


# ---------------------------------------------------------------------------------------------
# Attendance at organisational life (by the hosting branch) and dues (by member-quarter)
# ---------------------------------------------------------------------------------------------

def _org_life(w: Window):
    return (Meeting.branch_id.in_(w.branch_ids), Meeting.kind == "org_life", Meeting.held_on >= w.start,
            Meeting.held_on <= w.as_of)


def attendee_rows(w: Window, scheme: Scheme) -> Select:
    """(meeting_id, branch_id = host, member_id, held_on): one row per attendee credited at a meeting."""
    codes = sorted(scheme.codes_with(role="attendance")) or ["-"]
    return (select(Meeting.id.label("meeting_id"), Meeting.branch_id.label("branch_id"),
                   PointEntry.member_id.label("member_id"), Meeting.held_on.label("held_on"))
            .join(PointEntry, PointEntry.meeting_id == Meeting.id)
            .where(*_org_life(w), PointEntry.indicator_code.in_(codes), live_entry_clause())
            .distinct())


def attendance(session: Session, w: Window, scheme: Scheme) -> dict[int, Ratio]:
    """Per hosting branch: attendees / expected (see the module's definitions)."""
    expected = dict(session.execute(select(Meeting.branch_id, func.sum(Meeting.expected_count))
                                    .where(*_org_life(w)).group_by(Meeting.branch_id)).all())
    s = attendee_rows(w, scheme).subquery("att")
    attended = dict(session.execute(select(s.c.branch_id, func.count()).group_by(s.c.branch_id)).all())
    return {int(b): Ratio(int(attended.get(b, 0)), int(expected.get(b) or 0))
            for b in set(expected) | set(attended)}


def attendance_by_month(session: Session, w: Window, scheme: Scheme) -> dict[tuple[int, int], Ratio]:
    """Scope totals per (year, month) of the meetings' dates."""
    y, m = extract("year", Meeting.held_on), extract("month", Meeting.held_on)
    expected = {(int(a), int(b)): int(n or 0) for a, b, n in session.execute(
        select(y, m, func.sum(Meeting.expected_count)).where(*_org_life(w)).group_by(y, m))}
    s = attendee_rows(w, scheme).subquery("att")
    sy, sm = extract("year", s.c.held_on), extract("month", s.c.held_on)
    attended = {(int(a), int(b)): int(n) for a, b, n in session.execute(
        select(sy, sm, func.count()).group_by(sy, sm))}
    return {k: Ratio(attended.get(k, 0), expected.get(k, 0)) for k in set(expected) | set(attended)}


def dues_quarters(period: Period, today: date) -> list[tuple[int, int]]:
    """(year, quarter) overlapping the period and ended by today."""
    return [(period.year, q) for q in period.quarters() if quarter_last_day(period.year, q) <= today]


def dues_rows(branch_ids: Sequence[int], quarters: Sequence[tuple[int, int]], scheme: Scheme) -> Select | None:
    """(member_id, branch_id, quarter, value): each member-quarter on the roll at the quarter's end, paid 1/0."""
    codes = sorted(scheme.codes_with(role="dues_paid")) or ["-"]
    parts = []
    for year, q in quarters:
        end = quarter_last_day(year, q)
        r = roll_on(end, branch_ids)
        paid = _members_with_entries(date(year, 3 * q - 2, 1), end, PointEntry.indicator_code.in_(codes))
        # A literal column, not a bound parameter: PostgreSQL cannot type an untyped parameter in a UNION.
        parts.append(select(r.c.member_id, r.c.branch_id, literal_column(f"'{int(year)}-Q{int(q)}'").label("quarter"),
                            _flag(paid.c.member_id).label("value"))
                     .outerjoin(paid, paid.c.member_id == r.c.member_id))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else union_all(*parts)


def dues(session: Session, branch_ids: Sequence[int], period: Period, today: date, scheme: Scheme) -> dict[int, Ratio]:
    rows = dues_rows(branch_ids, dues_quarters(period, today), scheme)
    if rows is None:
        return {}
    s = rows.subquery("dues")
    return {int(b): Ratio(int(paid or 0), int(n)) for b, n, paid in session.execute(
        select(s.c.branch_id, func.count(), func.sum(s.c.value)).group_by(s.c.branch_id))}


# ---------------------------------------------------------------------------------------------
# Posts pending, teams, queries
# ---------------------------------------------------------------------------------------------

def pending_declarations(session: Session, w: Window) -> dict[str, int]:
    """Declarations by population members waiting for the branch (shown beside the counts)."""
    r = roll_on(w.as_of, w.branch_ids)
    out = {}
    for name, model in (("posts", MemberPost), ("households", Household)):
        out[name] = int(session.scalar(select(func.count(model.id)).join(r, r.c.member_id == model.member_id)
                                       .where(model.status == "pending", model.declared_on <= w.as_of)) or 0)
    return out


@dataclass(frozen=True)
class TeamFigure:
    id: int
    name: str
    community_id: int
    founded_on: date
    size: int       # members in the team on the as-of day
    in_scope: int   # of whom on the scope's roll


def teams(session: Session, w: Window, community_ids: Sequence[int], branch_level: bool) -> list[TeamFigure]:
    """Teams in force on the as-of day (see the module's definitions), largest first."""
    r = roll_on(w.as_of, w.branch_ids)
    size = (select(func.count(TeamMembership.id))
            .where(TeamMembership.team_id == VolunteerTeam.id, _membership_in_force(w.as_of)).scalar_subquery())
    in_scope = (select(func.count(TeamMembership.id)).join(r, r.c.member_id == TeamMembership.member_id)
                .where(TeamMembership.team_id == VolunteerTeam.id, _membership_in_force(w.as_of)).scalar_subquery())
    rows = session.execute(
        select(VolunteerTeam.id, VolunteerTeam.name, VolunteerTeam.community_id, VolunteerTeam.founded_on,
               size, in_scope)
        .where(VolunteerTeam.community_id.in_(list(community_ids)), _team_in_force(w.as_of))
        .order_by(VolunteerTeam.community_id, VolunteerTeam.name, VolunteerTeam.id)).all()
    out = [TeamFigure(int(i), n, int(c), f, int(s or 0), int(k or 0)) for i, n, c, f, s, k in rows]
    if branch_level:
        out = [t for t in out if t.in_scope]
    return sorted(out, key=lambda t: (-t.size, t.name, t.id))


def utc_bounds(first: date, after: date, tz_name: str) -> tuple[datetime, datetime]:
    """Naive UTC datetimes of the local midnights of [first, after) (timestamps are stored in UTC)."""
    tz = ZoneInfo(tz_name)

    def utc(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)

    return utc(first), utc(after)


def queries(session: Session, w: Window, tz_name: str) -> dict[int, tuple[int, int]]:
    """Per branch: (received, answered)."""
    start, end = utc_bounds(w.start, w.as_of + timedelta(days=1), tz_name)
    return {int(b): (int(n), int(a)) for b, n, a in session.execute(
        select(ResidentQuery.branch_id, func.count(), func.count(ResidentQuery.answered_at))
        .where(ResidentQuery.branch_id.in_(w.branch_ids), ResidentQuery.created_at >= start,
               ResidentQuery.created_at < end)
        .group_by(ResidentQuery.branch_id))}


# ---------------------------------------------------------------------------------------------
# Scores and grades (qscore/scoring computes each member's score from grouped sums)
# ---------------------------------------------------------------------------------------------

def population(session: Session, w: Window) -> list[tuple[Member, int]]:
    """(member, branch_id) of the population with a type record (every classified member)."""
    r = roll_on(w.as_of, w.branch_ids)
    return [(m, int(b)) for m, b in session.execute(
        select(Member, r.c.branch_id).join(r, r.c.member_id == Member.id)
        .where(exists().where(MemberType.member_id == Member.id)).order_by(Member.id))]


def population_scores(session: Session, w: Window, scheme: Scheme) -> tuple[list[tuple[Member, int]],
                                                                           dict[int, MemberScore]]:
    people = population(session, w)
    scores = score_members(session, scheme, w.as_of.year, w.as_of, [m for m, _b in people])
    return people, scores


def band_of(score: Decimal) -> int:
    for i, (low, high) in enumerate(SCORE_BANDS):
        if (low is None or score >= low) and (high is None or score < high):
            return i
    return len(SCORE_BANDS) - 1


@dataclass
class ScoreFigures:
    # branch -> type -> (sum of scores, members)
    by_branch: dict[int, dict[str, tuple[Decimal, int]]] = field(default_factory=dict)
    bands: dict[str, list[int]] = field(default_factory=dict)  # type -> members per band

    def average(self, type_code: str | None = None, branch_id: int | None = None) -> Decimal | None:
        total, n = Decimal(0), 0
        for b, per_type in self.by_branch.items():
            if branch_id is not None and b != branch_id:
                continue
            for t, (s, k) in per_type.items():
                if type_code is None or t == type_code:
                    total += s
                    n += k
        return round_half_up(Fraction(total) / n) if n else None


def score_figures(people: Sequence[tuple[Member, int]], scores: dict[int, MemberScore]) -> ScoreFigures:
    out = ScoreFigures(bands={t: [0] * len(SCORE_BANDS) for t in TYPE_CODES})
    acc: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [Decimal(0), 0]))
    for m, b in people:
        s = scores[m.id]
        acc[b][s.type_code][0] += s.score
        acc[b][s.type_code][1] += 1
        out.bands.setdefault(s.type_code, [0] * len(SCORE_BANDS))[band_of(s.score)] += 1
    out.by_branch = {b: {t: (v[0], v[1]) for t, v in per.items()} for b, per in acc.items()}
    return out


@dataclass
class GradeFigures:
    confirmed_branches: set[int] = field(default_factory=set)
    counts: dict[int, Counter] = field(default_factory=dict)  # branch -> grade -> members

    def total(self) -> Counter:
        out: Counter = Counter()
        for c in self.counts.values():
            out.update(c)
        return out

    def source(self, branch_ids: Iterable[int]) -> str:
        """'confirmed', 'suggested' or 'mixed' for the given branches."""
        ids = set(branch_ids)
        confirmed = ids & self.confirmed_branches
        if not confirmed:
            return "suggested"
        return "confirmed" if confirmed == ids else "mixed"


def confirmed_reviews(session: Session, branch_ids: Sequence[int], year: int) -> dict[int, int]:
    """branch_id -> review id of the year's confirmed reviews."""
    return {int(b): int(i) for b, i in session.execute(
        select(YearReview.branch_id, YearReview.id).where(YearReview.branch_id.in_(list(branch_ids)),
                                                          YearReview.year == year,
                                                          YearReview.status == "confirmed"))}


def grade_rows_confirmed(review_ids: Sequence[int]) -> Select:
    return (select(ReviewGrade.member_id, YearReview.branch_id, ReviewGrade.grade.label("value"))
            .join(YearReview, YearReview.id == ReviewGrade.review_id).where(ReviewGrade.review_id.in_(list(review_ids))))


def grade_figures(session: Session, w: Window, people: Sequence[tuple[Member, int]],
                  scores: dict[int, MemberScore]) -> GradeFigures:
    reviews = confirmed_reviews(session, w.branch_ids, w.as_of.year)
    out = GradeFigures(confirmed_branches=set(reviews))
    counts: dict[int, Counter] = defaultdict(Counter)
    if reviews:
        s = grade_rows_confirmed(list(reviews.values())).subquery("grades")
        for b, g, n in session.execute(select(s.c.branch_id, s.c.value, func.count()).group_by(s.c.branch_id,
                                                                                                 s.c.value)):
            counts[int(b)][g if g in GRADE_CODES else "none"] += int(n)
    for m, b in people:
        if b not in reviews:
            counts[b][scores[m.id].grade.code or "none"] += 1
    out.counts = dict(counts)
    return out


# ---------------------------------------------------------------------------------------------
# All figures of a scope and period
# ---------------------------------------------------------------------------------------------

@dataclass
class Figures:
    period: Period
    as_of: date | None
    branch_ids: tuple[int, ...]
    types: dict[int, dict[str, int]] = field(default_factory=dict)
    participation: dict[int, Tally] = field(default_factory=dict)
    attendance: dict[int, Ratio] = field(default_factory=dict)
    dues: dict[int, Ratio] = field(default_factory=dict)
    dues_quarters: list[tuple[int, int]] = field(default_factory=list)
    posts: dict[int, Tally] = field(default_factory=dict)
    households: dict[int, Tally] = field(default_factory=dict)
    team_members: dict[int, Tally] = field(default_factory=dict)
    teams: list[TeamFigure] = field(default_factory=list)
    charity: dict[int, Tally] = field(default_factory=dict)
    hours: dict[int, Tally] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    scores: ScoreFigures = field(default_factory=ScoreFigures)
    grades: GradeFigures = field(default_factory=GradeFigures)
    queries: dict[int, tuple[int, int]] = field(default_factory=dict)

    # Scope totals -------------------------------------------------------------------------
    def _sum(self, per_branch: dict, empty):
        total = empty
        for v in per_branch.values():
            total = total + v
        return total

    @property
    def members(self) -> int:
        return sum(sum(t.values()) for t in self.types.values())

    def type_counts(self, branch_id: int | None = None) -> dict[str, int]:
        out = {t: 0 for t in TYPE_CODES}
        for b, per in self.types.items():
            if branch_id is None or b == branch_id:
                for t, n in per.items():
                    out[t] = out.get(t, 0) + n
        return out

    def total(self, name: str):
        per = getattr(self, name)
        return self._sum(per, Ratio() if name in ("attendance", "dues") else Tally())

    @property
    def households_ratio(self) -> Ratio:
        t = self.total("households")
        return Ratio(int(t.total), t.members)

    @property
    def queries_total(self) -> tuple[int, int]:
        return (sum(n for n, _a in self.queries.values()), sum(a for _n, a in self.queries.values()))


def compute(session: Session, scheme: Scheme, branch_ids: Sequence[int], community_ids: Sequence[int],
            period: Period, today: date, *, branch_level: bool = False,
            tz_name: str = "Asia/Shanghai") -> Figures:
    """Every figure of the scope (its branches) for the period: a fixed number of grouped queries."""
    w = Window.of(branch_ids, period, today)
    fig = Figures(period=period, as_of=w.as_of if w else None, branch_ids=tuple(sorted(set(branch_ids))))
    if w is None or not w.branch_ids:
        return fig
    fig.types = members_by_type(session, w)
    fig.participation = tally(session, participation_rows(w))
    fig.attendance = attendance(session, w, scheme)
    fig.dues_quarters = dues_quarters(period, today)
    fig.dues = dues(session, w.branch_ids, period, today, scheme)
    fig.posts = tally(session, post_rows(w))
    fig.households = tally(session, household_rows(w))
    fig.team_members = tally(session, team_member_rows(w))
    fig.teams = teams(session, w, community_ids, branch_level)
    fig.charity = tally(session, charity_rows(w))
    fig.hours = tally(session, hours_rows(w, scheme))
    fig.pending = pending_declarations(session, w)
    people, scores = population_scores(session, w, scheme)
    fig.scores = score_figures(people, scores)
    fig.grades = grade_figures(session, w, people, scores)
    fig.queries = queries(session, w, tz_name)
    return fig


@dataclass(frozen=True)
class TrendPoint:
    year: int
    month: int
    participation: Ratio
    attendance: Ratio


def trend(session: Session, scheme: Scheme, branch_ids: Sequence[int], months: Sequence[tuple[int, int]],
          today: date) -> list[TrendPoint]:
    """Participation and attendance of the scope month by month (months not begun are left out)."""
    out = []
    months = [(y, m) for y, m in months if date(y, m, 1) <= today]
    if not months or not branch_ids:
        return out
    first = Period("month", *months[0])
    last = Period("month", *months[-1])
    att = attendance_by_month(session, Window(tuple(branch_ids), first.start, last.as_of(today)), scheme)
    for y, m in months:
        w = Window.of(branch_ids, Period("month", y, m), today)
        part = tally(session, participation_rows(w))
        total = sum(part.values(), Tally())
        out.append(TrendPoint(y, m, total.rate, att.get((y, m), Ratio())))
    return out


def months_ending(period: Period, count: int = 12) -> list[tuple[int, int]]:
    """The ``count`` months ending with the period's last month (a year: its own twelve)."""
    if period.kind == "year":
        return [(period.year, m) for m in range(1, 13)]
    idx = period.last.year * 12 + period.last.month - 1
    return [((i // 12), i % 12 + 1) for i in range(idx - count + 1, idx + 1)]


# ---------------------------------------------------------------------------------------------
# The members behind a figure (the same SELECTs as the counts)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberLine:
    member_id: int
    name: str
    branch_id: int
    value: object     # the figure's value for the member (a flag, a count, hours, a type, a grade ...)
    counted: bool     # whether the member counts toward the figure's numerator


LISTED_FIGURES = MEMBER_FIGURES + ("attendance", "dues", "scores", "grades")


def member_lines(session: Session, figure: str, scheme: Scheme, branch_ids: Sequence[int], period: Period,
                 today: date) -> list[MemberLine]:
    """Every member of the population (or attendee, or member-quarter) behind ``figure``, by name."""
    w = Window.of(branch_ids, period, today)
    if w is None or not w.branch_ids:
        return []
    if figure in MEMBER_FIGURES:
        s = member_rows(figure, w, scheme).subquery("figure")
        rows = session.execute(select(Member.id, Member.name, s.c.branch_id, s.c.value)
                               .join(s, s.c.member_id == Member.id).order_by(s.c.branch_id, Member.name_key, Member.name, Member.id))
        return [MemberLine(int(i), n, int(b), v, figure == "types" or bool(v and Decimal(str(v)) > 0))
                for i, n, b, v in rows]
    if figure == "attendance":
        s = attendee_rows(w, scheme).subquery("att")
        rows = session.execute(select(Member.id, Member.name, s.c.branch_id, func.count())
                               .join(s, s.c.member_id == Member.id)
                               .group_by(Member.id, Member.name, s.c.branch_id)
                               .order_by(s.c.branch_id, Member.name_key, Member.name, Member.id))
        return [MemberLine(int(i), n, int(b), int(k), True) for i, n, b, k in rows]
    if figure == "dues":
        rows_ = dues_rows(w.branch_ids, dues_quarters(period, today), scheme)
        if rows_ is None:
            return []
        s = rows_.subquery("dues")
        rows = session.execute(select(Member.id, Member.name, s.c.branch_id, func.sum(s.c.value), func.count())
                               .join(s, s.c.member_id == Member.id)
                               .group_by(Member.id, Member.name, s.c.branch_id)
                               .order_by(s.c.branch_id, Member.name_key, Member.name, Member.id))
        return [MemberLine(int(i), n, int(b), f"{int(p or 0)}/{int(k)}", int(p or 0) == int(k))
                for i, n, b, p, k in rows]
    if figure in ("scores", "grades"):
        people, scores = population_scores(session, w, scheme)
        reviews = confirmed_reviews(session, w.branch_ids, w.as_of.year) if figure == "grades" else {}
        confirmed: dict[int, str] = {}
        if reviews:
            s = grade_rows_confirmed(list(reviews.values())).subquery("grades")
            confirmed = {int(m): g for m, _b, g in session.execute(select(s.c.member_id, s.c.branch_id, s.c.value))}
            names = dict(session.execute(select(Member.id, Member.name).where(Member.id.in_(list(confirmed)))).all())
            branch_of = {int(m): int(b) for m, b, _g in session.execute(select(s.c.member_id, s.c.branch_id,
                                                                                s.c.value))}
        out = []
        for m, b in people:
            if b in reviews:
                continue
            sc = scores[m.id]
            value = sc.score if figure == "scores" else (sc.grade.code or "none")
            out.append(MemberLine(m.id, m.name, b, value if figure == "grades" else (sc.type_code, value), True))
        for mid, g in confirmed.items():
            out.append(MemberLine(mid, names.get(mid, ""), branch_of[mid], g if g in GRADE_CODES else "none", True))
        return sorted(out, key=lambda line: (line.branch_id, sort_key(line.name), line.name, line.member_id))
    raise KeyError(figure)
