"""The sign-in pages (签到): opening a meeting for sign-in, the office screen with its QR code and rotating
code, the tablet's list of names, a member's phone, and closing the sign-in into the meeting form.

The secretary's pages are scoped like the rest (access.py: a branch secretary their branch). The phone's
page is public by its random address (the QR code), shows only the meeting's branch, date and topic, and
signs in only a member who is logged in, or who types the screen's code and their name. Views parse a form,
call one function of qscore/checkin.py, and render.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import checkin, throttle
from ..access import SECRETARIES, get_branch_or_404, get_checkin_of_branch_or_404, public, requires, user
from ..clock import now as clock_now, today
from ..db import db
from ..htmx import is_htmx, page_or_fragment
from ..models import Branch, CheckinMeeting, Community, Member
from ..qr import qr_svg
from ..scheme_versions import scheme_for_year
from ..security import client_ip
from ..entry.forms import meeting_indicator_choices
from ..meetings import default_indicator
from .forms import CodeForm, OpenForm, OwnForm, PlainForm

bp = Blueprint("checkin", __name__)

POLL_SECONDS = 5  # the screen and the secretary's list refresh this often
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")  # an address in the QR code no phone can reach


def _default_times(now: datetime) -> tuple:
    start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    end = min(start + timedelta(hours=2), start.replace(hour=23, minute=59))
    return start.time(), end.time()


@bp.route("/branches/<int:branch_id>/checkin", methods=["GET", "POST"])
@requires(SECRETARIES)
def index(branch_id: int):
    """The branch's meetings opened for sign-in, and the form to open one."""
    branch, community = get_branch_or_404(branch_id)
    day, now = today(), clock_now()
    opens, closes = _default_times(now)
    form = OpenForm(held_on=day, kind="org_life", opens=opens, closes=closes)
    scheme = scheme_for_year((form.held_on.data or day).year)
    form.indicator.choices = meeting_indicator_choices(scheme)
    if request.method == "GET":
        form.indicator.data = default_indicator(scheme, "org_life")
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                cm = checkin.open_meeting(branch, held_on=form.held_on.data, kind=form.kind.data,
                                          indicator_code=form.indicator.data, topic=form.topic.data,
                                          opens=form.opens.data, closes=form.closes.data, by=user(), now=now)
            except checkin.CheckinError as err:
                db.session.rollback()
                form[err.field].errors = [err.text(_)]
            else:
                db.session.commit()
                flash(_("Sign-in opened. Show the screen page on the office screen, or the name list on a tablet."),
                      "success")
                return redirect(url_for(".manage", branch_id=branch.id, checkin_id=cm.id), 303)
    meetings = checkin.meetings_of(branch)
    return render_template("checkin/index.html", branch=branch, community=community, form=form, meetings=meetings,
                           states={cm.id: checkin.state(cm, now) for cm in meetings}, scheme=scheme), status


def _live(branch: Branch, community: Community, cm: CheckinMeeting, page: str, fragment: str, **extra):
    now = clock_now()
    signed = checkin.signed(cm)
    return page_or_fragment(page, fragment, branch=branch, community=community, cm=cm, signed=signed,
                            state=checkin.state(cm, now), poll_seconds=POLL_SECONDS, now=now,
                            expected=len(checkin.branch_members(branch)), **extra)


@bp.get("/branches/<int:branch_id>/checkin/<int:checkin_id>")
@requires(SECRETARIES)
def manage(branch_id: int, checkin_id: int):
    """The secretary's page of one sign-in: its links, who has signed in (refreshed), and the close."""
    branch, community = get_branch_or_404(branch_id)
    cm = get_checkin_of_branch_or_404(branch, checkin_id)
    return _live(branch, community, cm, "checkin/manage.html", "checkin/_signed.html",
                 phone_url=url_for(".phone", token=cm.token, _external=True),
                 tablet_url=url_for(".tablet", token=cm.tablet_token, _external=True),
                 loopback=request.host.split(":")[0] in LOOPBACK)


@bp.get("/branches/<int:branch_id>/checkin/<int:checkin_id>/screen")
@requires(SECRETARIES)
def screen(branch_id: int, checkin_id: int):
    """The office screen: the QR code of the meeting's address, the code of the moment, and who signed in."""
    branch, community = get_branch_or_404(branch_id)
    cm = get_checkin_of_branch_or_404(branch, checkin_id)
    url = url_for(".phone", token=cm.token, _external=True)
    code, left = checkin.code_now(cm)
    return _live(branch, community, cm, "checkin/screen.html", "checkin/_screen_live.html", url=url, code=code,
                 code_left=left, code_minutes=checkin.CODE_SECONDS // 60,
                 qr=qr_svg(url, css_class="checkin-qr-code", label=_("QR code of the sign-in page: %(url)s", url=url)))


