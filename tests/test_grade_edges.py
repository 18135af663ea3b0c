"""Every grade threshold of the scheme at its value, just above and just below it: the suggested grade
is right and its reasons are true in English and in Chinese (issue 14, item 8: no "低于 90" at 90.0).

The thresholds are read from the scheme, so the shipped default and an edited scheme are both covered;
both production's grading and the oracle's rules as written (tests/scoring_oracle.py) are checked.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.support import Translations

import qscore
from qscore.scheme import Scheme, default_scheme_data
from qscore.scoring import (REASON_TEXTS, Entry, MemberLedger, Reason, ReviewFlags, early_warnings, score_member,
                            suggest_grade)

from . import scoring_oracle as oracle

Y = 2026
DEC31 = date(Y, 12, 31)
LONG_AGO = date(2020, 1, 1)
STEP = Decimal("0.1")  # grades compare the score rounded to one decimal


def _edited() -> dict:
    data = default_scheme_data()
    data["grade_thresholds"].update(advanced_min=85.5, qualified_min=70, advanced_min_quarters_with_contribution=2,
                                    rectify_streak_months=4, warning_streak_months=2, min_months_on_roll_for_grade=9)
    return data


SCHEMES = {"default": Scheme.from_dict(default_scheme_data()), "edited": Scheme.from_dict(_edited())}


def _production(scheme, year, as_of, score, entries, **member):
    return suggest_grade(scheme, year, as_of, score, MemberLedger.from_entries(entries, year=Y, as_of=DEC31), **member)


def _oracle(scheme, year, as_of, score, entries, **member):
    return oracle.suggest_grade(scheme, year, as_of, score, oracle.Ledger.from_entries(entries, year=Y, as_of=DEC31),
                                **member)


GRADERS = {"production": _production, "oracle": _oracle}  # each grades the same entries
ZH = Translations.load(str(Path(qscore.__file__).parent / "translations"), ["zh_Hans_CN"])


@pytest.fixture(params=list(SCHEMES))
def scheme(request) -> Scheme:
    return SCHEMES[request.param]


@pytest.fixture(params=list(GRADERS))
def grade(request):
    return GRADERS[request.param]


# --- what a reason text claims about the score ---------------------------------------------------

NUMBER = r"(\d+(?:\.\d+)?)"
CLAIMS = (
    (re.compile(r"(?<!不)低于(?:合格线)?\s*" + NUMBER), "<"),
    (re.compile(r"不低于\s*" + NUMBER), ">="),
    (re.compile(r"(?<!未)达到\s*" + NUMBER), ">="),
    (re.compile(r"未达到\s*" + NUMBER), "<"),
    (re.compile(r"\bbelow (?:the qualified minimum )?" + NUMBER), "<"),
    (re.compile(r"\bat least " + NUMBER), ">="),
    (re.compile(r"\breaches " + NUMBER), ">="),
)


def claims(text: str) -> list[tuple[str, Decimal]]:
    return [(op, Decimal(m.group(1))) for rx, op in CLAIMS for m in rx.finditer(text)]


def false_claims(reasons, score: Decimal) -> list[str]:
    """The texts (English and Chinese) that say something untrue of ``score``."""
    out = []
    for r in reasons:
        for text in (r.text(), r.text(ZH.gettext)):
            found = claims(text)
            if "score" in r.params and not found:
                out.append(f"no claim about the score could be read: {text!r}")
            out += [f"{text!r} at {score}" for op, n in found if not (score < n if op == "<" else score >= n)]
    return out


def test_the_claims_check_catches_the_old_text():
    old = {"score_qualified": "得分 {score}：不低于 {min}，低于 {advanced_min} 或不能评为先进。"}
    reason = Reason("score_qualified", {"score": "90.0", "min": "60", "advanced_min": "90"})
    text = old["score_qualified"].format(**reason.params)
    assert claims(text) == [("<", Decimal("90")), (">=", Decimal("60"))]
    assert claims("得分 90.0，已达到 90，但有下列情形") == [(">=", Decimal("90"))]
    assert claims("得分 89.9：不低于 60，未达到 90。") == [(">=", Decimal("60")), ("<", Decimal("90"))]


def test_the_claims_check_reports_the_old_reason_at_ninety(monkeypatch):
    monkeypatch.setitem(REASON_TEXTS, "score_qualified",
                        "Score {score}: at least {min}, below {advanced_min} or barred from advanced.")
    reason = Reason("score_qualified", {"score": "90.0", "min": "60", "advanced_min": "90"})
    assert any("below 90" in f for f in false_claims([reason], Decimal("90.0")))


def test_every_reason_text_is_translated():
    for key, text in REASON_TEXTS.items():
        assert ZH.gettext(text) != text, key


# --- building ledgers from the scheme's own indicators --------------------------------------------

def plain_z(scheme: Scheme) -> str:
    return min(i.code for i in scheme.indicators.values()
               if i.category == "Z" and not (i.heavier or i.veto or i.retired or i.role))


def ledger(scheme: Scheme, *, z_quarters=(1, 2, 3, 4), heavier: bool = False, veto: bool = False,
           runs: dict[str, range] | None = None) -> list[Entry]:
    entries = [Entry(plain_z(scheme), "Z", date(Y, 3 * q - 1, 10), Decimal(1)) for q in z_quarters]
    if heavier:
        entries.append(Entry(min(scheme.codes_with(flag="heavier")), "K", date(Y, 5, 3), Decimal(-5)))
    if veto:
        entries.append(Entry(min(scheme.codes_with(flag="veto")), "K", date(Y, 10, 15), Decimal(0)))
    for role, months in (runs or {}).items():
        code = min(scheme.codes_with(role=role))
        entries += [Entry(code, "K", date(Y, m, 25), Decimal(-2)) for m in months]
    return entries


def at(value: Decimal) -> Decimal:
    return Decimal(value).quantize(STEP)


def keys(g) -> list[str]:
    return [r.key for r in g.reasons]


def comfortable(scheme: Scheme) -> Decimal:
    """A score well inside 'qualified', far from both thresholds."""
    th = scheme.thresholds
    return at((th.qualified_min + th.advanced_min) / 2)


# --- the score thresholds ---------------------------------------------------------------------------

@pytest.mark.parametrize("delta", [-STEP, 0, STEP])
def test_advanced_minimum(scheme, grade, delta):
    adv = scheme.thresholds.advanced_min
    score = at(adv + delta)
    g = grade(scheme, Y, DEC31, score, ledger(scheme), on_roll_since=LONG_AGO)
    if score >= adv:
        assert g.code == "advanced" and keys(g) == ["advanced"]
        assert g.reasons[0].params["min"] == str(adv)
    else:
        assert g.code == "qualified" and keys(g) == ["score_qualified"]
    assert false_claims(g.reasons, score) == []


@pytest.mark.parametrize("delta", [-STEP, 0, STEP])
@pytest.mark.parametrize("bar", ["heavier", "contribution"])
def test_a_bar_on_advanced_at_the_advanced_minimum(scheme, grade, delta, bar):
    """The issue's case: 90.0 with a heavier deduction is qualified, and no text says it is below 90."""
    th = scheme.thresholds
    score = at(th.advanced_min + delta)
    few = tuple(range(1, th.advanced_min_quarters_with_contribution))  # one quarter short
    book = ledger(scheme, heavier=True) if bar == "heavier" else ledger(scheme, z_quarters=few)
    g = grade(scheme, Y, DEC31, score, book, on_roll_since=LONG_AGO)
    assert g.code == "qualified"
    if score >= th.advanced_min:
        barred = "heavier_bars_advanced" if bar == "heavier" else "too_few_contribution_quarters"
        assert keys(g) == ["score_qualified_barred", barred]
        zh = g.reasons[0].text(ZH.gettext)
        assert f"低于 {th.advanced_min}" not in zh and f"已达到 {th.advanced_min}" in zh
    else:
        assert keys(g) == ["score_qualified"]  # below the minimum: the score alone says why
    assert false_claims(g.reasons, score) == []


