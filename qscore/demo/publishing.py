"""The demo's noticeboard: every branch publishes each ended quarter at a meeting after it, once its entries are in;
then residents' queries (群众质询) about three publications: one proves an entry missing (recorded as a
prior-period adjustment that the next publication lists), one about the list as a whole is answered, one waits."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..db import db
from ..ledger import NewEntry, check_entries, write_entries
from ..models import Branch, Member, PointEntry, Reconciliation, ResidentQuery, Street, User
from ..public_snapshot import labels_for, plain_points
from ..publication import members_on_roll, publish, quarter_bounds, snapshot
from .days import working_day
from .records import BranchRecord

if TYPE_CHECKING:
    from .builder import _Builder

# Residents' queries (群众质询): about 前进社区第一党支部 (an entry found missing), 光明社区第一党支部 (the
# list as a whole, answered) and 和平社区第一党支部 (waiting for an answer); indexes into BRANCHES.
QUERY_BRANCHES = (0, 7, 4)
QUERY_ASKERS = (("李女士", "13957112368"), ("王先生", ""), ("", "和平里小区 陈阿姨，电话 13868027715"))
GENERAL_QUESTION = "请问第三类、第四类党员的基础分为什么比第一类党员高？这样公平吗？"
GENERAL_ANSWER = ("您好！按照街道党员分类量化管理办法，四类党员的基础分和加分上限各不相同：第一类（社区工作者党员）"
                  "基础分50分，发挥作用类最多可加35分；第三类（失业、再就业及流动党员）基础分60分、第四类（老弱病残"
                  "行动不便党员）基础分65分，但加分上限较低。这是“有统有分”，既统一要求，又照顾困难党员的实际情况。"
                  "感谢您的关心和监督！")


def publish_ended_quarters(b: _Builder, street: Street, branches: list[Branch]) -> int:
    """Every branch publishes every ended quarter at a meeting after the quarter, once its entries were in.

    Each member is marked reconciled; the publication happens after the last entry earned in the
    quarter was recorded. Residents then ask about three publications (QUERY_BRANCHES): one query
    proved an entry missing, which the branch recorded as a prior-period adjustment and the next
    publication lists (when there is one by today); one is about the list as a whole and answered;
    one came in the last days and waits for an answer.
    """
    count = 0
    for br, orm in zip(b.branches, branches):
        schedule = _publication_days(b, orm)
        this_year = [(y, q) for y, q, _day in schedule if y == b.year]
        # The query that finds a missing entry: about this year's second-last publication (so the last one
        # lists the adjustment), else the only one of this year; early in the year, about a quarter of last
        # year before the fourth (whose adjustments the review soon closes), listed by the next publication.
        target = this_year[-2] if len(this_year) > 1 else this_year[-1] if this_year else next(
            ((y, q) for y, q, _day in reversed(schedule[:-1]) if q != 4), None)
        secretary = db.session.get(User, br.user_id)
        published = []
        for year, quarter, day in schedule:
            if br.index == QUERY_BRANCHES[0] and published and published[-1][0] == target:
                _query_with_adjustment(b, br, orm, published[-1][1], published[-1][2], day, secretary)
            _start, end = quarter_bounds(year, quarter)
            members = members_on_roll(orm.id, end)
            db.session.add_all([Reconciliation(branch_id=orm.id, year=year, quarter=quarter, member_id=m.id,
                                               status="agrees", recorded_by_id=br.user_id,
                                               recorded_at=b.stamp(day, 9)) for m in members])
            db.session.flush()
            present = max(1, len(members) - b.rng.randint(0, max(1, len(members) // 8)))
            pub = publish(branch=orm, year=year, quarter=quarter, user=secretary, today=day, meeting_on=day,
                          present=present, total=len(members), chair=br.secretary.name, street_id=street.id,
                          published_at=b.stamp(day, 11))
            published.append(((year, quarter), pub, day))
            count += 1
        if not published:
            continue
        if br.index == QUERY_BRANCHES[0] and published[-1][0] == target:
            _query_with_adjustment(b, br, orm, published[-1][1], published[-1][2], b.today, secretary)
        elif br.index == QUERY_BRANCHES[1]:
            _general_query(b, br, orm, published, secretary)
        elif br.index == QUERY_BRANCHES[2]:
            _waiting_query(b, br, orm, published[-1][1], published[-1][2])
    return count


def _publication_days(b: _Builder, orm: Branch) -> list[tuple[int, int, date]]:
    """(year, quarter, day) of the quarters the branch has published by today: ten days after the quarter,
    or the day after its last entry was recorded."""
    out = []
    for year in (b.prev, b.year):
        for quarter in (1, 2, 3, 4):
            start, end = quarter_bounds(year, quarter)
            if end >= b.today:
                continue
            latest = db.session.scalar(select(func.max(PointEntry.recorded_at)).join(
                Member, Member.id == PointEntry.member_id).where(
                Member.branch_id == orm.id, PointEntry.earned_on >= start, PointEntry.earned_on <= end))
            day = end + timedelta(days=10)
            if latest is not None and latest.date() >= day:
                day = latest.date() + timedelta(days=1)
            if day <= b.today:
                out.append((year, quarter, day))
    return out


def _query_with_adjustment(b: _Builder, br: BranchRecord, orm: Branch, pub, published_on: date, before: date,
                           secretary: User) -> None:
    """A resident says a volunteer service of the published quarter is missing; the branch checks it, records
    it with the date it was earned (through the ledger: a prior-period adjustment, with its reason) and
    answers, linking the entry. Asked a few days after the publication, answered before ``before``."""
    r = b.rng
    asked = published_on + timedelta(days=r.randint(3, 6))
    answered = asked + timedelta(days=r.randint(2, 4))
    if answered >= before or answered > b.today:
        return
    labels = labels_for(pub)
    start, end = quarter_bounds(pub.year, pub.quarter)
    day = working_day(date(end.year, end.month, 14))
    found = [m for m in br.members if m.id in labels and m.status == "active" and not m.role and not m.special
             and m.type_on(day) != "D" and m.on_roll(day)
             and not any(e["indicator_code"] == "Z3" and start <= e["earned_on"] <= end for e in m.rows)]
    if not found:
        return
    m = r.choice(found)
    she = "她" if m.gender == "F" else "他"
    when = f"{day.month}月{day.day}日"
    # Every rule of the ledger (record_entries), written on the day the branch recorded it.
    [checked] = check_entries([NewEntry(
        member=db.session.get(Member, m.id), indicator_code="Z3", value=Decimal("2"), earned_on=day,
        note=f"群众质询反映{when}小区垃圾分类督导志愿服务2小时漏记，经核实补录", source="query")], today=answered)
    if isinstance(checked, Exception):
        raise checked
    [entry_id] = write_entries([checked], user=secretary, at=b.stamp(answered, 10))
    name, contact = QUERY_ASKERS[0]
    db.session.add(ResidentQuery(
        publication_id=pub.id, branch_id=orm.id, member_label=labels[m.id],
        question=f"公示栏上{labels[m.id]}这个季度的发挥作用类积分好像少算了：{she}{when}和我们一起参加了小区垃圾分类督导"
                 f"志愿服务，请支部核实一下。",
        asker_name=name, asker_contact=contact, created_at=b.stamp(asked, 19),
        answer=f"您好！经核实，该同志{when}参加垃圾分类督导志愿服务2小时，支部当时漏录。已按实际日期补记"
               f"{plain_points(checked.row['points'])}分，作为对{pub.year}年第{pub.quarter}季度公示的调整，列入支部下次公示。感谢您的监督！",
        answered_by_id=secretary.id, answered_at=b.stamp(answered, 16), correction_entry_id=entry_id))


def _general_query(b: _Builder, br: BranchRecord, orm: Branch, published: list, secretary: User) -> None:
    """A question about the list as a whole on the latest publication that has been up a week, answered."""
    r = b.rng
    up = [(pub, day) for _period, pub, day in published if day + timedelta(days=7) <= b.today]
    if not up:
        return
    pub, day = up[-1]
    asked = day + timedelta(days=r.randint(1, 3))
    name, contact = QUERY_ASKERS[1]
    db.session.add(ResidentQuery(
        publication_id=pub.id, branch_id=orm.id, member_label="", question=GENERAL_QUESTION, asker_name=name,
        asker_contact=contact, created_at=b.stamp(asked, 10), answer=GENERAL_ANSWER, answered_by_id=secretary.id,
        answered_at=b.stamp(asked + timedelta(days=r.randint(1, 3)), 15)))


def _waiting_query(b: _Builder, br: BranchRecord, orm: Branch, pub, published_on: date) -> None:
    """A query about a member's deduction on the latest publication, received in the last days."""
    r = b.rng
    asked = max(published_on + timedelta(days=1), b.today - timedelta(days=r.randint(1, 3)))
    if asked > b.today:
        return
    labels = labels_for(pub)
    deducted = [row for row in snapshot(pub) if Decimal(row["K"]) < 0]
    if deducted:
        row = r.choice(deducted)
        label = labels[row["member_id"]]
        question = f"公示栏上{label}这个季度综合扣分类扣了{plain_points(-Decimal(row['K']))}分，请问是因为什么扣的分？"
    else:
        label, question = "", "支部每季度什么时候召开党员大会核对积分？我们群众能不能列席旁听？"
    name, contact = QUERY_ASKERS[2]
    db.session.add(ResidentQuery(publication_id=pub.id, branch_id=orm.id, member_label=label, question=question,
                                 asker_name=name, asker_contact=contact, created_at=b.stamp(asked, 9)))
