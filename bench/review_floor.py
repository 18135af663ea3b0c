"""The floor of a branch's year-end review page: GET /branches/<branch_id>/review/<year>.

What the page shows (qscore/review/views.py ``page`` -> qscore/review/data.py ``review_data`` ->
templates/review/page.html): the members on the branch's roll at the end of the year, each with
type, J / Z / K, year score to date, the meeting's flags (veto, heavier deductions, absence and
arrears runs, probationary), the suggested grade and its reasons in words; the counts of the
decided grades; the draft / confirmed banner, the meeting record and the lock checklist; the
meeting's decisions and rectification cases when a review exists.

The floor, in the style of floors.py: authenticate (Floors.session), authorise (Floors.branch),
read the scheme (Floors.scheme), then grouped raw queries, whatever the branch's size:
  1. the review row of (branch, year) with its confirming user, and the live Q4 publication;
  2. the members on the roll at year end (branch spell and time on the roll) with their type
     records (one row per type record);
  3. the year's live sums per member / indicator / category / month, up to the day;
  4. the dues register of the roll's members: their monthly amounts, and the year's live payment sums and
     exemptions per member and month up to the last month ended (voids and the lines they void left out):
     for a member with an amount set, the arrears run is the longest run of months owed on the register
     (as qscore.review.data.load_rows reads it through qscore.dues.owed_months); for the others, K2 entries;
  5. only when a review exists: its decisions, their rectification cases and the mentors' names.
Scores, grades and flags come from the pure rule functions (score_member, review_flags); the
texts from the Chinese catalog, read once at import (static per deployment, like the page chrome
of floors.nav_by_role). HTML by html.escape and joins, wrapped by Floors.page. No ORM, no
templates, no caches of results.

``review_cells`` extracts the visible figures from either the app's page or the floor's.
"""
from __future__ import annotations

import html
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel.support import Translations

from qscore.review.data import FLAG_TEXTS
from qscore.scoring import REASON_TEXTS, MemberLedger, RegisterMonths, month_index, review_flags, score_member, ym

from .dues_floor import dec, month_last
from .floors import LIVE, TYPE_LABEL, Floors, pts

E = html.escape

# The Chinese catalog the app serves by default (zh_CN), loaded once.
_CAT = Translations.load(str(Path(__file__).resolve().parent.parent / "qscore" / "translations"), ["zh_Hans_CN"])
_ = _CAT.gettext
REASON_ZH = {k: _(v) for k, v in REASON_TEXTS.items()}
FLAG_ZH = {k: _(v) for k, v in FLAG_TEXTS.items()}
GRADE_ZH = {"advanced": _("Advanced"), "qualified": _("Qualified"), "rectify": _("Rectification"),
            "none": _("Not graded")}
PROPOSAL_ZH = {"persuade_withdraw": _("Persuade to withdraw"), "expel": _("Expel"),
               "cancel_probation": _("Cancel the probation")}
L = {k: _(k) for k in (
    "Year-end review", "Print the grade table", "Export to Excel", "Draft", "Go to the publication of quarter 4",
    "Confirmed", "Grades decided", "On the roll at year end", "Still to decide", "The branch general meeting",
    "Date of the meeting", "Members present", "Members in total", "Chaired by", "Minutes (what was discussed)",
    "Save the meeting", "Record the meeting", "Members present / total", "Confirm the grades",
    "The review is confirmed and locked. Grades are final.", "The branch general meeting is recorded",
    "Every member has a decision", "Confirm and lock the review", "Every item above must be done first.",
    "Confirm the grades and lock the review? Only the street office can reopen it.",
    "Confirm all remaining suggestions", "Confirm the suggested grade of every member not yet decided?",
    "Name", "Type", "Basic (J)", "Role (Z)", "Deductions (K)", "Year score", "Flags", "Suggested grade and why",
    "The meeting's decision", "probationary", "changed by the meeting", "Rectification case", "Confirm suggestion",
    "Change", "Other grade…", "not decided", "Rectification cases", "Member", "Mentor", "Deadline", "State",
    "not assigned yet", "Open", "extended", "Rectified", "Proposal with the street",
    "Closed: the review changed the grade", "Closed", "Reopen the review",
    "Only the street office may reopen a confirmed review, with the reason. The grades stay as they are until "
    "the branch changes them and confirms again.", "Reason", "Reopen the confirmed review?", "Reopen",
    "Each member's year score with the suggested grade and why. The branch general meeting confirms each "
    "suggestion or decides another grade with its reason.")}
