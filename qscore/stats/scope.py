"""Which scope (branch, community, street) and period (month, quarter, year, two years) the viewer chose."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_skeleton
from flask import abort
from flask_babel import get_locale, gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from .. import figures as F
from ..access import MEMBER_ADMINS, STREET_ADMIN, branches_in_scope, communities_in_scope, has_role
from ..db import db
from ..models import Branch, Community, Member, PointEntry, Street

@dataclass
class Scope:
    level: str                      # street, community, branch
    key: str                        # "street", "community-3", "branch-7"
    name: str
    branches: list[tuple[Branch, Community]]
    community_ids: list[int]

    @property
    def branch_ids(self) -> list[int]:
        return [b.id for b, _c in self.branches]

    @property
    def branch_level(self) -> bool:
        return self.level == "branch"


def branch_rows_of(stmt) -> list[tuple[Branch, Community]]:
    """(branch, community) rows of a select of branches joined to their community (access.branches_in_scope)."""
    return [tuple(r) for r in db.session.execute(
        stmt.add_columns(Community).order_by(Community.id, Branch.id)).all()]


def scope_options() -> list[dict]:
    """What the viewer may choose, widest first: the street (admin), communities, branches."""
    branches = branch_rows_of(branches_in_scope())
    out: list[dict] = []
    if has_role(STREET_ADMIN):
        out.append({"key": "street", "label": _("The whole street"), "group": None})
    if has_role(MEMBER_ADMINS):
        for c in db.session.scalars(communities_in_scope().order_by(Community.name)):
            out.append({"key": f"community-{c.id}", "label": c.name, "group": _("Communities")})
    for b, c in branches:
        out.append({"key": f"branch-{b.id}", "label": f"{c.name} · {b.name}" if not has_role("branch_secretary") else b.name,
                    "group": _("Branches")})
    return out


def resolve_scope(key: str | None) -> Scope:
    """The viewer's scope by key; out of scope (or unknown) is 404."""
    u = current_user
    options = {o["key"] for o in scope_options()}
    if not key:
        key = ("street" if has_role(STREET_ADMIN) else f"community-{u.community_id}"
               if has_role("community_secretary") else f"branch-{u.branch_id}")
    if key not in options:
        abort(404)
    if key == "street":
        branches = branch_rows_of(branches_in_scope())
        street = db.session.get(Street, u.street_id)
        return Scope("street", key, street.name if street else _("The whole street"), branches,
                     sorted({c.id for _b, c in branches} | set(db.session.scalars(
                         select(Community.id).where(Community.street_id == u.street_id)))))
    level, _sep, raw = key.partition("-")
    ident = int(raw)
    if level == "community":
        branches = branch_rows_of(branches_in_scope().where(Branch.community_id == ident))
        community = db.session.get(Community, ident)
        return Scope("community", key, community.name, branches, [ident])
    branches = branch_rows_of(branches_in_scope().where(Branch.id == ident))
    b, c = branches[0]
    return Scope("branch", key, f"{c.name} · {b.name}", branches, [c.id])


@dataclass(frozen=True)
class PeriodChoice:
    periods: tuple[F.Period, ...]   # one, or two years side by side (earlier first)

    @property
    def key(self) -> str:
        return "+".join(p.key for p in self.periods)

    @property
    def compare(self) -> bool:
        return len(self.periods) == 2

    @property
    def main(self) -> F.Period:
        return self.periods[-1]


def period_label(p: F.Period) -> str:
    if p.kind == "year":
        return _("%(year)d", year=p.year)
    if p.kind == "quarter":
        return _("%(year)d Q%(q)d", year=p.year, q=p.number)
    return format_skeleton("yMMM", p.start, locale=get_locale())


def choice_label(choice: PeriodChoice) -> str:
    if choice.compare:
        return _("%(a)s and %(b)s side by side", a=period_label(choice.periods[0]), b=period_label(choice.periods[1]))
    return period_label(choice.main)


def first_year(day: date) -> int:
    earliest = db.session.scalar(select(func.min(PointEntry.year)).join(Member, Member.id == PointEntry.member_id)
                                 .where(Member.street_id == current_user.street_id))
    return max(min(earliest or day.year, day.year), day.year - 4)


def period_options(day: date) -> list[dict]:
    """Every period that has begun, newest first, grouped: years, two years side by side, quarters, months."""
    first = first_year(day)
    years = list(range(day.year, first - 1, -1))
    groups = [(_("Years"), [PeriodChoice((F.Period("year", y),)) for y in years])]
    if len(years) > 1:
        groups.append((_("Two years side by side"),
                       [PeriodChoice((F.Period("year", y - 1), F.Period("year", y))) for y in years[:-1]]))
    groups.append((_("Quarters"), [PeriodChoice((F.Period("quarter", y, q),)) for y in years for q in (4, 3, 2, 1)
                                   if F.Period("quarter", y, q).start <= day]))
    groups.append((_("Months"), [PeriodChoice((F.Period("month", y, m),)) for y in years for m in range(12, 0, -1)
                                 if date(y, m, 1) <= day]))
    return [{"label": label, "choices": [(c.key, choice_label(c)) for c in choices]} for label, choices in groups]


def resolve_period(raw: str | None, day: date, *, default: F.Period | None = None) -> PeriodChoice:
    if not raw:
        return PeriodChoice((default or F.Period("year", day.year),))
    parts = raw.split("+")
    periods = tuple(F.Period.parse(p) for p in parts)
    if any(p is None for p in periods) or len(periods) > 2:
        abort(404)
    if len(periods) == 2 and not (all(p.kind == "year" for p in periods) and periods[0].year + 1 == periods[1].year):
        abort(404)
    if any(p.start > day for p in periods):
        abort(404)
    return PeriodChoice(periods)


def last_ended_quarter(day: date) -> F.Period:
    p = F.Period.of_quarter(day)
    if p.last <= day:
        return p
    return F.Period("quarter", day.year - 1, 4) if p.number == 1 else F.Period("quarter", day.year, p.number - 1)
