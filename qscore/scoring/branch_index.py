"""Year-end review flags and the red-flag branch index (红旗党支部)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models.ledger import PointEntry
from ..scheme import Scheme
from .compiled import compiled
from .grade import ledger_facts
from .periods import effective_as_of, longest_run, month_index, quarter_end, quarter_of, ym
from .ledger_sql import live_entry_clause, month_of
from .queries import score_members
from .rounding import ZERO
from .sums import MemberLedger
from .warnings import RegisterMonths


# =============================================================================================
# Year-end review flags and the red-flag branch index (红旗党支部)
#
# Appended section (issue 7). Nothing above is changed; these functions only read what the
# functions above produce. Decisions where the scheme is silent:
# - A ratio with nothing to measure: the score share, attendance rate and dues rate are 0 (a branch
#   with no graded member, no organisational life or nobody on the roll has earned nothing);
#   the publication share is 1 when no quarter's 30 days have passed yet (nothing was due), and the
#   queries share is 1 when none were received (as the scheme says).
# - attendance_rate is not capped at 1: guests credited at the host (flexible attendance) count
#   at the host, exactly as defined, so a host of many guests can exceed 1.
# - Dues: the member-quarters are (member, quarter) on the branch's roll at each quarter's end, for
#   the quarters ended by the date the index is computed; a live dues_paid entry earned in that
#   quarter, whichever branch recorded it, pays it.
# - Publications: a quarter is published on time when the branch's live (not retracted)
#   publication of it is dated, in the street's time zone, no later than 30 days after the quarter
#   ended; its 30 days have passed once today is later than that.
# - Queries: residents' queries about the branch received in the calendar year (street time);
#   answered means answered by now.
# - Ranking: index descending, then the score share descending, then branch id ascending.
# =============================================================================================

@dataclass(frozen=True)
class ReviewFlags:
    """What the review meeting sees beside a member's score (all from live entries of the year)."""

    vetoes: tuple[tuple[str, date], ...] = ()       # (indicator code, first date)
    heavier: tuple[tuple[str, date], ...] = ()      # (indicator code, first date)
    absence_run: tuple[int, int | None, int | None] = (0, None, None)   # longest run: (months, first, last)
    arrears_run: tuple[int, int | None, int | None] = (0, None, None)

    def run_label(self, run: tuple[int, int | None, int | None], year: int) -> tuple[str, str]:
        """('YYYY-MM', 'YYYY-MM') of a run's first and last month."""
        _n, first, last = run
        return ym(month_index(year, first)), ym(month_index(year, last))


def review_flags(scheme: Scheme, ledger: MemberLedger, last_month: int = 12, *,
                 register: RegisterMonths | None = None, year: int = 0) -> ReviewFlags:
    """Veto and heavier entries, and the longest absence and dues-arrears runs (by role), of a year.
    ``register``: what the dues register says of the member (its months owed stand for the arrears entries
    from the month it starts; ``year`` is the review's)."""
    cs = compiled(scheme)
    facts = ledger_facts(cs, ledger, last_month)
    arrears = facts.arrears_months
    if register is not None:
        arrears = {mo for y, mo in register.arrears({(year, mo) for mo in arrears}) if y == year and mo <= last_month}
    return ReviewFlags(
        vetoes=tuple((c, facts.veto_first[c]) for c in cs.veto_codes if c in facts.veto_first),
        heavier=tuple((c, facts.heavier_first[c]) for c in cs.heavier_codes if c in facts.heavier_first),
        absence_run=longest_run(facts.absence_months),
        arrears_run=longest_run(arrears),
    )


BRANCH_INDEX_COMPONENTS = ("average_member_score_share", "attendance_rate", "dues_on_time_rate",
                           "on_time_publication_share", "queries_answered_share")
PUBLICATION_DAYS = 30  # "published within 30 days after the quarter ended"


@dataclass(frozen=True)
class BranchIndexInputs:
    """The counts behind one branch's index for one year."""

    member_scores: tuple[tuple[Decimal, Decimal], ...] = ()  # (year score, member's max) of graded members
    attended: int = 0             # attendees credited at the org-life meetings the branch hosted
    expected: int = 0             # sum of those meetings' expected counts
    dues_paid: int = 0            # member-quarters with a live dues_paid-role entry
    member_quarters: int = 0      # member-quarters on the roll
    published_on_time: int = 0    # quarters published within 30 days after the quarter ended
    publications_due: int = 0     # quarters whose 30 days have passed
    queries_answered: int = 0
    queries_received: int = 0


