"""qscore.scoring gives exactly what the rules as written give (tests/scoring_oracle.py), for random valid
schemes and edited variants of the default, random ledgers with corrections, type histories and dates.

Production scores in integers and has one path; the oracle is Decimals and Fractions, from raw entries. Every
field is compared by repr as well as by value, so a Decimal written "3" where the rules write "3.0" (equal,
but shown differently) is a difference too.
"""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qscore.scheme import Scheme, default_scheme_data
from qscore.scoring import (Entry, MemberLedger, MemberScore, YearScore, compiled, review_flags, score_member,
                            suggest_grade, year_score)

from . import scoring_oracle as oracle

Y = 2026
DEFAULT = Scheme.from_dict(default_scheme_data())
TYPES = ("A", "B", "C", "D")
PROP = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
pytestmark = pytest.mark.timeout(900)  # a pass takes ~15 s a property; shrinking a counterexample, minutes


# --- schemes: drawn at random through Scheme.from_dict, and edited variants of the default -------------------

def figure(low: int, high: int, *, positive: bool = False):
    """A figure from low to high with 0, 1 or 2 decimals (more is refused by Scheme.from_dict), each as likely.
    (one_of rather than flatmap: the same choice, without building a strategy for every draw.)"""
    return st.one_of([st.integers(max(low * 10 ** p, 1 if positive else 0), high * 10 ** p)
                      .map(lambda n, p=p: Decimal(n).scaleb(-p)) for p in (0, 1, 2)])


CAP = figure(0, 12, positive=True)   # small, so that entries reach them


@st.composite
def random_scheme_data(draw) -> dict:
    data = default_scheme_data()
    for t in data["types"]:
        t["base"] = draw(figure(0, 80))
        t["basic_cap"] = draw(figure(1, 50, positive=True))
        t["contribution_cap"] = draw(figure(1, 50, positive=True))
    for ind in data["indicators"]:
        ind["retired"] = draw(st.integers(0, 9)) == 0
        if ind["category"] == "K":
            if not ind.get("veto"):
                ind["heavier"] = draw(st.integers(0, 3)) == 0
            continue
        for key in ("month_cap", "quarter_cap", "year_cap"):
            choice = draw(st.sampled_from(["keep", "none", "set"]))
            if choice == "none":
                ind.pop(key, None)
            elif choice == "set":
                ind[key] = draw(CAP) * (4 if key == "year_cap" else 1)
        by_type = draw(st.sampled_from(["keep", "none", "some", "all"]))
        if by_type == "none":
            ind.pop("year_cap_by_type", None)
        elif by_type != "keep":  # "some": the missing types fall back to year_cap, or are uncapped
            types = TYPES if by_type == "all" else draw(st.lists(st.sampled_from(TYPES), min_size=1, unique=True))
            ind["year_cap_by_type"] = {t: draw(CAP) * 3 for t in types}
    th = data["grade_thresholds"]
    th["qualified_min"] = draw(figure(0, 80))
    th["advanced_min"] = th["qualified_min"] + draw(figure(0, 40, positive=True))
    th["advanced_min_quarters_with_contribution"] = draw(st.integers(0, 4))
    th["rectify_streak_months"] = draw(st.integers(1, 12))
    th["warning_streak_months"] = draw(st.integers(1, 12))
    th["min_months_on_roll_for_grade"] = draw(st.integers(1, 12))
    return data


def _hundredths(data: dict) -> None:
    for ind in data["indicators"]:
        if ind.get("month_cap") is not None:
            ind["month_cap"] = Decimal(str(ind["month_cap"])) + Decimal("0.25")
        if ind.get("year_cap_by_type"):
            ind["year_cap_by_type"] = {t: Decimal(str(v)) + Decimal("0.05") for t, v in ind["year_cap_by_type"].items()}
    data["types"][1]["base"] = Decimal("60.55")


def _lower_thresholds(data: dict) -> None:
    data["grade_thresholds"].update(advanced_min=70, qualified_min=50, rectify_streak_months=2,
                                    advanced_min_quarters_with_contribution=1)


def _no_caps(data: dict) -> None:
    for ind in data["indicators"]:
        for key in ("month_cap", "quarter_cap", "year_cap", "year_cap_by_type"):
            ind.pop(key, None)


def _tight_caps(data: dict) -> None:
    for ind in data["indicators"]:
        if ind["category"] in ("J", "Z"):
            ind.update(month_cap=1, quarter_cap=Decimal("1.5"), year_cap=Decimal("2.75"))
    for t in data["types"]:
        t.update(basic_cap=Decimal("3.33"), contribution_cap=Decimal("0.01"))


def _retire_and_flag(data: dict) -> None:
    for ind in data["indicators"]:
        if ind["code"] in ("J1", "Z1"):
            ind["retired"] = True
        if ind["code"] == "K3":
            ind["heavier"] = True


EDITS = [lambda d: None, _hundredths, _lower_thresholds, _no_caps, _tight_caps, _retire_and_flag]


@st.composite
def edited_scheme_data(draw) -> dict:
    data = default_scheme_data()
    for edit in draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=3)):
        edit(data)
    return data


SCHEMES = st.one_of(random_scheme_data(), edited_scheme_data()).map(Scheme.from_dict)


# --- ledgers, histories, dates --------------------------------------------------------------------------------

CODES = sorted(DEFAULT.indicators) + ["X9", "Y1"]  # two codes no scheme has (an indicator removed since)
DAY = st.integers(-40, 400).map(lambda n: date(Y, 1, 1) + timedelta(days=n))
TENTHS = {"J": st.integers(1, 150), "Z": st.integers(1, 150), "K": st.integers(-200, 0)}


