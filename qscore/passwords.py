"""What a person may choose as a password (OWASP ASVS 2.1), and how long a first-time password works.

One home for the rule: setup, the password page, ``flask qscore add-user`` and the strength meter
all ask ``problem()``. A new password has at least MIN_PASSWORD_LENGTH characters (code points:
spaces, Chinese characters and emoji count one each) and at most 128; any printable character is
allowed and nothing is required (no "a digit and a capital"). It is refused, with the reason, when

- it is on the shipped list of common passwords (qscore/data/common-passwords.txt, about 49,000
  from a public breach list; upper and lower case, full-width and half-width count the same),
- it is such a password with a few digits or symbols around it (iloveyou1314, password2024!),
- it holds the username,
- it is a run a guesser tries first: at most two stretches of neighbours, on the keyboard
  or in the alphabet (1234567890, qwertyuiop12, aaaabbbb), or a short unit repeated (abcabcabc).

The rule applies when a password is chosen; logging in checks only the hash, so an older password
keeps working. First-time passwords (an administrator's create, reset or bulk sheet) stop working
FIRST_PASSWORD_DAYS after they are made, until their holder chooses their own.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from .access import public
from .fields import has_control_characters
from .models._common import utcnow

MAX_LENGTH = 128
STRONG_LENGTH = 16  # the meter's "strong" without mixing kinds of character
_SHORT_DECORATION = 4  # a group of digits or symbols this short around a common password leaves it common

bp = Blueprint("passwords", __name__)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("qscore").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _fold(text: str) -> str:
    """How lists and usernames are compared: full-width ＡＢＣ１ as ABC1, case ignored."""
    return unicodedata.normalize("NFKC", text).casefold()


# US keyboard rows (Chinese keyboards are the same), each with its shifted twin; x offsets as keys sit.
_ROWS = (("`1234567890-=", "~!@#$%^&*()_+", 0.0), ("qwertyuiop[]\\", "QWERTYUIOP{}|", 1.5),
         ("asdfghjkl;'", 'ASDFGHJKL:"', 1.75), ("zxcvbnm,./", "ZXCVBNM<>?", 2.25))
_KEYS = {ch: (x + offset, y) for y, (plain, shifted, offset) in enumerate(_ROWS)
         for keys in (plain, shifted) for x, ch in enumerate(keys)}


def _follows(a: str, b: str) -> bool:
    """b is what a guesser tries after a: the same, the next or previous letter or digit, or a neighbouring key."""
    if a == b or abs(ord(a) - ord(b)) == 1:
        return True
    ka, kb = _KEYS.get(a), _KEYS.get(b)
    if ka is None or kb is None:
        return False
    dx, dy = abs(ka[0] - kb[0]), abs(ka[1] - kb[1])
    return (dy == 0 and dx == 1) or (dy == 1 and dx <= 0.75)


def _stretches(text: str) -> int:
    """How many stretches of neighbours the text is made of (1234567890 is one, qwertyuiop12 two)."""
    return sum(1 for i, ch in enumerate(text) if i == 0 or not _follows(text[i - 1], ch))


def _repeated_unit(text: str) -> str | None:
    """The shortest unit the text repeats at least twice (abcabcab → abc), if any."""
    for p in range(1, len(text) // 2 + 1):
        if all(text[i] == text[i - p] for i in range(p, len(text))):
            return text[:p]
    return None


def is_pattern(text: str) -> bool:
    """A run any guesser tries first: two stretches at most, or a short or common unit repeated."""
    folded = _fold(text)
    if not folded:
        return False
    if _stretches(folded) <= 2:
        return True
    unit = _repeated_unit(folded)
    return unit is not None and (len(unit) <= 4 or unit in common_passwords() or _stretches(unit) <= 2)


def _is_date(digits: str) -> bool:
    """19640315, 196403, 640315: a birthday or a year and month."""
    if not digits.isdigit() or len(digits) not in (6, 8):
        return False
    if len(digits) == 8:
        year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
        return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31
    first, second, third = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    as_yymmdd = 1 <= second <= 12 and 1 <= third <= 31
    as_yyyymm = 19 <= first <= 20 and 1 <= third <= 12
    return as_yymmdd or as_yyyymm


def _decoration(part: str) -> bool:
    """What a guesser adds to a word: up to 8 characters of short digit and symbol groups, runs or a date (1314!!)."""
    if len(part) > 2 * _SHORT_DECORATION:
        return is_pattern(part)
    return all(len(piece) <= _SHORT_DECORATION or is_pattern(piece) or _is_date(piece)
               for piece in re.findall(r"\d+|\D+", part))


def _is_decorated_common(folded: str) -> bool:
    """A common password with digits, symbols or spaces around it that a guesser adds anyway."""
    start, end = 0, len(folded)
    while start < end and not folded[start].isalpha():
        start += 1
    while end > start and not folded[end - 1].isalpha():
        end -= 1
    core, before, after = folded[start:end], folded[:start], folded[end:]
    if not core or (not before and not after) or core not in common_passwords():
        return False
    return _decoration(before) and _decoration(after)


def problem(password: str, username: str | None = None) -> str | None:
    """Why this password may not be chosen, in the user's language; None when it may."""
    minimum = current_app.config["MIN_PASSWORD_LENGTH"]
    if len(password) > MAX_LENGTH:
        return _("At most 128 characters.")
    if has_control_characters(password) or any(ch in password for ch in "\t\r\n"):
        return _("Contains invisible control characters: please type it again.")
    if len(password) < minimum:
        return _("At least %(n)d characters.", n=minimum)
    folded = _fold(password)
    name = _fold(username or "").strip()
    if len(name) >= 3 and name in folded:
        return _("The password must not contain your username.")
    if folded in common_passwords() or folded.strip() in common_passwords():
        return _("This is a common password that is easy to guess. Please choose another.")
    if _is_decorated_common(folded):
        return _("This is a common password with a few digits or symbols added: still easy to guess. "
                 "Please choose another.")
    if is_pattern(folded):
        return _("Characters in a row or repeated (like 123456, qwerty or aaaa) are easy to guess. "
                 "Please choose another.")
    return None


