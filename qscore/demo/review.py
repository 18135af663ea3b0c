"""The demo's past year's review (issue 7): confirmed by every branch a few days after publishing quarter 4,
with one override, and the rectification cases it opened under way, extended, closed as rectified, or
(the lost mobile member's) proposed for expulsion to the street."""
from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..access import own_record
from ..db import db
from ..models import Branch, Community, Member, RectificationCase, Street, User
from ..publication import live_publication
from ..review.data import load_rows
from ..review.grading import confirm_review, decide_many, ensure_review, record_meeting
from ..review.rectification import add_follow_up, assign_mentor, close_rectified, extend_case, propose, write_plan
from ..review.rules import add_months
from .days import working_day
from .records import BranchRecord, MemberRecord

if TYPE_CHECKING:
    from .builder import _Builder

# The problems of a case, in the words a branch would write them (the rectify reasons of qscore/scoring).
DEMO_PROBLEMS = {
    "veto": "受党纪处分，一票否决（{date}）",
    "score_below_qualified": "年度积分{score}分，低于合格线{min}分",
    "absence_streak": "连续{months}个月无故缺席组织生活（{start}至{end}）",
    "dues_arrears_streak": "连续{months}个月未按时交纳党费（{start}至{end}）",
}
DEMO_OVERRIDE = "该同志此期间因病住院治疗，会后补交了住院证明，经支部大会讨论同意评为合格"
DEMO_PLAN = ("1. 联系人每月至少谈心谈话一次，了解思想和生活情况；\n2. 带领参加主题党日和志愿服务，按时交纳党费；\n"
             "3. 每季度向支部书面汇报整改情况。")
DEMO_FOLLOW_UPS = ("上门谈心谈话，本人认识到问题，表示愿意整改", "电话联系，提醒按时参加主题党日并交纳党费",
                   "陪同参加社区志愿服务活动，表现积极", "与家属沟通，共同做好思想工作",
                   "一起学习党章和党员义务，本人写了书面认识", "本月按时参加主题党日，党费已补交，继续跟踪")
DEMO_STATEMENT = "本人长期在外地务工，与支部失去联系，未按时交纳党费，经多次联系后表示接受组织处理。"
DEMO_EXTENSION = "有一定转变，但按时交纳党费、参加组织生活尚不稳定，延长整改期继续观察"
DEMO_RECTIFIED = "经帮扶教育，该同志按时参加组织生活、交纳党费，积极参加志愿服务，整改到位，经支委会研究同意结束整改"
# What becomes of the cases opened at the review, in turn (the lost member's is proposed for expulsion).
CASE_STAGES = ("extended", "rectified", "under_way")
DEMO_EARLY_REASON = "本人已明确表示不再参加组织生活、不交纳党费，帮扶人多次上门和电话联系均无转变，支部大会决定提前提出。"