@st.composite
def entries(draw) -> list[Entry]:
    """Ledger rows as the database holds them: points in tenths, stored categories (sometimes not the scheme's
    category: a scheme edited since), dates around the year, and corrections of earlier rows."""
    out: list[Entry] = []
    for i in range(draw(st.integers(0, 40))):
        code = draw(st.sampled_from(CODES))
        if code in DEFAULT.indicators and draw(st.integers(0, 9)):
            cat = DEFAULT.indicators[code].category
        else:
            cat = draw(st.sampled_from("JZK"))
        # The ledger column is Numeric(7, 1): a zero-point row (V) reads back as 0.0, never a bare 0.
        points = Decimal(0).scaleb(-1) if code == "V" else Decimal(draw(TENTHS[cat])).scaleb(-1)
        out.append(Entry(code, cat, draw(DAY), points, i + 1))
    for target in draw(st.lists(st.sampled_from(out), max_size=3, unique=True)) if out else []:
        out.append(target._replace(points=-target.points, id=len(out) + 1, corrects_id=target.id))
    return out


HISTORY = st.lists(st.tuples(st.integers(-400, 400).map(lambda n: date(Y, 1, 1) + timedelta(days=n)),
                             st.sampled_from(TYPES)), min_size=1, max_size=4)
AS_OF = st.one_of(st.sampled_from([date(Y, 12, 31), date(Y, 1, 1), date(Y - 1, 12, 31), date(Y + 1, 3, 1)]), DAY)
MEMBER = st.fixed_dictionaries({
    "on_roll_since": st.one_of(st.just(date(2020, 1, 1)), DAY),
    "left_roll_on": st.one_of(st.none(), DAY),
    "status": st.sampled_from(["active", "active", "left", "deceased"]),
})
SCORES = st.sampled_from(["0.0", "59.9", "60.0", "75.5", "89.9", "90.0", "100.0"]).map(Decimal)


def fields(value, names) -> dict[str, tuple[str, object]]:
    return {name: (repr(getattr(value, name)), getattr(value, name)) for name in names}


YEAR_FIELDS = (*YearScore.FIELDS, "max_score")
MEMBER_FIELDS = tuple(f.name for f in dataclasses.fields(MemberScore) if f.name != "detail")


# --- the comparisons ------------------------------------------------------------------------------------------

@PROP
@given(SCHEMES, entries(), HISTORY, AS_OF)
def test_year_score_is_the_oracle(scheme, rows, history, as_of):
    got = year_score(scheme, Y, as_of, history, MemberLedger.from_entries(rows, year=Y, as_of=as_of))
    want = oracle.year_score(scheme, Y, as_of, history, oracle.Ledger.from_entries(rows, year=Y, as_of=as_of))
    assert fields(got, YEAR_FIELDS) == fields(want, YEAR_FIELDS)


@PROP
@given(SCHEMES, entries(), HISTORY, AS_OF, MEMBER)
def test_score_member_is_the_oracle(scheme, rows, history, as_of, member):
    got = score_member(scheme, Y, as_of, history, MemberLedger.from_entries(rows, year=Y, as_of=as_of),
                       member_id=7, **member)
    want = oracle.score_member(scheme, Y, as_of, history, rows, member_id=7, **member)
    assert fields(got, MEMBER_FIELDS) == {name: (repr(want[name]), want[name]) for name in MEMBER_FIELDS}
    assert fields(got.detail, YEAR_FIELDS) == fields(want["detail"], YEAR_FIELDS)


@PROP
@given(SCHEMES, entries(), AS_OF, MEMBER, SCORES)
def test_suggest_grade_is_the_oracle(scheme, rows, as_of, member, score):
    got = suggest_grade(scheme, Y, as_of, score, MemberLedger.from_entries(rows, year=Y, as_of=as_of), **member)
    want = oracle.suggest_grade(scheme, Y, as_of, score, oracle.Ledger.from_entries(rows, year=Y, as_of=as_of),
                                **member)
    assert repr(got) == repr(want)


@PROP
@given(SCHEMES, entries(), st.integers(0, 12))
def test_review_flags_are_the_oracle(scheme, rows, last):
    got = review_flags(scheme, MemberLedger.from_entries(rows, year=Y, as_of=date(Y, 12, 31)), last)
    want = oracle.review_flags(scheme, oracle.Ledger.from_entries(rows, year=Y, as_of=date(Y, 12, 31)), last)
    assert dataclasses.asdict(got) == want


# --- what production refuses instead of guessing -------------------------------------------------------------

def test_a_scheme_from_dict_never_could_is_refused_not_scored():
    """Scheme.from_dict refuses these (tests/test_scheme_import.py); a scheme built around it is refused too."""
    code = next(c for c, i in DEFAULT.indicators.items() if i.month_cap is not None)
    for month_cap in (Decimal(0), Decimal("0.125")):
        indicators = {**DEFAULT.indicators, code: dataclasses.replace(DEFAULT.indicators[code], month_cap=month_cap)}
        with pytest.raises(ValueError):
            compiled(dataclasses.replace(DEFAULT, indicators=indicators))


def test_points_finer_than_the_ledger_records_are_refused():
    ledger = MemberLedger()
    ledger.add("J1", "J", date(Y, 3, 5), Decimal("2.0"))
    with pytest.raises(ValueError, match="tenths"):
        ledger.add("J1", "J", date(Y, 3, 6), Decimal("0.25"))
    assert ledger.tenths == {("J1", "J", 3): 20}


def test_a_scheme_is_compiled_once_per_object_in_the_units_it_needs():
    assert compiled(DEFAULT) is compiled(DEFAULT) and compiled(DEFAULT).scale == 10
    data = default_scheme_data()
    _hundredths(data)
    assert compiled(Scheme.from_dict(data)).scale == 100
