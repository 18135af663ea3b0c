"""Sign-in at the door (签到): a secretary opens a meeting for sign-in, members sign in, the close hands the
sign-ins to the meeting form (qscore/meetings.py), whose one save writes the entries.

No request here: the views pass who acts, from which address, and the street's wall-clock time (``now``,
clock.now()). A member signs in

- on their own phone, logged in (``way="account"``), or with the screen's code and their name (``"code"``);
  both through the meeting's address, refused from outside the street's network when the street set its
  address ranges (setting ``checkin_networks``);
- by a tap on the secretary's tablet (``"tablet"``): the secretary's own session, in their scope.

A sign-in needs the meeting open: from ``opens_at`` until ``closes_at``, and not yet closed by the secretary.
Signing in twice keeps the first sign-in and writes nothing. Members of other branches sign in where the
street's flexible attendance lets them attend any branch (meetings.guest_query); they become the meeting
form's guests. The screen's code is an HMAC of the meeting's secret and the time step (as in RFC 6238, but with
four digits and a three-minute step, which pyotp refuses since NIST's rules for logins): it changes every few
minutes, and the one shown just before still works, for a member who was typing when it changed.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time as clock_time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import audit, throttle
from .db import db
from .idempotency import entries_with_key_prefix
from .meetings import MEETING_ERROR_TEXTS, AlreadyRecorded, MeetingInput, MeetingRecorded, branch_members, guest_query, meeting_indicators, \
    record_branch_meeting
from .models import MEETING_KINDS, Branch, Checkin, CheckinMeeting, Community, Member, User
from .models._common import utcnow
from .refusals import Refusal
from .scheme import N_
from .scheme_versions import scheme_for_year
from .street_settings import get_setting

CODE_DIGITS = 4  # typed on a phone by members of every age: four digits, with the name beside it
CODE_SECONDS = 180  # the screen's code changes every three minutes
DAYS_AHEAD = 60  # a meeting may be opened for sign-in up to two months ahead
NAME_MAX = Member.name.type.length
TOPIC_MAX = CheckinMeeting.topic.type.length

CHECKIN_TEXTS = {
    # What a meeting's fields are refused for, said as the meeting form says it.
    **{k: MEETING_ERROR_TEXTS[k] for k in ("kind_unknown", "indicator_required", "topic_required", "too_long")},
    "day_past": N_("Choose today or a later day: sign-in is for a meeting still to be held."),
    "day_far": N_("Choose a day within {days} days from today."),
    "closes_first": N_("The end must be later than the start."),
    "closes_past": N_("It is {time} already: choose an end still to come."),
    "not_on_roll": N_("{name} is no longer on the roll."),
    "waiting": N_("Sign-in opens at {time}."),
    "waiting_day": N_("Sign-in opens on {day} at {time}."),
    "closed": N_("Sign-in for this meeting has closed."),
    "wrong_code": N_("That is not the code on the screen. It changes every few minutes: look again and retype it."),
    "name_required": N_("Type your full name."),
    "name_unknown": N_("No member who may attend this meeting has that name: type your full name as on the roll, "
                       "or tap it on the tablet at the door."),
    "name_shared": N_("Several members have that name: tap yours on the tablet at the door, or ask the secretary."),
    "no_member": N_("This account belongs to no member: sign in with the code on the screen and your name."),
    "not_invited": N_("Members of your branch cannot sign in at this branch's meeting."),
    "network": N_("Sign-in only works on the street's own network (its Wi-Fi): connect to it and try again."),
    "recorded": N_("This meeting is already recorded."),
}


class CheckinError(Refusal):
    TEXTS = CHECKIN_TEXTS


@dataclass(frozen=True)
class SignedIn:
    checkin: Checkin
    member: Member
    new: bool  # False: the member had signed in before, nothing was written


# -- opening ----------------------------------------------------------------------------------------------

def open_meeting(branch: Branch, *, held_on: date, kind: str, indicator_code: str | None, topic: str,
                 opens: clock_time, closes: clock_time, by: User, now: datetime) -> CheckinMeeting:
    """A meeting open for sign-in on ``held_on`` from ``opens`` to ``closes`` (the street's clock, ``now``
    on it), or CheckinError naming the first field that is wrong (nothing written). The same sign-in sent
    twice (a double click) is the one opened first, not a second one with another QR code."""
    today = now.date()
    topic = (topic or "").strip()
    if kind not in MEETING_KINDS:
        raise CheckinError("kind_unknown", "kind")
    if not topic:
        raise CheckinError("topic_required", "topic")
    if len(topic) > TOPIC_MAX:
        raise CheckinError("too_long", "topic", max=TOPIC_MAX)
    if held_on < today:
        raise CheckinError("day_past", "held_on")
    if held_on > today + timedelta(days=DAYS_AHEAD):
        raise CheckinError("day_far", "held_on", days=DAYS_AHEAD)
    if not any(i.code == indicator_code for i in meeting_indicators(scheme_for_year(held_on.year))):
        raise CheckinError("indicator_required", "indicator")
    if closes <= opens:
        raise CheckinError("closes_first", "closes")
    if datetime.combine(held_on, closes) <= now:
        raise CheckinError("closes_past", "closes", time=f"{now:%H:%M}")
    same = db.session.scalar(select(CheckinMeeting).where(
        CheckinMeeting.branch_id == branch.id, CheckinMeeting.held_on == held_on, CheckinMeeting.topic == topic,
        CheckinMeeting.kind == kind, CheckinMeeting.opens_at == datetime.combine(held_on, opens),
        CheckinMeeting.closes_at == datetime.combine(held_on, closes), CheckinMeeting.meeting_id.is_(None),
        CheckinMeeting.closed_at.is_(None)).limit(1))
    if same is not None:
        return same
    cm = CheckinMeeting(branch_id=branch.id, held_on=held_on, kind=kind, indicator_code=indicator_code, topic=topic,
                        opens_at=datetime.combine(held_on, opens), closes_at=datetime.combine(held_on, closes),
                        token=secrets.token_urlsafe(16), tablet_token=secrets.token_urlsafe(16),
                        code_secret=secrets.token_hex(16), opened_by_id=by.id)
    db.session.add(cm)
    db.session.flush()
    audit.record("checkin_opened", cm, user=by,
                 summary=f"{branch.name} {held_on} {opens:%H:%M}-{closes:%H:%M} {kind} {indicator_code} {topic}")
    return cm


def state(cm: CheckinMeeting, now: datetime) -> str:
    """"waiting" (before it opens), "open", or "closed" (its time is over, or the secretary closed it)."""
    if cm.closed_at is not None or cm.meeting_id is not None or now >= cm.closes_at:
        return "closed"
    return "waiting" if now < cm.opens_at else "open"


def close(cm: CheckinMeeting, *, by: User) -> bool:
    """Stop sign-ins (once): True if this closed it."""
    if cm.closed_at is not None:
        return False
    cm.closed_at, cm.closed_by_id = utcnow(), by.id
    audit.record("checkin_closed", cm, user=by, summary=f"{cm.held_on} {cm.topic}: {count(cm)} signed in")
    return True


def by_token(token: str, *, tablet: bool = False) -> CheckinMeeting | None:
    """The meeting of a phone address's token (or, ``tablet``, of the tablet's); None for anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", token or ""):  # what token_urlsafe makes, and nothing else
        return None
    column = CheckinMeeting.tablet_token if tablet else CheckinMeeting.token
    return db.session.scalar(select(CheckinMeeting).where(column == token))