@pytest.mark.parametrize("delta", [-STEP, 0, STEP])
def test_qualified_minimum(scheme, grade, delta):
    q = scheme.thresholds.qualified_min
    score = at(q + delta)
    g = grade(scheme, Y, DEC31, score, ledger(scheme), on_roll_since=LONG_AGO)
    if score < q:
        assert g.code == "rectify" and keys(g) == ["score_below_qualified"]
        assert g.reasons[0].params == {"score": str(score), "min": str(q)}
    else:
        assert g.code == "qualified" and keys(g) == ["score_qualified"]
    assert false_claims(g.reasons, score) == []


def test_a_veto_is_rectify_whatever_the_score_says(scheme, grade):
    g = grade(scheme, Y, DEC31, Decimal("0.0"), ledger(scheme, veto=True), on_roll_since=LONG_AGO)
    assert g.code == "rectify" and keys(g) == ["veto", "score_below_qualified"]
    assert false_claims(g.reasons, Decimal("0.0")) == []


# --- the counted thresholds -------------------------------------------------------------------------

@pytest.mark.parametrize("joined", ["long ago", "latest graded"])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_contribution_quarters(scheme, grade, joined, offset):
    th = scheme.thresholds
    since = LONG_AGO if joined == "long ago" else date(Y, 13 - th.min_months_on_roll_for_grade, 1)
    on_roll = list(range((since.month - 1) // 3 + 1, 5)) if since.year == Y else [1, 2, 3, 4]
    required = min(th.advanced_min_quarters_with_contribution, len(on_roll))
    # One more quarter than the roll holds is no edge: it stands for "all of them" (the edge itself).
    k = max(0, min(required + offset, len(on_roll)))
    score = at(th.advanced_min + 5)
    g = grade(scheme, Y, DEC31, score, ledger(scheme, z_quarters=on_roll[:k]), on_roll_since=since)
    if k >= required:
        assert g.code == "advanced" and g.reasons[0].params["quarters"] == str(k)
        assert g.reasons[0].params["required"] == str(required)
    else:
        assert g.code == "qualified" and keys(g) == ["score_qualified_barred", "too_few_contribution_quarters"]
        assert g.reasons[1].params == {"quarters": str(k), "required": str(required)}
    assert false_claims(g.reasons, score) == []


@pytest.mark.parametrize("role, key", [("absence", "absence_streak"), ("dues_arrears", "dues_arrears_streak")])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_streak_of_months(scheme, grade, role, key, offset):
    n = scheme.thresholds.rectify_streak_months
    run = n + offset
    score = comfortable(scheme)
    g = grade(scheme, Y, DEC31, score, ledger(scheme, runs={role: range(2, 2 + run)}), on_roll_since=LONG_AGO)
    if run >= n:
        assert g.code == "rectify" and keys(g) == [key]
        assert g.reasons[0].params == {"months": str(run), "start": f"{Y}-02", "end": f"{Y}-{1 + run:02d}"}
    else:
        assert g.code == "qualified" and keys(g) == ["score_qualified"]
    assert false_claims(g.reasons, score) == []


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_months_on_the_roll(scheme, grade, offset):
    need = scheme.thresholds.min_months_on_roll_for_grade
    months = need + offset
    since = date(Y, 13 - months, 1)
    score = comfortable(scheme)
    g = grade(scheme, Y, DEC31, score, ledger(scheme), on_roll_since=since)
    if months >= need:
        assert g.code == "qualified"
    else:
        assert g.code is None and keys(g) == ["not_graded_short_roll"]
        assert g.reasons[0].params == {"since": since.isoformat(), "months": str(months), "min": str(need)}


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_early_warning_streak(scheme, offset):
    n = scheme.thresholds.warning_streak_months
    run = n + offset
    months = [(Y, m) for m in range(7 - run, 7)]  # ending in June
    out = early_warnings(as_of=date(Y, 6, 15), streak_months=n, absence_months=months, arrears_months=[],
                         active_months=[(Y, m) for m in range(1, 13)])
    if run >= n:
        assert out == [Reason("warning_absence_streak", {"months": str(run), "start": f"{Y}-{7 - run:02d}",
                                                          "end": f"{Y}-06"})]
    else:
        assert out == []


def test_the_meetings_streak_flags(scheme):
    """The review page's flags: a warning from warning_streak_months, danger from rectify_streak_months."""
    from qscore.review.data import flags_of

    th = scheme.thresholds
    member = SimpleNamespace(probationary=False)
    edges = {t + d for t in (th.warning_streak_months, th.rectify_streak_months) for d in (-1, 0, 1)}
    for run in sorted(e for e in edges if 0 < e <= 12):
        flags = flags_of(ReviewFlags(absence_run=(run, 1, run)), scheme, Y, member)
        expected = (["danger"] if run >= th.rectify_streak_months
                    else ["warn"] if run >= th.warning_streak_months else [])
        assert [f.level for f in flags] == expected, run
        assert all(f.params["months"] == str(run) for f in flags)


# --- the whole pipeline at 90.0 ---------------------------------------------------------------------

def test_exactly_ninety_with_a_heavier_deduction_through_the_scoring():
    """50 + J 35 + Z 10 in three quarters - K4 5 = 90.0 for a type A member: qualified, and 'reaches 90'."""
    from .test_scoring import E, L, full_basic_ab

    s = SCHEMES["default"]
    entries = full_basic_ab() + [E("Z4", 2, points=4), E("Z4", 5, points=3), E("Z4", 8, points=3), E("K4", 10, 7)]
    m = score_member(s, Y, DEC31, [(LONG_AGO, "A")], L(*entries), on_roll_since=LONG_AGO)
    assert m.score == Decimal("90.0") and m.grade.code == "qualified"
    assert keys(m.grade) == ["score_qualified_barred", "heavier_bars_advanced"]
    zh = [r.text(ZH.gettext) for r in m.grade.reasons]
    assert zh[0] == "得分 90.0，已达到 90，但有下列情形，不能评为先进："
    assert not any("低于" in t for t in zh)
    assert false_claims(m.grade.reasons, m.score) == []
