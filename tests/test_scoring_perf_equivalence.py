"""The fast scoring path (integers, memoised scheme tables) gives exactly what the rules as written give.

year_score, suggest_grade and score_member compute in integers; ``_year_score_reference`` and
``_suggest_grade_reference`` are the rules as written (Decimal sums, Fraction pro-rating). Every
figure is compared by repr as well as by ==, so a Decimal written "3" where the rules write "3.0"
(equal, but shown differently) is a difference too.
"""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from qscore import scoring
from qscore.scheme import Scheme, default_scheme_data
from qscore.scoring import (MemberLedger, MemberScore, PeriodPoints, _effective_as_of, _suggest_grade_reference,
                            _year_score_reference, quarter_of, round_half_up, score_member, suggest_grade, type_on,
                            year_score)

Y = 2026
DEFAULT = Scheme.from_dict(default_scheme_data())


def _scheme_in_hundredths() -> Scheme:
    """Caps with two decimals: the fast path works in hundredths."""
    data = default_scheme_data()
    for ind in data["indicators"]:
        if ind.get("month_cap") is not None:
            ind["month_cap"] = float(ind["month_cap"]) + 0.25
        if ind.get("year_cap_by_type"):
            ind["year_cap_by_type"] = {t: float(v) + 0.05 for t, v in ind["year_cap_by_type"].items()}
    data["types"][1]["base"] = 60.55
    return Scheme.from_dict(data)


def _scheme_with_lower_thresholds() -> Scheme:
    data = default_scheme_data()
    data["grade_thresholds"].update(advanced_min=70, qualified_min=50, rectify_streak_months=2,
                                    advanced_min_quarters_with_contribution=1)
    return Scheme.from_dict(data)


def _scheme_with_zero_month_cap() -> Scheme:
    """A month cap of 0 (not a scheme from_dict accepts): the fast path leaves it to the reference."""
    s = Scheme.from_dict(default_scheme_data())
    code = next(c for c, i in s.indicators.items() if i.month_cap is not None)
    indicators = dict(s.indicators)
    indicators[code] = dataclasses.replace(indicators[code], month_cap=Decimal(0))
    return dataclasses.replace(s, indicators=indicators)


SCHEMES = [DEFAULT, _scheme_in_hundredths(), _scheme_with_lower_thresholds(), _scheme_with_zero_month_cap()]
CODES = sorted(DEFAULT.indicators) + ["X9", "Y1"]  # two codes no scheme has
DAY = st.integers(-400, 760).map(lambda n: date(Y, 1, 1) + timedelta(days=n))
VALUES = st.one_of(
    st.sampled_from(["0.5", "1", "1.0", "2", "2.0", "3", "4.5", "5", "0", "0.0", "-2", "-2.0", "-5", "12.5",
                     "-0.0", "1E+1"]).map(Decimal),
    st.integers(-5, 30),
)
ODD_VALUES = st.sampled_from(["1.25", "0.05"]).map(Decimal)  # more decimals than the shipped scheme has


@st.composite
def ledgers(draw) -> MemberLedger:
    """Raw ledgers as fetch_ledgers or MemberLedger.add build them, and odder ones: months outside
    1-12, zero counts, keys in only one of sums and counts, ints, more decimals than the scheme's."""
    ledger = MemberLedger()
    for _ in range(draw(st.integers(0, 40))):
        code = draw(st.sampled_from(CODES))
        if code in DEFAULT.indicators and draw(st.integers(0, 9)):
            cat = DEFAULT.indicators[code].category
        else:
            cat = draw(st.sampled_from("JZKQ"))
        month = draw(st.sampled_from(list(range(1, 13)) * 3 + [0, 13]))
        key = (code, cat, month)
        where = draw(st.sampled_from(["both"] * 8 + ["sums", "counts"]))
        if where in ("both", "sums"):
            ledger.sums[key] = draw(ODD_VALUES) if draw(st.integers(0, 99)) == 0 else draw(VALUES)
        if where in ("both", "counts"):
            ledger.counts[key] = draw(st.sampled_from([1, 1, 2, 3, 0]))
            day = min(max(month, 1), 12)
            ledger.first_dates[key] = date(Y, day, draw(st.integers(1, 28)))
    return ledger


HISTORY = st.lists(st.tuples(DAY, st.sampled_from("ABCD")), min_size=1, max_size=4)
AS_OF = st.one_of(st.sampled_from([date(Y, 12, 31), date(Y, 1, 1), date(Y - 1, 12, 31), date(Y + 1, 3, 1)]), DAY)
MEMBER = st.fixed_dictionaries({
    "on_roll_since": st.one_of(st.just(date(2020, 1, 1)), DAY),
    "left_roll_on": st.one_of(st.none(), DAY),
    "status": st.sampled_from(["active", "active", "left", "deceased"]),
})
PROP = settings(max_examples=300, deadline=None)