F = {k: _(k) for k in (  # python-format msgids
    "Year-end review %(y)d", "Members on the roll at the end of %(y)d", "Quarter 4 of %(y)d is published",
    "%(n)d to go", "The meeting is recorded here once quarter 4 of %(y)d is published.",
    "Nobody is on the branch's roll at the end of %(y)d.",
    "Quarter 4 of %(y)d is not published yet, so these are suggestions only. The meeting can decide once the "
    "branch has published the quarter.",
    "Locked on %(when)s by %(who)s, at the branch general meeting of %(d)s. The grades are final.",
    "Suggested: %(a)d advanced, %(q)d qualified, %(r)d rectification, %(n)d not graded.",
    "%(n)d decision(s) need deciding again: the suggestion changed.",
    "The suggestion has changed since (it was: %(g)s). Decide again.")}
GRADES = ("advanced", "qualified", "rectify", "none")
SUBTITLE = L["Each member's year score with the suggested grade and why. The branch general meeting confirms each "
             "suggestion or decides another grade with its reason."]
DECISION_COL = L["The meeting's decision"]
NOBODY = F["Nobody is on the branch's roll at the end of %(y)d."]
REOPEN_HINT = L["Only the street office may reopen a confirmed review, with the reason. The grades stay as they are "
                "until the branch changes them and confirms again."]
STALE = F["The suggestion has changed since (it was: %(g)s). Decide again."]


def _badge(code: str | None) -> str:
    code = code or "none"
    return f'<span class="grade grade-{code}">{GRADE_ZH.get(code, code)}</span>'


def _case_status(status: str, outcome: str) -> str:
    if status == "open":
        return (f'<span class="status status-running">{L["Open"]}'
                + (f' · {L["extended"]}' if outcome == "extended" else "") + "</span>")
    if status == "rectified":
        return f'<span class="status status-published">{L["Rectified"]}</span>'
    if status == "proposed":
        return f'<span class="status status-open">{L["Proposal with the street"]}</span>'
    if status == "closed":
        text = (L["Closed: the review changed the grade"] if outcome == "grade_changed"
                else f'{L["Closed"]}: {PROPOSAL_ZH.get(outcome, E(outcome))}')
        return f'<span class="status status-closed">{text}</span>'
    return E(status)


