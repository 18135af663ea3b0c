"""The access policy, tested over every URL rule of the app (a new route without a policy fails here).

For each view: its declared policy (``access.requires`` or ``access.public``), then, for each role of
the demo street and each object the URL names, the answer a person gets:

- an object outside the person's scope (another branch, community or street, or none at all): 404,
  whatever the role, for GET and POST alike (nothing is written);
- an object in scope, but a role the view does not allow: 403;
- an object in scope and a role it allows: neither (the page or the form's own answer);
- anonymous: the login page, for every view that is not public.

The scope is worked out here independently of the app (by branch, community and street of each
object), so the test checks the loaders, not just the declarations against themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from qscore import create_app
from qscore.db import db
from qscore.demo import DEMO_PASSWORD
from qscore.models import (CheckinMeeting, DuesLine, Branch, Community, Household, Member, MemberPost, PointEntry, PostKind, Proposal,
                           Publication, RectificationCase, ResidentQuery, SelfRecord, Street, TeamMembership, User,
                           VolunteerTeam)

from .conftest import load_demo_street, make_member, truncate_all

ROLES = {"street_admin": "street", "community_secretary": "community1", "branch_secretary": "branch01",
         "member": "member1"}
# Values for URL arguments that name no object (and so have no scope).
PLAIN = {"year": 2026, "quarter": 1, "action": "confirm", "code": "J1"}
# Review pages speak of the last year, whose review the demo holds.
REVIEW_YEAR = 2025
NOT_SENT = {"auth.logout"}  # would end the session the rest of the test uses


@dataclass
class Scope:
    """What one person may see, by the rules of DOMAIN.md, worked out from the data."""

    user: User

    def branch(self, b: Branch, c: Community) -> bool:
        u = self.user
        if c.street_id != u.street_id:
            return False
        return (u.role == "street_admin" or (u.role == "community_secretary" and c.id == u.community_id)
                or (u.role == "branch_secretary" and b.id == u.branch_id))

    def member(self, m: Member) -> bool:
        if m.id == self.user.member_id:
            return True
        b = db.session.get(Branch, m.branch_id)
        return self.branch(b, db.session.get(Community, b.community_id))

    def community(self, c: Community) -> bool:
        u = self.user
        return c.street_id == u.street_id and (u.role == "street_admin" or (
            u.role in ("community_secretary", "branch_secretary") and c.id == u.community_id))


@pytest.fixture(scope="module")
def street_app(test_config, _schema):
    """The demo street, and a second street beside it (objects of another street are out of everyone's scope)."""
    app = create_app(dict(test_config))
    load_demo_street(app)
    with app.app_context(), app.test_request_context():
        other = Street(name="别的街道", demo=True)
        db.session.add(other)
        db.session.flush()
        community = Community(street_id=other.id, name="别的社区")
        db.session.add(community)
        db.session.flush()
        branch = Branch(community_id=community.id, name="别的支部")
        db.session.add(branch)
        db.session.flush()
        stranger = make_member(branch.id, "外街党员", "A")
        db.session.add(User(username="elsewhere", display_name="外街书记", password_hash="x", role="branch_secretary",
                            street_id=other.id, community_id=community.id, branch_id=branch.id))
        db.session.add(PointEntry(member_id=stranger.id, branch_id=branch.id, year=2026, indicator_code="J1",
                                  category="J", points=1, earned_on=date(2026, 3, 2), note="", source="inline"))
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        truncate_all()
        db.session.remove()
        db.engine.dispose()


def _first(stmt):
    return db.session.execute(stmt.limit(1)).first()


def _samples(scope: Scope) -> dict[str, tuple[int | None, int]]:
    """For each URL argument that names an object: (an id in scope or None, an id outside it)."""
    in_branches = [b.id for b, c in db.session.execute(select(Branch, Community).join(
        Community, Community.id == Branch.community_id).order_by(Branch.id)) if scope.branch(b, c)]
    out_branches = [b.id for b, c in db.session.execute(select(Branch, Community).join(
        Community, Community.id == Branch.community_id).order_by(Branch.id)) if not scope.branch(b, c)]
    members = db.session.scalars(select(Member).where(Member.status == "active").order_by(Member.id)).all()
    own = scope.user.member_id
    in_members = [m.id for m in members if scope.member(m) and (m.id != own or scope.user.role == "member")]
    out_members = [m.id for m in members if not scope.member(m)]

    def pick(model, column, ids, *extra):
        row = _first(select(model.id).where(column.in_(ids), *extra).order_by(model.id)) if ids else None
        return row[0] if row else None

    def pair(model, column, ins, outs, *out_extra):
        missing = (db.session.scalar(select(func.max(model.id))) or 0) + 1_000_000
        return pick(model, column, ins), pick(model, column, outs, *out_extra) or missing

    communities = db.session.scalars(select(Community).order_by(Community.id)).all()
    in_c = [c.id for c in communities if scope.community(c)]
    out_c = [c.id for c in communities if not scope.community(c)]
    case_member = RectificationCase.member_id
    users = db.session.scalars(select(User).order_by(User.id)).all()
    return {
        "branch_id": (in_branches[0] if in_branches else None, out_branches[0]),
        "community_id": (in_c[0] if in_c else None, out_c[0]),
        "member_id": (in_members[0] if in_members else None, out_members[0]),
        "entry_id": pair(PointEntry, PointEntry.member_id, in_members, out_members),
        "record_id": pair(SelfRecord, SelfRecord.member_id, in_members, out_members),
        "dues_line_id": pair(DuesLine, DuesLine.member_id, in_members, out_members),
        "checkin_id": pair(CheckinMeeting, CheckinMeeting.branch_id, in_branches, out_branches),
        "publication_id": pair(Publication, Publication.branch_id, in_branches, out_branches),
        # A case is also its mentor's (a member may mentor a case in another branch).
        "case_id": pair(RectificationCase, case_member, in_members, out_members,
                        func.coalesce(RectificationCase.mentor_member_id, 0) != (own or 0)),
        "proposal_id": pair(Proposal, Proposal.case_id,
                            list(db.session.scalars(select(RectificationCase.id).where(case_member.in_(in_members)))),
                            list(db.session.scalars(select(RectificationCase.id).where(case_member.in_(out_members))))),
        "query_id": pair(ResidentQuery, ResidentQuery.branch_id, in_branches, out_branches),
        "user_id": (next((u.id for u in users if u.street_id == scope.user.street_id), None),
                    next(u.id for u in users if u.street_id != scope.user.street_id)),
        "post_id": pair(MemberPost, MemberPost.member_id, in_members, out_members),
        "household_id": pair(Household, Household.member_id, in_members, out_members),
        "kind_id": pair(PostKind, PostKind.community_id, in_c, out_c),
        "team_id": pair(VolunteerTeam, VolunteerTeam.community_id, in_c, out_c),
        "membership_id": pair(TeamMembership, TeamMembership.team_id,
                              list(db.session.scalars(select(VolunteerTeam.id).where(VolunteerTeam.community_id.in_(in_c)))),
                              list(db.session.scalars(select(VolunteerTeam.id).where(VolunteerTeam.community_id.in_(out_c))))),
    }


def _rules(app):
    return [r for r in sorted(app.url_map.iter_rules(), key=lambda r: r.rule) if r.endpoint != "static"]


def _url(rule, values: dict) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[^:>]+:)?{name}>", str(values[name]), url)
        url = re.sub(rf"<any\([^)]*\):{name}>", str(values[name]), url)
    return url