@dataclass(frozen=True)
class Strength:
    level: str  # weak (refused), fair, strong
    word: str
    advice: str


def _kinds(password: str) -> int:
    """Kinds of character used: lower case, upper case, digits, spaces and symbols, and the rest (汉字 …)."""
    kinds = set()
    for ch in password:
        kinds.add("lower" if "a" <= ch <= "z" else "upper" if "A" <= ch <= "Z" else "digit" if ch.isdigit()
                  else "other" if ord(ch) > 127 else "symbol")
    return len(kinds)


def strength(password: str, username: str | None = None) -> Strength:
    """The meter: weak is refused (with the reason), fair is accepted, strong is long or mixes kinds."""
    reason = problem(password, username)
    if reason:
        return Strength("weak", _("Strength: weak"), reason)
    if len(password) >= STRONG_LENGTH or _kinds(password) >= 3:
        return Strength("strong", _("Strength: strong"), _("Good: hard to guess."))
    return Strength("fair", _("Strength: fair"),
                    _("Accepted. Longer is safer: a short sentence is easy to remember."))


def first_password_expiry() -> datetime:
    """When a first-time password made now stops working (UTC, like every stored time)."""
    return utcnow() + timedelta(days=current_app.config["FIRST_PASSWORD_DAYS"])


def first_password_expired(user) -> bool:
    return user.password_expires_at is not None and user.password_expires_at <= utcnow()


class MeterForm(FlaskForm):
    """What the meter sends: the new password, and on the setup page the username typed beside it."""

    password = StringField()
    username = StringField()


@bp.post("/password/strength")
@public
def meter():
    """The strength meter's fragment (htmx, while typing); the same rule decides when the form is sent."""
    form = MeterForm()  # read, not validated: the meter only reports, it stores nothing
    typed = form.password.data or ""
    username = current_user.username if current_user.is_authenticated else (form.username.data or "")[:64]
    result = strength(typed[:MAX_LENGTH + 1], username) if typed else None  # 129 characters say "too long" as well
    return render_template("_password_meter.html", result=result, count=len(typed))