def _outcome(fn, *args, **kw):
    """(repr of the result, the result) or the exception's type and text."""
    try:
        result = fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001 - the two paths must fail alike too
        return ("raised", type(exc).__name__, str(exc)), None
    return repr(result), result


def _reference_score_member(scheme, year, as_of, history, ledger, *, on_roll_since, left_roll_on=None,
                            status="active", member_id=None) -> MemberScore:
    """score_member composed from the rules as written (as it was before the fast path)."""
    ys = _year_score_reference(scheme, year, as_of, history, ledger)
    grade = _suggest_grade_reference(scheme, year, as_of, ys.score, ledger, on_roll_since=on_roll_since,
                                     left_roll_on=left_roll_on, status=status)
    d = _effective_as_of(year, as_of)
    month = d.month if d.year == year else 1
    return MemberScore(
        member_id=member_id, year=year, as_of=as_of, type_code=type_on(history, d), score=ys.score,
        base=round_half_up(ys.base), j=round_half_up(ys.j), z=round_half_up(ys.z), k=round_half_up(ys.k),
        j_uncapped=round_half_up(ys.j_uncapped), z_uncapped=round_half_up(ys.z_uncapped),
        basic_cap=round_half_up(ys.basic_cap), contribution_cap=round_half_up(ys.contribution_cap),
        max_score=round_half_up(ys.max_score), veto=ys.veto, caps_reached=ys.caps_reached,
        month=ys.months[month - 1] if d.year == year else PeriodPoints(),
        quarter=ys.quarters[quarter_of(month) - 1] if d.year == year else PeriodPoints(),
        grade=grade, detail=ys,
    )


@PROP
@given(st.sampled_from(SCHEMES), ledgers(), HISTORY, AS_OF)
def test_year_score_is_the_reference(scheme, ledger, history, as_of):
    fast, fast_value = _outcome(year_score, scheme, Y, as_of, history, ledger)
    ref, ref_value = _outcome(_year_score_reference, scheme, Y, as_of, history, ledger)
    assert fast == ref
    assert fast_value == ref_value


@PROP
@given(st.sampled_from(SCHEMES), ledgers(), HISTORY, AS_OF, MEMBER)
def test_score_member_is_the_reference(scheme, ledger, history, as_of, member):
    fast, fast_value = _outcome(score_member, scheme, Y, as_of, history, ledger, member_id=7, **member)
    ref, ref_value = _outcome(_reference_score_member, scheme, Y, as_of, history, ledger, member_id=7, **member)
    assert fast == ref
    assert fast_value == ref_value


@PROP
@given(st.sampled_from(SCHEMES), ledgers(), AS_OF, MEMBER,
       st.sampled_from(["0.0", "59.9", "60.0", "75.5", "89.9", "90.0", "100.0"]).map(Decimal))
def test_suggest_grade_is_the_reference(scheme, ledger, as_of, member, score):
    fast, _ = _outcome(suggest_grade, scheme, Y, as_of, score, ledger, **member)
    ref, _ = _outcome(_suggest_grade_reference, scheme, Y, as_of, score, ledger, **member)
    assert fast == ref


def test_the_fast_path_is_taken_for_the_shipped_scheme_and_left_for_odd_ones():
    """What the equivalence above is worth: the shipped scheme is scored in integers."""
    assert scoring._tables(DEFAULT).ok and scoring._tables(DEFAULT).scale == 10
    assert scoring._tables(SCHEMES[1]).ok and scoring._tables(SCHEMES[1]).scale == 100
    assert not scoring._tables(_scheme_with_zero_month_cap()).ok
    ledger = MemberLedger()
    ledger.add("J1", "J", date(Y, 3, 5), Decimal("2.0"))
    history = [(date(2020, 1, 1), "A")]
    assert scoring._fast_year(DEFAULT, scoring._tables(DEFAULT), Y, date(Y, 12, 31), history, ledger) is not None
    ledger.add("J1", "J", date(Y, 3, 6), Decimal("0.25"))  # more decimals than the scheme's: the reference
    assert scoring._fast_year(DEFAULT, scoring._tables(DEFAULT), Y, date(Y, 12, 31), history, ledger) is None
    assert repr(year_score(DEFAULT, Y, date(Y, 12, 31), history, ledger)) == repr(
        _year_score_reference(DEFAULT, Y, date(Y, 12, 31), history, ledger))