def review_page(f: Floors, token: str, branch_id: int, year: int) -> str:
    user = f.session(token)
    b = f.branch(branch_id, user)
    day = f.today
    if not (2000 <= year <= day.year):
        raise LookupError("no such year")
    _vid, scheme = f.scheme(year)
    th = scheme.thresholds
    end = date(year, 12, 31)
    as_of = min(day, end)
    last_month = as_of.month if as_of.year == year else 12
    d_end = f.c.d(end)

    # 1. the review and the live Q4 publication, in one round trip
    rv = f.rows('SELECT (SELECT id FROM publication WHERE branch_id = ? AND year = ? AND quarter = 4 '
                'AND retracted_at IS NULL LIMIT 1), r.id, r.status, r.meeting_on, r.members_present, '
                'r.members_total, r.chair, r.minutes, r.confirmed_at, cu.display_name, cu.username '
                'FROM (SELECT 1 AS one) x LEFT JOIN year_review r ON r.branch_id = ? AND r.year = ? '
                'LEFT JOIN "user" cu ON cu.id = r.confirmed_by_id', (branch_id, year, branch_id, year))[0]
    q4 = rv[0] is not None
    review = rv[1:] if rv[1] is not None else None
    status = review[1] if review else "none"
    meeting_done = bool(review and review[2] is not None and review[4] is not None and review[3] is not None)

    # 2. the roll at year end, with type records
    roll = ("SELECT s.member_id FROM branch_spell s WHERE s.branch_id = ? AND s.starts_on <= ? "
            "AND (s.ends_on IS NULL OR s.ends_on > ?)")
    members: dict[int, tuple] = {}
    histories: dict[int, list] = defaultdict(list)
    for mid, name, prob, since, left, mstatus, start, code, name_key in f.rows(
            "SELECT m.id, m.name, m.probationary, m.on_roll_since, m.left_roll_on, m.status, t.effective_from, "
            "t.type_code, m.name_key "
            f"FROM member m LEFT JOIN member_type t ON t.member_id = m.id WHERE m.id IN ({roll}) "
            "AND m.on_roll_since <= ? AND (m.left_roll_on IS NULL OR m.left_roll_on > ?) "
            "ORDER BY m.id, t.effective_from, t.id", (branch_id, d_end, d_end, d_end, d_end)):
        if mid not in members:
            members[mid] = (mid, name, bool(prob), f._date(since), f._date(left) if left else None, mstatus, name_key)
        if code is None:
            raise LookupError(f"member {mid} has no type record")  # the app: MissingTypeHistory, a 500
        histories[mid].append((f._date(start), code))

    # 3. the year's live sums up to the day
    ledgers: dict[int, MemberLedger] = defaultdict(MemberLedger)
    if members:
        ledgers = f.ledgers(
            f"SELECT p.member_id, p.indicator_code, p.category, {f.month}, SUM(p.points), COUNT(*), "
            f"MIN(p.earned_on) FROM point_entry p WHERE p.member_id IN ({roll}) AND p.earned_on >= ? "
            f"AND p.earned_on <= ? AND {LIVE} GROUP BY 1, 2, 3, 4",
            (branch_id, d_end, d_end, f.c.d(date(year, 1, 1)), f.c.d(as_of)))

    # 4. the dues register (members with a monthly amount set): the amounts, and each month's live payments and
    # exemption, for the months of the year ended by as_of (a void line and the line it voids don't count)
    last_ended = last_month if month_last(year, last_month) <= as_of else last_month - 1
    rates: dict[int, list] = defaultdict(list)
    paid: dict[tuple[int, int], tuple] = {}
    if members:
        for mid, start, monthly in f.rows(f"SELECT r.member_id, r.effective_from, r.monthly FROM dues_rate r "
                                          f"WHERE r.member_id IN ({roll}) ORDER BY 1, 2, r.id", (branch_id, d_end, d_end)):
            rates[mid].append((f._date(start), dec(monthly)))
    if rates and last_ended >= 1:
        for mid, mo, amount, exempt in f.rows(
                "SELECT l.member_id, l.month, SUM(CASE WHEN l.kind = 'payment' THEN l.amount ELSE 0 END), "
                "MAX(CASE WHEN l.kind = 'exemption' THEN 1 ELSE 0 END) FROM dues_line l "
                f"WHERE l.member_id IN ({roll}) AND l.year = ? AND l.month <= ? AND l.kind <> 'void' AND NOT EXISTS "
                "(SELECT 1 FROM dues_line v WHERE v.corrects_id = l.id AND v.kind = 'void') "
                "AND (l.kind <> 'payment' OR l.paid_on <= ?) GROUP BY 1, 2",
                (branch_id, d_end, d_end, year, last_ended, f.c.d(as_of))):
            paid[(mid, mo)] = (dec(amount or 0), bool(exempt))

    def arrears(mid: int, since: date, left: date | None) -> RegisterMonths:
        """The months owed (on the roll, an amount above 0 in force, not exempt, paid short by as_of), from the
        month of the member's first amount on (the ledger's arrears entries tell the months before)."""
        owed = []
        for mo in range(1, last_ended + 1):
            first = date(year, mo, 1)
            if not (since <= month_last(year, mo) and (left is None or left > first)):
                continue
            due = next((v for start, v in reversed(rates[mid]) if start <= first), None)
            got, exempt = paid.get((mid, mo), (Decimal(0), False))
            if due is not None and due > 0 and not exempt and got < due:
                owed.append(mo)
        first_rate = rates[mid][0][0]
        return RegisterMonths((first_rate.year, first_rate.month), frozenset((year, mo) for mo in owed))

    # 5. the meeting's decisions and their cases (only once a review exists)
    decisions: dict[int, tuple] = {}
    if review is not None and members:
        for row in f.rows(
                "SELECT g.member_id, g.grade, g.suggested, g.override_reason, c.id, c.deadline, c.status, c.outcome, "
                "c.mentor_member_id, mm.name, NULL FROM review_grade g "
                "LEFT JOIN rectification_case c ON c.review_grade_id = g.id LEFT JOIN member mm ON mm.id = c.mentor_member_id "
                "WHERE g.review_id = ?", (review[0],)):
            if row[0] in members:
                decisions[row[0]] = row

    # scores, grades, flags
    editable = q4 and status != "confirmed"
    rows = []
    for m in sorted(members.values(), key=lambda m: (m[6], m[1], m[0])):  # pinyin, as every list of the app
        mid = m[0]
        s = score_member(scheme, year, as_of, histories[mid], ledgers[mid], on_roll_since=m[3], left_roll_on=m[4],
                         status=m[5], member_id=mid)
        fl = review_flags(scheme, ledgers[mid], last_month, year=year,
                          register=arrears(mid, m[3], m[4]) if mid in rates else None)
        flags = [("danger", FLAG_ZH["veto"].format(indicator=c, date=d.isoformat())) for c, d in fl.vetoes]
        flags += [("danger", FLAG_ZH["heavier"].format(indicator=c, date=d.isoformat())) for c, d in fl.heavier]
        for key, run in (("absence_run", fl.absence_run), ("arrears_run", fl.arrears_run)):
            if run[0] >= th.warning_streak_months:
                flags.append(("danger" if run[0] >= th.rectify_streak_months else "warn", FLAG_ZH[key].format(
                    months=str(run[0]), start=ym(month_index(year, run[1])), end=ym(month_index(year, run[2])))))
        if m[2]:
            flags.append(("info", FLAG_ZH["probationary"]))
        rows.append((m, s, flags, decisions.get(mid)))

    suggested = defaultdict(int)
    decided = dict.fromkeys(GRADES, 0)
    stale = 0
    for _m, s, _fl, d in rows:
        sug = s.grade.code or "none"
        suggested[sug] += 1
        if d is not None:
            decided[d[1]] = decided.get(d[1], 0) + 1
            stale += d[2] != sug
    n_members = len(rows)
    remaining = n_members - sum(decided.values())
    bid = b[0]
    base = f"/branches/{bid}/review/{year}"
    title = F["Year-end review %(y)d"] % {"y": year}

    out = [f'<div class="page-header"><div><p class="eyebrow"><a href="/review">{L["Year-end review"]}</a> · '
           f'{E(b[5])}</p><h1>{E(b[1])} · {title}</h1><p class="page-subtitle">{SUBTITLE}</p></div>'
           f'<div class="page-actions"><a class="btn" href="{base}/print">{L["Print the grade table"]}</a>',
           f'<a class="btn" href="{base}/export.xlsx">{L["Export to Excel"]}</a>' if status == "confirmed" else "",
           '</div></div>\n']
    if not q4:
        out.append(f'<div class="review-banner banner-draft" role="status"><strong>{L["Draft"]}</strong> '
                   + F["Quarter 4 of %(y)d is not published yet, so these are suggestions only. The meeting can "
                       "decide once the branch has published the quarter."] % {"y": year}
                   + (f' <a href="/branches/{bid}/quarters/{year}/4">{L["Go to the publication of quarter 4"]}</a>'
                      if year < day.year else "") + "</div>\n")
    elif status == "confirmed":
        who = review[8] or review[9] or "—"
        out.append(f'<div class="review-banner banner-confirmed" role="status"><strong>{L["Confirmed"]}</strong> '
                   + E(F["Locked on %(when)s by %(who)s, at the branch general meeting of %(d)s. The grades are final."]
                       % {"when": f._local(review[7]) if review[7] else "", "who": who,
                          "d": f._date(review[2]).isoformat() if review[2] else "—"}) + "</div>\n")
    # the counts of decided grades
    out.append(f'<section id="review-counts" class="stats-row review-counts" aria-label="{L["Grades decided"]}">'
               f'<div class="stat"><div class="stat-value">{n_members}</div><div class="stat-label">'
               f'{L["On the roll at year end"]}</div></div>')
    for g in GRADES:
        out.append(f'<div class="stat stat-{g}"><div class="stat-value" id="count-{g}">{decided.get(g, 0)}</div>'
                   f'<div class="stat-label">{GRADE_ZH[g]}</div></div>')
    out.append(f'<div class="stat stat-remaining"><div class="stat-value" id="count-remaining">{remaining}</div>'
               f'<div class="stat-label">{L["Still to decide"]}</div></div></section>\n<div class="review-top">')
    # the meeting
    out.append('<section class="card review-meeting" aria-labelledby="review-meeting-title"><h2 class="card-title" '
               f'id="review-meeting-title">{L["The branch general meeting"]}</h2>')
    if editable:
        def v(i):
            return "" if review is None or review[i] is None else E(str(review[i]))
        out.append(f'<form method="post" action="{base}/meeting" novalidate><input type="hidden" name="csrf_token" '
                   f'value="{f.csrf()}"><div class="meeting-grid"><div class="field"><label class="field-label" '
                   f'for="meeting_on">{L["Date of the meeting"]}</label><input class="input" type="date" id="meeting_on" '
                   f'name="meeting_on" max="{day.isoformat()}" min="{year + 1}-01-01" '
                   f'value="{f._date(review[2]).isoformat() if review and review[2] else ""}"></div>'
                   f'<div class="field"><label class="field-label" for="present">{L["Members present"]}</label>'
                   f'<input class="input" id="present" name="present" inputmode="numeric" value="{v(3)}"></div>'
                   f'<div class="field"><label class="field-label" for="total">{L["Members in total"]}</label>'
                   f'<input class="input" id="total" name="total" inputmode="numeric" '
                   f'value="{v(4) if review and review[4] is not None else n_members}"></div>'
                   f'<div class="field"><label class="field-label" for="chair">{L["Chaired by"]}</label>'
                   f'<input class="input" id="chair" name="chair" maxlength="100" value="{v(5)}"></div></div>'
                   f'<div class="field"><label class="field-label" for="minutes">{L["Minutes (what was discussed)"]}'
                   f'</label><textarea class="input" id="minutes" name="minutes" rows="2" maxlength="5000">{v(6)}'
                   f'</textarea></div><button class="btn" type="submit">'
                   f'{L["Save the meeting"] if review and review[2] else L["Record the meeting"]}</button></form>')
    elif review and review[2]:
        out.append(f'<dl class="facts"><div><dt>{L["Date of the meeting"]}</dt><dd>{f._date(review[2]).isoformat()}'
                   f'</dd></div><div><dt>{L["Members present / total"]}</dt><dd>{review[3]} / {review[4]}</dd></div>'
                   f'<div><dt>{L["Chaired by"]}</dt><dd>{E(review[5] or "—")}</dd></div></dl>'
                   + (f'<p class="minutes">{E(review[6])}</p>' if review[6] else ""))
    else:
        out.append(f'<p class="muted">{F["The meeting is recorded here once quarter 4 of %(y)d is published."] % {"y": year}}</p>')
    out.append('</section>')
    # the lock panel
    out.append('<section id="review-lock" class="card review-lock" aria-labelledby="review-lock-title">'
               f'<h2 class="card-title" id="review-lock-title">{L["Confirm the grades"]}</h2>')
    if status == "confirmed":
        out.append(f'<p>{L["The review is confirmed and locked. Grades are final."]}</p>')
    else:
        ready = q4 and meeting_done and remaining == 0
        out.append(f'<ul class="checklist"><li class="{"ok" if q4 else "todo"}">'
                   f'{F["Quarter 4 of %(y)d is published"] % {"y": year}}</li>'
                   f'<li class="{"ok" if meeting_done else "todo"}">{L["The branch general meeting is recorded"]}</li>'
                   f'<li class="{"ok" if remaining == 0 else "todo"}">{L["Every member has a decision"]}'
                   + (f' ({F["%(n)d to go"] % {"n": remaining}})' if remaining else "") + "</li></ul>")
        if q4:
            out.append(f'<form method="post" action="{base}/confirm"><input type="hidden" name="csrf_token" '
                       f'value="{f.csrf()}"><button class="btn btn-primary btn-block" type="submit"'
                       + ("" if ready else ' aria-describedby="review-lock-hint"')
                       + f' data-confirm="{E(L["Confirm the grades and lock the review? Only the street office can reopen it."])}">'
                       f'{L["Confirm and lock the review"]}</button>'
                       + ("" if ready else f'<p class="field-hint" id="review-lock-hint">'
                                           f'{L["Every item above must be done first."]}</p>') + "</form>")
    out.append('</section></div>\n')
    # the table
    out.append('<section class="card review-card" aria-labelledby="review-table-title"><div class="card-title-row">'
               f'<h2 class="card-title" id="review-table-title">{F["Members on the roll at the end of %(y)d"] % {"y": year}}'
               '</h2><div id="review-bulk">')
    if editable and remaining:
        out.append(f'<button class="btn btn-primary" hx-post="{base}/confirm-all" hx-target="#review-rows" '
                   f'hx-swap="outerHTML" data-confirm="{E(L["Confirm the suggested grade of every member not yet decided?"])}">'
                   f'{L["Confirm all remaining suggestions"]}</button>')
    out.append('</div></div><p class="muted small">'
               + F["Suggested: %(a)d advanced, %(q)d qualified, %(r)d rectification, %(n)d not graded."]
               % {"a": suggested["advanced"], "q": suggested["qualified"], "r": suggested["rectify"],
                  "n": suggested["none"]}
               + (f' <strong class="warn-text">{F["%(n)d decision(s) need deciding again: the suggestion changed."] % {"n": stale}}'
                  '</strong>' if stale else "")
               + '</p><div class="table-wrap"><table class="table review-table"><thead><tr>'
               f'<th scope="col">{L["Name"]}</th><th scope="col">{L["Type"]}</th>'
               f'<th scope="col" class="num">{L["Basic (J)"]}</th><th scope="col" class="num">{L["Role (Z)"]}</th>'
               f'<th scope="col" class="num">{L["Deductions (K)"]}</th><th scope="col" class="num">{L["Year score"]}</th>'
               f'<th scope="col">{L["Flags"]}</th><th scope="col">{L["Suggested grade and why"]}</th>'
               f'<th scope="col">{DECISION_COL}</th></tr></thead>\n'
               '<tbody id="review-rows" hx-target="closest tr" hx-swap="outerHTML">\n')
    own = user[7]
    for m, s, flags, d in rows:
        mid = m[0]
        sug = s.grade.code or "none"
        is_stale = d is not None and d[2] != sug
        t = s.type_code
        parts = [f'<tr id="review-member-{mid}-row" class="review-row{" is-decided" if d else ""}'
                 f'{" is-stale" if is_stale else ""}">\n<th scope="row" class="name-cell">{E(m[1])}',
                 f' <span class="tag">{L["probationary"]}</span>' if m[2] else "",
                 f'</th>\n<td><span class="type-badge type-{t.lower()}">{TYPE_LABEL[t]}</span></td>\n'
                 f'<td class="num">{pts(s.j)}</td>\n<td class="num">{pts(s.z)}</td>\n'
                 f'<td class="num {"neg" if s.k < 0 else ""}">{pts(s.k)}</td>\n'
                 f'<td class="num strong score-cell">{pts(s.score)}</td>\n<td class="flags-cell">',
                 ('<ul class="flag-list">' + "".join(f'<li class="flag flag-{lv}">{E(text)}</li>' for lv, text in flags)
                  + "</ul>") if flags else '<span class="muted">—</span>',
                 f'</td>\n<td class="suggestion-cell">{_badge(sug)}']
        reasons = s.grade.reasons
        if reasons:
            parts.append('<ul class="reason-list">' + "".join(
                f"<li>{E(REASON_ZH[r.key].format(**r.params))}</li>" for r in reasons) + "</ul>")
        parts.append('</td>\n<td class="decision-cell">')
        if d is not None:
            parts.append(f'<div class="decision">{_badge(d[1])}'
                         + (f' <span class="tag tag-override">{L["changed by the meeting"]}</span>'
                            if d[1] != d[2] else "") + "</div>")
            if d[3]:
                parts.append(f'<p class="small decision-reason">{E(d[3])}</p>')
            if is_stale:
                parts.append(f'<p class="small warn-text">'
                             f'{E(STALE % {"g": GRADE_ZH.get(d[2], d[2])})}</p>')
            if d[4] is not None:
                parts.append(f'<p class="small"><a href="/cases/{d[4]}">{L["Rectification case"]}</a></p>')
        if editable:
            parts.append('<div class="btn-row">')
            if d is None or is_stale:
                parts.append(f'<button class="btn btn-small btn-primary" hx-post="{base}/members/{mid}/grade" '
                             f'hx-vals=\'{{"action": "confirm"}}\'>{L["Confirm suggestion"]}</button>')
            if own != mid:
                parts.append(f'<button class="btn btn-small" hx-get="{base}/members/{mid}/override">'
                             f'{L["Change"] if d else L["Other grade…"]}</button>')
            parts.append("</div>")
        elif d is None:
            parts.append(f'<span class="muted small">{L["not decided"]}</span>')
        parts.append("</td>\n</tr>\n")
        out.append("".join(parts))
    if not rows:
        out.append(f'<tr><td colspan="9" class="empty">{NOBODY % {"y": year}}</td></tr>')
    out.append("</tbody></table></div></section>\n")
    # rectification cases
    with_case = [(m, d) for m, _s, _f, d in rows if d is not None and d[4] is not None]
    if with_case:
        out.append(f'<section class="card" aria-labelledby="review-cases-title"><h2 class="card-title" '
                   f'id="review-cases-title">{L["Rectification cases"]}</h2><table class="table"><thead><tr>'
                   f'<th scope="col">{L["Member"]}</th><th scope="col">{L["Mentor"]}</th>'
                   f'<th scope="col">{L["Deadline"]}</th><th scope="col">{L["State"]}</th></tr></thead><tbody>')
        for m, d in with_case:
            mentor = E(d[9] or d[10]) if d[8] is not None and (d[9] or d[10]) else L["not assigned yet"]
            out.append(f'<tr><th scope="row"><a href="/cases/{d[4]}">{E(m[1])}</a></th><td>{mentor}</td>'
                       f'<td>{f._date(d[5]).isoformat()}</td><td>{_case_status(d[6], d[7])}</td></tr>')
        out.append("</tbody></table></section>\n")
    if status == "confirmed" and user[3] == "street_admin":
        out.append(f'<section class="card" aria-labelledby="review-reopen-title"><h2 class="card-title" '
                   f'id="review-reopen-title">{L["Reopen the review"]}</h2><p class="muted small">'
                   f'{REOPEN_HINT}'
                   f'</p><form method="post" action="{base}/reopen" novalidate><input type="hidden" name="csrf_token" '
                   f'value="{f.csrf()}"><div class="field"><label class="field-label" for="reopen-reason">{L["Reason"]}'
                   '</label><textarea class="input" id="reopen-reason" name="reason" rows="2" maxlength="2000">'
                   f'</textarea></div><button class="btn" type="submit" data-confirm="{E(L["Reopen the confirmed review?"])}">'
                   f'{L["Reopen"]}</button></form></section>\n')
    page = f.page(user, f"{b[1]} · {title}", "".join(out), base, "page page-wide")
    return page.replace("</head>", '<link rel="stylesheet" href="/static/review.css">\n</head>', 1)