@dataclass(frozen=True)
class BranchIndex:
    branch_id: int | None
    components: dict[str, Fraction]
    index: Fraction
    inputs: BranchIndexInputs

    def rounded(self, name: str | None = None, places: int = 3) -> Decimal:
        """A component (or the index) rounded half up for display: exact until shown."""
        value = self.index if name is None else self.components[name]
        q = Decimal(1).scaleb(-places)
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(q, rounding=ROUND_HALF_UP)


def _ratio(num: int | Fraction, den: int | Fraction, empty: Fraction) -> Fraction:
    return Fraction(num) / Fraction(den) if den else empty


def branch_index(weights: Mapping[str, Decimal], inputs: BranchIndexInputs,
                 branch_id: int | None = None) -> BranchIndex:
    """The scheme's branch_index: sum of weight x component, exactly (pure; see the section notes)."""
    shares = [Fraction(score) / Fraction(mx) for score, mx in inputs.member_scores if mx]
    components = {
        "average_member_score_share": sum(shares, ZERO) / len(shares) if shares else ZERO,
        "attendance_rate": _ratio(inputs.attended, inputs.expected, ZERO),
        "dues_on_time_rate": _ratio(inputs.dues_paid, inputs.member_quarters, ZERO),
        "on_time_publication_share": _ratio(inputs.published_on_time, inputs.publications_due, Fraction(1)),
        "queries_answered_share": _ratio(inputs.queries_answered, inputs.queries_received, Fraction(1)),
    }
    # A weight the scheme names but this code does not know contributes nothing (it cannot be computed).
    index = sum((Fraction(w) * components[k] for k, w in weights.items() if k in components), ZERO)
    return BranchIndex(branch_id, components, index, inputs)


def rank_branch_indices(indices: Iterable[BranchIndex]) -> list[tuple[int, BranchIndex]]:
    """(rank, index) from 1, best first: index desc, then score share desc, then branch id asc."""
    ordered = sorted(indices, key=lambda b: (-b.index, -b.components["average_member_score_share"],
                                             b.branch_id if b.branch_id is not None else 0))
    return list(enumerate(ordered, start=1))


