"""Residents' queries about published scores (群众监督).

Anyone may ask about a live publication (the page the board's QR code opens, or the office PC):
which member (by the masked name the board shows, never the full name), the question, and an
optional name and contact. CSRF protected, length-limited, throttled per client address in the
database (so the limit holds across processes). The address is kept only for that, for
QUERY_ADDRESS_DAYS, as the form tells the sender (docs/privacy.md, "Residents' questions").
Secretaries answer the queries of their scope, optionally linking the ledger correction the query
led to. Both change the board's query counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select, update
from wtforms import SelectChoice, SelectField
from wtforms.validators import DataRequired

from .access import SECRETARIES, loaded, public, requires, scope_loader
from . import audit
from .access import branches_in_scope, user
from .db import db
from .fields import ArgsForm, Id, IdChoice, Note, Text, args_form
from .htmx import is_htmx
from .models import Branch, Community, Member, PointEntry, Publication, ResidentQuery, User
from .models._common import utcnow
from .public_snapshot import (booklet_numbers, labels_for, member_labels, member_sections, parsed_publications,
                              period_title, signed_points)
from .security import client_ip
from .templating import TYPE_LABELS

bp = Blueprint("queries", __name__)

QUESTION_MAX = 1000
ANSWER_MAX = 2000
CONTACT_MAX = 100  # the columns' length (ResidentQuery.asker_name, asker_contact)
GENERAL = "-"  # the choice for a question about the whole list rather than one member
ANSWERED_SHOWN = 100


class PublicationArg(ArgsForm):
    pub = Id()


class QueryForm(FlaskForm):
    member = SelectField(_l("Which member is it about?"), validators=[
        DataRequired(_l("Choose the member your question is about."))])
    # Autoescaped wherever shown; the field refuses control characters and limits the length.
    question = Note(_l("Your question"), required=_l("Write your question."), max_length=QUESTION_MAX,
                    render_kw={"rows": 6, "maxlength": QUESTION_MAX})
    asker_name = Text(_l("Your name (optional)"), max_length=CONTACT_MAX,
                      render_kw={"maxlength": CONTACT_MAX, "autocomplete": "name"})
    asker_contact = Text(_l("Phone or other contact (optional)"), max_length=CONTACT_MAX,
                         render_kw={"maxlength": CONTACT_MAX, "autocomplete": "tel"})


class AnswerForm(FlaskForm):
    answer = Note(_l("Answer"), required=_l("Write the answer."), max_length=ANSWER_MAX,
                  render_kw={"rows": 4, "maxlength": ANSWER_MAX})
    # The candidates shown are the latest 50; any correction of the branch after the query is accepted.
    correction = IdChoice(_l("Correction made because of this query (optional)"), validate_choice=False)


# ---------------------------------------------------------------------------------------------
# Public: asking
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Asked:
    publication: Publication
    branch: Branch
    community: Community


def _live_publication_or_404() -> Asked:
    pub_id = args_form(PublicationArg).pub.data
    row = db.session.execute(
        select(Publication, Branch, Community).join(Branch, Branch.id == Publication.branch_id)
        .join(Community, Community.id == Branch.community_id).where(Publication.id == pub_id)).first() \
        if pub_id else None
    if row is None or row[0].retracted_at is not None:
        abort(404)
    return Asked(*row)


def throttled(ip: str) -> bool:
    """Too many queries from this address within the last hour (counted in the database)."""
    limit = int(current_app.config.get("QUERIES_PER_HOUR", 5))
    since = utcnow() - timedelta(hours=1)
    sent = db.session.scalar(select(func.count()).select_from(ResidentQuery).where(
        ResidentQuery.ip == ip, ResidentQuery.created_at >= since))
    return sent >= limit


def address_days() -> int:
    # At least a day: the hourly throttle counts the addresses of the last hour.
    return max(1, int(current_app.config["QUERY_ADDRESS_DAYS"]))


def prune_addresses() -> None:
    """Blank the senders' addresses older than QUERY_ADDRESS_DAYS (in the caller's transaction), as
    throttle.record forgets old password checks: each question asked or answered does it."""
    cutoff = utcnow() - timedelta(days=address_days())
    db.session.execute(update(ResidentQuery).where(ResidentQuery.created_at < cutoff, ResidentQuery.ip != "")
                       .values(ip="").execution_options(synchronize_session=False))


def _member_choices(pub: Publication) -> dict:
    """The masked names grouped by type, in the board's order (never the full names)."""
    rows = parsed_publications([pub])[pub.id].rows
    sections = member_sections(rows, labels_for(pub, mask=True))
    choices: dict = {None: [("", _("Choose…")), (GENERAL, _("Not about one member: the list as a whole"))]}
    for code, members in sections:
        choices[str(TYPE_LABELS[code])] = [(m["label"], m["label"]) for m in members]
    return choices