@bp.post("/branches/<int:branch_id>/checkin/<int:checkin_id>/close")
@requires(SECRETARIES)
def close(branch_id: int, checkin_id: int):
    """End the sign-in and go on to the meeting form, where the sign-ins are the attendance."""
    branch, _c = get_branch_or_404(branch_id)
    cm = get_checkin_of_branch_or_404(branch, checkin_id)
    if not PlainForm().validate_on_submit():
        flash(_("The page had expired: press the button again."), "error")
        return redirect(url_for(".manage", branch_id=branch.id, checkin_id=cm.id), 303)
    if cm.meeting_id is not None:
        flash(_("This meeting is already recorded."), "info")
        return redirect(url_for(".manage", branch_id=branch.id, checkin_id=cm.id), 303)
    checkin.close(cm, by=user())
    db.session.commit()
    return redirect(url_for("entry.meeting_form", branch_id=branch.id, checkin=cm.id), 303)


# -- the door: the tablet, and the member's phone (public, by the meeting's random addresses) ---------------

def _meeting_by(token: str, *, tablet: bool = False) -> tuple[CheckinMeeting, Branch]:
    cm = checkin.by_token(token, tablet=tablet)
    if cm is None:
        abort(404)
    return cm, db.session.get(Branch, cm.branch_id)


@bp.get("/checkin/tablet/<token>")
@public
def tablet(token: str):
    """Large name buttons in pinyin order, with a letter bar: a tap signs the member in. The page of a tablet
    left at the door: its address lets it tap for this meeting, and nothing else (no login, no menu)."""
    cm, branch = _meeting_by(token, tablet=True)
    return render_template("checkin/tablet.html", branch=branch, cm=cm, groups=checkin.tablet_members(cm),
                           state=checkin.state(cm, clock_now()), form=PlainForm(formdata=None))


@bp.post("/checkin/tablet/<token>/<int:member_id>")
@public
def tap(token: str, member_id: int):
    cm, branch = _meeting_by(token, tablet=True)
    member = db.session.get(Member, member_id)
    if member is None or member.branch_id != cm.branch_id:
        abort(404)
    error, status = "", 200
    if not PlainForm().validate_on_submit():
        error, status = _("The page had expired: tap the name again."), 422
    else:
        try:
            checkin.tablet_sign_in(cm, member, address=client_ip(), now=clock_now())
        except checkin.CheckinError as err:
            error, status = err.text(_), 422  # said on the button, which htmx swaps in (4xx other than 422 it would not)
        db.session.commit()  # the sign-in, or the log of a refusal from outside the street's networks
    if not is_htmx():
        if error:
            flash(error, "error")
        return redirect(url_for(".tablet", token=token) + f"#m{member.id}", 303)
    done = checkin.has_signed(cm, member.id)
    return render_template("checkin/_tap.html", cm=cm, member_id=member.id, name=member.name, done=done, error=error,
                           open=checkin.state(cm, clock_now()) == "open", tablet_token=token,
                           said=error or (_("Signed in: %(name)s", name=member.name) if done else "")), status


@bp.route("/checkin/<token>", methods=["GET", "POST"])
@public
def phone(token: str):
    cm, branch = _meeting_by(token)
    now = clock_now()
    own_member = (db.session.get(Member, current_user.member_id)
                  if current_user.is_authenticated and current_user.member_id else None)
    code_form, own_form = CodeForm(), OwnForm()
    done: checkin.SignedIn | None = None
    error, status, headers = "", 200, {}
    if request.method == "POST":
        by_account = own_form.way.data == "account" and own_member is not None
        form = own_form if by_account else code_form
        status = 422
        if form.validate_on_submit():
            try:
                done = checkin.phone_sign_in(cm, user=user() if by_account else None, code=code_form.code.data,
                                             name=code_form.name.data, address=client_ip(), now=now)
                status = 200
            except checkin.Throttled as err:
                error, status, headers = throttle.message(err.wait, "second_step"), 429, {"Retry-After": str(err.wait)}
            except checkin.CheckinError as err:
                error, status = err.text(_), err.status
                if err.field:
                    code_form[err.field].errors, error = [error], ""
    signed_before = checkin.has_signed(cm, own_member.id) if own_member is not None and done is None else None
    # Rendered before the commit, which would expire what the page shows and have it read again.
    page = render_template("checkin/phone.html", cm=cm, branch=branch, state=checkin.state(cm, now), done=done,
                           error=error, code_form=code_form, own_form=own_form, own_member=own_member,
                           signed_before=signed_before, today=now.date())
    if request.method == "POST":
        db.session.commit()  # the sign-in, or what a refusal logged (a wrong code, an outside address)
    return page, status, headers