def _utc_bounds(day_from: date, day_to: date, tz_name: str):
    """Naive UTC datetimes of local midnights [day_from, day_to) (timestamps are stored in UTC)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)

    def utc(d: date):
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)

    return utc(day_from), utc(day_to)


def _local_date(value, tz_name: str) -> date:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz_name)).date()


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def fetch_branch_index_inputs(session: Session, scheme: Scheme, year: int, today: date, branch_ids: Sequence[int],
                              tz_name: str = "Asia/Shanghai") -> dict[int, BranchIndexInputs]:
    """The counts of every branch's index in a constant number of grouped queries (about ten).

    Scores and rolls are as of min(today, Dec 31); publications' 30 days are judged against today.
    """
    from ..models import BranchSpell, Meeting, Member, Publication, ResidentQuery

    ids = sorted({int(i) for i in branch_ids})
    if not ids:
        return {}
    d = effective_as_of(year, today)
    if d < date(year, 1, 1):
        d = date(year, 1, 1) - timedelta(days=1)  # a year not started: nobody is scored

    def roll_on(day: date) -> dict[int, list]:
        """Members on each branch's roll on ``day`` (branch spell and time on the roll, half-open)."""
        rows = session.execute(
            select(BranchSpell.branch_id, Member)
            .join(Member, Member.id == BranchSpell.member_id)
            .where(BranchSpell.branch_id.in_(ids), BranchSpell.starts_on <= day,
                   (BranchSpell.ends_on.is_(None)) | (BranchSpell.ends_on > day),
                   Member.on_roll_since <= day, (Member.left_roll_on.is_(None)) | (Member.left_roll_on > day))
            .order_by(Member.id)).all()
        out: dict[int, list] = defaultdict(list)
        seen: set[tuple[int, int]] = set()
        for branch_id, member in rows:
            if (branch_id, member.id) not in seen:  # two spells covering one day count once
                seen.add((branch_id, member.id))
                out[branch_id].append(member)
        return out

    # 1. Graded members' year score and maximum, on the roll at year end (or today).
    members_by_branch = roll_on(d) if d.year == year else {}
    everyone = {m.id: m for ms in members_by_branch.values() for m in ms}
    scores = score_members(session, scheme, year, d, list(everyone.values())) if everyone else {}
    member_scores = {b: tuple((scores[m.id].score, scores[m.id].max_score) for m in ms
                              if scores[m.id].grade.graded) for b, ms in members_by_branch.items()}

    # 2. Attendance at the organisational life each branch hosted.
    attendance = scheme.codes_with(role="attendance")
    meeting_filter = (Meeting.branch_id.in_(ids), Meeting.kind == "org_life",
                      Meeting.held_on >= date(year, 1, 1), Meeting.held_on <= d)
    expected = dict(session.execute(
        select(Meeting.branch_id, func.sum(Meeting.expected_count)).where(*meeting_filter)
        .group_by(Meeting.branch_id)).all())
    attended: dict[int, int] = defaultdict(int)
    if attendance:
        for branch_id, _meeting_id, n in session.execute(
                select(Meeting.branch_id, PointEntry.meeting_id, func.count(func.distinct(PointEntry.member_id)))
                .join(Meeting, Meeting.id == PointEntry.meeting_id)
                .where(*meeting_filter, PointEntry.indicator_code.in_(sorted(attendance)), live_entry_clause())
                .group_by(Meeting.branch_id, PointEntry.meeting_id)):
            attended[branch_id] += int(n)

    # 3. Dues: member-quarters on the roll at each ended quarter's end, and which of them are paid.
    dues_codes = scheme.codes_with(role="dues_paid")
    paid: set[tuple[int, int]] = set()
    ended = [q for q in range(1, 5) if quarter_end(year, q) <= d]
    if dues_codes and ended:
        month = month_of(PointEntry.earned_on)
        for member_id, m in session.execute(
                select(PointEntry.member_id, month)
                .where(PointEntry.indicator_code.in_(sorted(dues_codes)), PointEntry.earned_on >= date(year, 1, 1),
                       PointEntry.earned_on <= quarter_end(year, max(ended)), live_entry_clause())
                .group_by(PointEntry.member_id, month)):
            paid.add((member_id, quarter_of(int(m))))
    member_quarters: dict[int, int] = defaultdict(int)
    dues_paid: dict[int, int] = defaultdict(int)
    for q in ended:
        for branch_id, ms in roll_on(quarter_end(year, q)).items():
            member_quarters[branch_id] += len(ms)
            dues_paid[branch_id] += sum(1 for m in ms if (m.id, q) in paid)

    # 4. Publications within 30 days after each quarter's end.
    due = [q for q in range(1, 5) if today > quarter_end(year, q) + timedelta(days=PUBLICATION_DAYS)]
    on_time: dict[int, int] = defaultdict(int)
    if due:
        for branch_id, q, first in session.execute(
                select(Publication.branch_id, Publication.quarter, func.min(Publication.published_at))
                .where(Publication.branch_id.in_(ids), Publication.year == year, Publication.quarter.in_(due),
                       Publication.retracted_at.is_(None))
                .group_by(Publication.branch_id, Publication.quarter)):
            if _local_date(first, tz_name) <= quarter_end(year, int(q)) + timedelta(days=PUBLICATION_DAYS):
                on_time[branch_id] += 1

    # 5. Residents' queries received in the year, and how many are answered.
    start, end = _utc_bounds(date(year, 1, 1), date(year + 1, 1, 1), tz_name)
    queries = {b: (int(n), int(a)) for b, n, a in session.execute(
        select(ResidentQuery.branch_id, func.count(), func.count(ResidentQuery.answered_at))
        .where(ResidentQuery.branch_id.in_(ids), ResidentQuery.created_at >= start, ResidentQuery.created_at < end)
        .group_by(ResidentQuery.branch_id))}

    return {b: BranchIndexInputs(
        member_scores=member_scores.get(b, ()), attended=attended.get(b, 0), expected=int(expected.get(b) or 0),
        dues_paid=dues_paid.get(b, 0), member_quarters=member_quarters.get(b, 0),
        published_on_time=on_time.get(b, 0), publications_due=len(due),
        queries_answered=queries.get(b, (0, 0))[1], queries_received=queries.get(b, (0, 0))[0],
    ) for b in ids}



def branch_indices(session: Session, scheme: Scheme, year: int, today: date, branch_ids: Sequence[int],
                   tz_name: str = "Asia/Shanghai") -> dict[int, BranchIndex]:
    """Every branch's index for the year (see fetch_branch_index_inputs and branch_index)."""
    inputs = fetch_branch_index_inputs(session, scheme, year, today, branch_ids, tz_name)
    return {b: branch_index(scheme.branch_index_weights, i, b) for b, i in inputs.items()}