@bp.route("/queries/new", methods=["GET", "POST"])
@public
def new():
    asked = _live_publication_or_404()
    form = QueryForm()
    form.member.choices = _member_choices(asked.publication)
    title = period_title(asked.publication.year, asked.publication.quarter)
    context = {"form": form, "asked": asked, "period": title, "address_days": address_days()}
    if request.method == "POST":
        if throttled(client_ip()):
            return render_template("queries/new.html", throttled=True, **context), 429
        if not form.validate_on_submit():
            return render_template("queries/new.html", **context), 422
        label = "" if form.member.data == GENERAL else form.member.data
        q = ResidentQuery(publication_id=asked.publication.id, branch_id=asked.branch.id, member_label=label,
                          question=form.question.data, asker_name=form.asker_name.data or "",
                          asker_contact=form.asker_contact.data or "", ip=client_ip())
        db.session.add(q)
        db.session.flush()
        logged = audit.record("query_received", q, summary=f"{asked.branch.name} {asked.publication.year}-Q"
                                                           f"{asked.publication.quarter}: {label or 'whole list'}")
        logged.ip = ""  # the append-only log would keep the sender's address for good; the query keeps it a while
        prune_addresses()
        db.session.commit()
        return redirect(url_for("queries.thanks", pub=asked.publication.id))
    return render_template("queries/new.html", **context)


@bp.get("/queries/thanks")
@public
def thanks():
    asked = _live_publication_or_404()
    return render_template("queries/thanks.html", asked=asked,
                           period=period_title(asked.publication.year, asked.publication.quarter))


# ---------------------------------------------------------------------------------------------
# Secretaries: answering
# ---------------------------------------------------------------------------------------------

@dataclass
class QueryView:
    query: ResidentQuery
    publication: Publication
    branch: Branch
    community: Community
    period: str
    member_name: str          # the full name behind the masked label (secretaries of the scope may see it)
    answered_by: str
    correction: PointEntry | None
    correction_member: str
    form: AnswerForm | None


def _correction_candidates(q: ResidentQuery) -> list[tuple[PointEntry, str]]:
    """Entries of the branch an answer may link: corrections recorded after the query, or adjustments."""
    rows = db.session.execute(
        select(PointEntry, Member.name).join(Member, Member.id == PointEntry.member_id)
        .where(PointEntry.branch_id == q.branch_id,
               ((PointEntry.corrects_id.isnot(None)) & (PointEntry.recorded_at >= q.created_at))
               | PointEntry.adjusts_publication_id.isnot(None))
        .order_by(PointEntry.recorded_at.desc(), PointEntry.id.desc()).limit(50))
    return [(e, name) for e, name in rows]


def _valid_correction(q: ResidentQuery, entry_id: int) -> PointEntry | None:
    entry = db.session.get(PointEntry, entry_id)
    if entry is None or entry.branch_id != q.branch_id:
        return None
    if entry.adjusts_publication_id is not None:
        return entry
    if entry.corrects_id is not None and entry.recorded_at >= q.created_at:
        return entry
    return None


def _entry_text(e: PointEntry, name: str) -> str:
    return f"{name} · {e.indicator_code} {signed_points(e.points)} · {e.earned_on.isoformat()} · {e.note[:40]}"


def answer_form(q: ResidentQuery, posted: bool = False) -> AnswerForm:
    """The query's answer form, as posted or new (each query's fields carry its id as their prefix)."""
    form = AnswerForm(prefix=f"q{q.id}") if posted else AnswerForm(formdata=None, prefix=f"q{q.id}")
    form.correction.choices = [SelectChoice("", _("No correction"))] + [
        SelectChoice(str(e.id), _entry_text(e, name)) for e, name in _correction_candidates(q)]
    return form


def _views(rows, forms: dict[int, AnswerForm] | None = None) -> list[QueryView]:
    """Query views with the names behind the labels, the answerer and the linked correction."""
    forms = forms or {}
    pubs = {pub.id: pub for _q, pub, _b, _c in rows}
    parsed = parsed_publications(list(pubs.values()))
    booklets = booklet_numbers(parsed, True)
    names_by_label = {}
    for pid, p in parsed.items():
        labels = member_labels(p.rows, booklets, True)
        names_by_label[pid] = {labels[r["member_id"]]: r["name"] for r in p.rows}
    user_ids = {q.answered_by_id for q, *_ in rows if q.answered_by_id}
    users = {i: d or u for i, d, u in db.session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(user_ids)))} if user_ids else {}
    entry_ids = {q.correction_entry_id for q, *_ in rows if q.correction_entry_id}
    entries = {e.id: (e, name) for e, name in db.session.execute(
        select(PointEntry, Member.name).join(Member, Member.id == PointEntry.member_id)
        .where(PointEntry.id.in_(entry_ids)))} if entry_ids else {}
    out = []
    for q, pub, branch, community in rows:
        entry, entry_member = entries.get(q.correction_entry_id, (None, ""))
        form = None
        if q.answered_at is None:
            form = forms.get(q.id) or answer_form(q)
        out.append(QueryView(q, pub, branch, community, str(period_title(pub.year, pub.quarter)),
                             names_by_label.get(pub.id, {}).get(q.member_label, ""),
                             users.get(q.answered_by_id, ""), entry, entry_member, form))
    return out