def review_past_year(b: _Builder, street: Street, branches: list[Branch]) -> int:
    """Every branch holds its review of the past year a few days after publishing quarter 4.

    The meeting confirms the suggestions, with one override with its reason; each rectification
    case gets a mentor (a member of the branch, one with an account where there is one), a plan, a
    deadline and the mentor's follow-ups, and then goes its own way (CASE_STAGES); the case of the
    lost mobile member is proposed for expulsion and waits in the street's approval queue. The same
    transitions as the app's (review.grading, review.rectification).
    """
    year, r = b.prev, b.rng
    scheme = b.schemes[year]
    users = {u.id: u for u in db.session.scalars(select(User).where(User.street_id == street.id))}
    communities = {c.id: c for c in db.session.scalars(select(Community).where(Community.street_id == street.id))}
    member_accounts = {m.id: users[m.user_id] for m in b.account_members}
    community_secretary = {u.community_id: u for u in users.values() if u.role == "community_secretary"}
    by_id = {m.id: m for m in b.members}
    meetings = []  # (branch, orm, day, rows) of every branch that has held its review by today
    for br, orm in zip(b.branches, branches):
        q4 = live_publication(orm.id, year, 4)
        if q4 is None:
            continue
        published_on = q4.published_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(b.tz).date()
        day = working_day(published_on + timedelta(days=r.randint(4, 9)))
        if day <= b.today:
            meetings.append((br, orm, day, load_rows(orm.id, year, b.today, scheme, None)))
    # The one override: a member suggested for rectification by an absence streak alone (a stay in
    # hospital the branch learnt of late), else one rectified on streaks or score but no veto.
    rectify = [row for *_x, rows in meetings for row in rows if row.suggested == "rectify"]
    keys = lambda row: [x.key for x in row.reasons]  # noqa: E731
    override = next((row for row in rectify if keys(row) == ["absence_streak"]), None) or next(
        (row for row in rectify if "veto" not in keys(row)), None)
    staged = 0  # cases opened so far (but the lost member's), for their stages
    for br, orm, day, rows in meetings:
        secretary = users[br.user_id]
        review = ensure_review(orm.id, year, secretary)
        present = len(rows) - r.randint(1, max(1, len(rows) // 10))
        record_meeting(review, meeting_on=day, present=present, total=len(rows), chair=br.secretary.name,
                       minutes=f"{year}年度党员民主评议暨积分等次评定，逐一宣读积分及建议等次，与会党员讨论表决。",
                       user=secretary, today=day)
        problems: dict[int, str] = {}
        decisions = []
        for row in rows:
            grade, reason = (("qualified", DEMO_OVERRIDE) if row is override else (row.suggested, ""))
            decisions.append((row.member, row.suggested, row.score.score, row.reasons_json, grade, reason))
            if grade == "rectify":
                problems[row.member.id] = "\n".join(
                    DEMO_PROBLEMS[x.key].format(**{k: v.removesuffix(".0") for k, v in x.params.items()})
                    for x in row.reasons if x.key in DEMO_PROBLEMS)
        decide_many(review, decisions, user=secretary, at=b.stamp(day, 15))
        # The secretary's own grade is recorded by the community secretary (four eyes).
        own = [d for d in decisions if own_record(d[0].id, secretary)]
        if own:
            decide_many(review, own, user=community_secretary[orm.community_id], at=b.stamp(day, 15))
        opened = confirm_review(review, current={row.member.id: (row.suggested, row.score.score, row.reasons_json)
                                                 for row in rows},
                                problems=problems, period_months=scheme.rectification_period_months, user=secretary,
                                today=day, at=b.stamp(day, 17))
        for case in opened:
            m = by_id[case.member_id]
            stage = "lost" if m.special == "lost" else CASE_STAGES[staged % len(CASE_STAGES)]
            staged += m.special != "lost"
            _demo_case(b, case, m, br, communities[orm.community_id], secretary, users, member_accounts, day,
                       len(rows), stage)
    return len(meetings)


def _demo_case(b: _Builder, case, m: MemberRecord, br: BranchRecord, community: Community, secretary: User,
               users: dict[int, User], member_accounts: dict[int, User], opened: date, roll: int, stage: str) -> None:
    """Mentor, plan and the mentor's monthly talks; then by ``stage``: the lost member proposed for expulsion,
    a case extended when its first deadline passed, one closed as rectified once it has been followed for four
    months, the others under way (extended too if today is past their deadline)."""
    r = b.rng
    member = db.session.get(Member, m.id)
    # A member of the branch mentors: one with an account where there is one (so the demo's members see "my
    # cases"), else the secretary, else another member on the branch's roll.
    mentoring = set(db.session.scalars(select(RectificationCase.mentor_member_id)))
    mentor_id = next((mid for mid, u in member_accounts.items() if u.branch_id == member.branch_id and mid != m.id
                      and mid not in mentoring), None)
    if mentor_id is None:
        mentor_id = secretary.member_id if secretary.member_id not in (None, m.id) else db.session.scalar(
            select(Member.id).where(Member.branch_id == member.branch_id, Member.status == "active", Member.id != m.id)
            .order_by(Member.id))
    mentor = db.session.get(Member, mentor_id)
    mentor_user = member_accounts.get(mentor_id, secretary)  # who writes the mentor's follow-ups
    planned = min(opened + timedelta(days=r.randint(2, 6)), b.today)
    assign_mentor(case, mentor=mentor, member=member, branch=db.session.get(Branch, member.branch_id), user=secretary)
    # The case to extend gets a first stage of three months when six would not have passed by today.
    months = 3 if stage == "extended" and add_months(opened, 6) > b.today else 6
    write_plan(case, problems=case.problems, plan=DEMO_PLAN, deadline=add_months(opened, months), user=secretary,
               today=planned)
    # The mentor's talks, about monthly (the plan's "at least once a month"), up to today.
    talks, d = [], planned + timedelta(days=r.randint(18, 30))
    while d < b.today:
        talks.append(d)
        d += timedelta(days=r.randint(25, 35))
    texts = r.sample(DEMO_FOLLOW_UPS, len(DEMO_FOLLOW_UPS))
    if m.special == "lost":
        talks = talks[:2]
    closing = add_months(opened, 4) + timedelta(days=r.randint(1, 10)) if stage == "rectified" else None
    if closing is not None and (closing > b.today or len([t for t in talks if t < closing]) < 3):
        closing = None  # too early in the year to close it: the case is still under way
    extension = None
    if m.special != "lost" and closing is None and case.deadline <= b.today:
        # The branch extends a case whose deadline passed, by three months or six, to a day after today.
        later = [d for d in (add_months(case.deadline, 3), add_months(case.deadline, 6)) if d > b.today]
        extension = ((min(case.deadline + timedelta(days=r.randint(1, 7)), b.today), later[0]) if later
                     else (b.today, b.today + timedelta(days=r.randint(60, 90))))
    for i, d in enumerate(t for t in talks if closing is None or t < closing):
        if extension is not None and extension[0] <= d:
            extend_case(case, deadline=extension[1], reason=DEMO_EXTENSION, user=secretary, today=extension[0],
                        at=b.stamp(extension[0], 9))
            extension = None
        add_follow_up(case, on=d, text=texts[i % len(texts)], user=mentor_user, today=d, opened_on=opened,
                      at=b.stamp(d))
    if extension is not None:
        extend_case(case, deadline=extension[1], reason=DEMO_EXTENSION, user=secretary, today=extension[0],
                    at=b.stamp(extension[0], 9))
    if closing is not None:
        close_rectified(case, note=DEMO_RECTIFIED, user=secretary)
    if m.special == "lost" and talks:
        meeting = working_day(talks[-1] + timedelta(days=r.randint(10, 20)))
        if meeting < b.today:
            present = roll - r.randint(1, 3)
            propose(case, member, kind="cancel_probation" if member.probationary else "expel", meeting_on=meeting,
                    present=present, total=roll, votes_for=present - 1, votes_against=0, votes_abstain=1,
                    statement=DEMO_STATEMENT, user=secretary, today=meeting, opened_on=opened,
                    early_reason=DEMO_EARLY_REASON if meeting <= case.deadline else "", at=b.stamp(meeting, 18))