def test_every_view_declares_its_policy(street_app):
    missing = [r.endpoint for r in _rules(street_app) if not hasattr(street_app.view_functions[r.endpoint], "access")]
    assert missing == []


def test_anonymous_gets_the_login_page_except_on_public_views(street_app):
    client = street_app.test_client()
    with street_app.app_context():
        values = {**PLAIN, **{k: v[0] or v[1] for k, v in _samples(Scope(db.session.scalar(
            select(User).where(User.username == "street")))).items()}}
    for rule in _rules(street_app):
        access = street_app.view_functions[rule.endpoint].access
        if access.public or "GET" not in rule.methods:
            continue
        resp = client.get(_url(rule, {**values, "year": REVIEW_YEAR if "review" in rule.rule else 2026}))
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], rule.rule


@pytest.mark.parametrize("role", list(ROLES))
def test_the_matrix(street_app, role):
    client = street_app.test_client()
    assert client.post("/login", data={"username": ROLES[role], "password": DEMO_PASSWORD}).status_code == 302
    with street_app.app_context():
        u = db.session.scalar(select(User).where(User.username == ROLES[role]))
        samples = _samples(Scope(u))
    wrong: list[str] = []
    checked = 0
    for rule in _rules(street_app):
        access = street_app.view_functions[rule.endpoint].access
        if access.public or rule.endpoint in NOT_SENT:
            continue
        scoped = [a for a in rule.arguments if a in samples]
        year = REVIEW_YEAR if "/review" in rule.rule or rule.endpoint.startswith("review.") else 2026
        base = {**PLAIN, "year": year}
        methods = sorted(rule.methods & {"GET", "POST"})
        # Objects in scope: 403 when the role may not use the view; else the view's own answer.
        if all(samples[a][0] is not None for a in scoped):
            values = {**base, **{a: samples[a][0] for a in scoped}}
            for method in methods:
                allowed = role in access.roles
                if allowed and method == "POST":
                    continue  # an allowed write is the feature tests' business, not the matrix's
                status = client.open(_url(rule, values), method=method).status_code
                checked += 1
                if allowed and status in (401, 403):
                    wrong.append(f"{method} {rule.rule} in scope: {status}, the role is allowed")
                if not allowed and status != 403:
                    wrong.append(f"{method} {rule.rule} in scope: {status}, expected 403")
        # One object outside the scope (the others in it where possible): 404, for every role and method.
        for arg in scoped:
            values = {**base, **{a: samples[a][0] or samples[a][1] for a in scoped}, arg: samples[arg][1]}
            for method in methods:
                status = client.open(_url(rule, values), method=method).status_code
                checked += 1
                if status != 404:
                    wrong.append(f"{method} {rule.rule} with {arg} out of scope: {status}, expected 404")
    assert not wrong, f"{len(wrong)} of {checked} answers wrong for {role}:\n" + "\n".join(wrong)
    assert checked > 100