def _query_rows(*where, limit: int | None = None):
    scope = branches_in_scope().with_only_columns(Branch.id)
    stmt = (select(ResidentQuery, Publication, Branch, Community)
            .join(Publication, Publication.id == ResidentQuery.publication_id)
            .join(Branch, Branch.id == ResidentQuery.branch_id)
            .join(Community, Community.id == Branch.community_id)
            .where(ResidentQuery.branch_id.in_(scope), *where)
            .order_by(ResidentQuery.created_at.desc(), ResidentQuery.id.desc()))
    if limit:
        stmt = stmt.limit(limit)
    return [tuple(r) for r in db.session.execute(stmt)]


def _counts() -> tuple[int, int]:
    scope = branches_in_scope().with_only_columns(Branch.id)
    received, answered = db.session.execute(
        select(func.count(), func.count(ResidentQuery.answered_at)).where(ResidentQuery.branch_id.in_(scope))).one()
    return received - answered, answered


def _index_page(forms: dict[int, AnswerForm] | None = None, status: int = 200):
    open_rows = _query_rows(ResidentQuery.answered_at.is_(None))
    answered_rows = _query_rows(ResidentQuery.answered_at.isnot(None), limit=ANSWERED_SHOWN)
    open_count, answered_count = _counts()
    resp = make_response(render_template(
        "queries/index.html", open_queries=_views(open_rows, forms), answered=_views(answered_rows),
        open_count=open_count, answered_count=answered_count, answered_shown=ANSWERED_SHOWN), status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/queries")
@requires(SECRETARIES)
def index():
    return _index_page()


def _query_in_scope_or_404(query_id: int) -> tuple:
    return loaded("query_id", query_id)


@scope_loader("query_id")
def _load_query(query_id: int) -> tuple:
    rows = _query_rows(ResidentQuery.id == query_id)
    if not rows:
        abort(404)
    return rows[0]


def _card(row, status: int = 200, *, form: AnswerForm | None = None, oob: bool = False, just_answered: bool = False):
    view = _views([row], {row[0].id: form} if form is not None else None)[0]
    counts = _counts() if oob else None
    resp = make_response(render_template("queries/_query.html", v=view, oob_counts=counts,
                                         just_answered=just_answered), status)
    resp.vary.add("HX-Request")
    return resp


def _conflict():
    """Already answered (perhaps by someone else just now): 409; htmx reloads the list to show that answer."""
    if is_htmx():
        flash(_("This query has already been answered."), "warning")
        resp = make_response("", 409)
        resp.headers["HX-Refresh"] = "true"
        return resp
    abort(409)


@bp.post("/queries/<int:query_id>/answer")
@requires(SECRETARIES)
def answer(query_id: int):
    row = _query_in_scope_or_404(query_id)
    q, _pub, branch, community = row
    if q.answered_at is not None:
        return _conflict()
    form = answer_form(q, posted=True)
    entry = None
    valid = form.validate_on_submit()
    if form.correction.data is not None:
        entry = _valid_correction(q, form.correction.data)
        if entry is None:
            form.correction.errors = [*form.correction.errors, _(
                "Choose a correction or adjustment of this branch recorded after the query.")]
            valid = False
    if not valid:
        if is_htmx():
            return _card(row, 422, form=form)
        return _index_page({q.id: form}, 422)
    prune_addresses()  # before the row lock below: two answers at once then lock in the same order
    # Of two secretaries answering at once, only the first succeeds: the row is locked (SQLite: the
    # writing request's BEGIN IMMEDIATE), read again, and answered only if it still is not.
    db.session.refresh(q, with_for_update=True)
    if q.answered_at is not None:
        db.session.rollback()
        return _conflict()
    q.answer, q.answered_by_id, q.answered_at = form.answer.data, user().id, utcnow()
    q.correction_entry_id = entry.id if entry else None
    db.session.flush()
    audit.record("query_answered", q, summary=f"{branch.name}: {q.member_label or 'whole list'}",
                 after={"answer": form.answer.data, "correction_entry_id": q.correction_entry_id})
    db.session.commit()
    if is_htmx():
        return _card(row, oob=True, just_answered=True)
    flash(_("The answer is saved; the board's count of answered queries is updated."), "success")
    return redirect(url_for("queries.index"))