# -- what both pages show, for comparing them ------------------------------------------------------
_ROW = re.compile(r'<tr id="review-member-(\d+)-row" class="([^"]*)">(.*?)</tr>', re.S)
_NAME = re.compile(r'class="name-cell">(.*?)</th>', re.S)
_TYPE = re.compile(r'type-badge type-(\w+)')
_NUM = re.compile(r'<td class="num[^"]*">([^<]*)</td>')
_FLAGS = re.compile(r'<li class="flag flag-(\w+)">([^<]*)</li>')
_SUGG = re.compile(r'class="suggestion-cell"><span class="grade grade-(\w+)">[^<]*</span>(.*?)</td>', re.S)
_LI = re.compile(r"<li>([^<]*)</li>")
_DECISION = re.compile(r'class="decision"><span class="grade grade-(\w+)">')
_COUNT = re.compile(r'id="count-(\w+)">([^<]*)<')
_TAGS = re.compile(r"<[^>]+>")


def _text(s: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", s)).split())


def review_cells(page: str) -> dict:
    """The visible figures of a review page (the app's or the floor's): per member, in table order, its
    name, type, J / Z / K, year score, flags (level and words), suggested grade and reasons, decision;
    the counts of decided grades, the suggested-grades line, the banner and the lock checklist."""
    rows = []
    for mid, cls, body in _ROW.findall(page):
        sugg = _SUGG.search(body)
        dec = _DECISION.search(body)
        rows.append({
            "id": int(mid),
            "state": sorted(c for c in cls.split() if c in ("is-decided", "is-stale")),
            "name": _text(_NAME.search(body).group(1)),
            "type": _TYPE.search(body).group(1),
            "figures": _NUM.findall(body),  # J, Z, K, year score
            "flags": [(lv, html.unescape(t)) for lv, t in _FLAGS.findall(body)],
            "suggested": sugg.group(1),
            "reasons": [html.unescape(t) for t in _LI.findall(sugg.group(2))],
            "decision": dec.group(1) if dec else None,
        })
    summary = re.search(r'<p class="muted small">(.*?)</p>', page[page.find('id="review-table-title"'):], re.S)
    banner = re.search(r'class="review-banner (banner-\w+)"', page)
    return {
        "rows": rows,
        "counts": dict(_COUNT.findall(page)),
        "on_roll": re.search(r'<div class="stat"><div class="stat-value">(\d+)</div>', page).group(1),
        "suggested": _text(summary.group(1)) if summary else None,
        "banner": banner.group(1) if banner else None,
        "checklist": re.findall(r'<li class="(ok|todo)">([^<]*)</li>', page),
        "cases": re.findall(r'<tr><th scope="row"><a href="/cases/(\d+)">', page),
    }
