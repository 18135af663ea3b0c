"""What the roster shows, gathered in a constant number of grouped queries per branch."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import bindparam, func, select

from ..db import db, read_columns
from ..dues import owed_run
from ..models import Branch, Member, PointEntry, SelfRecord
from ..scheme import Scheme
from ..scheme_versions import scheme_for_year
from ..scoring import MemberScore, Reason, live_entry_clause, score_and_warn
from .. import standings
from ..templating import localized, points, short_label, signed
from ..standings import BranchSummary


class Figure(NamedTuple):
    """One of a row's capped figures as shown: its column's label, the text, and the caps that limit it
    (the ▲'s hover text, "" when none)."""
    label: str
    text: str
    caps: str = ""


@dataclass(frozen=True)
class QuickButton:
    """A one-click indicator of the branch, worked out once per page rather than once per row."""
    code: str
    title: str  # "J1 参加主题党日、支部党员大会"
    label: str  # "出席"
    hours: bool  # asks for the hours: opens the form instead of adding
    points: dict[str, str]  # type code -> signed default points, for the types it applies to


@dataclass
class RosterData:
    branch: Branch
    day: date
    scheme: Scheme
    members: list[Member]
    scores: dict[int, MemberScore]
    warnings: dict[int, list[Reason]]
    pending: dict[int, int]
    # member -> [(date, host branch name)] for organisational life attended at another branch this month
    elsewhere: dict[int, list[tuple[date, str]]] = field(default_factory=dict)
    # member -> K1-like entries this month although they attended organisational life elsewhere
    # (rows with id, member_id, branch_id, host_branch_id, indicator_code, earned_on)
    conflicts: dict[int, list] = field(default_factory=dict)
    totals: BranchSummary = field(default_factory=BranchSummary)
    # member -> this month, this quarter, J and Z as the row shows them
    figures: dict[int, tuple[Figure, ...]] = field(default_factory=dict)
    quick: list[QuickButton] = field(default_factory=list)

    @property
    def month_total(self) -> Decimal:
        return sum((s.month.total for s in self.scores.values()), Decimal(0))


def month_start(day: date) -> date:
    return day.replace(day=1)


# The roster's reads, built once: only their parameters change from one request to the next.
_MEMBERS = (select(Member).where(Member.branch_id == bindparam("branch_id"), Member.status == "active")
            .order_by(Member.name_key, Member.name, Member.id))
_SOME_MEMBERS = _MEMBERS.where(Member.id.in_(bindparam("only", expanding=True)))
_PENDING = (select(SelfRecord.member_id, func.count())
            .where(SelfRecord.member_id.in_(bindparam("ids", expanding=True)), SelfRecord.status == "pending")
            .group_by(SelfRecord.member_id))
# This month's attendance and absence entries: only the columns the flags use (a K1 is shown by date, corrected by id).
_ATTENDANCE = (select(PointEntry.id, PointEntry.member_id, PointEntry.branch_id, PointEntry.host_branch_id,
                      PointEntry.indicator_code, PointEntry.earned_on, Branch.name.label("host_name"))
               .outerjoin(Branch, Branch.id == PointEntry.host_branch_id)
               .where(PointEntry.member_id.in_(bindparam("ids", expanding=True)),
                      PointEntry.earned_on >= bindparam("start"), PointEntry.earned_on <= bindparam("day"),
                      PointEntry.indicator_code.in_(bindparam("codes", expanding=True)), live_entry_clause())
               .order_by(PointEntry.earned_on))


def roster_data(branch: Branch, day: date, only: list[int] | None = None, row: int | None = None) -> RosterData:
    """The whole branch, or only some of its members (``only``: a row shown without a write — a form, the
    member's entries, a cancelled edit, an undo). With ``row``, the whole
    branch is scored for its totals but only that member's row is worked out (its warnings, attendance flags
    and capped figures): the answer to a write shows one row and the totals. The totals never show warnings."""
    scheme = scheme_for_year(day.year)
    if only is None:
        members = list(db.session.scalars(_MEMBERS, {"branch_id": branch.id}))
    else:
        members = list(db.session.scalars(_SOME_MEMBERS, {"branch_id": branch.id, "only": list(only)}))
    ids = [m.id for m in members]
    shown = ids if row is None else [i for i in ids if i == row]
    warned = members if row is None else [m for m in members if m.id == row]
    scores, warnings = score_and_warn(db.session, scheme, day.year, day, members, warn=None if row is None else shown,
                                      owed=owed_run(warned, day))
    pending = dict(read_columns(_PENDING, {"ids": ids}).all()) if ids else {}
    data = RosterData(branch, day, scheme, members, scores, warnings, pending)
    _attendance_flags(data, shown)
    data.figures = row_figures(scores if row is None else {i: scores[i] for i in shown}, scheme)
    data.quick = quick_buttons(branch, scheme)
    if only is None:
        data.totals = summarise(data)
    return data


def summarise(data: RosterData) -> BranchSummary:
    """The branch's totals, added up as the home pages add them (standings.summarise). Their warnings count
    is left out (0): the roster does not show it, and after a write only the written row's are known."""
    return standings.summarise(data.members, data.scores, {}, data.pending)[1]


def _attendance_flags(data: RosterData, ids: list[int]) -> None:
    """Flexible attendance (DOMAIN.md): attended elsewhere this month, and a K1 at home beside it."""
    if not ids:
        return
    attendance = data.scheme.codes_with(role="attendance")
    absence = data.scheme.codes_with(role="absence")
    rows = read_columns(_ATTENDANCE, {"ids": ids, "start": month_start(data.day), "day": data.day,
                                      "codes": sorted(attendance | absence)}).all()
    elsewhere: dict[int, list[tuple[date, str]]] = defaultdict(list)
    k1: dict[int, list] = defaultdict(list)
    for entry in rows:
        host_name = entry.host_name
        if entry.indicator_code in attendance and entry.host_branch_id and entry.host_branch_id != entry.branch_id:
            elsewhere[entry.member_id].append((entry.earned_on, host_name))
        elif entry.indicator_code in absence:
            k1[entry.member_id].append(entry)
    data.elsewhere = dict(elsewhere)
    data.conflicts = {mid: entries for mid, entries in k1.items() if mid in elsewhere}


def row_figures(scores: dict[int, MemberScore], scheme: Scheme) -> dict[int, tuple[Figure, ...]]:
    """Each member's capped figures with the caps that limit them (shown on hover beside a ▲).

    The labels and messages are translated once for all rows, then filled in per cap.
    """
    from flask_babel import gettext as _

    labels = {"month": _("This month"), "quarter": _("This quarter"), "J": _("Basic (J)"), "Z": _("Role (Z)")}
    month_cap, quarter_cap = _("month cap of %(code)s reached"), _("quarter cap of %(code)s reached")
    year_cap, category_cap = _("year cap of %(code)s reached"), _("category cap %(cap)s reached")
    out = {}
    for member_id, score in scores.items():
        notes: dict[str, list[str]] = {"month": [], "quarter": [], "J": [], "Z": []}
        for hit in score.current_caps:
            if hit.scope == "month":
                notes["month"].append(month_cap % {"code": hit.code})
            elif hit.scope == "quarter":
                notes["quarter"].append(quarter_cap % {"code": hit.code})
            elif hit.scope == "year":
                ind = scheme.indicators.get(hit.code)
                if ind is not None and ind.category in notes:
                    notes[ind.category].append(year_cap % {"code": hit.code})
            elif hit.scope == "category" and hit.code in notes:
                notes[hit.code].append(category_cap % {"cap": str(
                    score.basic_cap if hit.code == "J" else score.contribution_cap)})
        values = {"month": score.month.total, "quarter": score.quarter.total, "J": score.j, "Z": score.z}
        out[member_id] = tuple(Figure(labels[k], points(values[k]), "；".join(notes[k])) for k in labels)
    return out


def quick_codes(branch: Branch, scheme: Scheme) -> list[str]:
    """The branch's one-click indicators that this year's scheme still has."""
    return [c for c in (branch.quick_indicators or "").split(",") if c in scheme.indicators
            and not scheme.indicators[c].retired]


def quick_buttons(branch: Branch, scheme: Scheme) -> list[QuickButton]:
    out = []
    for code in quick_codes(branch, scheme):
        ind = scheme.indicators[code]
        out.append(QuickButton(code, f"{code} {localized(ind)}", short_label(ind), ind.is_hours,
                               {t: signed(ind.points_for(t)) for t in scheme.types if ind.applies(t)}))
    return out