def meetings_of(branch: Branch, limit: int = 20) -> list[CheckinMeeting]:
    return list(db.session.scalars(select(CheckinMeeting).where(CheckinMeeting.branch_id == branch.id)
                                   .order_by(CheckinMeeting.held_on.desc(), CheckinMeeting.id.desc()).limit(limit)))


# -- the screen's code ------------------------------------------------------------------------------------

def _code(cm: CheckinMeeting, step: int) -> str:
    digest = hmac.new(cm.code_secret.encode(), b"checkin-code\0%d" % step, hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10 ** CODE_DIGITS:0{CODE_DIGITS}d}"


def code_now(cm: CheckinMeeting, at: float | None = None) -> tuple[str, int]:
    """The code the screen shows now, and the seconds until it changes (real time, whatever the date)."""
    at = time.time() if at is None else at
    return _code(cm, int(at) // CODE_SECONDS), CODE_SECONDS - int(at) % CODE_SECONDS


def code_fits(cm: CheckinMeeting, typed: str, at: float | None = None) -> bool:
    """The code typed is the screen's now or the one before it (full-width digits of a Chinese keyboard too)."""
    typed = "".join(unicodedata.normalize("NFKC", typed or "").split())
    if len(typed) != CODE_DIGITS or not typed.isascii() or not typed.isdigit():
        return False
    step = int(time.time() if at is None else at) // CODE_SECONDS
    return any(hmac.compare_digest(_code(cm, step + offset), typed) for offset in (0, -1))


# -- who may sign in --------------------------------------------------------------------------------------

def _street_id(cm: CheckinMeeting) -> int:
    return db.session.scalar(select(Community.street_id).join(Branch, Branch.community_id == Community.id)
                             .where(Branch.id == cm.branch_id))


def network_allows(cm: CheckinMeeting, address: str) -> bool:
    """No ranges set: any address. Else the address must be in one of the street's ranges."""
    ranges = get_setting(_street_id(cm), "checkin_networks") or []
    if not ranges:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:10.20.3.4 on a dual-stack server is 10.20.3.4
    return any(ip in ipaddress.ip_network(r, strict=False) for r in ranges)


def parse_networks(text: str) -> list[str]:
    """Address ranges as typed (one per line or separated by commas or spaces) in their written form;
    ValueError naming the first that is not one."""
    out = []
    for part in text.replace(",", " ").replace("，", " ").split():
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(part[:60]) from None
    return out


def may_attend(cm: CheckinMeeting, member: Member) -> bool:
    """A member of the branch, or of a branch whose members may attend any branch (flexible attendance)."""
    if member.status != "active":
        return False
    if member.branch_id == cm.branch_id:
        return True
    branch = db.session.get(Branch, cm.branch_id)
    return db.session.execute(guest_query(branch).where(Member.id == member.id)).first() is not None


_DOTS = str.maketrans({c: "·" for c in "•．.・‧∙⋅"})


def normalise_name(text: str | None) -> str:
    """A name as compared: full-width forms folded, spaces dropped ("张 伟" is 张伟), and the dots between the
    parts of a Uyghur or foreign name made one (热依拉•艾力 is 热依拉·艾力)."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).translate(_DOTS)


def member_named(cm: CheckinMeeting, name: str) -> Member:
    """The one member who may attend with this name, or CheckinError."""
    name = normalise_name(name)
    if not name:
        raise CheckinError("name_required", "name")
    if len(name) > NAME_MAX:
        raise CheckinError("name_unknown", "name")
    branch = db.session.get(Branch, cm.branch_id)
    # Compared as normalised on both sides (a roll name may hold a space or another dot): the branch's
    # members first, then those of the branches that may attend any branch.
    own = [i for i, n in db.session.execute(select(Member.id, Member.name).where(
        Member.branch_id == cm.branch_id, Member.status == "active")) if normalise_name(n) == name]
    found = own or [m.id for m, _b in db.session.execute(guest_query(branch)) if normalise_name(m.name) == name]
    if not found:
        raise CheckinError("name_unknown", "name")
    if len(found) > 1:
        raise CheckinError("name_shared", "name")
    return db.session.get(Member, found[0])


# -- signing in -------------------------------------------------------------------------------------------

def _refuse_unless_open(cm: CheckinMeeting, now: datetime) -> None:
    s = state(cm, now)
    if s == "waiting" and cm.held_on != now.date():
        raise CheckinError("waiting_day", day=cm.held_on.isoformat(), time=f"{cm.opens_at:%H:%M}", status=409)
    if s == "waiting":
        raise CheckinError("waiting", time=f"{cm.opens_at:%H:%M}", status=409)
    if s == "closed":
        raise CheckinError("closed", status=409)


def sign_in(cm: CheckinMeeting, member: Member, *, way: str, by: User | None, address: str,
            now: datetime) -> SignedIn:
    """The member's sign-in (in the current transaction); the first one stands if they signed in before.

    The meeting's row is read again under a lock (PostgreSQL; SQLite serialises writers already): a sign-in
    and the meeting's recording do not cross, so every sign-in stored is one the recorder saw, or refused."""
    db.session.refresh(cm, with_for_update=True)
    _refuse_unless_open(cm, now)
    if member.status != "active":
        raise CheckinError("not_on_roll", name=member.name, status=422)
    if not may_attend(cm, member):
        raise CheckinError("not_invited", status=422)
    before = db.session.scalar(select(Checkin).where(Checkin.checkin_meeting_id == cm.id,
                                                     Checkin.member_id == member.id))
    if before is not None:
        return SignedIn(before, member, False)
    row = Checkin(checkin_meeting_id=cm.id, member_id=member.id, way=way, by_id=getattr(by, "id", None),
                  ip=address[:64])
    try:
        with db.session.begin_nested():  # two taps at once: the second finds the first's row
            db.session.add(row)
    except IntegrityError:
        first = db.session.scalar(select(Checkin).where(Checkin.checkin_meeting_id == cm.id,
                                                        Checkin.member_id == member.id))
        return SignedIn(first, member, False)
    audit.record("checkin_signed", row, member_id=member.id, user=by,
                 summary=f"{member.name} {cm.held_on} {cm.topic} ({way})")
    return SignedIn(row, member, True)


def sign_in_own(cm: CheckinMeeting, user: User, *, address: str, now: datetime) -> SignedIn:
    """A member logged in on their own phone."""
    _refuse_unless_open(cm, now)
    if not network_allows(cm, address):
        _refused(cm, address, "network", user)
    member = db.session.get(Member, user.member_id) if user.member_id else None
    if member is None:
        raise CheckinError("no_member", status=403)
    return sign_in(cm, member, way="account", by=user, address=address, now=now)


def sign_in_with_code(cm: CheckinMeeting, code: str, name: str, *, address: str, now: datetime,
                      at: float | None = None) -> SignedIn:
    """A member with the screen's code and their name. Wrong codes are throttled like passwords (throttle.py),
    the meeting standing for the account: per address a few wrong tries and each further one waits longer, and
    at most 50 an hour from all addresses together, so four digits are not guessed."""
    _refuse_unless_open(cm, now)
    account = f"checkin-{cm.id}"
    if not network_allows(cm, address):
        throttle.record("checkin", account, address, False)  # counted like a wrong code: no flood of the log
        _refused(cm, address, "network", None)
    if not code_fits(cm, code, at):
        throttle.record("checkin", account, address, False)
        raise CheckinError("wrong_code", "code")
    member = member_named(cm, name)
    throttle.record("checkin", account, address, True)
    return sign_in(cm, member, way="code", by=None, address=address, now=now)


def _refused(cm: CheckinMeeting, address: str, key: str, user: User | None):
    """Refused from outside the street's network: logged (committed by the caller), then refused."""
    audit.record("checkin_refused", cm, user=user,
                 summary=f"{cm.held_on} {cm.topic}: from {address[:64] or '?'}, outside the street's networks")
    raise CheckinError(key, status=403)


class Throttled(Refusal):
    """Too many wrong codes: the next try waits ``wait`` seconds (throttle.message says it)."""

    def __init__(self, wait: int):
        self.wait = wait
        super().__init__("throttled", status=429)


def phone_sign_in(cm: CheckinMeeting, *, user: User | None, code: str | None, name: str | None, address: str,
                  now: datetime) -> SignedIn:
    """A sign-in from the meeting's address: as the member logged in (``user``), else with the screen's code
    and a name, after the throttle's wait. Raises CheckinError or Throttled; what a refusal logged (a wrong
    code, an address outside the street's networks) is in the session for the caller to commit."""
    if user is not None:
        return sign_in_own(cm, user, address=address, now=now)
    wait = throttle.check("checkin", f"checkin-{cm.id}", address)
    if wait:
        raise Throttled(wait)
    return sign_in_with_code(cm, code or "", name or "", address=address, now=now)


def tablet_sign_in(cm: CheckinMeeting, member: Member, *, address: str, now: datetime) -> SignedIn:
    """A tap on the tablet at the door: a member of the branch, from the street's networks."""
    if member.branch_id != cm.branch_id:
        raise CheckinError("not_invited", status=422)
    if not network_allows(cm, address):
        _refused(cm, address, "network", None)
    return sign_in(cm, member, way="tablet", by=None, address=address, now=now)


# -- reading ----------------------------------------------------------------------------------------------

def count(cm: CheckinMeeting) -> int:
    return db.session.scalar(select(func.count()).select_from(Checkin).where(Checkin.checkin_meeting_id == cm.id))


def has_signed(cm: CheckinMeeting, member_id: int) -> bool:
    return db.session.scalar(select(Checkin.id).where(Checkin.checkin_meeting_id == cm.id,
                                                      Checkin.member_id == member_id)) is not None


def signed(cm: CheckinMeeting) -> list[tuple[Checkin, Member, str]]:
    """(sign-in, member, home branch name) in the order they signed in."""
    return [tuple(r) for r in db.session.execute(
        select(Checkin, Member, Branch.name).join(Member, Member.id == Checkin.member_id)
        .join(Branch, Branch.id == Member.branch_id)
        .where(Checkin.checkin_meeting_id == cm.id).order_by(Checkin.at, Checkin.id))]


def tablet_members(cm: CheckinMeeting) -> list[tuple[str, list[tuple[int, str, bool]]]]:
    """The branch's members for the tablet, grouped by the first letter of the name's pinyin:
    [("Z", [(member id, name, signed in), ...]), ...]."""
    branch = db.session.get(Branch, cm.branch_id)
    done = set(db.session.scalars(select(Checkin.member_id).where(Checkin.checkin_meeting_id == cm.id)))
    groups: dict[str, list[tuple[int, str, bool]]] = {}
    for m in branch_members(branch):
        key = (m.name_key or "#")[:1].upper()
        letter = key if "A" <= key <= "Z" else "#"
        groups.setdefault(letter, []).append((m.id, m.name, m.id in done))
    return list(groups.items())


def attendance(cm: CheckinMeeting) -> tuple[dict[int, str], list[int]]:
    """What the meeting form starts from: "attended" for each member of the branch who signed in, and the
    guests (members of other branches) who signed in."""
    statuses, guest_ids = {}, []
    for _c, m, _b in signed(cm):
        if m.branch_id == cm.branch_id:
            statuses[m.id] = "attended"
        else:
            guest_ids.append(m.id)
    return statuses, guest_ids


def record(cm: CheckinMeeting, branch: Branch, data: MeetingInput, *, by: User, today: date, key: str,
           gettext: Callable[..., str], members: Sequence | None = None, scheme=None) -> MeetingRecorded:
    """Record the meeting the sign-ins were for (meetings.record_branch_meeting) and link it to them; the
    sign-in closes if it was still open."""
    db.session.refresh(cm, with_for_update=True)  # PostgreSQL: a second recorder waits, then finds this one
    if cm.meeting_id is not None:
        written = entries_with_key_prefix(key)
        if written:
            raise AlreadyRecorded(written)  # the same form sent twice
        raise CheckinError("recorded", status=409)
    # What the members signed in to: its day, kind and indicator, whatever the form says.
    if data.held_on.year != cm.held_on.year:
        scheme = None  # the scheme read for the form's year is not the meeting's
    data = replace(data, held_on=cm.held_on, kind=cm.kind, indicator_code=cm.indicator_code)
    recorded = record_branch_meeting(branch, data, by=by, today=today, key=key, gettext=gettext, members=members,
                                     scheme=scheme)
    close(cm, by=by)
    cm.meeting_id = recorded.meeting.id
    db.session.flush()
    return recorded
